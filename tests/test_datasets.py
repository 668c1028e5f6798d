"""modelmaking/datasets.py: offline data, written as .npz with x and y (no TensorFlow)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tinyexit.modelmaking import datasets
from tinyexit.codegen.errors import TinyexitError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
needs_fashion = pytest.mark.skipif(
    not (datasets.FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="dataset-fashion-mnist is not installed",
)


def has_neurokit() -> bool:
    try:
        import neurokit2  # noqa: F401
    except ImportError:
        return False
    return True


needs_neurokit = pytest.mark.skipif(not has_neurokit(), reason="neurokit2 is not installed")


def test_datasets_module_does_not_import_tensorflow():
    code = "import sys, tinyexit.modelmaking.datasets, tinyexit.modelmaking.zoo, tinyexit.modelmaking.augment; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_mfcc_shape_and_mel_filters():
    noise = np.random.default_rng(0).normal(0.0, 0.1, datasets.RATE)
    feats = datasets.mfcc(noise)
    assert feats.shape == (49, 10) and feats.dtype == np.float32
    bank = datasets.mel_filterbank()
    assert bank.shape == (40, 513)
    assert np.all(bank.max(axis=1) > 0.5)  # every band has a peak on the FFT grid
    peaks = bank.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0) and peaks[-1] * datasets.RATE / 1024 <= 4000
    # louder sound -> larger energy coefficient, same shape of the spectrum
    louder = datasets.mfcc(2.0 * noise)
    assert np.all(louder[:, 0] > feats[:, 0])
    np.testing.assert_allclose(louder[:, 1:], feats[:, 1:], atol=1e-3)


@needs_fashion
def test_fashion_mnist(tmp_path):
    out = datasets.make_dataset("fashion-mnist", tmp_path / "f.npz", n=100)
    arrays = datasets.load_npz(out)
    assert arrays["x"].shape == (100, 28, 28, 1) and arrays["x_test"].shape == (10000, 28, 28, 1)
    assert arrays["x"].dtype == np.float32 and 0.0 <= arrays["x"].min() and arrays["x"].max() <= 1.0
    assert set(np.unique(arrays["y_test"])) == set(range(10)) and len(arrays["classes"]) == 10


@needs_espeak
def test_keywords_are_balanced_and_deterministic(tmp_path):
    a = datasets.keywords(24, seed=3)
    assert a["x"].shape == (24, 49, 10, 1) and a["x"].dtype == np.float32
    assert np.bincount(a["y"], minlength=12).tolist() == [2] * 12
    assert list(a["classes"][:4]) == ["_silence_", "_unknown_", "yes", "no"]
    b = datasets.keywords(24, seed=3)
    np.testing.assert_array_equal(a["x"], b["x"])
    # speech is louder than silence in the energy coefficient
    energy = a["x"][..., 0, 0].max(axis=1)
    assert energy[a["y"] >= 2].mean() > energy[a["y"] == 0].mean()


@needs_espeak
def test_keyword_stream_is_temporally_correlated(tmp_path):
    out = datasets.make_dataset("keywords-stream", tmp_path / "s.npz", n=80, seed=1)
    a = datasets.load_npz(out)
    assert a["x"].shape == (80, 49, 10, 1)
    np.testing.assert_allclose(np.diff(a["t"]), 0.1, atol=1e-6)
    assert np.mean(a["y"][1:] == a["y"][:-1]) > 0.75  # labels come in runs
    assert len(set(a["y"].tolist()) - {0, 1}) >= 1  # at least one keyword
    # consecutive windows overlap by 90%: their features are closer than random pairs
    near = np.sqrt(((a["x"][1:] - a["x"][:-1]) ** 2).sum(axis=(1, 2, 3))).mean()
    far = np.sqrt(((a["x"][40:] - a["x"][:40]) ** 2).sum(axis=(1, 2, 3))).mean()
    assert near < far


@needs_neurokit
def test_ecg_windows_and_stream():
    a = datasets.ecg(24, seed=0)
    assert a["x"].shape == (24, datasets.ECG_WINDOW, 1, 1) and set(a["y"].tolist()) <= {0, 1, 2}
    assert a["record"].tolist() == [0] * 20 + [1] * 4
    s = datasets.ecg_stream(120, seed=0)
    assert s["x"].shape == (120, datasets.ECG_WINDOW, 1, 1)
    assert np.mean(s["y"][1:] == s["y"][:-1]) > 0.95  # the rate band changes every 20-60 s
    # beats per window grow with the heart-rate band: count R peaks roughly
    from scipy.signal import find_peaks

    counts = {c: [] for c in range(3)}
    for x, y in zip(a["x"][..., 0, 0], a["y"]):
        counts[int(y)].append(len(find_peaks(x, height=0.5, distance=datasets.ECG_RATE // 4)[0]))
    means = [np.mean(counts[c]) for c in range(3) if counts[c]]
    assert means == sorted(means)


def _fake_ecg_dat() -> bytes:
    # scipy's ecg.dat is an .npz holding 'ecg' as ints: value = 200 * mV + 1024, 360 Hz
    t = np.arange(360 * 30) / 360.0
    beats = np.zeros_like(t)
    times = np.cumsum(np.where(np.arange(40) % 5 == 4, 0.5, 0.8))  # every 5th beat early
    for b in times[times < 29.5]:
        beats += 1.5 * np.exp(-(((t - b) / 0.012) ** 2))
    buf = io.BytesIO()
    np.savez(buf, ecg=np.round(beats * 200 + 1024).astype(np.uint16))
    return buf.getvalue()


def test_ecg_record_from_file_and_wheel(tmp_path):
    dat = tmp_path / "ecg.dat"
    dat.write_bytes(_fake_ecg_dat())
    a = datasets.ecg_record(dat)
    assert a["x"].shape[1:] == (datasets.ECG_WINDOW, 1, 1) and len(a["x"]) > 20
    assert 0 < a["y"].sum() < len(a["y"])  # the early beats are found
    wheel = tmp_path / "scipy-1.14.1-fake.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("scipy/misc/ecg.dat", dat.read_bytes())
    b = datasets.ecg_record(wheel)
    np.testing.assert_array_equal(a["x"], b["x"])
    with pytest.raises(TinyexitError):
        datasets.ecg_record(tmp_path / "missing.dat")


def test_bad_requests_give_one_line(tmp_path):
    with pytest.raises(TinyexitError) as info:
        datasets.make_dataset("cifar", tmp_path / "c.npz")
    assert "fashion-mnist" in info.value.message and "\n" not in info.value.message
    with pytest.raises(TinyexitError):
        datasets.make_dataset("ecg", tmp_path / "c.csv", n=2)
    with pytest.raises(TinyexitError):
        datasets.make_dataset("ecg", tmp_path / "no" / "c.npz", n=2)
    with pytest.raises(TinyexitError) as info:
        datasets.load_npz(tmp_path / "none.npz")
    assert "tinyexit data" in info.value.message
    np.savez(tmp_path / "noy.npz", x=np.zeros((3, 2)))
    with pytest.raises(TinyexitError) as info:
        datasets.load_npz(tmp_path / "noy.npz")
    assert "'y'" in info.value.message
    np.savez(tmp_path / "mismatch.npz", x=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(TinyexitError):
        datasets.load_npz(tmp_path / "mismatch.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(TinyexitError):
        datasets.load_npz(tmp_path / "junk.npz")
    assert not list(tmp_path.glob("tmp*.npz"))  # no half-written files left behind
