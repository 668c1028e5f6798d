"""Simulator benchmark: QEMU vs host outputs, count determinism, speed.

    python bench/simulate_bench.py                 # MLPerf IC + KWS, ee_* fixtures, M4 and M7
    python bench/simulate_bench.py --kws-samples 100 --json bench/work/simulate.json

For every model and board: builds the firmware, runs N samples twice in QEMU,
checks every output equals the host build's byte for byte and that the two
runs give identical per-stage instruction counts, and reports instructions
and cycles_est per MAC, flash/RAM use, and wall time (build, one inference,
all samples). Not a test: numbers for the README; wall times depend on the
machine and its load (user CPU time is printed beside them).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyexit.codegen.pipeline import generate  # noqa: E402
from tinyexit.codegen.options import Options  # noqa: E402
from tinyexit.firmware_sim.build import build_firmware  # noqa: E402
from tinyexit.codegen.manifest import load_manifest  # noqa: E402
from tinyexit.firmware_sim.host import run_host  # noqa: E402
from tinyexit.firmware_sim.qemu import run  # noqa: E402

SHARED = ROOT.parent / "shared" / "models" / "mlperf_tiny"
FIXTURES = ROOT / "tests" / "fixtures"


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_one(model: Path, board: str, n: int, policy: str, work: Path) -> dict:
    lib = generate(model, work / f"{model.stem}-lib", options=Options(policy=policy)).out_dir
    manifest = load_manifest(lib)
    x = np.random.default_rng(0).integers(-128, 128, size=(n, *manifest["input"]["shape"]), dtype=np.int8)
    host = run_host(lib, x).to_arrays()
    t = time.monotonic()
    built = build_firmware(lib, board, work / f"{model.stem}-{board}")
    build_s = time.monotonic() - t
    one_t, one_cpu = time.monotonic(), child_cpu()
    run(built, board, x[:1], manifest)
    one_s, one_cpu = time.monotonic() - one_t, child_cpu() - one_cpu
    t, cpu = time.monotonic(), child_cpu()
    a = run(built, board, x, manifest)
    all_s, all_cpu = time.monotonic() - t, child_cpu() - cpu
    b = run(built, board, x, manifest)
    arrays = a.to_arrays()
    equal = all(arrays[k].tobytes() == v.tobytes() for k, v in host.items())
    full = a.stage_instructions.sum(axis=1)
    overhead = a.sample_instructions - full
    macs = np.array([s["macs"] for s in manifest["stages"]])
    ran = a.stage_instructions > 0
    macs_run = (ran * macs[None, :]).sum(axis=1)
    return {
        "model": model.name, "board": board, "samples": n, "policy": policy,
        "equal_to_host": bool(equal),
        "identical_counts": bool(np.array_equal(a.stage_classes, b.stage_classes)),
        "instructions_per_sample": float(full.mean()),
        "harness_instructions_per_sample": float(overhead.mean()),
        "instructions_per_mac": float((full / macs_run).mean()),
        "cycles_est_per_mac": float((a.cycles_est.sum(axis=1) / macs_run).mean()),
        "flash_bytes": built.flash_used, "ram_bytes": built.ram_used,
        "build_s": round(build_s, 2), "one_inference_s": round(one_s, 3), "one_inference_cpu_s": round(one_cpu, 3),
        "all_samples_s": round(all_s, 2), "all_samples_cpu_s": round(all_cpu, 2),
        "qemu_minstr_per_cpu_s": round(float(full.sum()) / max(all_cpu, 1e-9) / 1e6, 1),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boards", default="nucleo-l4r5zi,nucleo-f746zg")
    ap.add_argument("--samples", type=int, default=10, help="samples for IC and the ee_* models")
    ap.add_argument("--kws-samples", type=int, default=100)
    ap.add_argument("--policy", default="none", help="policy for the ee_* models")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args()
    jobs = []
    for key, file, n in (("ic", "pretrainedResnet_quant.tflite", args.samples), ("kws", "kws_ref_model.tflite", args.kws_samples)):
        if (SHARED / file).exists():
            jobs.append((SHARED / file, n, "none"))
        else:
            print(f"skipping MLPerf {key}: {SHARED / file} not found", file=sys.stderr)
    for name in ("ee_resnet", "ee_dscnn", "ee_three_exits"):
        jobs.append((FIXTURES / f"{name}.tflite", args.samples, args.policy))
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyexit-bench-") as tmp:
        for model, n, policy in jobs:
            for board in args.boards.split(","):
                row = bench_one(model, board, n, policy, Path(tmp))
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    cols = ("model", "board", "samples", "equal_to_host", "identical_counts", "instructions_per_mac",
            "cycles_est_per_mac", "flash_bytes", "ram_bytes", "build_s", "one_inference_s", "all_samples_s",
            "all_samples_cpu_s", "qemu_minstr_per_cpu_s")  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{r[c]:.2f}" if isinstance(r[c], float) else (f"{r[c]:,}" if isinstance(r[c], int) and not isinstance(r[c], bool) else str(r[c])) for c in cols]
        print("| " + " | ".join(cells) + " |")
    print("\ncycles_est is an estimate (static timing model, zero wait states; flash wait states are not modelled).")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
