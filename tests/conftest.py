"""Shared fixtures: model paths, and libraries generated once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle import FIXTURES, SHARED_MODELS  # noqa: E402

MLPERF = {
    "ic": "pretrainedResnet_quant.tflite",
    "kws": "kws_ref_model.tflite",
    "vww": "vww_96_int8.tflite",
    "ad": "ad01_int8.tflite",
}


def mlperf_path(key: str) -> Path:
    path = SHARED_MODELS / MLPERF[key]
    if not path.exists():
        pytest.skip(f"MLPerf Tiny model {MLPERF[key]} not found: put the shared/ folder beside the checkout "
                    f"({SHARED_MODELS})")
    return path


def fixture_path(name: str) -> Path:
    return FIXTURES / f"{name}.tflite"


def good_fixtures() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.tflite") if not p.stem.startswith("bad_"))


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """generated(model_path, **options) -> library folder, generated once per session."""
    from tinyexit.codegen.pipeline import generate
    from tinyexit.codegen.options import Options

    cache: dict = {}

    def make(model: Path, **options) -> Path:
        key = (str(model), tuple(sorted(options.items())))
        if key not in cache:
            out = tmp_path_factory.mktemp(model.stem)
            generate(model, out / "lib", name=None, options=Options(**options))
            cache[key] = out / "lib"
        return cache[key]

    return make
