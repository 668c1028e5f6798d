"""Terminal output: tables that fit 80 columns without cutting names or numbers,
plain progress lines when piped, --help without types, close-match suggestions,
and one-line errors that say what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import fixture_path, mlperf_path

from tinyexit.cli.tables import Column, Table, render
from tinyexit.codegen import __version__
from tinyexit.codegen.boards import load_board
from tinyexit.codegen.errors import TinyexitError
from tinyexit.evaluation.data import load_dataset
from tinyexit.firmware_sim.build import BuildResult, check_fit

BOARD = "nucleo-l4r5zi"


def tinyexit(*args, columns=80):
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run([sys.executable, "-m", "tinyexit", *map(str, args)], capture_output=True, text=True, env=env)


def one_error(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def assert_fits(text: str, width: int = 80):
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, "\n".join(too_long)
    assert "…" not in text


# ------------------------------------------------------------------ the renderer


def test_render_keeps_numbers_and_moves_details_under_the_row():
    table = Table([Column("name"), Column("count", right=True), Column("where", detail=True)], title="t")
    table.add("alpha", "1,234,567", "platforms/cpus/stm32f746.repl")
    table.add("b", "7", "")
    assert render(table, 80) == "\n".join([
        "t",
        "name       count  where",
        "-----  ---------  -----------------------------",
        "alpha  1,234,567  platforms/cpus/stm32f746.repl",
        "b              7",
    ])  # fmt: skip
    assert render(table, 40) == "\n".join([
        "t",
        "name       count",
        "-----  ---------",
        "alpha  1,234,567",
        "    where: platforms/cpus/stm32f746.repl",
        "b              7",
    ])  # fmt: skip


def test_render_wraps_text_at_spaces_and_headers_at_words():
    table = Table([Column("what", wrap=True), Column("weight bytes", right=True)])
    table.add("a C compiler (cc, or $CC)", "1,728")
    assert render(table, 20) == "\n".join([
        "              weight",
        "what           bytes",
        "------------  ------",
        "a C compiler   1,728",
        "(cc, or $CC)",
    ])  # fmt: skip


# ------------------------------------------------------------------ commands at 80 columns


def test_inspect_fits_80_columns_with_whole_names_and_numbers():
    model = fixture_path("ee_dscnn")
    proc = tinyexit("inspect", model)
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout)
    summary = json.loads(tinyexit("inspect", model, "--json").stdout)
    for op in summary["ops"]:
        assert op["op"] in proc.stdout
        assert f"{op['macs']:,}" in proc.stdout
    assert "DEPTHWISE_CONV_2D" in proc.stdout and "1x49x10x1" in proc.stdout


def test_boards_fit_80_columns_and_use_one_line_when_wide():
    narrow = tinyexit("boards")
    assert narrow.returncode == 0, narrow.stderr
    assert_fits(narrow.stdout)
    assert "    supply, run, sleep (typ.): 3.3 V, 13.2 mA, 2.8 uA; QEMU machine: mps2-an386;\n" in narrow.stdout
    wide = tinyexit("boards", columns=200)
    row = next(line for line in wide.stdout.splitlines() if line.startswith("nucleo-l4r5zi "))
    assert row.split("  ")[0] == "nucleo-l4r5zi" and row.endswith("  mps2-an386     generated nucleo-l4r5zi.repl")


def test_doctor_fits_80_columns():
    proc = tinyexit("doctor")
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout)
    assert "capability" in proc.stdout and "arm-none-eabi-gcc" in proc.stdout


def test_simulate_fits_80_columns_and_prints_plain_progress_when_piped():
    proc = tinyexit("simulate", fixture_path("ee_dscnn"), "--board", BOARD, "--samples", "2", "--profile", "3")
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout)
    assert "QEMU mps2-an386: 2/2 samples (" in proc.stdout and proc.stderr == ""
    row = next(line for line in proc.stdout.splitlines() if line.lstrip().startswith("0  exit0"))
    assert row.split()[3] == "183,384"  # stage 0 MACs, whole
    assert "tx_conv2d_gemm_s8" in proc.stdout


def test_simulate_fits_80_columns_with_the_kws_models_wide_numbers():
    proc = tinyexit("simulate", mlperf_path("kws"), "--board", BOARD, "--samples", "1")
    assert proc.returncode == 0, proc.stderr
    assert_fits(proc.stdout)
    lines = proc.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line.lstrip().startswith("0  output_0"))
    assert lines[row].split()[3:5] == ["2,656,768", "3,546,850"]  # MACs and instructions, whole
    assert lines[row + 1].startswith("    uJ (est.): ") and lines[row + 1].endswith("; cum. share: 100.0%")


def test_compare_piped_prints_progress_lines(tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 12, 12, 1)).astype(np.float32)
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=np.zeros(6, np.int64))
    proc = tinyexit("compare", fixture_path("ee_trained_blobs"), "--data", data, "--board", BOARD,
                    "--policies", "none; exit:0", "-o", tmp_path / "r", "--qemu-samples", "2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines[:3]] == [
        "compare: 0/2 policy none", "compare: 1/2 policy exit:0", "compare: 2/2 policies done"]
    assert proc.stderr == ""
    # The policy table and the notes fit 80 columns (report.md keeps its one-line Markdown rows).
    assert_fits(proc.stdout)
    assert max(map(len, (tmp_path / "r" / "report.md").read_text().splitlines())) > 80
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    for p in report["policies"]:
        row = next(line for line in lines if line.startswith(p["policy"] + " "))
        cells = row.split()
        assert cells[1] == f"{100 * p['accuracy']:.1f}%" and f"{p['mean_instructions']:,.0f}" in cells
        assert f"{p['mean_time_ms']:.3f}" in cells and f"{100 * p['saving_vs_none']:.1f}%" in cells
    assert any(line.startswith("QEMU verification: not run") for line in lines)


# ------------------------------------------------------------------ --help


def test_no_arguments_prints_the_help():
    proc = tinyexit()
    assert proc.stderr == "" and proc.stdout.startswith("Usage: tinyexit [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in proc.stdout and "  simulate" in proc.stdout


def test_help_shows_flags_without_types():
    proc = tinyexit("inspect", "--help")
    assert proc.returncode == 0
    assert "<bool>" not in proc.stdout and "<str>" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert any(line.split()[:2] == ["--json", "Print"] for line in lines if line.strip()), proc.stdout
    assert any(line.strip().startswith("--policy POLICY") for line in lines), proc.stdout
    version = tinyexit("--version")
    assert (version.returncode, version.stdout, version.stderr) == (0, f"tinyexit {__version__}\n", "")


# ------------------------------------------------------------------ suggestions and hints


def test_misspelled_command_gets_a_close_match():
    assert one_error(tinyexit("simualte")) == "error: no command 'simualte' (did you mean 'simulate'?); see `tinyexit --help`"


def test_misspelled_board_gets_a_close_match():
    line = one_error(tinyexit("simulate", fixture_path("ee_dscnn"), "--board", "nucleo-l4r5z"))
    assert line.startswith("error: unknown board 'nucleo-l4r5z' (did you mean 'nucleo-l4r5zi'?); known boards: ")


def test_misspelled_policy_kind_gets_a_close_match():
    line = one_error(tinyexit("inspect", fixture_path("ee_dscnn"), "--policy", "confidance:0.9"))
    assert line.startswith("error: policy 'confidance:0.9': unknown policy 'confidance' (did you mean 'confidence'?)")


def test_comma_separated_policy_list_names_the_separator(tmp_path):
    line = one_error(tinyexit("compare", fixture_path("ee_dscnn"), "--data", tmp_path / "none.npz", "--board", BOARD,
                              "--policies", "none, confidence:0.9,0.8", "-o", tmp_path / "r"))  # fmt: skip
    assert line == (
        "error: --policies 'none, confidence:0.9,0.8': separate policies with ';', not ',' (a comma separates "
        "per-exit thresholds, as in confidence:0.95,0.8), e.g. \"none; confidence:0.9,0.8\""
    )


def test_bad_option_value_is_one_line():
    line = one_error(tinyexit("simulate", fixture_path("ee_dscnn"), "--board", BOARD, "--samples", "many"))
    assert line.startswith("error: Invalid value for '--samples': ")
    assert line.endswith("; see `tinyexit simulate --help`")


@pytest.mark.parametrize("optimize, advice", [
    ("speed", "generate with --optimize size (int8 weights, about half the weight flash), use a board with more "
              "flash, or a smaller model"),
    ("size", "use a board with more flash or a smaller model"),
])  # fmt: skip
def test_flash_overflow_suggests_optimize_size(optimize, advice, tmp_path):
    board = load_board(BOARD)
    result = BuildResult(elf=tmp_path / "x.elf", board=board, memory_map="board", io="uart", opt="-O2",
                         flash_used=board.flash.size + 10, ram_used=1000, flash_limit=board.flash.size,
                         ram_limit=board.ram.size, sections={}, symbols={}, command=())  # fmt: skip
    with pytest.raises(Exception) as err:
        check_fit(result, "kws", optimize)
    assert err.value.message == (
        f"kws does not fit nucleo-l4r5zi: FLASH overflowed by 10 bytes (needs {board.flash.size + 10:,} of "
        f"{board.flash.size:,}); {advice}"
    )


def test_policy_file_and_data_file_errors_say_how_to_make_them(tmp_path):
    line = one_error(tinyexit("generate", fixture_path("ee_dscnn"), "-o", tmp_path / "o", "--policy", "@no-calib.txt"))
    assert line == ("error: --policy @no-calib.txt: cannot read no-calib.txt (No such file or directory); write it with "
                    "`tinyexit calibrate MODEL --data D.npz --policy confidence --max-drop 0.01 -o no-calib.txt`")
    missing = tmp_path / "stream.npz"
    line = one_error(tinyexit("compare", fixture_path("ee_dscnn"), "--data", missing, "--board", BOARD,
                              "--policies", "none; exit:0", "-o", tmp_path / "r"))  # fmt: skip
    assert line == (f"error: {missing}: no such file; make one with `tinyexit data NAME -o {missing}` (NAME: "
                    "fashion-mnist, keywords, keywords-stream, ecg, ecg-stream, ecg-rhythm, ecg-rhythm-stream or "
                    "ecg-record) or save arrays with numpy.savez(path, x=..., y=...)")


def test_every_data_set_name_comes_from_one_list(tmp_path):
    """The message for a missing data file, `tinyexit data --help` and `tinyexit data` itself name the same sets."""
    from tinyexit.codegen.datasets import DATASETS
    from tinyexit.modelmaking import datasets

    assert datasets.DATASETS is DATASETS and len(DATASETS) == 8
    with pytest.raises(TinyexitError) as err:
        load_dataset(tmp_path / "missing.npz", None)
    listed = err.value.message.split("(NAME: ", 1)[1].split(")", 1)[0]
    assert listed.replace(" or ", ", ").split(", ") == list(DATASETS)
    line = one_error(tinyexit("data", "ecg-rythm", "-o", tmp_path / "d.npz"))
    assert line == f"error: data set 'ecg-rythm' is unknown; choose one of {', '.join(DATASETS)}"
    usage = tinyexit("data", "--help").stdout
    assert all(name in usage for name in DATASETS)
