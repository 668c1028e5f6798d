"""A few hundred seeded mutants of the fixture models: each one refused in one line, or exact C (issue 14).

`make fuzz N=10000` runs as many as asked (tests/fuzz_models.py); here
TINYEXIT_FUZZ_N (default 240) cases in two halves, one per xdist worker.
"""

from __future__ import annotations

import os

import pytest
from fuzz_models import FAILURES, run_cases

CASES = int(os.environ.get("TINYEXIT_FUZZ_N", "240"))
SEED = int(os.environ.get("TINYEXIT_FUZZ_SEED", "1"))


@pytest.mark.parametrize("half", [0, 1])
def test_mutated_models_are_refused_cleanly_or_generate_exact_c(half):
    first = half * (CASES // 2)
    count = CASES // 2 if half == 0 else CASES - CASES // 2
    findings: list[str] = []
    counts = run_cases(SEED, first, count, log=findings.append)
    assert counts["refused"] > 0 and counts["accepted"] > 0, counts
    assert not any(counts[f] for f in FAILURES), "\n".join(findings)
