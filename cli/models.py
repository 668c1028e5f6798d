"""`tinyexit data`, `augment`, `zoo` and `search`: offline data sets and early-exit models (TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..codegen.datasets import dataset_names
from ..modelmaking.augment import augment as augment_model
from ..modelmaking.augment import train_backbone, train_zoo
from ..modelmaking.datasets import load_npz, make_dataset
from ..modelmaking.search import search as search_model
from .common import console


def data(
    name: str = typer.Argument(..., help=dataset_names()),
    out: Path = typer.Option(..., "-o", "--out", help="Output .npz (arrays x and y)"),
    n: Optional[int] = typer.Option(None, "--n", help="Number of samples (default: the data set's own)"),
    seed: int = typer.Option(0, "--seed", help="Random seed"),
    record: Optional[Path] = typer.Option(None, "--record", help="ecg-record: scipy's ecg.dat or a scipy 1.14 wheel"),
    skip: int = typer.Option(0, "--skip", help="fashion-mnist: leave out the first N training images"),
) -> None:
    """Make an offline data set (no downloads): images, keyword MFCCs, ECG windows, and streams."""
    path = make_dataset(name, out, n=n, seed=seed, record=record, skip=skip)
    arrays = load_npz(path)
    shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in arrays.items())
    console().print(f"wrote {path}: {shapes}")


def augment(
    backbone: Path = typer.Argument(..., help="Trained Keras model: .keras, .h5 or SavedModel folder"),
    exit_after: str = typer.Option(..., "--exit-after", help="Layer name(s) to attach exits after, comma separated"),
    data_path: Path = typer.Option(..., "--data", help=".npz with x and y"),
    out: Path = typer.Option(..., "-o", "--out", help="Output int8 .tflite"),
    head: str = typer.Option("trecx", "--head", help="Exit head: trecx, slice or gap"),
    train: str = typer.Option("heads", "--train", help="heads (backbone frozen, unchanged) or joint (all weights)"),
    epochs: int = typer.Option(10, "--epochs"),
    batch_size: int = typer.Option(64, "--batch-size"),
    exit_weight: float = typer.Option(0.5, "--exit-weight", help="Loss weight of each exit (final: 1)"),
    learning_rate: float = typer.Option(2e-3, "--lr"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Attach T-RecX exit heads to a Keras backbone, train, convert to int8, report accuracy per exit."""
    layers = [name.strip() for name in exit_after.split(",") if name.strip()]
    report = augment_model(
        backbone, layers, data_path, out, head=head, train=train, epochs=epochs, batch_size=batch_size,
        exit_weight=exit_weight, learning_rate=learning_rate, seed=seed,
    )
    print(report.table())


def zoo(
    name: str = typer.Argument(..., help="resnet8, dscnn or mobilenet (MLPerf Tiny backbones with T-RecX exits)"),
    data_path: Path = typer.Option(..., "--data", help=".npz with x and y"),
    out: Path = typer.Option(..., "-o", "--out", help="Output int8 .tflite"),
    epochs: int = typer.Option(20, "--epochs"),
    batch_size: int = typer.Option(64, "--batch-size"),
    early_view: bool = typer.Option(False, "--early-view", help="T-RecX early-view assistance"),
    seed: int = typer.Option(0, "--seed"),
    backbone: bool = typer.Option(False, "--backbone",
                                  help="Train the plain backbone (no exits) and save it as -o B.keras, for search"),
) -> None:
    """Train a model-zoo early-exit network on your data and convert it to int8."""
    if backbone:
        float_acc, int8_acc = train_backbone(name, data_path, out, epochs=epochs, batch_size=batch_size, seed=seed)
        print(f"{name} backbone: held-out accuracy float {100 * float_acc:.2f}%, int8 {100 * int8_acc:.2f}%; "
              f"saved {out}")
        return
    report = train_zoo(name, data_path, out, epochs=epochs, batch_size=batch_size, early_view=early_view, seed=seed)
    print(report.table())


def search(
    backbone: Path = typer.Argument(..., help="Trained Keras model: .keras, .h5 or SavedModel folder"),
    data_path: Path = typer.Option(..., "--data", help=".npz with x and y (x_test, y_test: the test split; "
                                                       "record: split by record)"),
    board: str = typer.Option(..., "--board", "-b", help="Board whose core QEMU simulates (costs per op)"),
    max_drop: float = typer.Option(..., "--max-drop", help="Largest accuracy loss against the backbone, e.g. 0.01"),
    out: Path = typer.Option(..., "-o", "--out", help="Folder for model.tflite, policy.txt, report.md/.json, pareto.png"),
    max_exits: int = typer.Option(3, "--max-exits", help="Most early exits in a subset"),
    candidates: str = typer.Option("auto", "--candidates", help="auto (block boundaries) or layer names L1,L2,..."),
    method: str = typer.Option("ltt", "--method", help="ltt (Learn-then-Test), crc or empirical"),
    delta: float = typer.Option(0.1, "--delta", help="ltt: the budget holds with probability 1 - delta"),
    epochs: int = typer.Option(10, "--epochs", help="Epochs of head training (and of joint fine-tuning)"),
    train: str = typer.Option("heads", "--train", help="heads (backbone unchanged) or joint (fine-tune all)"),
    policy: str = typer.Option("confidence", "--policy", help="Threshold rule: confidence, margin or entropy"),
    qemu_samples: int = typer.Option(8, "--qemu-samples", help="Samples profiled in QEMU"),
    seed: int = typer.Option(0, "--seed"),
    stream: bool = typer.Option(False, "--stream", help="Samples in stream order: contiguous splits, and temporal "
                                                        "policies (temporal-patience, difference) among the candidates"),
    risk: Optional[str] = typer.Option(
        None, "--risk", help="What --max-drop bounds: disagreement (1[exit wrong, backbone right]: stricter, the "
        "default for i.i.d. samples), accuracy (1[exit wrong] - 1[backbone wrong]: the accuracy loss itself, "
        "tested on the discordant samples) or either (the accuracy loss, admitted when the disagreement test or "
        "the accuracy test passes, each at half the level; the default with --stream, where a temporal policy's "
        "reused decision fixes windows the backbone flickers on as often as it loses some)"),
) -> None:
    """Find the exits and per-exit thresholds with the fewest instructions within an accuracy budget."""
    report = search_model(backbone, data_path, board, max_drop, out, max_exits=max_exits, candidates=candidates,
                          method=method, delta=delta, epochs=epochs, train=train, policy_kind=policy,
                          qemu_samples=qemu_samples, seed=seed, stream=stream, risk=risk)
    print(report.markdown())
