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


@needs_fashion
def test_fashion_mnist_skip_gives_the_next_images(tmp_path):
    """--skip K: a second file of other training images (a backbone on one, a search on the other)."""
    first = datasets.fashion_mnist(30)
    later = datasets.fashion_mnist(10, skip=20)
    assert np.array_equal(later["x"], first["x"][20:30]) and np.array_equal(later["y"], first["y"][20:30])
    with pytest.raises(TinyexitError) as info:
        datasets.make_dataset("ecg", tmp_path / "e.npz", n=2, skip=5)
    assert "fashion-mnist only" in info.value.message
    with pytest.raises(TinyexitError) as info:
        datasets.fashion_mnist(10, skip=60000)
    assert "no training image" in info.value.message


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


RHYTHM = {name: i for i, name in enumerate(datasets.RHYTHM_CLASSES)}


def test_window_label_from_the_beats_inside():
    """pvc if a ventricular beat lies inside (away from the edges), af at the centre, else sinus by mean RR."""
    length = 20 * datasets.ECG_RATE
    no_af = np.zeros(length, bool)
    every = lambda rr: datasets.Beats(np.arange(0.3, 20.0, rr), np.zeros(len(np.arange(0.3, 20.0, rr)), bool))  # noqa: E731
    assert datasets.window_label(every(1.2), no_af, 0) == RHYTHM["brady"]  # 50 bpm
    assert datasets.window_label(every(0.8), no_af, 0) == RHYTHM["normal"]  # 75 bpm
    assert datasets.window_label(every(0.5), no_af, 0) == RHYTHM["tachy"]  # 120 bpm
    af = no_af.copy()
    af[: datasets.ECG_WINDOW] = True
    assert datasets.window_label(every(0.8), af, 0) == RHYTHM["af"]
    assert datasets.window_label(every(0.8), af, datasets.ECG_WINDOW) == RHYTHM["normal"]  # centre outside AF
    beats = every(0.8)
    pvc = beats.pvc.copy()
    pvc[3] = True  # R peak at 2.7 s: inside the first window
    assert datasets.window_label(datasets.Beats(beats.times, pvc), af, 0) == RHYTHM["pvc"]
    edge = beats.pvc.copy()
    edge[5] = True  # at 4.3 s: 0.3 s after the first window's end, 0.3 s into the next one
    assert datasets.window_label(datasets.Beats(beats.times, edge), no_af, 0) == RHYTHM["normal"]
    assert datasets.window_label(datasets.Beats(beats.times, edge), no_af, datasets.ECG_WINDOW) == RHYTHM["pvc"]


def test_rhythm_episodes_have_their_timing():
    """AF: irregular RR; PVC: early beats followed by a compensatory pause; sinus: regular, in its rate range."""
    rng = np.random.default_rng(3)
    patient = datasets.random_patient(rng)
    af = datasets.episode_beats("af", 0.0, 120.0, patient, rng)
    sinus = datasets.episode_beats("normal", 0.0, 120.0, patient, rng)
    cv = lambda b: np.std(np.diff(b.times)) / np.mean(np.diff(b.times))  # noqa: E731
    assert cv(af) > 0.1 > cv(sinus) and not af.pvc.any() and not sinus.pvc.any()
    assert 55.0 < 60.0 / np.mean(np.diff(sinus.times)) < 105.0
    for seed in range(4):
        beats = datasets.episode_beats("pvc", 0.0, 120.0, patient, np.random.default_rng(seed))
        rr = np.diff(beats.times)
        early = np.flatnonzero(beats.pvc[1:-1]) + 1  # PVC beats with a beat before and after
        assert len(early) >= 10
        assert np.all(rr[early - 1] < 0.8 * rr[early])  # coupling interval shorter than the pause after


@pytest.mark.parametrize("seed", [0, 1])
def test_ecg_rhythm_windows_classes_records_determinism(seed):
    a = datasets.ecg_rhythm(450, seed=seed)
    assert a["x"].shape == (450, datasets.ECG_WINDOW, 1, 1) and a["x"].dtype == np.float32
    assert a["classes"].tolist() == ["normal", "brady", "tachy", "af", "pvc"]
    counts = np.bincount(a["y"], minlength=5)
    assert counts.min() >= 30, counts  # every class, none rare
    assert a["record"].tolist() == np.repeat(np.arange(30), 15).tolist()
    b = datasets.ecg_rhythm(450, seed=seed)
    assert np.array_equal(a["x"], b["x"]) and np.array_equal(a["y"], b["y"])
    c = datasets.ecg_rhythm(450, seed=seed + 7)
    assert not np.array_equal(a["x"], c["x"])


def test_ecg_rhythm_stream_changes_rhythm_within_records():
    s = datasets.ecg_rhythm_stream(3000, seed=0)
    records, y, t = s["record"], s["y"], s["t"]
    assert s["x"].shape == (3000, datasets.ECG_WINDOW, 1, 1)
    assert np.all(np.diff(records) >= 0) and records[-1] >= 2  # patients one after another
    step = np.diff(t)[np.diff(records) == 0]
    assert np.allclose(step, 0.25)  # consecutive windows of one record, every 0.25 s
    changes = np.flatnonzero((np.diff(y) != 0) & (np.diff(records) == 0))
    assert len(changes) >= 5  # rhythm changes inside a record
    assert np.mean(y[1:] == y[:-1]) > 0.9  # but long stable episodes
    assert len(np.unique(y)) >= 4
    again = datasets.ecg_rhythm_stream(3000, seed=0)
    assert np.array_equal(again["x"], s["x"]) and np.array_equal(again["y"], y)


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
