"""simulate --per-op: exact instructions per op from a build with a marker
between ops; inspect --memory: the arena plan as text and as a PNG."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import fixture_path

from tinyexit.codegen.options import Options
from tinyexit.codegen.passes.plan_memory import timeline
from tinyexit.codegen.pipeline import compile_graph, generate
from tinyexit.codegen.reader import read_model
from tinyexit.firmware_sim.profile import profile_ops

BOARD = "nucleo-l4r5zi"


def tinyexit(*args, columns=80):
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run([sys.executable, "-m", "tinyexit", *map(str, args)], capture_output=True, text=True, env=env)


def test_op_markers_only_in_profiling_builds(tmp_path):
    plain = generate(fixture_path("ee_dscnn"), tmp_path / "plain", name="m")
    marked = generate(fixture_path("ee_dscnn"), tmp_path / "marked", name="m", options=Options(op_markers=True))
    assert "tx_op_mark" not in (plain.out_dir / "m.c").read_text()
    text = (marked.out_dir / "m.c").read_text()
    calls = [line for line in text.splitlines() if line.strip().startswith("tx_op_mark();")]
    with_code = [i for s in marked.graph.stages for i in s.ops if marked.graph.calls.get(i)]
    assert len(calls) == len(with_code) + len(marked.graph.stages)  # one before each op, one after a stage's last


def test_per_op_counts_add_up_to_the_stages():
    x = np.random.default_rng(1).integers(-128, 128, (3, 49, 10, 1), dtype=np.int8)
    profile = profile_ops(fixture_path("ee_dscnn"), BOARD, x)
    graph = compile_graph(read_model(fixture_path("ee_dscnn")), Options())
    expected = [i for s in graph.stages for i in s.ops if graph.calls.get(i)]
    assert [o.index for o in profile.ops] == expected
    for o in profile.ops:
        assert o.kernels == tuple(c.kernel for c in graph.calls[o.index])
        assert o.instructions > 0 and o.cycles_est > o.instructions and o.samples == 3
    conv = next(o for o in profile.ops if o.op == "CONV_2D")
    assert conv.instr_per_mac == pytest.approx(conv.instructions / conv.macs)
    assert sum(profile.share(o) for o in profile.ops) == pytest.approx(1.0)


def test_simulate_per_op_table_and_json():
    proc = tinyexit("simulate", fixture_path("ee_dscnn"), "--board", BOARD, "--samples", "2", "--per-op")
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout[proc.stdout.index("\nper op, policy none"):]
    assert all(len(line) <= 80 for line in table.splitlines())
    assert " 1  DEPTHWISE_CONV_2D  18,000 " in table and "    kernel: depthwise_conv2d_3x3_s8" in table
    proc = tinyexit("simulate", fixture_path("ee_dscnn"), "--board", BOARD, "--samples", "2", "--per-op", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # nothing but the one object on stdout, no progress lines
    stage_total = sum(s["instructions"] for s in data["stages"])
    op_total = sum(o["instructions"] for o in data["ops"])
    assert 0 < stage_total - op_total < 0.01 * stage_total  # the stages also run the exit decisions
    assert {"index", "op", "kernels", "macs", "instructions", "cycles_est", "instr_per_mac", "share"} <= set(data["ops"][0])


def test_inspect_memory_draws_the_plan(tmp_path):
    graph = compile_graph(read_model(fixture_path("ee_dscnn")), Options())
    rows = timeline(graph, 40)
    steps = rows[1 : 1 + len(graph.plan.schedule)]
    assert all(len(r) == len(steps[0]) for r in steps)
    legend = rows[2 + len(graph.plan.schedule):]
    assert len(legend) == len(graph.plan.buffers)
    # Every buffer of a column's bytes or more shows its symbol in the row of each step it is alive at.
    for line in legend:
        symbol, first, last = line[0], *map(int, line.split("steps ")[1].split(":")[0].split(".."))
        if int(line[3:].split(" B")[0].replace(",", "")) < graph.plan.arena_bytes / 40:
            continue
        for step in range(max(first, 0), min(last, len(steps) - 1) + 1):
            assert symbol in steps[step].split("|")[1]
    png = tmp_path / "arena.png"
    proc = tinyexit("inspect", fixture_path("ee_dscnn"), "--memory", "--png", png)
    assert proc.returncode == 0, proc.stderr
    assert all(len(line) <= 80 for line in proc.stdout.splitlines())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plugin_is_rebuilt_when_its_source_changes(tmp_path, monkeypatch):
    """A plugin built from another tx_count.c (an older tinyexit) is rebuilt, not run with new arguments."""
    import shutil

    from tinyexit.firmware_sim.qemu import plugin_build_dir, plugin_path

    cached = plugin_build_dir()
    if not (cached / "include" / "qemu-plugin.h").is_file():
        pytest.skip("no fetched QEMU plugin header in the cache (make install)")
    build = tmp_path / "tinyexit" / "qemu-plugin"
    build.mkdir(parents=True)
    shutil.copytree(cached / "include", build / "include")
    for name in ("tx_count.so", "qemu-version"):
        shutil.copyfile(cached / name, build / name)
    (build / "source-sha256").write_text("an older plugin source\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("TINYEXIT_QEMU_PLUGIN", raising=False)
    before = (build / "tx_count.so").stat().st_mtime_ns
    assert plugin_path() == build / "tx_count.so"
    assert (build / "source-sha256").read_text().strip() != "an older plugin source"
    assert (build / "tx_count.so").stat().st_mtime_ns != before
