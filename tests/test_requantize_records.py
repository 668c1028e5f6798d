"""tx_output_rs (one SMLAL per output) equals TFLM's double-rounding requantization.

Random multipliers and shifts, including the edge multipliers 0 and 2^30,
left shifts with their accumulator bound, and accumulators at the bounds;
the C program compares tx_output_rs with tx_requantize + tx_clamp
(TFLM's MultiplyByQuantizedMultiplier, checked against TFLM elsewhere).
"""

from __future__ import annotations

import subprocess

import numpy as np

from tinyexit.codegen.ops.gemm import requant_records
from tinyexit.codegen.paths import TEMPLATES_DIR

PROGRAM = r"""
#include <stdio.h>
#include "tx_common.h"
int main(void)
{
    int32_t c, m, shift, bound, acc, q[TX_RECORD_WORDS];
    long bad = 0, n = 0;
    while (scanf("%d %d %d", &m, &shift, &bound) == 3) {
        for (c = 0; c < TX_RECORD_WORDS; ++c) {
            if (scanf("%d", &q[c]) != 1) return 2;
        }
        for (c = 0; c < 2000; ++c) {
            uint32_t r = (uint32_t)c * 2654435761u + (uint32_t)m;
            acc = c < 4 ? (c & 1 ? bound : -bound)
                        : (int32_t)((int64_t)(r % ((uint64_t)2 * (uint32_t)bound + 1)) - bound);
            if (c >= 4 && c < 40) acc = c - 22;
            int32_t want = tx_clamp(tx_requantize(acc, m, shift) + 3, -128, 127);
            int32_t got = tx_output_rs(acc, q, 3, -128, 127);
            bad += want != got;
            ++n;
        }
    }
    printf("%ld %ld\n", bad, n);
    return 0;
}
"""


def test_records_match_tflm_requantize(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    cases = [(0, 0, 1000), (1 << 30, -1, 1 << 20), (1 << 30, 0, 1 << 20), ((1 << 31) - 1, -31, (1 << 31) - 1)]
    for _ in range(400):
        shift = int(rng.integers(-31, 12))
        m = int(rng.integers(1 << 30, 1 << 31))
        bound = int(rng.integers(1, 1 << 31)) if shift < 0 else int(rng.integers(1, 1 << (30 - shift)))
        cases.append((m, shift, bound))
    for m, shift, bound in cases:
        (record,) = requant_records(np.array([m]), np.array([shift]), np.array([bound]))
        lines.append(f"{m} {shift} {bound} " + " ".join(str(int(v)) for v in record))
    src = tmp_path / "check.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "check"
    subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=undefined",
                    "-fno-sanitize-recover=all", f"-I{TEMPLATES_DIR / 'kernels'}", str(src), "-o", str(exe)],
                   check=True, capture_output=True)
    out = subprocess.run([str(exe)], input="\n".join(lines), capture_output=True, text=True, check=True)
    bad, n = map(int, out.stdout.split())
    assert n == len(cases) * 2000 and bad == 0


def test_left_shift_beyond_the_bound_has_no_record():
    assert requant_records(np.array([1 << 30]), np.array([3]), np.array([1 << 27])) is None
    assert requant_records(np.array([1 << 30]), np.array([3]), np.array([(1 << 27) - 1])) is not None
