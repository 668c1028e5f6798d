"""Labelled data for evaluation: x and y from a .npz, train or test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codegen.datasets import dataset_names
from ..codegen.errors import TinyexitError

SPLITS = ("auto", "train", "test")
METRICS = (None, "accuracy", "agreement")


def load_dataset(path, metric: str | None, split: str = "auto") -> tuple[np.ndarray, np.ndarray | None]:
    """x and (optional) y from a .npz; `metric='accuracy'` requires labels.

    split: "train" reads x/y, "test" reads x_test/y_test (as `tinyexit data`
    writes them), "auto" the test split when the file has one.
    """
    if split not in SPLITS:
        raise TinyexitError(f"--split '{split}' is not one of {', '.join(SPLITS)}")
    if not Path(path).exists():
        raise TinyexitError(f"{path}: no such file; make one with `tinyexit data NAME -o {path}` (NAME: "
                            f"{dataset_names()}) or save arrays with numpy.savez(path, x=..., y=...)")  # fmt: skip
    try:
        with np.load(path, allow_pickle=False) as data:
            if split == "auto":
                split = "test" if "x_test" in data.files else "train"
            xk, yk = ("x_test", "y_test") if split == "test" else ("x", "y")
            if xk not in data.files:
                raise TinyexitError(f"{path}: no array named '{xk}'; save the data as np.savez(path, x=..., y=...)")
            x = data[xk]
            y = data[yk] if yk in data.files else None
    except (OSError, ValueError) as exc:
        raise TinyexitError(f"{path}: cannot read a .npz dataset ({exc}); save it with numpy.savez(path, x=..., y=...)") from None
    if metric == "accuracy" and y is None:
        raise TinyexitError(f"{path}: accuracy needs labels but the data has no 'y' array; add y or use --metric agreement")
    if y is not None and len(y) != len(x):
        raise TinyexitError(f"{path}: {len(x)} samples in x but {len(y)} labels in y; they must match")
    return x, None if y is None else np.asarray(y).astype(np.int64).reshape(-1)


def check_metric(metric: str | None) -> None:
    if metric not in METRICS:
        raise TinyexitError(f"--metric '{metric}' is not one of {', '.join(m for m in METRICS if m)}")


def load_evaluation_data(path, metric: str | None, split: str = "auto",
                         samples: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """x and y for calibrate/compare: the split, the first `samples`, and y dropped for --metric agreement."""
    check_metric(metric)
    x, y = load_dataset(path, metric, split)
    if samples is not None:
        if samples < 1:
            raise TinyexitError(f"--samples {samples} must be at least 1")
        x, y = x[:samples], None if y is None else y[:samples]
    return x, None if metric == "agreement" else y
