"""`tinyexit boards`, `build`, `simulate` and `run`: the generated code on a board or the host."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..codegen.boards import list_boards, load_board
from ..codegen.errors import TinyexitError
from ..codegen.manifest import load_manifest
from ..codegen.options import make_options
from ..codegen.output import staged_folder
from ..codegen.pipeline import generate
from ..firmware_sim import cycles
from ..firmware_sim.build import build_firmware, flash_commands, write_images
from ..firmware_sim.profile import profile_ops
from ..firmware_sim.qemu import run as run_qemu
from ..firmware_sim.renode import expected_uart, write_ci_workflow, write_renode_files
from ..firmware_sim.targets import run_model_file
from .common import BoardOpt, ExitsOpt, ModelArg, OptimizeOpt, OptOpt, PolicyOpt, console, load_inputs, progress, save_npz
from .split import build_split_folder, simulate_split, split_arrays, split_run
from .tables import Column, Table, lines, render, terminal_width


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB" if n < 1024 * 1024 or n % (1024 * 1024) else f"{n // (1024 * 1024)} MiB"


def boards() -> None:
    """List the boards: core, clock, flash and RAM, the QEMU machine and Renode platform."""
    table = Table([Column("board"), Column("MCU"), Column("core"), Column("clock", right=True),
                   Column("flash", right=True), Column("RAM", right=True), Column("supply, run, sleep (typ.)", detail=True),
                   Column("QEMU machine", detail=True),
                   Column("Renode platform", detail=True, wrap=True)],
                  title="boards (boards/*.toml; add a file to add a board)")  # fmt: skip
    for b in list_boards():
        table.add(
            b.name, b.mcu, b.core, f"{b.clock_hz / 1e6:g} MHz", _kib(b.flash.size), _kib(b.ram.size), _power(b),
            b.qemu_machine, b.renode_platform or f"generated {b.name}.repl",
        )  # fmt: skip
    print(render(table, terminal_width()))


def _usage_table(results, title: str) -> Table:
    table = Table([Column("region"), Column("used", right=True), Column("limit", right=True), Column("use", right=True),
                   Column("of which", wrap=True)], title=title)  # fmt: skip
    b = results.board
    s = results.sections
    table.add(
        "flash", f"{results.flash_used:,}", f"{results.flash_limit:,}", f"{100 * results.flash_used / results.flash_limit:.1f}%",
        f"code {s.get('.text', 0):,}, read-only data {s.get('.rodata', 0):,}, .data {s.get('.data', 0):,}",
    )  # fmt: skip
    table.add(
        "RAM", f"{results.ram_used:,}", f"{results.ram_limit:,}", f"{100 * results.ram_used / results.ram_limit:.1f}%",
        f".data+.bss {s.get('.data', 0) + s.get('.bss', 0):,}, heap {b.heap_bytes:,}, stack {b.stack_bytes:,}",
    )  # fmt: skip
    return table


def build(
    model: Path = typer.Argument(..., help="int8 .tflite model"),
    board: Optional[str] = typer.Option(None, "--board", "-b", help="Board name (see `tinyexit boards`) or path to a "
                                        "board .toml; with --split, the boards come from --split"),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder"),
    policy: str = PolicyOpt,
    exits: Optional[str] = ExitsOpt,
    optimize: str = OptimizeOpt,
    opt: str = OptOpt,
    name: Optional[str] = typer.Option(None, "--name", help="C symbol prefix (default: from the file name)"),
    inputs: Optional[Path] = typer.Option(
        None, "--inputs", help=".npy samples to compile into the board firmware (real board and Renode; default: one zero sample)"
    ),
    split: Optional[str] = typer.Option(None, "--split", help="Two devices, BOARD_A:STAGES,BOARD_B:STAGES: a folder "
                                        "per device with its library, the frame code, its harness and QEMU ELF"),
) -> None:
    """Build firmware for a board: QEMU ELF, Renode ELF and scripts, the library with project files."""
    if split is not None:
        if board is not None or inputs is not None:
            raise TinyexitError("build --split takes the boards from --split and builds QEMU firmware only; drop "
                                + " and ".join(f for f, v in (("--board", board), ("--inputs", inputs)) if v is not None))
        deploy, segments, built_a, built_b = build_split_folder(model, split, out, policy, exits, optimize, opt, name)
        width = terminal_width()
        for role, device, result in (("A", deploy.a, built_a), ("B", deploy.b, built_b)):
            stages = f"stages {device.first}-{device.last}"
            print(render(_usage_table(result, f"device {role}: {device.board.name} ({device.board.mcu}), {stages}, {opt}"),
                         width))  # fmt: skip
            folder = Path(out) / f"device-{role.lower()}"
            console().print(f"device {role}       {folder}: lib/, split_{role.lower()}.c, tx_link.c/.h, "
                            f"{result.elf.name} (QEMU, semihosting)")
        console().print(f"frame           {sum(s.nbytes for s in segments):,} payload bytes + 20 "
                        f"(templates/link/tx_link.h); `tinyexit simulate --split {split}` runs both")
        return
    if board is None:
        raise TinyexitError("build needs --board B (or --split BOARD_A:STAGES,BOARD_B:STAGES for two devices)")
    b = load_board(board)
    with staged_folder(out) as stage:
        lib = generate(model, stage / "lib", name=name, options=make_options(policy, exits, optimize), board=b)
        manifest = load_manifest(lib.out_dir)
        qemu_elf = build_firmware(lib.out_dir, b, stage, opt=opt, memory_map="qemu", io="semihost")
        if inputs is not None:
            x = load_inputs(inputs)
        else:
            x = np.full((1, *manifest["input"]["shape"]), manifest["input"].get("zero_point", 0), np.int8)
        board_elf = build_firmware(lib.out_dir, b, stage, opt=opt, memory_map="board", io="uart", inputs=x)
        images = write_images(board_elf.elf) if b.hardware is not None else None
        expected = expected_uart(lib.out_dir, x)
        files = write_renode_files(board_elf, stage, expected)
        argv = build_argv(model, board, out, inputs, policy, exits, optimize, opt, name)
        workflow = write_ci_workflow(stage, argv, repo_path(out))
        shutil.copyfile(stage / f"build-{b.name}-board-uart" / "linker.ld", stage / f"{b.name}.ld")
        for work in stage.glob("build-*"):
            shutil.rmtree(work)
    out = Path(out)
    term = console()
    print(render(_usage_table(qemu_elf, f"{lib.prefix} on {b.name} ({b.mcu}), {opt}"), terminal_width()))
    term.print(f"QEMU firmware   {out / qemu_elf.elf.name}  (semihosting; `tinyexit simulate` runs it)")
    plural = "s" if len(x) != 1 else ""
    if images is None:
        term.print(f"Renode firmware {out / board_elf.elf.name}  ({len(x)} sample{plural} compiled in, results on the UART)")
    else:
        hw = b.hardware
        term.print(f"board firmware  {out / board_elf.elf.name}, .bin, .hex  ({len(x)} sample{plural} compiled in; "
                   f"{hw.sysclk_hz / 1e6:g} MHz, results and DWT cycles on {hw.uart_name} at {hw.baud} baud; "
                   "Renode runs it too)")  # fmt: skip
        final = tuple(out / image.name for image in images)
        term.print(f"flash it        {flash_commands(final, b)[0]}", soft_wrap=True)
        term.print(f"  or            {flash_commands(final, b)[1]}", soft_wrap=True)
        same = "".join(f" {flag} '{value}'" for flag, value, default in
                       (("--policy", policy, "none"), ("--exits", exits, None), ("--optimize", optimize, "size"))
                       if value != default)  # fmt: skip
        term.print(f"then            tinyexit measure {model} --board {board}{same} --port /dev/ttyACM0 "
                   "(and press the board's reset button)", soft_wrap=True)
    term.print(f"Renode scripts  {out / files.resc.name}, {out / files.robot.name}, {out / files.repl.name}")
    term.print(f"Renode check    {out / files.expected.name}  ({len(expected.lines)} UART "
               "lines from the host build; the .robot waits for each)")
    term.print(f"Renode CI       {out / workflow.name}  (copy to .github/workflows/renode.yml in your repository)")
    term.print(f"library         {out / 'lib'}  (+ CMakeLists.txt, {lib.prefix}.mk, compiler_flags.txt, STM32CubeIDE.txt)")


def repo_path(path: str | Path) -> str:
    """`path` as the CI workflow names it: relative to the current folder (the repository's root) when inside it."""
    absolute = Path(path).absolute()
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def build_argv(model: Path, board: str, out: Path, inputs: Optional[Path], policy: str, exits: Optional[str],
               optimize: str, opt: str, name: Optional[str]) -> list[str]:
    """The `tinyexit build` command line that rebuilds this folder in CI (paths relative to the repository)."""
    board_arg = repo_path(board) if os.sep in board or board.endswith(".toml") else board
    policy_arg = "@" + repo_path(policy[1:]) if policy.startswith("@") else policy
    argv = ["tinyexit", "build", repo_path(model), "--board", board_arg, "-o", repo_path(out)]
    argv += ["--inputs", repo_path(inputs)] if inputs is not None else []
    argv += ["--policy", policy_arg, "--optimize", optimize, "--opt", opt]
    argv += ["--exits", exits] if exits is not None else []
    argv += ["--name", name] if name is not None else []
    return argv


def simulate(
    model: Path = typer.Argument(..., help="int8 .tflite model"),
    board: Optional[str] = typer.Option(None, "--board", "-b", help="Board name (see `tinyexit boards`) or path to a "
                                        "board .toml; with --split, the boards come from --split"),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help=".npy of shape (N, *input_shape); default: random"),
    samples: int = typer.Option(8, "--samples", help="Random samples when --inputs is not given"),
    policy: str = PolicyOpt,
    exits: Optional[str] = ExitsOpt,
    optimize: str = OptimizeOpt,
    opt: str = OptOpt,
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Also save the arrays to this .npz"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds before a hung guest is stopped"),
    show: int = typer.Option(20, "--show", help="Samples listed in the per-sample table"),
    profile: int = typer.Option(0, "--profile", help="Also list the N functions that ran the most instructions"),
    split: Optional[str] = typer.Option(None, "--split", help="Two devices, BOARD_A:STAGES,BOARD_B:STAGES, e.g. "
                                        "nucleo-l4r5zi:0,nucleo-h7a3zi-q:1- (stages K, K-L or K-)"),
    link: str = typer.Option("uart:115200", "--link", help="With --split: uart:BAUD or bytes-per-s:RATE, "
                             "optionally ,uj-per-byte:E"),
    per_op: bool = typer.Option(False, "--per-op", help="Also profile every op (policy none, a build with a marker "
                                "between ops): kernel variant, instructions, cycles_est, instr/MAC, share"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (stages, samples, ops) instead of tables"),
) -> None:
    """Run the model on a board in QEMU: exact instructions and estimated cycles per stage and per sample."""
    term = console()
    if split is not None:
        x = load_inputs(inputs) if inputs is not None else None
        source = str(inputs) if inputs is not None else f"{samples} random int8 samples (seed 0)"
        simulate_split(model, split, link, x, samples, source, policy, exits, optimize, opt, timeout, out)
        return
    if board is None:
        raise TinyexitError("simulate needs --board B (or --split BOARD_A:STAGES,BOARD_B:STAGES for two devices)")
    b = load_board(board)
    with tempfile.TemporaryDirectory(prefix="tinyexit-sim-") as tmp:
        lib = generate(model, Path(tmp) / "lib", options=make_options(policy, exits, optimize))
        manifest = load_manifest(lib.out_dir)
        if inputs is not None:
            x = load_inputs(inputs)
            source = str(inputs)
        else:
            rng = np.random.default_rng(0)
            x = rng.integers(-128, 128, size=(samples, *manifest["input"]["shape"]), dtype=np.int8)
            source = f"{samples} random int8 samples (seed 0)"
        n = len(x)
        built = build_firmware(lib.out_dir, b, tmp, opt=opt)
        with progress(f"QEMU {b.qemu_machine}", n, quiet=as_json) as update:
            res = run_qemu(built, b, x, manifest, timeout=timeout, profile=profile > 0,
                           progress=lambda done, total: update(done, "samples"))  # fmt: skip
        stage_cost = _stage_costs(res)
        if np.any(np.isnan(stage_cost[:, 0])):
            # Some stage never ran under this policy: measure every stage once with policy none.
            ref_lib = generate(model, Path(tmp) / "ref", options=make_options("none", exits, optimize))
            ref_built = build_firmware(ref_lib.out_dir, b, Path(tmp) / "refbuild", opt=opt)
            ref = run_qemu(ref_built, b, x[:1], load_manifest(ref_lib.out_dir), timeout=timeout)
            missing = np.isnan(stage_cost[:, 0])
            stage_cost[missing] = _stage_costs(ref)[missing]

    exit_names = [e["name"] for e in manifest["exits"]]
    full = stage_cost[:, 0].sum()
    ops = None
    if per_op:
        with progress(f"QEMU {b.qemu_machine}, per op", n, quiet=as_json) as update:
            ops = profile_ops(model, b, x, make_options("none", exits, optimize), opt=opt, timeout=timeout,
                              progress=lambda done, total: update(done, "samples"))  # fmt: skip
    if as_json:
        print(json.dumps(_summary_json(lib.prefix, b, policy, manifest, stage_cost, res, ops), indent=2))
        return
    width = terminal_width()
    table = Table([Column("stage", right=True), Column("exit"), Column("samples", right=True),
                   Column("MACs", right=True), Column("instructions", right=True), Column("cycles_est", right=True),
                   Column("ms @ clock", right=True), Column("uJ (est.)", right=True, detail=True),
                   Column("share of model", right=True), Column("cum. share", right=True, detail=True)],
                  title=f"{lib.prefix} on {b.name} ({b.core}, {b.clock_hz / 1e6:g} MHz), {opt}, policy {policy}")  # fmt: skip
    cum = 0.0
    reached = (res.stage_instructions > 0).sum(axis=0)
    for k, st in enumerate(manifest["stages"]):
        instr, cyc = stage_cost[k]
        cum += instr
        table.add(
            k, exit_names[k] if k < len(exit_names) else "-", f"{reached[k]}/{n}", f"{st['macs']:,}",
            f"{instr:,.0f}", f"{cyc:,.0f}", f"{b.time_ms(cyc):.3f}", _uj(b, cyc), f"{100 * instr / full:.1f}%",
            f"{100 * cum / full:.1f}%",
        )  # fmt: skip
    if not reached.all():
        table.caption = "stages no sample reached (0/N) were measured on one sample with policy none"
    print(render(table, width))

    per_sample = res.stage_instructions.sum(axis=1)
    per_cycles = res.cycles_est.sum(axis=1)
    samples_table = Table([Column("sample", right=True), Column("exit taken"), Column("label", right=True),
                           Column("instructions", right=True), Column("cycles_est", right=True),
                           Column("ms @ clock", right=True), Column("uJ (est.)", right=True)],
                          title=f"\nper sample ({source})")  # fmt: skip
    for i in range(min(n, show)):
        k = int(res.exit_taken[i])
        samples_table.add(
            i, f"{k} ({exit_names[k]})", int(res.labels[i]), f"{per_sample[i]:,}", f"{per_cycles[i]:,.0f}",
            f"{b.time_ms(per_cycles[i]):.3f}", _uj(b, per_cycles[i]),
        )  # fmt: skip
    if n > show:
        samples_table.caption = f"first {show} of {n} samples (--show N for more)"
    print(render(samples_table, width))
    counts = np.bincount(res.exit_taken.astype(np.int64), minlength=len(exit_names))
    shares = ", ".join(f"{name} {c} ({100 * c / n:.0f}%)" for name, c in zip(exit_names, counts))
    print(lines(f"exits taken: {shares}", width))
    print(lines(
        f"mean per sample: {per_sample.mean():,.0f} instructions, {per_cycles.mean():,.0f} cycles_est "
        f"({b.time_ms(per_cycles.mean()):.3f} ms at {b.clock_hz / 1e6:g} MHz, {_uj(b, per_cycles.mean())} uJ; "
        f"estimates); full model {full:,.0f} instructions ({100 * per_sample.mean() / full:.1f}% of it)", width))  # fmt: skip
    if profile > 0:
        flat = res.extra["profile"]
        whole = sum(int(v[cycles.INDEX["insn"]]) for v in flat.values())
        prof = Table([Column("function"), Column("instructions", right=True), Column("share", right=True),
                      Column("cycles_est", right=True), Column("loads+stores", right=True, detail=True),
                      Column("MACs (mul/mac)", right=True, detail=True), Column("DSP", right=True, detail=True)],
                     title=f"\nfunctions, whole run of {n} samples (harness and stdio included)")  # fmt: skip
        ci = cycles.INDEX
        for fname, v in list(flat.items())[:profile]:
            prof.add(
                fname, f"{v[ci['insn']]:,}", f"{100 * v[ci['insn']] / whole:.1f}%",
                f"{cycles.estimate(v, res.model):,.0f}", f"{v[ci['load']] + v[ci['store']] + v[ci['lsm']]:,}",
                f"{v[ci['mul']] + v[ci['mac']] + v[ci['mac_long']]:,}", f"{v[ci['dsp']]:,}",
            )  # fmt: skip
        print(render(prof, width))
    if ops is not None:
        print(render(_per_op_table(ops, n), width))
    print(lines(f"instructions are exact (QEMU, tx_count plugin). {res.estimate_note}.", width))
    print(lines(_energy_note(b), width))
    if out is not None:
        term.print(f"wrote {save_npz(out, res.to_arrays())}")


def _uj(board, cycles) -> str:
    """Estimated energy in uJ as text, '-' when the board file has no [power]."""
    energy = board.energy_uj(cycles)
    return "-" if energy is None else f"{energy:,.2f}"


def _power(b) -> str:
    p = b.power
    return "-" if p is None else f"{p.supply_v:g} V, {p.run_ma:g} mA, {p.sleep_ua:g} uA"


def _energy_note(b) -> str:
    if b.power is None:
        return f"no energy estimate: {b.path} has no [power] table (supply_v, run_ma, sleep_ua, source)"
    p = b.power
    return (
        f"time and energy are estimates: cycles_est at {b.clock_hz / 1e6:g} MHz x {p.supply_v:g} V x {p.run_ma:g} mA "
        f"typical run current ({p.source}); flash wait states, peripherals and caches are left out"
    )


def _per_op_table(ops, n: int) -> Table:
    table = Table([Column("#", right=True), Column("op"), Column("kernel", detail=True),
                   Column("MACs", right=True), Column("instructions", right=True), Column("cycles_est", right=True),
                   Column("instr/MAC", right=True), Column("share", right=True)],
                  title=f"\nper op, policy none ({n} samples; a build with a marker between ops)")  # fmt: skip
    for o in ops.ops:
        table.add(o.index, o.op, ", ".join(o.kernels), f"{o.macs:,}", f"{o.instructions:,.0f}", f"{o.cycles_est:,.0f}",
                  "-" if o.instr_per_mac is None else f"{o.instr_per_mac:.2f}", f"{100 * ops.share(o):.1f}%")  # fmt: skip
    table.caption = (f"ops in stage order; {ops.instructions:,.0f} instructions in all (each op's count includes "
                     "its call and 2 marker instructions; views such as RESHAPE run no code; an exit's SOFTMAX "
                     "runs only when its probabilities are read)")  # fmt: skip
    return table


def _summary_json(prefix: str, b, policy: str, manifest: dict, stage_cost: np.ndarray, res, ops) -> dict:
    """simulate --json: what the tables show, as one object."""
    return summary_json(prefix, b, policy, manifest, stage_cost, res.stage_instructions > 0, res.exit_taken,
                        res.labels, res.stage_instructions.sum(axis=1), res.cycles_est.sum(axis=1), res.model,
                        b.clock_hz, ops, cycles.note(res.model))  # fmt: skip


def summary_json(prefix: str, b, policy: str, manifest: dict, stage_cost: np.ndarray, ran: np.ndarray,
                 exit_taken: np.ndarray, labels: np.ndarray, sample_instructions: np.ndarray | None,
                 sample_cycles: np.ndarray, timing_model: str, clock_hz: int, ops, cycles_source: str) -> dict:
    """The report simulate --json and measure --json print: stages, samples, ops, with the same keys.

    stage_cost (S, 2): instructions (NaN when not counted, as on a board) and cycles per stage;
    ran (N, S): which stages each sample ran; cycles_source says whether cycles are estimated or measured.
    """
    exit_names = [e["name"] for e in manifest["exits"]]
    reached = ran.sum(axis=0)

    def number(x):
        return None if x is None or np.isnan(x) else float(x)

    return {
        "model": prefix,
        "board": b.name,
        "clock_hz": int(clock_hz),
        "policy": policy,
        "timing_model": timing_model,
        "cycles_source": cycles_source,
        "stages": [
            {"stage": k, "exit": exit_names[k], "samples": int(reached[k]), "macs": st["macs"],
             "instructions": number(stage_cost[k, 0]), "cycles_est": number(stage_cost[k, 1]),
             "ms": number(1e3 * stage_cost[k, 1] / clock_hz)}
            for k, st in enumerate(manifest["stages"])
        ],  # fmt: skip
        "samples": [
            {"sample": i, "exit_taken": int(exit_taken[i]), "label": int(labels[i]),
             "instructions": None if sample_instructions is None else int(sample_instructions[i]),
             "cycles_est": float(sample_cycles[i])}
            for i in range(len(exit_taken))
        ],  # fmt: skip
        "ops": None if ops is None else ops.to_dict()["ops"],
    }


def _stage_costs(res) -> np.ndarray:
    """(S, 2): mean instructions and cycles_est per stage over the samples that ran it (NaN if none)."""
    ran = res.stage_instructions > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        instr = res.stage_instructions.sum(axis=0) / ran.sum(axis=0)
        cyc = res.cycles_est.sum(axis=0) / ran.sum(axis=0)
    return np.stack([instr, cyc], axis=1)


def run(
    model: Path = ModelArg,
    inputs: Path = typer.Option(..., "--inputs", help=".npy of shape (N, *input_shape), int8 or float32"),
    out: Path = typer.Option(..., "-o", "--out", help="Results .npz"),
    target: str = typer.Option("host", "--target", help="host, qemu or renode"),
    board: Optional[str] = typer.Option(None, "--board", help="Board for qemu/renode targets"),
    policy: str = PolicyOpt,
    exits: Optional[str] = ExitsOpt,
    optimize: str = OptimizeOpt,
    split: Optional[str] = typer.Option(None, "--split", help="Two devices in two QEMUs, BOARD_A:STAGES,BOARD_B:STAGES "
                                        "(see simulate --split)"),
    link: str = typer.Option("uart:115200", "--link", help="With --split: uart:BAUD or bytes-per-s:RATE, "
                             "optionally ,uj-per-byte:E"),
) -> None:
    """Run every input through the generated code; write outputs per exit and the exits taken."""
    x = load_inputs(inputs)
    if split is not None:
        extra = ([f"--target {target}"] if target not in ("host", "qemu") else []) + (
            [f"--board {board}"] if board is not None else [])
        if extra:
            raise TinyexitError(f"--split runs both devices in QEMU on the boards it names; drop {' and '.join(extra)}")
        res, lib, _, deploy, _, _ = split_run(model, split, link, x, len(x), policy, exits, optimize)
        out = save_npz(out, split_arrays(res))
        taken = np.bincount(res.run.exit_taken.astype(np.int64), minlength=len(lib.graph.stages))
        shares = ", ".join(f"{e.name} {n}" for e, n in zip(lib.graph.exits, taken))
        console().print(f"ran {len(x)} samples on {deploy.a.board.name} (stages 0-{deploy.boundary - 1}) and "
                        f"{deploy.b.board.name} ({int(res.forwarded.sum())} sent on); exits taken: {shares}; wrote {out}")
        return
    arrays, lib = run_model_file(model, x, target, board, make_options(policy, exits, optimize))
    term = console()
    if target == "qemu":
        term.print(cycles.note(load_board(board).core))
    out = save_npz(out, arrays)
    taken = np.bincount(arrays["exit_taken"].astype(np.int64), minlength=len(lib.graph.stages))
    shares = ", ".join(f"{e.name} {n}" for e, n in zip(lib.graph.exits, taken))
    term.print(f"ran {len(arrays['exit_taken'])} samples on {target}; exits taken: {shares}; wrote {out}")
