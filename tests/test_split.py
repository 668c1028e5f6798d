"""Split deployment: the frame, the boundary, and two QEMU devices that together equal one."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from conftest import fixture_path

from tinyexit.codegen import split as sp
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.manifest import load_manifest
from tinyexit.codegen.options import Options
from tinyexit.codegen.paths import TEMPLATES_DIR
from tinyexit.codegen.pipeline import generate
from tinyexit.firmware_sim import split as fs
from tinyexit.firmware_sim.host import run_host
from tinyexit.firmware_sim.qemu import run_library

M4 = "nucleo-l4r5zi"
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Wsign-conversion", "-Wshadow", "-Wcast-align", "-Wpedantic",
          "-Werror"]
# Models with early exits (the T-RecX-shaped IC and KWS fixtures, and three exits), split after each stage.
SPLITS = [("ee_resnet", 1), ("ee_dscnn", 1), ("ee_three_exits", 1), ("ee_three_exits", 2)]


def inputs(lib, n, seed=0):
    shape = load_manifest(lib.out_dir)["input"]["shape"]
    return np.random.default_rng(seed).integers(-128, 128, size=(n, *shape), dtype=np.int8)


# ------------------------------------------------------------------ parsing


def test_split_and_link_parse():
    assert sp.parse_split("nucleo-l4r5zi:0,nucleo-h7a3zi-q:1-") == (("nucleo-l4r5zi", 0, 0), ("nucleo-h7a3zi-q", 1, None))
    s = sp.resolve_split("nucleo-l4r5zi:0-1,nucleo-f746zg:2", 3)
    assert (s.a.board.name, s.a.first, s.a.last, s.b.board.name, s.boundary, s.b.last) == (
        "nucleo-l4r5zi", 0, 1, "nucleo-f746zg", 2, 2)
    link = sp.parse_link("uart:115200")
    assert link.bytes_per_s == 11_520 and link.uj_per_byte is None  # 8N1: 10 bits a byte
    link = sp.parse_link("bytes-per-s:250000,uj-per-byte:0.5")
    assert link.seconds(1000) == 0.004 and link.energy_uj(1000) == 500.0


@pytest.mark.parametrize(
    "text, stages, message",
    [
        ("nucleo-l4r5zi:0", 3, "must name two devices"),
        ("nucleo-l4r5zi:0,nucleo-l4r5zi:x", 3, "is not BOARD:STAGES"),
        ("nucleo-l4r5zi:1,nucleo-l4r5zi:2-", 3, "must start at stage 0"),
        ("nucleo-l4r5zi:0,nucleo-l4r5zi:2-", 3, "must start right after the first (stage 1)"),
        ("nucleo-l4r5zi:0,nucleo-l4r5zi:1", 3, "must run to the last stage (2)"),
        ("nucleo-l4r5zi:0-2,nucleo-l4r5zi:3-", 3, "leave the second device at least one"),
        ("nucleo-l4r5zi:0,nucleo-l4r5zi:1-", 1, "a split needs an early exit"),
        ("nucleo-l4r5zi:0,nucleo-nope:1-", 3, "unknown board 'nucleo-nope'"),
    ],
)
def test_bad_split_is_one_line(text, stages, message):
    with pytest.raises(TinyexitError) as err:
        sp.resolve_split(text, stages)
    assert message in err.value.message and "\n" not in err.value.message


@pytest.mark.parametrize(
    "text, message",
    [("uart", "needs a number"), ("uart:0", "must be a positive number"), ("radio:9600", "'radio' is not expected"),
     ("uj-per-byte:1", "gives no rate"), ("uart:9600,uart:9600", "'uart' is not expected")],
)
def test_bad_link_is_one_line(text, message):
    with pytest.raises(TinyexitError) as err:
        sp.parse_link(text)
    assert message in err.value.message and "\n" not in err.value.message


def test_policies_with_state_are_refused():
    for policy in ("none", "exit:0", "confidence:0.9", "margin:2", "entropy:0.3"):
        sp.check_policy(policy)
    for policy in ("patience:2", "difference:0.1", "temporal-patience:3"):
        with pytest.raises(TinyexitError, match="carries state"):
            sp.check_policy(policy)


# ------------------------------------------------------------------ the frame


def test_frame_reference_layout_and_statuses():
    payload = bytes(range(40))
    frame = sp.encode_frame(7, 2, payload)
    assert len(frame) == len(payload) + sp.OVERHEAD == len(payload) + 20
    assert frame[:4] == b"TXLK" and struct.unpack_from("<HHII", frame, 4) == (1, 2, 7, 40)
    assert struct.unpack_from("<I", frame, 56)[0] == zlib.crc32(frame[:56])
    check = sp.check_frame
    assert check(frame, 2, 40, None) == sp.OK and check(frame, 2, 40, 6) == sp.OK
    flipped = bytearray(frame)
    flipped[30] ^= 0x10
    assert check(bytes(flipped), 2, 40, None) == sp.BAD_CRC
    assert check(frame[:-1], 2, 40, None) == sp.TRUNCATED and check(frame[:10], 2, 40, None) == sp.TRUNCATED
    assert check(frame + b"\0", 2, 40, None) == sp.BAD_LENGTH
    assert check(frame, 2, 41, None) == sp.BAD_LENGTH
    assert check(frame, 1, 40, None) == sp.BAD_STAGE
    assert check(b"XXXX" + frame[4:], 2, 40, None) == sp.BAD_MAGIC
    assert check(frame[:4] + b"\x02\x00" + frame[6:], 2, 40, None) == sp.BAD_VERSION
    assert check(frame, 2, 40, 7) == sp.REPLAYED and check(frame, 2, 40, 9) == sp.REPLAYED


def test_frame_code_compiles_strictly_for_host_and_cortex_m(tmp_path):
    src = TEMPLATES_DIR / "link" / "tx_link.c"
    for gcc, flags in (("gcc", []), ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb"])):
        proc = subprocess.run([gcc, *STRICT, *flags, "-O2", "-c", str(src), "-o", str(tmp_path / "l.o")],
                              capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stderr


def test_split_harnesses_compile_strictly(tmp_path):
    lib = generate(fixture_path("ee_three_exits"), tmp_path / "lib", name="m", options=Options(policy="none"))
    segments = sp.boundary_segments(lib.graph, 1)
    for role in ("a", "b"):
        files = fs.write_split_harness(lib.out_dir, tmp_path / role, role, 1, segments)
        proc = subprocess.run(["gcc", *STRICT, "-O2", "-I", str(lib.out_dir), "-I", str(tmp_path / role), "-c",
                               str(files[0]), "-o", str(tmp_path / f"{role}.o")], capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stderr


def test_boundary_is_what_the_later_stages_read(tmp_path):
    lib = generate(fixture_path("ee_three_exits"), tmp_path / "lib", name="m", options=Options(policy="none"))
    g = lib.graph
    for boundary in (1, 2):
        segments = sp.boundary_segments(g, boundary)
        later = {t for s in g.stages[boundary:] for i in s.ops for t in g.ops[i].inputs}
        assert segments and all(s.tensor in later for s in segments)
        assert [s.payload_offset for s in segments] == list(np.cumsum([0] + [s.nbytes for s in segments[:-1]]))
        assert all(s.offset == g.plan.offsets[s.tensor] and s.nbytes == g.tensor(s.tensor).nbytes for s in segments)


# ------------------------------------------------------------------ two devices in QEMU


@pytest.mark.parametrize("model, boundary, policy", [(m, k, "none") for m, k in SPLITS]
                         + [("ee_three_exits", 1, "confidence:0.8"), ("ee_three_exits", 2, "margin:1")])
def test_split_run_equals_one_device(model, boundary, policy, tmp_path):
    lib = generate(fixture_path(model), tmp_path / "lib", name="m", options=Options(policy=policy))
    stages = len(lib.graph.stages)
    split = sp.resolve_split(f"{M4}:0-{boundary - 1},{M4}:{boundary}-", stages)
    segments = sp.boundary_segments(lib.graph, boundary)
    x = inputs(lib, 6)
    res = fs.run_split(lib.out_dir, split, sp.parse_link("uart:115200"), segments, x)
    host = run_host(lib.out_dir, x).to_arrays()
    got = res.run.to_arrays()
    for key, value in host.items():
        assert got[key].tobytes() == value.tobytes(), key
    # Each stage's instructions on the device that ran it equal the single-device count; framing comes on top.
    single = run_library(lib.out_dir, M4, x)
    assert np.array_equal(res.a.stage_instructions + res.b.stage_instructions, single.stage_instructions)
    assert not res.a.stage_instructions[:, boundary:].any() and not res.b.stage_instructions[:, :boundary].any()
    forwarded = host["exit_taken"] >= boundary
    assert np.array_equal(res.forwarded, forwarded)
    if policy == "none":
        assert forwarded.all()
    assert ((res.a.framing_instructions > 0) == forwarded).all() and ((res.b.framing_instructions > 0) == forwarded).all()
    assert (res.status[forwarded] == 0).all() and (res.status[~forwarded] == -1).all()
    assert np.array_equal(res.link_bytes, np.where(forwarded, sp.frame_bytes(segments), 0))


def test_device_a_frames_match_the_reference_and_device_b_refuses_bad_ones(tmp_path):
    lib = generate(fixture_path("ee_three_exits"), tmp_path / "lib", name="m", options=Options(policy="none"))
    split = sp.resolve_split(f"{M4}:0,{M4}:1-", 3)
    segments = sp.boundary_segments(lib.graph, 1)
    length = sp.payload_bytes(segments)
    built_a, built_b = fs.build_split(lib.out_dir, split, segments, tmp_path / "fw")
    x = inputs(lib, 2, seed=3)
    _, _, files = fs.run_guest(built_a, {"inputs.bin": x.tobytes()}, 60)
    raw, frames = files["frames.bin"], []
    while raw:
        size = struct.unpack_from("<I", raw)[0]
        frames.append(raw[4: 4 + size])
        raw = raw[4 + size:]
    assert len(frames) == 2
    for seq, frame in enumerate(frames):  # the C frame is the reference frame, byte for byte
        assert frame == sp.encode_frame(seq, 1, frame[16:-4]) and sp.check_frame(frame, 1, length, None) == sp.OK

    f0, f1 = frames
    flipped = bytearray(f1)
    flipped[16 + length // 2] ^= 0x04
    cases = [
        (f0, sp.OK),
        (bytes(flipped), sp.BAD_CRC),  # a flipped bit in the payload
        (f1[:-7], sp.TRUNCATED),
        (f0, sp.REPLAYED),  # the same frame again
        (f1, sp.OK),
        (sp.encode_frame(0, 1, f1[16:-4]), sp.REPLAYED),  # out of order: an older sequence number
        (b"TXLX" + f1[4:], sp.BAD_MAGIC),
        (sp.encode_frame(5, 2, f1[16:-4]), sp.BAD_STAGE),
        (f1 + b"\x00\x00", sp.BAD_LENGTH),  # bytes after the CRC
        (f1[:9], sp.TRUNCATED),
    ]
    stream = b"".join(struct.pack("<I", len(f)) + f for f, _ in cases)
    _, _, files = fs.run_guest(built_b, {"frames.bin": stream}, 60)
    rows, status, taken = fs.parse_device_b(files["results.bin"], load_manifest(lib.out_dir), 1, len(cases))
    assert list(status) == [code for _, code in cases]
    refused = status != sp.OK
    assert (taken[refused] == fs.FORWARDED).all() and not rows[refused, 2:].any()  # no label, no output
    host = run_host(lib.out_dir, x).to_arrays()
    assert (taken[~refused] == host["exit_taken"]).all()
    final = load_manifest(lib.out_dir)["exits"]
    col = 4 + final[1]["bytes"]
    assert rows[4, col: col + final[2]["bytes"]].tobytes() == host["final"][1].tobytes()


def test_simulate_split_command(tmp_path):
    from typer.testing import CliRunner

    from tinyexit.cli.main import app

    runner = CliRunner()
    out = tmp_path / "r.npz"
    result = runner.invoke(app, ["simulate", str(fixture_path("ee_three_exits")), "--split", f"{M4}:0-1,{M4}:2",
                                 "--link", "bytes-per-s:100000,uj-per-byte:0.5", "--samples", "3", "-o", str(out)],
                           env={"COLUMNS": "250"})  # fmt: skip
    assert result.exit_code == 0, result.output
    arrays = np.load(out)
    lib = generate(fixture_path("ee_three_exits"), tmp_path / "lib", name="m", options=Options(policy="none"))
    frame = sp.frame_bytes(sp.boundary_segments(lib.graph, 2))
    assert (arrays["link_bytes"] == frame).all() and arrays["forwarded"].all()
    assert f"{frame:,} bytes per frame" in result.output and f"{frame * 0.5:,.2f} uJ per sample" in result.output
    assert "end-to-end latency (estimate)" in result.output
    # A: stages 0-1 and framing; B: check, stage 2. Latency = A ms + link ms + B ms (estimates).
    a_ms = arrays["a.cycles_est"] / 120e3
    b_ms = arrays["b.cycles_est"] / 120e3
    assert np.allclose(arrays["latency_ms"], a_ms + 1e3 * frame / 100_000 + b_ms)
    bad = runner.invoke(app, ["simulate", str(fixture_path("ee_three_exits")), "--split", f"{M4}:0,{M4}:1-",
                              "--policy", "patience:2"])  # fmt: skip
    assert isinstance(bad.exception, TinyexitError) and "carries state" in bad.exception.message
    proc = subprocess.run([sys.executable, "-m", "tinyexit", "simulate", str(fixture_path("ee_three_exits"))],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and "simulate needs --board" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_compare_with_devices_adds_the_split_columns(tmp_path):
    from tinyexit.codegen.boards import load_board
    from tinyexit.evaluation.compare import run_comparison
    from tinyexit.evaluation.report import report_csv, report_markdown

    model = fixture_path("ee_three_exits")
    lib = generate(model, tmp_path / "lib", name="m", options=Options(policy="none"))
    x = inputs(lib, 6, seed=4)
    policies = ["none", "exit:0", "patience:1"]
    result = run_comparison(model, x, None, M4, policies, qemu_samples=6, devices=f"{M4}:0,{M4}:1-",
                            link="bytes-per-s:50000,uj-per-byte:0.25")  # fmt: skip
    rows = {r.policy: r for r in result.rows}
    segments = sp.boundary_segments(lib.graph, 1)
    frame = sp.frame_bytes(segments)
    # none: every sample sent on; the sensor's energy is A's stage and framing cycles, measured directly.
    direct = fs.run_split(lib.out_dir, sp.resolve_split(f"{M4}:0,{M4}:1-", 3), sp.parse_link("bytes-per-s:50000"),
                          segments, x)  # fmt: skip
    board = load_board(M4)
    assert rows["none"].link_bytes == frame and rows["none"].link_energy_uj == pytest.approx(0.25 * frame)
    assert rows["none"].sensor_energy_uj == pytest.approx(board.energy_uj(direct.a.cycles_est()).mean(), rel=1e-9)
    assert rows["none"].remote_energy_uj == pytest.approx(board.energy_uj(direct.b.cycles_est()).mean(), rel=1e-9)
    assert rows["none"].latency_ms == pytest.approx(direct.latency_ms().mean(), rel=1e-9)
    # exit:0 never leaves the sensor: no link, nothing on B, latency = A's stage 0.
    assert rows["exit:0"].link_bytes == 0 and rows["exit:0"].remote_energy_uj == 0
    assert rows["exit:0"].sensor_energy_uj < rows["none"].sensor_energy_uj
    assert rows["patience:1"].sensor_energy_uj is None  # state across exits: not split
    md = report_markdown(result.meta, result.rows)
    assert "## Split deployment" in md and f"{frame:,}-byte frame" in md
    assert "sensor_energy_uj" in report_csv(result.rows).splitlines()[0]


def test_compare_devices_command_writes_the_sensor_plot(tmp_path):
    model = fixture_path("ee_three_exits")
    lib = generate(model, tmp_path / "lib", name="m", options=Options(policy="none"))
    data = tmp_path / "d.npz"
    np.savez(data, x=inputs(lib, 4, seed=5))
    proc = subprocess.run([sys.executable, "-m", "tinyexit", "compare", str(model), "--data", str(data), "--board", M4,
                           "--policies", "none; exit:0", "-o", str(tmp_path / "r"), "--qemu-samples", "2",
                           "--devices", f"{M4}:0-1,nucleo-f746zg:2", "--link", "uart:115200"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "plot_sensor.png").read_bytes()[:4] == b"\x89PNG"
    assert "| `exit:0` |" in (tmp_path / "r" / "report.md").read_text().split("## Split deployment")[1]
    bad = subprocess.run([sys.executable, "-m", "tinyexit", "compare", str(model), "--data", str(data), "--board", M4,
                          "--policies", "none", "-o", str(tmp_path / "r2"), "--devices", f"{M4}:0"],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "must name two devices" in bad.stderr and not (tmp_path / "r2").exists()


def test_run_split_writes_the_one_device_arrays(tmp_path):
    model = fixture_path("ee_three_exits")
    lib = generate(model, tmp_path / "lib", name="m", options=Options(policy="none"))
    x = inputs(lib, 3, seed=6)
    np.save(tmp_path / "x.npy", x)
    base = [sys.executable, "-m", "tinyexit", "run", str(model), "--inputs", str(tmp_path / "x.npy")]
    proc = subprocess.run(base + ["-o", str(tmp_path / "r.npz"), "--split", f"{M4}:0,nucleo-f746zg:1-"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "r.npz")
    for key, value in run_host(lib.out_dir, x).to_arrays().items():
        assert got[key].tobytes() == value.tobytes(), key
    assert got["forwarded"].all() and (got["link_status"] == 0).all() and (got["b.framing_instructions"] > 0).all()
    bad = subprocess.run(base + ["-o", str(tmp_path / "s.npz"), "--split", f"{M4}:0,{M4}:1-", "--target", "renode"],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "drop --target renode" in bad.stderr and not (tmp_path / "s.npz").exists()


def test_build_split_writes_a_folder_per_device(tmp_path):
    model = fixture_path("ee_three_exits")
    out = tmp_path / "fw"
    base = [sys.executable, "-m", "tinyexit", "build", str(model), "--split", f"{M4}:0,nucleo-f746zg:1-"]
    proc = subprocess.run(base + ["-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for role, board in (("a", M4), ("b", "nucleo-f746zg")):
        folder = out / f"device-{role}"
        assert {f"split_{role}.c", "tx_link.c", "tx_link.h", "tx_markers.c", f"ee_three_exits-{board}-split-{role}.elf",
                "lib"} <= {p.name for p in folder.iterdir()}  # fmt: skip
        assert board in (folder / "lib" / "CMakeLists.txt").read_text()
        assert (folder / "tx_link.c").read_bytes() == (TEMPLATES_DIR / "link" / "tx_link.c").read_bytes()
    # Both devices compile the same C (only the project files differ), so every tensor has the same arena offset.
    sources = lambda r: {p.name: p.read_bytes() for p in (out / f"device-{r}" / "lib").iterdir()  # noqa: E731
                         if p.suffix in (".c", ".h", ".json")}
    assert sources("a") == sources("b")
    assert not any(p.name.startswith("build-") for p in out.rglob("*"))
    bad = subprocess.run(base + ["-o", str(tmp_path / "x"), "--board", M4], capture_output=True, text=True)
    assert bad.returncode == 2 and "drop --board" in bad.stderr and not (tmp_path / "x").exists()
