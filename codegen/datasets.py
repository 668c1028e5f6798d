"""The names of the data sets `tinyexit data` makes: the one list every layer reads.

modelmaking/datasets.py makes them, the CLI's help and evaluation's error
messages name them. It lives in the lowest layer because evaluation may not
import modelmaking (tests/test_architecture.py).
"""

DATASETS = ("fashion-mnist", "keywords", "keywords-stream", "ecg", "ecg-stream", "ecg-rhythm", "ecg-rhythm-stream",
            "ecg-record")


def dataset_names(last: str = "or") -> str:
    """'a, b, ... or z' for messages and help."""
    return ", ".join(DATASETS[:-1]) + f" {last} {DATASETS[-1]}"
