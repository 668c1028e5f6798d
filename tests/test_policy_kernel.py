"""The hand-written decision helpers, templates/kernels/tx_policy.{h,c}: strict
C99, integers only, the same numbers as the Python tables and replicas, and
in every generated library while the per-model code holds only calls."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import fixture_path
from policy_support import KERNELS, render_decide
from test_policy_c import grid_exits

from tinyexit.codegen.policies.lowering import lower_policy
from tinyexit.codegen.policies.reference import ln_q16
from tinyexit.codegen.policies.spec import parse_policy
from tinyexit.codegen.policies.tables import LN2_Q16, LN_FRAC_BITS, LN_INDEX_BITS, ln_table

STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wconversion", "-Wshadow", "-Wpedantic", "-Werror"]


@pytest.mark.parametrize("cc", ["gcc", "arm-none-eabi-gcc"])  # the compilers `make install` installs
def test_compiles_without_a_warning_under_strict_flags(cc, tmp_path):
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not on PATH")
    target = ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"] if cc.startswith("arm-") else []
    proc = subprocess.run([cc, *target, *STRICT, "-c", str(KERNELS / "tx_policy.c"), "-o", str(tmp_path / "p.o")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_the_c_tables_are_the_python_tables():
    source = (KERNELS / "tx_policy.c").read_text()
    body = re.search(r"tx_policy_ln_table\[65\] = \{([^}]*)\}", source).group(1)
    assert [int(v) for v in body.replace("\n", " ").split(",") if v.strip()] == ln_table()
    header = (KERNELS / "tx_policy.h").read_text()
    for name, value in [("LN2_Q16", LN2_Q16), ("LN_FRAC_BITS", LN_FRAC_BITS), ("LN_INDEX_BITS", LN_INDEX_BITS)]:
        assert re.search(rf"#define TX_POLICY_{name} (\d+)", header).group(1) == str(value)


def test_ln_q16_in_c_equals_the_replica(tmp_path):
    """tx_policy_ln_q16 on every K and a spread of sums up to C 2^K <= 2^30."""
    rng = np.random.default_rng(0)
    cases = []
    for k in (8, 11, 15):
        xs = np.concatenate([np.arange(1 << k, (1 << k) + 300), rng.integers(1 << k, 1 << 30, size=2000),
                             [1 << 30, (1 << 30) - 1]])
        cases += [(k, int(x)) for x in xs]
    driver = tmp_path / "ln.c"
    driver.write_text(
        '#include <stdio.h>\n#include "tx_policy.h"\n'
        "int main(void) { int k; unsigned long x;\n"
        '  while (scanf("%d %lu", &k, &x) == 2) { printf("%ld\\n", (long)tx_policy_ln_q16((uint32_t)x, k)); }\n'
        "  return 0; }\n"
    )
    exe = tmp_path / "ln"
    proc = subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(KERNELS), str(driver),
                           str(KERNELS / "tx_policy.c"), "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([str(exe)], input="".join(f"{k} {x}\n" for k, x in cases), capture_output=True,
                         text=True, check=True).stdout.split()
    got = np.array([int(v) for v in out])
    for k in (8, 11, 15):
        rows = [i for i, (kk, _) in enumerate(cases) if kk == k]
        assert np.array_equal(got[rows], ln_q16(np.array([cases[i][1] for i in rows]), k))


@pytest.mark.parametrize("policy", ["none", "exit:1", "confidence:0.9", "margin:2", "entropy:0.3", "patience:1",
                                    "difference:0.1", "temporal-patience:2"])
def test_libraries_carry_the_helpers_and_their_decisions_only_call_them(policy, generated):
    folder = generated(fixture_path("ee_three_exits"), policy=policy)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "tx_policy.c" in manifest["sources"] and "tx_policy.h" in manifest["headers"]
    assert (folder / "tx_policy.c").read_text() == (KERNELS / "tx_policy.c").read_text()
    text = (folder / f"{manifest['prefix']}.c").read_text()
    assert '#include "tx_policy.h"' in text
    assert "return tx_policy_argmax_s8(exit_logits(k), policy_num_classes[k]);" in text
    functions = re.findall(r"^(?:static )?[a-z_0-9]+ \*?(\w+)\(", text, re.M)
    assert not [f for f in functions if f.startswith(("policy_", "tx_policy_"))], "helpers belong in tx_policy.c"


@pytest.mark.parametrize("policy", ["none", "exit:1", "confidence:0.9", "margin:2.5", "entropy:0.4", "patience:3",
                                    "difference:0.2", "temporal-patience:2", "confidence:0.9,0.8,0.7,0.6,0.5,0.4,"
                                    "0.3,0.2,0.1,0.9,0.8,0.7,0.6,0.5,0.4"])
def test_generated_decisions_compile_without_a_warning_under_strict_flags(policy, tmp_path):
    exits = grid_exits()
    body = render_decide(lower_policy(parse_policy(policy, [e.name for e in exits]), exits))
    source = tmp_path / "decide.c"
    source.write_text(
        "#include <stdint.h>\nint tp_decide(int k);\nint tp_label(int k);\nvoid tp_reset(void);\n"
        "extern const int8_t logits[16][16];\n"
        "static inline const int8_t *exit_logits(int k) { return logits[k]; }\n" + body
    )
    proc = subprocess.run(["gcc", *STRICT, "-I", str(KERNELS), "-c", str(source), "-o", str(tmp_path / "d.o")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
