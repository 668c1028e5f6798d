"""Build a generated library for the host with the system C compiler and run it.

Builds are cached by a hash of every source file and the compiler command,
under $XDG_CACHE_HOME/tinyexit/host (default ~/.cache).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..codegen.errors import TinyexitError
from ..codegen.manifest import load_manifest

from .harness import RunResult, input_bytes, parse_results, write_harness

CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tinyexit" / "host"


def compiler() -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise TinyexitError(f"no C compiler '{cc}' on PATH; install one (e.g. `apt-get install gcc`) or set CC")
    return cc


def build_host(lib_dir: str | Path) -> Path:
    """Compile the library and harness; returns the cached executable."""
    lib_dir = Path(lib_dir)
    manifest = load_manifest(lib_dir)
    cc = compiler()
    with tempfile.TemporaryDirectory(prefix="tinyexit-harness-") as tmp:
        harness_files = write_harness(lib_dir, Path(tmp))
        sources = [lib_dir / s for s in manifest["sources"]] + harness_files
        digest = hashlib.sha256(" ".join([cc] + CFLAGS).encode())
        for path in sorted(sources + [lib_dir / h for h in manifest["headers"]], key=lambda p: p.name):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        exe = cache_root() / digest.hexdigest()[:20] / "runner"
        if exe.exists():
            return exe
        exe.parent.mkdir(parents=True, exist_ok=True)
        tmp_exe = exe.with_suffix(f".tmp{os.getpid()}")
        cmd = [cc, *CFLAGS, "-I", str(lib_dir), "-I", tmp, *map(str, sources), "-o", str(tmp_exe)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["(no output)"])[0]
            raise TinyexitError(f"{lib_dir}: the host build failed: {first}")
        tmp_exe.replace(exe)
    return exe


def run_host(lib_dir: str | Path, inputs: np.ndarray, timeout: float = 600.0) -> RunResult:
    """Run every sample through the host build; outputs per exit and the exits taken."""
    result, _ = _run(Path(lib_dir), inputs, timeout)
    return result


def trace_host(lib_dir: str | Path, sample: np.ndarray) -> dict[int, np.ndarray]:
    """Every tensor's value after one sample, from a library generated with trace=True."""
    lib_dir = Path(lib_dir)
    manifest = load_manifest(lib_dir)
    if not manifest.get("trace"):
        raise TinyexitError(f"{lib_dir}: not a trace build; generate it with Options(trace=True)")
    _, arena = _run(lib_dir, np.asarray(sample)[None], 60.0)
    tensors = {}
    for index, t in manifest["tensors"].items():
        raw = arena[t["offset"] : t["offset"] + t["bytes"]]
        tensors[int(index)] = np.frombuffer(raw, dtype=np.dtype(t["dtype"]).newbyteorder("<")).reshape(t["shape"])
    return tensors


def _run(lib_dir: Path, inputs: np.ndarray, timeout: float) -> tuple[RunResult, bytes]:
    manifest = load_manifest(lib_dir)
    data = input_bytes(inputs, manifest)
    samples = len(data) // manifest["input"]["bytes"]
    exe = build_host(lib_dir)
    with tempfile.TemporaryDirectory(prefix="tinyexit-run-") as tmp:
        Path(tmp, "inputs.bin").write_bytes(data)
        try:
            proc = subprocess.run([str(exe)], cwd=tmp, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TinyexitError(f"{lib_dir}: the host build ran longer than {timeout:.0f} s; this is a bug") from None
        if proc.returncode != 0:
            raise TinyexitError(f"{lib_dir}: the host build exited with code {proc.returncode}; this is a bug")
        raw = Path(tmp, "results.bin").read_bytes()
        arena_path = Path(tmp, "arena.bin")
        arena = arena_path.read_bytes() if arena_path.exists() else b""
    return parse_results(raw, manifest, samples), arena
