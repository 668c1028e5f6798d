"""The Renode files `tinyexit build` writes for a user's repository (Renode itself is not installed here).

- the expected UART lines equal, byte for byte, what the same UART firmware prints in QEMU
  (40 samples: more than newlib's 1024-byte stdio buffer, exits 0, 1 and 2 all taken);
- the .robot waits for exactly those lines, each matched whole, in order, then "TX EXIT 0";
- renode-ci.yml: Python 3.11, tinyexit from the package at this version, a released Renode tag,
  the logs uploaded even when the test fails, and a build command that reproduces the same files
  when run from a copy of the user's repository.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import robot
import yaml
from typer.testing import CliRunner

from tinyexit.cli.main import app
from tinyexit.codegen import __version__
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.paths import TEMPLATES_DIR
from tinyexit.firmware_sim.harness import parse_results, results_bytes
from tinyexit.firmware_sim.host import run_host
from tinyexit.firmware_sim.renode import RENODE_REVISION, expected_uart, uart_lines, uart_mismatch, uart_text_in_qemu
from tinyexit.firmware_sim.renode import run as run_renode

from conftest import fixture_path

BOARD = "nucleo-l4r5zi"
POLICY = "margin:2.5,0.5"  # with the samples below: 25 samples stop at exit 0, 6 at exit 1, 9 at exit 2
STANDIN = Path(__file__).resolve().parent / "renode_standin" / "standin.resource"
WAIT = re.compile(r"^    Wait For Line On Uart     (\S.*\S)    treatAsRegex=true$")


def user_repo(root):
    """A user's repository: the model and the samples at its root."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fixture_path("ee_three_exits"), root / "model.tflite")
    x = np.random.default_rng(3).integers(-128, 128, size=(40, 1, 16, 16, 1), dtype=np.int8)
    np.save(root / "samples.npy", x)
    return root, x


def build_in(root, monkeypatch, *args):
    monkeypatch.chdir(root)
    monkeypatch.delenv("COLUMNS", raising=False)
    result = CliRunner().invoke(app, ["build", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """`tinyexit build` run at the root of a user's repository, with relative paths."""
    root, x = user_repo(tmp_path_factory.mktemp("repo"))
    with pytest.MonkeyPatch.context() as mp:
        output = build_in(root, mp, "model.tflite", "--board", BOARD, "-o", "fw", "--inputs", "samples.npy",
                          "--policy", POLICY)  # fmt: skip
    return root, x, output


def test_uart_lines_are_results_32_bytes_a_line():
    raw = bytes(range(70))
    assert uart_lines(raw) == [
        "TXR " + bytes(range(32)).hex(),
        "TXR " + bytes(range(32, 64)).hex(),
        "TXR 404142434445",
        "TX EXIT 0",
    ]
    assert uart_lines(b"") == ["TX EXIT 0"]


def test_results_bytes_inverts_parse_results():
    manifest = {"exits": [{"name": "a", "bytes": 8, "logits": 2, "dtype": "float32", "shape": [2]},
                          {"name": "b", "bytes": 3, "logits": 3, "dtype": "int8", "shape": [3]}]}  # fmt: skip
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 256, size=(4, 3 + 8 + 3 + 2 + 3), dtype=np.uint8)
    rows[:, 3:11] = rng.normal(size=(4, 2)).astype("<f4").view(np.uint8)  # finite floats for exit a
    raw = rows.tobytes()
    assert results_bytes(parse_results(raw, manifest, 4), manifest) == raw


def test_expected_lines_are_what_the_uart_firmware_prints(built):
    root, x, output = built
    fw = root / "fw"
    expected = (fw / f"model-{BOARD}-board.expected.txt").read_text()
    # The UART build of the same library, on the QEMU machine: its whole output, byte for byte.
    text, _ = uart_text_in_qemu(fw / "lib", BOARD, x)
    assert text == expected
    lines = expected.splitlines()
    record = 3 + 3 * (5 + 5)  # exit taken, label, three exits' outputs and logits of 5 bytes each
    assert len(lines) == -(-40 * record // 32) + 1 and lines[-1] == "TX EXIT 0"
    host = run_host(fw / "lib", x)
    assert np.bincount(host.exit_taken, minlength=3).tolist() == [25, 6, 9]
    assert f"Renode check    fw/model-{BOARD}-board.expected.txt  ({len(lines)} UART lines" in output
    assert "Renode CI       fw/renode-ci.yml  (copy to .github/workflows/renode.yml" in output
    # Not a terminal: COLUMNS unset gives 80. The three commands to flash and measure stay whole lines
    # so that they can be copied as they are.
    commands = ("flash it ", "  or ", "then ")
    assert [line[:9] for line in output.splitlines() if line.startswith(commands)] == ["flash it ", "  or     ", "then     "]
    assert max(len(line) for line in output.splitlines() if not line.startswith(commands)) <= 80


def test_robot_waits_for_every_expected_line_in_order(built):
    root, x, _ = built
    fw = root / "fw"
    robot = (fw / f"model-{BOARD}-board.robot").read_text()
    waits = [m.group(1) for m in map(WAIT.match, robot.splitlines()) if m]
    assert robot.count("Wait For Line On Uart") == len(waits)
    lines = (fw / f"model-{BOARD}-board.expected.txt").read_text().splitlines()
    assert waits == [f"^{line}$" for line in lines]
    host = run_host(fw / "lib", x)
    summary = re.findall(r"^  sample (\d+): exit (\d) \((\w+)\), label (\d+)$", robot, re.M)
    assert [(int(i), int(k), int(label)) for i, k, _, label in summary] == [
        (i, int(k), int(label)) for i, (k, label) in enumerate(zip(host.exit_taken, host.labels))
    ]


def test_ci_workflow_runs_in_the_users_repository(built, tmp_path, monkeypatch):
    root, _, _ = built
    text = (root / "fw" / "renode-ci.yml").read_text()
    job = yaml.safe_load(text)["jobs"]["renode"]
    assert job["runs-on"] == "ubuntu-24.04"
    steps = job["steps"]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.11"
    runs = [s["run"] for s in steps if "run" in s]
    assert not any(re.search(r"pip install.*(-e|--editable)\b", r) for r in runs)
    assert job["env"]["TINYEXIT"] == f"tinyexit=={__version__}"
    assert 'python -m pip install "$TINYEXIT"' in runs
    assert any("gcc-arm-none-eabi" in r and "libnewlib-arm-none-eabi" in r for r in runs)
    renode = uses["antmicro/renode-test-action"]["with"]
    assert renode["renode-revision"] == RENODE_REVISION and re.fullmatch(r"v1\.\d+\.\d+", RENODE_REVISION)
    assert renode["tests-to-run"] == "fw/*.robot"
    upload = uses["actions/upload-artifact"]
    assert upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["renode-results/", "fw/*.uart.txt", "fw/*.expected.txt", "fw/*.robot"]
    assert renode["artifacts-path"] == "renode-results"
    (command,) = [r for r in runs if r.startswith("tinyexit build")]
    argv = shlex.split(command)
    assert argv == ["tinyexit", "build", "model.tflite", "--board", BOARD, "-o", "fw", "--inputs", "samples.npy",
                    "--policy", POLICY, "--optimize", "size", "--opt", "-O2"]  # fmt: skip
    # The workflow's command, run in a fresh checkout of the repository, writes the same expected lines and robot.
    clone, _ = user_repo(tmp_path / "clone")
    build_in(clone, monkeypatch, *argv[2:])
    for name in (f"model-{BOARD}-board.expected.txt", f"model-{BOARD}-board.robot", "renode-ci.yml"):
        assert (clone / "fw" / name).read_text() == (root / "fw" / name).read_text(), name


def test_ci_workflow_names_paths_relative_to_the_repository(tmp_path, monkeypatch):
    root, _ = user_repo(tmp_path / "repo")
    (root / "data").mkdir()
    shutil.move(root / "samples.npy", root / "data" / "samples.npy")
    (root / "calib.txt").write_text("margin:2.5\n")
    build_in(root, monkeypatch, str(root / "model.tflite"), "--board", BOARD, "-o", str(root / "out" / "fw"),
             "--inputs", str(root / "data" / "samples.npy"), "--policy", f"@{root / 'calib.txt'}", "--name", "kws")
    job = yaml.safe_load((root / "out" / "fw" / "renode-ci.yml").read_text())["jobs"]["renode"]
    (command,) = [s["run"] for s in job["steps"] if s.get("run", "").startswith("tinyexit build")]
    assert shlex.split(command) == ["tinyexit", "build", "model.tflite", "--board", BOARD, "-o", "out/fw", "--inputs",
                                    "data/samples.npy", "--policy", "@calib.txt", "--optimize", "size", "--opt", "-O2",
                                    "--name", "kws"]  # fmt: skip


def test_workflow_template_installs_no_checkout_of_tinyexit():
    text = (TEMPLATES_DIR / "firmware" / "renode" / "renode-ci.yml.j2").read_text()
    assert "-e ." not in text and "ubuntu-22.04" not in text and "master" not in text


def test_uart_mismatch_names_the_first_line_that_differs(built):
    root, x, _ = built
    fw = root / "fw"
    text, _ = uart_text_in_qemu(fw / "lib", BOARD, x[:3])
    expected = expected_uart(fw / "lib", x[:3])
    assert uart_mismatch(text, expected) is None
    lines = text.splitlines(keepends=True)
    assert len(lines) == 5 and lines[1].startswith("TXR ")  # 3 samples x 33 bytes: lines of 32, 32, 32 and 3, exit
    flipped = lines[1][:-2] + ("0" if lines[1][-2] != "0" else "1") + "\n"
    assert uart_mismatch("".join([lines[0], flipped, *lines[2:]]), expected) == (
        f"UART line 2 is '{flipped.strip()}', the host build printed '{lines[1].strip()}'")
    assert uart_mismatch("".join(lines[:2]), expected) == (
        f"the UART output stops after 2 of 5 lines; line 3 should be '{lines[2].strip()}'")
    assert uart_mismatch(text + "TX EXIT 0\n", expected) == (
        "the UART output goes on after 'TX EXIT 0': line 6 is 'TX EXIT 0'")
    # The board firmware's timing lines (clock, DWT cycles per stage and sample) are not results.
    timed = "".join(["TX CLOCK 120000000\n", lines[0], "TXC 0 0 81234\n", "TXS 0 96021\n", *lines[1:]])
    assert uart_mismatch(timed, expected) is None


def run_robot(robot_file, uart_log, out_dir) -> tuple[int, str]:
    """Run a generated .robot with Robot Framework against the stand-in for Renode's keywords."""
    console = io.StringIO()
    rc = robot.run(str(robot_file), variable=[f"RENODEKEYWORDS:{STANDIN}", f"UART_LOG:{uart_log}"],
                   outputdir=str(out_dir), log="NONE", report="NONE", stdout=console, stderr=console)  # fmt: skip
    return rc, console.getvalue()


def test_robot_passes_on_the_firmwares_output_and_fails_on_one_wrong_digit(built, tmp_path):
    """The .robot as Robot Framework parses and runs it, on the UART firmware's output in QEMU."""
    root, x, _ = built
    fw = root / "fw"
    robot_file = fw / f"model-{BOARD}-board.robot"
    text, _ = uart_text_in_qemu(fw / "lib", BOARD, x)
    good = tmp_path / "good.txt"
    good.write_text(text)
    rc, console = run_robot(robot_file, good, tmp_path / "good")
    assert rc == 0, console
    assert "1 test, 1 passed, 0 failed" in console
    lines = text.splitlines(keepends=True)
    # One hex digit changed in the middle of the results: Renode would skip that line and time out.
    k = len(lines) // 2
    digit = 4 + 2 * 7
    lines[k] = lines[k][:digit] + ("1" if lines[k][digit] == "0" else "0") + lines[k][digit + 1 :]
    bad = tmp_path / "bad.txt"
    bad.write_text("".join(lines))
    rc, console = run_robot(robot_file, bad, tmp_path / "bad")
    assert rc == 1 and "1 test, 0 passed, 1 failed" in console
    assert f"matches '^{text.splitlines()[k]}$'" in console
    # A run that stops before "TX EXIT 0" fails as well.
    cut = tmp_path / "cut.txt"
    cut.write_text("".join(text.splitlines(keepends=True)[:-1]))
    assert run_robot(robot_file, cut, tmp_path / "cut")[0] == 1


FAKE_RENODE = """\
#!{python}
# A stand-in for `renode`: writes $FAKE_RENODE (a file) as the UART log the .resc names, or with
# "exit:N" fails like a Renode that cannot load the platform; then idles like Renode does.
import os, re, sys, time
from pathlib import Path
resc = Path(next(a for a in sys.argv if a.startswith("include @"))[len("include @"):])
log = re.search(r"^\\$log\\?=\\$ORIGIN/(\\S+)$", resc.read_text(), re.M).group(1)
mode = os.environ["FAKE_RENODE"]
if mode.startswith("exit:"):
    print("There was an error executing command 'machine LoadPlatformDescription'", file=sys.stderr)
    sys.exit(int(mode[5:]))
(resc.parent / log).write_text(Path(mode).read_text())
time.sleep(60)
"""


def test_target_renode_reads_the_uart_log_and_checks_it(built, tmp_path, monkeypatch):
    """`run --target renode` with a stand-in `renode` on PATH that writes a UART log."""
    root, x, _ = built
    lib = root / "fw" / "lib"
    x = x[:3]
    text, _ = uart_text_in_qemu(lib, BOARD, x)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "renode").write_text(FAKE_RENODE.format(python=sys.executable))
    (bin_dir / "renode").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    log = tmp_path / "uart.txt"
    monkeypatch.setenv("FAKE_RENODE", str(log))
    log.write_text(text)
    host, got = run_host(lib, x), run_renode(lib, BOARD, x, timeout=60)
    assert got.exit_taken.tolist() == host.exit_taken.tolist() and got.labels.tolist() == host.labels.tolist()
    assert all(got.outputs[k].tobytes() == v.tobytes() for k, v in host.outputs.items())
    lines = text.splitlines(keepends=True)
    lines[1] = lines[1][:10] + ("1" if lines[1][10] == "0" else "0") + lines[1][11:]
    log.write_text("".join(lines))
    with pytest.raises(TinyexitError, match=r"on Renode \(nucleo-l4r5zi\): UART line 2 is 'TXR "):
        run_renode(lib, BOARD, x, timeout=60)
    log.write_text("".join(lines[:2]))
    with pytest.raises(TinyexitError, match=r"no 'TX EXIT' line on the UART within 2 s \(2 lines printed\)$"):
        run_renode(lib, BOARD, x, timeout=2)
    monkeypatch.setenv("FAKE_RENODE", "exit:3")
    with pytest.raises(TinyexitError, match=r"renode exited with code 3 before the firmware finished: There was an "
                                            r"error executing command 'machine LoadPlatformDescription'$"):
        run_renode(lib, BOARD, x, timeout=60)
