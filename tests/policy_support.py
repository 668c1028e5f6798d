"""Helpers for the exit-policy tests: render decide.c.j2, build it with
tests/policy_harness.c and the hand-written templates/kernels/tx_policy.c,
feed it int8 logits, and make adversarial logits."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import jinja2
import numpy as np

from tinyexit.codegen.emitter import template_env
from tinyexit.codegen.paths import TEMPLATES_DIR
from tinyexit.codegen.policies.spec import LoweredPolicy

HERE = Path(__file__).resolve().parent
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]
PREFIX = "tp"


KERNELS = TEMPLATES_DIR / "kernels"


def render_decide(policy: LoweredPolicy, prefix: str = PREFIX, env: jinja2.Environment | None = None) -> str:
    env = template_env() if env is None else env
    return env.get_template("library/decide.c.j2").render(
        prefix=prefix, PREFIX=prefix.upper(), policy=policy, num_stages=policy.num_exits
    )


def build(policy: LoweredPolicy, folder: Path, env: jinja2.Environment | None = None) -> Path:
    """Compile the harness with the rendered decide.c and the policy's kernels
    (tx_policy.c); returns the executable."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "decide.c").write_text(render_decide(policy, env=env))
    shutil.copy(HERE / "policy_harness.c", folder / "policy_harness.c")
    sources = ["policy_harness.c"]
    for kernel in policy.kernels:
        for ext in ("h", "c"):
            shutil.copy(KERNELS / f"tx_{kernel}.{ext}", folder / f"tx_{kernel}.{ext}")
        sources.append(f"tx_{kernel}.c")
    exe = folder / "harness"
    proc = subprocess.run(["gcc", *CFLAGS, *sources, "-o", str(exe)], cwd=folder,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return exe


def run(exe: Path, logits: list[np.ndarray], mode: str, resets: np.ndarray | None = None):
    """mode 'each': (decisions, labels) arrays (samples, exits); mode 'run': (exit_taken, labels)."""
    n = len(logits[0])
    resets = np.zeros(n, np.uint8) if resets is None else np.asarray(resets, np.uint8)
    header = struct.pack(f"<{3 + len(logits)}i", len(logits), 0 if mode == "each" else 1, n,
                         *[q.shape[1] for q in logits])
    rows = np.concatenate([resets[:, None].view(np.int8)] + [np.asarray(q, np.int8) for q in logits], axis=1)
    folder = exe.parent
    (folder / "in.bin").write_bytes(header + rows.tobytes())
    proc = subprocess.run([str(exe), "in.bin", "out.bin"], cwd=folder, capture_output=True)
    assert proc.returncode == 0, f"harness exited {proc.returncode}"
    out = np.frombuffer((folder / "out.bin").read_bytes(), dtype=np.int8).astype(np.int64)
    if mode == "each":
        out = out.reshape(n, 2, len(logits))
        return out[:, 0, :], out[:, 1, :]
    out = out.reshape(n, 2)
    return out[:, 0], out[:, 1]


def adversarial_logits(rng: np.random.Generator, n: int, classes: int, scale: float) -> np.ndarray:
    """int8 logits spread over every regime a decision sees.

    Uniform noise; peaked vectors whose top-1/top-2 gaps span 0..many natural
    units at this scale; exact ties at the top; saturated -128/127 values;
    all-equal vectors; one-hot 127 against -128.
    """
    parts = []
    m = n // 6
    parts.append(rng.integers(-128, 128, size=(m, classes)))
    # peaked: background noise plus one class lifted by a gap of 0..12 natural units
    spread = rng.uniform(0.1, 4.0, size=(m, 1)) / scale
    base = rng.normal(0, 1, size=(m, classes)) * spread
    lift = rng.uniform(0, 12, size=m) / scale
    base[np.arange(m), rng.integers(0, classes, size=m)] += lift
    base += rng.integers(-100, 60, size=(m, 1))
    parts.append(np.clip(np.rint(base), -128, 127))
    # ties at the top
    tie = rng.integers(-128, 100, size=(m, classes))
    top = tie.max(axis=1)
    other = rng.integers(0, classes, size=m)
    tie[np.arange(m), other] = top
    parts.append(tie)
    # saturated values
    sat = rng.choice(np.array([-128, 127, -127, 126, 0]), size=(m, classes))
    parts.append(sat)
    # all equal, and one-hot extremes
    eq = np.repeat(rng.integers(-128, 128, size=(m // 2, 1)), classes, axis=1)
    hot = np.full((m - m // 2, classes), -128)
    hot[np.arange(len(hot)), rng.integers(0, classes, size=len(hot))] = 127
    parts += [eq, hot]
    # small gaps just around each integer threshold: top-1 minus top-2 in 0..40 steps
    rest = n - sum(len(p) for p in parts)
    near = rng.integers(-128, 60, size=(rest, classes))
    gap = rng.integers(0, 41, size=rest)
    second = near.max(axis=1)
    winner = rng.integers(0, classes, size=rest)
    near[np.arange(rest), winner] = np.minimum(second + gap, 127)
    parts.append(near)
    out = np.concatenate(parts).astype(np.int64)
    return np.clip(out, -128, 127).astype(np.int8)[rng.permutation(n)]
