"""The wheel: one import root, data inside, and the commands work from any folder.

Builds the wheel from this checkout, installs it (without dependencies, which
the test environment already has) into a fresh virtual environment, and runs
the commands from a temporary folder outside the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import fixture_path
from oracle import SHARED_MODELS

ROOT = Path(__file__).resolve().parent.parent
# What pyproject.toml packages: the project files and the folders mapped under tinyexit.
PACKAGED = ["pyproject.toml", "README.md", "tinyexit", "cli", "codegen", "evaluation", "firmware_sim", "modelmaking",
            "templates", "boards"]
BOARDS = ["nucleo-f746zg", "nucleo-h7a3zi-q", "nucleo-l4r5zi", "nucleo-u575zi-q", "stm32f405"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, wheel path, a working folder outside the checkout)."""
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what the wheel is made of, so concurrent test workers and the checkout's own
    # build/ folder never meet.
    source = work / "source"
    source.mkdir()
    for name in PACKAGED:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__", "build")}
                                            if (ROOT / name).is_dir() else {}))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work / "dist"),
         str(source)], capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    wheel = next((work / "dist").glob("tinyexit-*.whl"))
    # Dependencies come from the test environment's site-packages; tinyexit itself from the wheel.
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(work / "venv")
    bin_dir = work / "venv" / "bin"
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, cwd=work,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    return bin_dir, wheel, elsewhere


def tinyexit(installed, *args):
    bin_dir, _, cwd = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["COLUMNS"] = "200"
    return subprocess.run([str(bin_dir / "tinyexit"), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


def test_wheel_has_one_top_level_name_and_ships_its_data(installed):
    _, wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted({n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}) == ["tinyexit"]
    assert "tinyexit/templates/library/model.h.j2" in names
    assert "tinyexit/templates/kernels/tx_common.h" in names
    assert sorted(n for n in names if n.startswith("tinyexit/boards/") and n.endswith(".toml")) == [
        f"tinyexit/boards/{b}.toml" for b in BOARDS
    ]
    assert {"tinyexit/firmware_sim/plugin/tx_count.c", "tinyexit/firmware_sim/plugin/Makefile",
            "tinyexit/firmware_sim/plugin/fetch_qemu_header.sh"} <= set(names)  # fmt: skip
    assert not any(n.startswith(("tinyexit/tests", "codegen/", "firmware_sim/")) for n in names)


def test_installed_package_is_the_wheel_not_the_checkout(installed):
    bin_dir, _, cwd = installed
    code = "import tinyexit, tinyexit.codegen.paths as p; print(tinyexit.__file__); print(p.TEMPLATES_DIR)"
    out = subprocess.run([str(bin_dir / "python"), "-c", code], capture_output=True, text=True, cwd=cwd, check=True)
    module_file, templates = out.stdout.split()
    venv_dir = str(bin_dir.parent)
    assert module_file.startswith(venv_dir) and templates.startswith(venv_dir)


def test_commands_work_from_outside_the_checkout(installed, tmp_path):
    result = tinyexit(installed, "--version")
    assert result.returncode == 0 and result.stdout.startswith("tinyexit ")
    result = tinyexit(installed, "boards")
    assert result.returncode == 0, result.stderr
    assert all(b in result.stdout for b in BOARDS)
    models = [fixture_path("ee_three_exits")]
    kws = SHARED_MODELS / "kws_ref_model.tflite"
    if kws.is_file():
        models.append(kws)
    for model in models:
        result = tinyexit(installed, "inspect", model, "--json")
        assert result.returncode == 0, result.stderr
        out = tmp_path / model.stem
        result = tinyexit(installed, "generate", model, "-o", out, "--board", "nucleo-l4r5zi")
        assert result.returncode == 0, result.stderr
        assert (out / "manifest.json").is_file() and (out / "tx_common.h").is_file() and (out / "CMakeLists.txt").is_file()
        inputs = tmp_path / f"{model.stem}.npy"
        shape = json.loads((out / "manifest.json").read_text())["input"]["shape"]
        np.save(inputs, np.random.default_rng(0).integers(-128, 128, size=(3, *shape), dtype=np.int8))
        result = tinyexit(installed, "run", model, "--inputs", inputs, "-o", tmp_path / f"{model.stem}.npz")
        assert result.returncode == 0, result.stderr
        assert np.load(tmp_path / f"{model.stem}.npz")["exit_taken"].shape == (3,)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="arm-none-eabi-gcc and qemu-system-arm are installed by `make install`")
def test_build_and_simulate_from_the_wheel(installed, tmp_path):
    model = fixture_path("ee_three_exits")
    result = tinyexit(installed, "build", model, "--board", "nucleo-l4r5zi", "-o", tmp_path / "fw")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fw" / "lib" / "manifest.json").is_file()
    assert "renode-test-action" in (tmp_path / "fw" / "renode-ci.yml").read_text()  # the template ships in the wheel
    result = tinyexit(installed, "simulate", model, "--board", "nucleo-l4r5zi", "--samples", "2")
    assert result.returncode == 0, result.stderr
    assert "cycles_est" in result.stdout
