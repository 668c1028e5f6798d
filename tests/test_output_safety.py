"""Output paths: no data loss, atomic replacement, interrupts, one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import fixture_path
from test_errors import assert_clean_failure

from tinyexit.codegen import output
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.output import MARKER, move_into_place, staged_folder, write_folder

MODEL = fixture_path("ee_three_exits")


def tinyexit(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "tinyexit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)  # fmt: skip


def user_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "thesis.tex").write_text("years of work\n")
    return path


@pytest.mark.parametrize("out", [".", "", "./"])
def test_output_that_is_the_current_folder_is_refused(tmp_path, out):
    folder = user_folder(tmp_path / "work")
    proc = tinyexit("generate", MODEL, "-o", out, cwd=folder)
    assert_clean_failure(proc, "is the current folder or contains it", "give a new folder for the output")
    assert (folder / "thesis.tex").read_text() == "years of work\n"
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex"]


def test_output_that_contains_the_current_folder_is_refused(tmp_path):
    user_folder(tmp_path / "project")
    inner = tmp_path / "project" / "src"
    inner.mkdir()
    proc = tinyexit("generate", MODEL, "-o", "..", cwd=inner)
    assert_clean_failure(proc, "is the current folder or contains it")
    assert (tmp_path / "project" / "thesis.tex").is_file()


def test_home_and_root_are_refused(tmp_path):
    home = user_folder(tmp_path / "home")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, HOME=str(home))
    assert_clean_failure(tinyexit("generate", MODEL, "-o", home, cwd=elsewhere, env=env), "is your home folder")
    assert_clean_failure(tinyexit("generate", MODEL, "-o", "/", cwd=elsewhere), "is the filesystem root")
    assert (home / "thesis.tex").is_file()


def test_non_empty_folder_tinyexit_did_not_write_is_refused(tmp_path):
    folder = user_folder(tmp_path / "mine")
    proc = tinyexit("generate", MODEL, "-o", folder)
    assert_clean_failure(proc, "holds files tinyexit did not write")
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex"]


def test_earlier_output_and_empty_folder_are_replaced(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert tinyexit("generate", MODEL, "-o", empty).returncode == 0
    assert (empty / MARKER).is_file() and (empty / "manifest.json").is_file()
    (empty / "stale.c").write_text("old\n")
    assert tinyexit("generate", MODEL, "-o", empty).returncode == 0
    assert not (empty / "stale.c").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no temporary folder left


def test_interrupt_while_writing_keeps_the_old_folder_and_leaves_no_temp(tmp_path):
    out = tmp_path / "out"
    write_folder(out, {"a.txt": "old"})
    with pytest.raises(KeyboardInterrupt):
        with staged_folder(out) as stage:
            (stage / "a.txt").write_text("new")
            raise KeyboardInterrupt
    assert (out / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_interrupt_during_the_swap_is_held_until_the_new_folder_is_in_place(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_folder(out, {"a.txt": "old"})
    stage = tmp_path / ".out.tmp-x"
    stage.mkdir()
    (stage / "a.txt").write_text("new")
    real_rmtree = output.shutil.rmtree

    def rmtree_interrupted(path, ignore_errors=False):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while the old folder is being removed
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(output.shutil, "rmtree", rmtree_interrupted)
    with pytest.raises(KeyboardInterrupt):
        move_into_place(stage, out)
    assert (out / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_file_in_the_way_of_the_output_folder(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(TinyexitError, match="exists and is not a folder"):
        write_folder(tmp_path / "out", {"a": "b"})


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys):
    from tinyexit.cli import main as cli_main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "app", interrupted)
    with pytest.raises(SystemExit) as stop:
        cli_main.main()
    assert stop.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_run_output_without_suffix_is_named_as_written(tmp_path):
    x = np.zeros((2, 49, 10, 1), np.int8)
    np.save(tmp_path / "x.npy", x)
    proc = tinyexit("run", fixture_path("ee_dscnn"), "--inputs", tmp_path / "x.npy", "-o", tmp_path / "w")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "w.npz").is_file() and not (tmp_path / "w").exists()
    assert f"wrote {tmp_path / 'w.npz'}" in proc.stdout.replace("\n", "")


def test_run_output_below_a_file_or_unwritable(tmp_path):
    x = np.zeros((1, 49, 10, 1), np.int8)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "file").write_text("not a folder")
    proc = tinyexit("run", fixture_path("ee_dscnn"), "--inputs", tmp_path / "x.npy", "-o", tmp_path / "file" / "r.npz")
    assert_clean_failure(proc, "cannot create the file", "choose a writable -o")
    proc = tinyexit("run", fixture_path("ee_dscnn"), "--inputs", tmp_path / "x.npy", "-o", "/proc/r.npz")
    assert_clean_failure(proc, "/proc/r.npz", "choose a writable -o")


def test_generate_with_board_in_an_unwritable_folder(tmp_path):
    proc = tinyexit("generate", MODEL, "-o", "/proc/lib", "--board", "nucleo-l4r5zi")
    assert_clean_failure(proc, "/proc/lib", "choose a writable -o")


def test_non_finite_float_inputs_are_refused(tmp_path):
    x = np.zeros((3, 49, 10, 1), np.float32)
    x[1, 0, 0, 0] = np.nan
    x[2, 3, 0, 0] = np.inf
    np.save(tmp_path / "x.npy", x)
    proc = tinyexit("run", fixture_path("ee_dscnn"), "--inputs", tmp_path / "x.npy", "-o", tmp_path / "r.npz")
    assert_clean_failure(proc, "2 values are NaN or infinite (first in sample 1)", "pass finite samples")
    assert not (tmp_path / "r.npz").exists()


START_UP_INTERRUPTED = """
import importlib.abc, os, signal, sys

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "tinyexit.codegen.pipeline":  # halfway through loading tinyexit
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = ["tinyexit", "boards"]
from tinyexit.cli.main import main
main()
"""


def test_ctrl_c_during_start_up_is_one_line_not_a_traceback():
    proc = subprocess.run([sys.executable, "-c", START_UP_INTERRUPTED], capture_output=True, text=True)
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "interrupted\n", "")
