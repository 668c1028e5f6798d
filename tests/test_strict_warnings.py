"""Kernels and generated files compile without a warning under the strict flags
embedded projects often use, with -Werror, on the host gcc and arm-none-eabi-gcc
(the DSP path on a Cortex-M4, the portable one on a Cortex-M0+), for every fixture model, both weight layouts, and
every policy kind."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES

from tinyexit.codegen.options import make_options
from tinyexit.codegen.pipeline import generate

STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wconversion", "-Wsign-conversion", "-Wshadow", "-Wcast-align",
          "-Wpedantic", "-Werror"]  # fmt: skip
COMPILERS = {
    "host-gcc": ["gcc"],
    "cortex-m4": ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m0plus": ["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"],
}
# Each policy kind once, on the three-exit fixture (the temporal ones on exit 0).
POLICIES = ["none", "exit:1", "confidence:0.9,0.8", "margin:2", "entropy:0.4", "patience:1", "difference:0.5",
            "temporal-patience:2"]  # fmt: skip


def _models() -> list[tuple[str, Path, str]]:
    """(C prefix, model, policy) for every fixture the reader accepts, plus every policy kind."""
    models = [(p.stem, p, "none") for p in sorted(FIXTURES.glob("*.tflite")) if not p.stem.startswith("bad_")]
    three = FIXTURES / "ee_three_exits.tflite"
    for policy in POLICIES[1:]:
        models.append(("policy_" + re.sub(r"\W", "_", policy.split(":")[0]), three, policy))
    return models


@pytest.fixture(scope="module", params=["speed", "size"])
def sources(request, tmp_path_factory) -> Path:
    """One folder with every model's generated files and the kernels they use (one layout)."""
    optimize = request.param
    root = tmp_path_factory.mktemp(f"strict-{optimize}")
    merged = root / "all"
    merged.mkdir()
    for prefix, model, policy in _models():
        lib = generate(model, root / prefix, name=prefix, options=make_options(policy, None, optimize))
        for name in lib.files:
            if name.endswith((".c", ".h")):
                shutil.copyfile(lib.out_dir / name, merged / name)
    return merged


@pytest.mark.parametrize("target", COMPILERS)
def test_generated_code_is_warning_free_under_strict_flags(sources, target, tmp_path):
    command = COMPILERS[target]
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed (make install)")
    # The policy variants share the three-exit model's weights: their graph files are what differs.
    files = sorted(p.name for p in sources.glob("*.c") if not (p.name.startswith("policy_") and "_weights" in p.name))
    assert any(f.startswith("tx_") for f in files) and any(f.startswith("policy_") for f in files)
    proc = subprocess.run([*command, *STRICT, "-I", str(sources), "-c", *(str(sources / f) for f in files)],
                          capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr[:4000]
