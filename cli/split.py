"""`tinyexit simulate --split A:STAGES,B:STAGES --link ...`: two devices in two QEMUs, and the link."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..codegen.manifest import load_manifest
from ..codegen.options import make_options
from ..codegen.output import staged_folder
from ..codegen.paths import TEMPLATES_DIR
from ..codegen.pipeline import generate
from ..codegen.split import boundary_segments, check_policy, frame_bytes, parse_link, resolve_split
from ..firmware_sim.split import build_split, run_split, status_name
from .common import console, save_npz
from .tables import Column, Table, lines, render, terminal_width


def _uj(value) -> str:
    return "-" if value is None else f"{float(np.mean(value)):,.2f}"


def split_run(model: Path, split_text: str, link_text: str, x: np.ndarray | None, samples: int, policy: str, exits,
              optimize: str, opt: str = "-O2", timeout=None):
    """Generate, build both devices and run them: (results, library, manifest, split, segments, link)."""
    check_policy(policy)
    link = parse_link(link_text)
    with tempfile.TemporaryDirectory(prefix="tinyexit-split-") as tmp:
        lib = generate(model, Path(tmp) / "lib", options=make_options(policy, exits, optimize))
        manifest = load_manifest(lib.out_dir)
        split = resolve_split(split_text, len(manifest["stages"]))
        segments = boundary_segments(lib.graph, split.boundary)
        if x is None:
            rng = np.random.default_rng(0)
            x = rng.integers(-128, 128, size=(samples, *manifest["input"]["shape"]), dtype=np.int8)
        res = run_split(lib.out_dir, split, link, segments, x, opt=opt, timeout=timeout, work_dir=tmp)
    return res, lib, manifest, split, segments, link


def split_arrays(res) -> dict[str, np.ndarray]:
    """What `run` and `simulate -o` save for a split run: the one-device arrays, then per device and the link."""
    arrays = res.run.to_arrays()
    arrays.update({
        "a.stage_instructions": res.a.stage_instructions, "a.framing_instructions": res.a.framing_instructions,
        "b.stage_instructions": res.b.stage_instructions, "b.framing_instructions": res.b.framing_instructions,
        "a.cycles_est": res.a.cycles_est(), "b.cycles_est": res.b.cycles_est(), "forwarded": res.forwarded,
        "link_status": res.status, "link_bytes": res.link_bytes, "latency_ms": res.latency_ms(),
    })  # fmt: skip
    return arrays


def simulate_split(model: Path, split_text: str, link_text: str, x: np.ndarray | None, samples: int, source: str,
                   policy: str, exits, optimize: str, opt: str, timeout, out: Path | None) -> None:
    """Device A's stages in one QEMU, the frames it sends handed to device B in a second; costs per device."""
    term = console()
    res, lib, manifest, split, segments, link = split_run(model, split_text, link_text, x, samples, policy, exits,
                                                          optimize, opt, timeout)  # fmt: skip

    n = len(res.forwarded)
    forwarded = res.forwarded
    title = (f"{lib.prefix} split at stage {split.boundary}: {split.a.board.name} runs stages 0-{split.boundary - 1}, "
             f"{split.b.board.name} runs {split.boundary}-{len(manifest['stages']) - 1}; policy {policy}")
    table = Table([Column("device"), Column("board", wrap=True), Column("samples", right=True),
                   Column("mean stage instructions", right=True), Column("mean framing instructions", right=True),
                   Column("mean cycles_est", right=True), Column("mean ms (est.)", right=True),
                   Column("mean uJ (est.)", right=True)], title=title)  # fmt: skip
    for name, dev, ran in (("A", res.a, np.ones(n, bool)), ("B", res.b, forwarded)):
        cyc = dev.cycles_est()
        table.add(
            name, f"{dev.board.name} ({dev.board.core}, {dev.board.clock_hz / 1e6:g} MHz)", f"{int(ran.sum())}/{n}",
            f"{dev.stage_instructions.sum(axis=1).mean():,.0f}", f"{dev.framing_instructions.mean():,.0f}",
            f"{cyc.mean():,.0f}", f"{dev.board.time_ms(cyc).mean():.3f}", _uj(dev.board.energy_uj(cyc)),
        )  # fmt: skip
    width = terminal_width()
    print(render(table, width))
    link_bytes = res.link_bytes
    link_ms = 1e3 * link.seconds(link_bytes)
    link_uj = link.energy_uj(link_bytes)
    latency = res.latency_ms()
    print(lines(
        f"link ({link.text}, {link.bytes_per_s:,.0f} bytes/s): {len(segments)} boundary tensor(s), "
        f"{frame_bytes(segments):,} bytes per frame ({frame_bytes(segments) - 20:,} payload + 20 framing); "
        f"{int(forwarded.sum())}/{n} samples sent on; mean {link_bytes.mean():,.1f} bytes, {link_ms.mean():.3f} ms, "
        + (f"{link_uj.mean():,.2f} uJ per sample" if link_uj is not None else "energy not counted (add uj-per-byte:E)"),
        width))  # fmt: skip
    print(lines(f"end-to-end latency (estimate): mean {latency.mean():.3f} ms, p95 {np.percentile(latency, 95):.3f} ms",
                width))  # fmt: skip
    counts = np.bincount(res.run.exit_taken.astype(np.int64), minlength=len(manifest["exits"]))
    print(lines("exits taken: " + ", ".join(f"{e['name']} {c}" for e, c in zip(manifest["exits"], counts)), width))
    bad = res.status[forwarded] != 0
    if bad.any():
        print(lines(f"device B refused {int(bad.sum())} frame(s): "
                    + ", ".join(sorted({status_name(s) for s in res.status[forwarded][bad]})), width))
    print(lines(f"inputs: {source}. Means are over all samples (0 on device B for the samples A answered). "
                "Instructions are exact (QEMU, tx_count plugin) per device; each stage's "
                "instructions equal a single-device run's on the board that runs it, and framing (gather + CRC-32 "
                "+ seal on A, check + scatter on B) comes on top. Time and energy are estimates (cycles_est at each board's "
                "clock x its supply and typical run current); flash wait states, peripherals and caches are left "
                "out.", width))
    if out is not None:
        term.print(f"wrote {save_npz(out, split_arrays(res))}")


def build_split_folder(model: Path, split_text: str, out: Path, policy: str, exits, optimize: str, opt: str,
                       name: str | None) -> list:
    """`build --split`: per device, the library (project files for that board), the frame code, the device's
    harness and its QEMU firmware; returns the two BuildResults."""
    check_policy(policy)
    with staged_folder(out) as stage:
        lib = generate(model, stage / "lib", name=name, options=make_options(policy, exits, optimize))
        split = resolve_split(split_text, len(lib.graph.stages))
        segments = boundary_segments(lib.graph, split.boundary)
        built = build_split(lib.out_dir, split, segments, stage, opt=opt)
        for role, device, result in (("a", split.a, built[0]), ("b", split.b, built[1])):
            folder = stage / f"device-{role}"
            generate(model, folder / "lib", name=name, options=make_options(policy, exits, optimize),
                     board=device.board)  # fmt: skip
            work = next(folder.glob("build-*"))
            for src in (f"split_{role}.c", "tx_markers.c", "tx_markers.h"):
                shutil.copyfile(work / src, folder / src)
            for src in ("tx_link.c", "tx_link.h"):
                shutil.copyfile(TEMPLATES_DIR / "link" / src, folder / src)
            shutil.rmtree(work)
        shutil.rmtree(stage / "lib")
    return [split, segments, *built]
