"""Train a zoo model with its T-RecX exit on real offline data and convert it to int8.

    tinyexit data keywords -o build/kw.npz --n 2400   # or add --make-data keywords --n 2400 below
    python scripts/train_zoo.py dscnn --data build/kw.npz --epochs 20 -o build/dscnn_ee.tflite [--early-view]

Prints per-epoch progress and a table of float and int8 accuracy per exit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinyexit.modelmaking import augment, datasets, zoo  # noqa: E402
from tinyexit.codegen.errors import TinyexitError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="train a tinyexit zoo model on an .npz data set")
    parser.add_argument("model", choices=sorted(zoo.ZOO))
    parser.add_argument("--data", type=Path, required=True, help=".npz with x, y (made by `tinyexit data`)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="int8 .tflite to write")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--early-view", action="store_true")
    parser.add_argument("--make-data", metavar="NAME", help="first write data set NAME to --data")
    parser.add_argument("--n", type=int, default=None, help="samples for --make-data")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.make_data:
            datasets.make_dataset(args.make_data, args.data, n=args.n, seed=args.seed)
        report = augment.train_zoo(args.model, args.data, args.out, epochs=args.epochs, batch_size=args.batch_size,
                                   early_view=args.early_view, seed=args.seed)
    except TinyexitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
