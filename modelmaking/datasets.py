"""Offline data sets for training and measuring early-exit models.

`make_dataset(name, out)` writes an .npz with `x` (float32, N x H x W x C),
`y` (int64 labels), `classes` (class names) and, for streams, `t` (window start
in seconds; consecutive rows are consecutive windows). Nothing is downloaded:

- fashion-mnist: Debian's dataset-fashion-mnist (IDX gzip files), 28x28x1 in
  [0, 1]; `x_test`/`y_test` hold the official test split.
- keywords: 1 s clips synthesized with espeak-ng (accents, voice variants,
  speed, pitch, gain, time shift, noise), resampled 22050 -> 16000 Hz, turned
  into 49x10 MFCC features (40 ms frames, 20 ms hop, 40 mel bands
  20-4000 Hz, 10 coefficients), 12 classes like Speech Commands
  (_silence_, _unknown_, yes, no, up, down, left, right, on, off, stop, go).
- keywords-stream: one continuous synthesized stream of keywords, silences and
  other words; 1 s windows every 0.1 s.
- ecg: 4 s windows (64 Hz, 256 x 1 x 1) of neurokit2-simulated ECG in three
  heart-rate bands (slow 40-55, normal 65-95, fast 110-150 bpm); 20 windows
  per simulated 60 s record, `record` says which.
- ecg-stream: one long simulated ECG whose rate moves between the bands in
  segments of 20-60 s; windows every 0.25 s.
- ecg-rhythm: 4 s windows (64 Hz, 256 x 1 x 1) of five rhythm classes
  (normal sinus, sinus bradycardia < 60 bpm, sinus tachycardia > 100 bpm,
  atrial fibrillation, premature ventricular beats) synthesized beat by beat
  per simulated patient ("record": own morphology, amplitude, noise levels)
  with baseline wander, muscle noise, motion bursts and powerline; labels come
  from the beats inside each window; `record` says which patient.
- ecg-rhythm-stream: consecutive windows (every 0.25 s) over patients' long
  recordings whose rhythm changes in episodes (AF, PVC runs, brady- and
  tachycardia between normal sinus rhythm), labelled per window; `record`
  says which patient (search splits the stream by patient).
- ecg-record: the real 5-minute MIT-BIH record 208 that scipy 1.10-1.14
  ship as scipy/misc/ecg.dat (pass the file, or the scipy 1.14.1 wheel, with
  `record=`); beat-centred windows, labelled premature (1) when the RR
  interval before the beat is short (see `ecg_record`), else 0. These labels
  are derived by tinyexit's own R-peak detection, not by cardiologists.

Everything is deterministic for a given seed. No TensorFlow here.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen.datasets import DATASETS
from ..codegen.errors import TinyexitError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"
)  # fmt: skip

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
KEYWORD_CLASSES = ("_silence_", "_unknown_", *KEYWORDS)
UNKNOWN_WORDS = (
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "learn", "follow", "forward", "backward", "visual",
)  # fmt: skip
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
VARIANTS = (
    "", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5", "+croak", "+whisper"
)  # fmt: skip

RATE = 16000
ESPEAK_RATE = 22050

ECG_RATE = 64
ECG_WINDOW = 256
ECG_CLASSES = ("slow", "normal", "fast")
ECG_BANDS = ((40.0, 55.0), (65.0, 95.0), (110.0, 150.0))
RHYTHM_CLASSES = ("normal", "brady", "tachy", "af", "pvc")
RHYTHM_SIM_RATE = 4 * ECG_RATE  # synthesized at 256 Hz, then low-pass filtered and decimated to 64 Hz
RHYTHM_EPISODES = {  # kind: (probability in a stream, duration range in s)
    "normal": (0.35, (30.0, 120.0)),
    "brady": (0.15, (20.0, 90.0)),
    "tachy": (0.15, (20.0, 90.0)),
    "af": (0.2, (30.0, 120.0)),
    "pvc": (0.15, (15.0, 60.0)),
}



# ---------------------------------------------------------------------------
# entry point


def make_dataset(name: str, out: str | Path, n: int | None = None, seed: int = 0, record: str | Path | None = None,
                 skip: int = 0) -> Path:
    """Build data set `name` and write it to `out` (.npz); returns the path.

    n: number of samples (clips, windows) or, for fashion-mnist, training
    images (default: all 60000); seed: random seed; record: ecg-record's file;
    skip: fashion-mnist only, training images to leave out first (so that two
    files hold disjoint images, e.g. one to train a backbone, one to search).
    The file is written to a temporary name and moved into place at the end.
    """
    out = Path(out)
    if name not in DATASETS:
        raise TinyexitError(f"data set '{name}' is unknown; choose one of {', '.join(DATASETS)}")
    if n is not None and n < 1:
        raise TinyexitError(f"data set '{name}': n={n} must be at least 1")
    if skip and name != "fashion-mnist":
        raise TinyexitError(f"data set '{name}': --skip applies to fashion-mnist only; leave it out")
    if skip < 0:
        raise TinyexitError(f"data set '{name}': --skip {skip} must be 0 or more")
    _check_output(out)
    if name == "fashion-mnist":
        arrays = fashion_mnist(n, skip=skip)
    elif name == "keywords":
        arrays = keywords(n or 2400, seed)
    elif name == "keywords-stream":
        arrays = keywords_stream(n or 600, seed)
    elif name == "ecg":
        arrays = ecg(n or 3000, seed)
    elif name == "ecg-stream":
        arrays = ecg_stream(n or 2400, seed)
    elif name == "ecg-rhythm":
        arrays = ecg_rhythm(n or 3000, seed)
    elif name == "ecg-rhythm-stream":
        arrays = ecg_rhythm_stream(n or 4000, seed)
    else:
        arrays = ecg_record(record, n)
    save_npz(out, arrays)
    return out


def _check_output(out: Path) -> None:
    if out.suffix != ".npz":
        raise TinyexitError(f"{out}: the output must be an .npz file; name it e.g. data.npz")
    if not out.parent.is_dir():
        raise TinyexitError(f"{out}: folder {out.parent} does not exist; create it first")


def save_npz(out: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to `out` atomically (temporary file, then rename)."""
    out = Path(out)
    _check_output(out)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read a data set written by make_dataset (or any .npz with x and y)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise TinyexitError(f"{path}: no such data file; make one with `tinyexit data NAME -o {path}`") from None
    except Exception as exc:
        raise TinyexitError(f"{path}: cannot read it as .npz ({type(exc).__name__}); pass an .npz with x and y") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise TinyexitError(f"{path}: has no '{key}' array (found {', '.join(arrays) or 'none'}); save x and y")
    if len(arrays["x"]) != len(arrays["y"]):
        raise TinyexitError(f"{path}: x has {len(arrays['x'])} rows but y has {len(arrays['y'])}; they must match")
    return arrays


# ---------------------------------------------------------------------------
# Fashion-MNIST


def _read_idx(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise TinyexitError(
            f"{path}: not found; install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
        ) from None
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(n: int | None = None, folder: Path = FASHION_DIR, skip: int = 0) -> dict[str, np.ndarray]:
    """Fashion-MNIST as 28x28x1 floats in [0, 1]; n training images after the first `skip`."""
    end = None if n is None else skip + n
    x = _read_idx(folder / "train-images-idx3-ubyte.gz")[skip:end]
    y = _read_idx(folder / "train-labels-idx1-ubyte.gz")[skip:end]
    if not len(x):
        raise TinyexitError(f"fashion-mnist: --skip {skip} leaves no training image (there are 60000); skip fewer")
    xt = _read_idx(folder / "t10k-images-idx3-ubyte.gz")
    yt = _read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    to_float = lambda a: (a.astype(np.float32) / 255.0)[..., None]  # noqa: E731
    return {
        "x": to_float(x),
        "y": y.astype(np.int64),
        "x_test": to_float(xt),
        "y_test": yt.astype(np.int64),
        "classes": np.array(FASHION_CLASSES),
    }


# ---------------------------------------------------------------------------
# MFCC (numpy/scipy only)


def mel_filterbank(n_mels: int = 40, n_fft: int = 1024, rate: int = RATE, fmin: float = 20.0, fmax: float = 4000.0) -> np.ndarray:
    """Triangular mel filters, shape (n_mels, n_fft // 2 + 1), HTK mel scale."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


_MEL = None


def mfcc(audio: np.ndarray, rate: int = RATE, n_coeffs: int = 10, frame: int = 640, hop: int = 320) -> np.ndarray:
    """MFCC of a mono clip: (frames, n_coeffs); 1 s at 16 kHz gives 49 x 10.

    Hann-windowed 40 ms frames every 20 ms, 1024-point power spectrum, 40 mel
    bands (20-4000 Hz), natural log, orthonormal DCT-II.
    """
    global _MEL
    from scipy.fft import dct

    if rate != RATE:
        raise ValueError("mfcc expects 16 kHz audio")
    audio = np.asarray(audio, dtype=np.float64)
    count = 1 + (len(audio) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    frames = audio[idx] * np.hanning(frame)[None, :]
    power = np.abs(np.fft.rfft(frames, n=1024, axis=1)) ** 2
    if _MEL is None:
        _MEL = mel_filterbank()
    logmel = np.log(power @ _MEL.T + 1e-6)
    return dct(logmel, type=2, norm="ortho", axis=1)[:, :n_coeffs].astype(np.float32)


# ---------------------------------------------------------------------------
# keyword synthesis


def _check_espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise TinyexitError("espeak-ng is not installed; install it (apt-get install espeak-ng) to make keyword data")
    return exe


def synthesize(word: str, voice: str, speed: int, pitch: int, exe: str | None = None) -> np.ndarray:
    """Speak `word` with espeak-ng; float audio at 16 kHz in [-1, 1]."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    exe = exe or _check_espeak()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "w.wav"
        cmd = [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), word]
        proc = subprocess.run(cmd, capture_output=True, timeout=30)
        if proc.returncode != 0 or not wav.exists():
            raise TinyexitError(f"espeak-ng failed on '{word}' with voice {voice}: {proc.stderr.decode()[:200].strip()}")
        rate, data = wavfile.read(wav)
    audio = data.astype(np.float64) / 32768.0
    if rate != RATE:
        audio = resample_poly(audio, 320, 441) if rate == ESPEAK_RATE else resample_poly(audio, RATE, rate)
    return audio


def _trim(audio: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > threshold * max(np.abs(audio).max(), 1e-9))
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def _noise(rng: np.random.Generator, length: int) -> np.ndarray:
    """White or brown-ish background noise of unit RMS."""
    white = rng.normal(0.0, 1.0, length)
    if rng.random() < 0.5:
        colored = np.cumsum(white)
        colored -= np.convolve(colored, np.ones(64) / 64, mode="same")
        white = colored
    return white / (np.sqrt(np.mean(white**2)) + 1e-12)


def _random_voice(rng: np.random.Generator) -> tuple[str, int, int]:
    voice = ACCENTS[rng.integers(len(ACCENTS))] + VARIANTS[rng.integers(len(VARIANTS))]
    return voice, int(rng.integers(110, 221)), int(rng.integers(20, 91))


def _utterance_jobs(labels: np.ndarray, rng: np.random.Generator) -> list[tuple[str, str, int, int] | None]:
    jobs: list[tuple[str, str, int, int] | None] = []
    for label in labels:
        if label == 0:
            jobs.append(None)
            continue
        word = UNKNOWN_WORDS[rng.integers(len(UNKNOWN_WORDS))] if label == 1 else KEYWORD_CLASSES[label]
        jobs.append((word, *_random_voice(rng)))
    return jobs


def _speak_all(jobs: list[tuple[str, str, int, int] | None]) -> list[np.ndarray | None]:
    exe = _check_espeak()

    def run(job):
        return None if job is None else _trim(synthesize(job[0], job[1], job[2], job[3], exe))

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return list(pool.map(run, jobs))


def keywords(n: int = 2400, seed: int = 0) -> dict[str, np.ndarray]:
    """n 1-second keyword clips as 49x10x1 MFCC features, 12 balanced classes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(KEYWORD_CLASSES)
    rng.shuffle(labels)
    utterances = _speak_all(_utterance_jobs(labels, rng))
    x = np.empty((n, 49, 10, 1), np.float32)
    for i, speech in enumerate(utterances):
        clip = np.zeros(RATE)
        if speech is not None and speech.size:
            speech = speech[:RATE] * rng.uniform(0.3, 1.0) / (np.abs(speech).max() + 1e-9)
            start = int(rng.integers(0, RATE - len(speech) + 1))
            clip[start : start + len(speech)] = speech
        clip += _noise(rng, RATE) * 10.0 ** rng.uniform(-3.5, -1.7)
        x[i, :, :, 0] = mfcc(clip)
    return {"x": x, "y": labels.astype(np.int64), "classes": np.array(KEYWORD_CLASSES)}


def keywords_stream(n: int = 600, seed: int = 0, hop: float = 0.1) -> dict[str, np.ndarray]:
    """n overlapping 1 s windows (every `hop` s) over one synthesized stream.

    The stream is a sequence of 1-1.6 s slots, each holding a keyword (60%),
    another word (15%) or nothing, over continuous background noise. A
    window's label is the word whose spoken part lies most inside it (at
    least half of it), else _silence_.
    """
    rng = np.random.default_rng(seed)
    hop_n = int(round(hop * RATE))
    total = RATE + hop_n * (n - 1)
    slots, cursor = [], 0
    while cursor < total:
        length = int(rng.uniform(1.0, 1.6) * RATE)
        r = rng.random()
        label = int(rng.integers(2, len(KEYWORD_CLASSES))) if r < 0.6 else (1 if r < 0.75 else 0)
        slots.append((cursor, length, label))
        cursor += length
    utterances = _speak_all(_utterance_jobs(np.array([s[2] for s in slots]), rng))
    audio = np.zeros(cursor + RATE)
    spans = []  # (start, end, label) of spoken parts
    for (start, length, label), speech in zip(slots, utterances):
        if speech is None or not speech.size:
            continue
        speech = speech[: length - 1] * rng.uniform(0.3, 1.0) / (np.abs(speech).max() + 1e-9)
        offset = start + int(rng.integers(0, length - len(speech)))
        audio[offset : offset + len(speech)] += speech
        spans.append((offset, offset + len(speech), label))
    audio += _noise(rng, len(audio)) * 10.0 ** rng.uniform(-3.2, -2.2)
    x = np.empty((n, 49, 10, 1), np.float32)
    y = np.zeros(n, np.int64)
    for i in range(n):
        a, b = i * hop_n, i * hop_n + RATE
        x[i, :, :, 0] = mfcc(audio[a:b])
        best = 0.5
        for s, e, label in spans:
            inside = max(0, min(b, e) - max(a, s)) / (e - s)
            if inside >= best:
                best, y[i] = inside, label
    return {
        "x": x,
        "y": y,
        "t": (np.arange(n) * hop_n / RATE).astype(np.float32),
        "classes": np.array(KEYWORD_CLASSES),
    }


# ---------------------------------------------------------------------------
# ECG


def _neurokit():
    try:
        import neurokit2
    except ImportError:
        raise TinyexitError("neurokit2 is not installed; pip install neurokit2 to make ECG data") from None
    return neurokit2


def _simulate_ecg(seconds: float, heart_rate: float, rng: np.random.Generator) -> np.ndarray:
    nk = _neurokit()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal = nk.ecg_simulate(
            duration=int(np.ceil(seconds)),
            sampling_rate=ECG_RATE * 4,
            heart_rate=heart_rate,
            heart_rate_std=float(rng.uniform(0.5, 3.0)),
            noise=float(rng.uniform(0.01, 0.1)),
            method="ecgsyn",
            random_state=int(rng.integers(2**31 - 1)),
        )
    signal = np.asarray(signal, dtype=np.float64)[::4]  # 256 Hz -> 64 Hz after ecgsyn's own filtering
    baseline = 0.15 * np.sin(2 * np.pi * rng.uniform(0.05, 0.4) * np.arange(len(signal)) / ECG_RATE + rng.uniform(0, 6.3))
    return signal * rng.uniform(0.7, 1.3) + baseline


def _normalize(window: np.ndarray) -> np.ndarray:
    window = window - np.median(window)
    return window / (np.percentile(np.abs(window), 99) + 1e-6)


def ecg(n: int = 3000, seed: int = 0) -> dict[str, np.ndarray]:
    """n 4 s windows (256 x 1 x 1 at 64 Hz) of simulated ECG, 3 heart-rate bands."""
    rng = np.random.default_rng(seed)
    per_record = 20
    x = np.empty((n, ECG_WINDOW, 1, 1), np.float32)
    y = np.empty(n, np.int64)
    source = np.empty(n, np.int64)
    i = 0
    while i < n:
        label = int(rng.integers(len(ECG_BANDS)))
        signal = _simulate_ecg(60.0, rng.uniform(*ECG_BANDS[label]), rng)
        starts = rng.integers(0, len(signal) - ECG_WINDOW, per_record)
        for s in starts[: n - i]:
            x[i, :, 0, 0] = _normalize(signal[s : s + ECG_WINDOW])
            y[i] = label
            source[i] = i // per_record
            i += 1
    # windows of one simulated record share `record`: split on it for a held-out set without leakage
    return {"x": x, "y": y, "record": source, "classes": np.array(ECG_CLASSES)}


def ecg_stream(n: int = 2400, seed: int = 0, hop: float = 0.25) -> dict[str, np.ndarray]:
    """n consecutive windows (every `hop` s) over one ECG whose rate band changes every 20-60 s."""
    rng = np.random.default_rng(seed)
    hop_n = int(round(hop * ECG_RATE))
    total = ECG_WINDOW + hop_n * (n - 1)
    pieces, labels = [], []
    label = 1
    length = 0
    while length < total:
        seconds = rng.uniform(20.0, 60.0)
        piece = _simulate_ecg(seconds, rng.uniform(*ECG_BANDS[label]), rng)[: int(seconds * ECG_RATE)]
        pieces.append(piece)
        labels.append(np.full(len(piece), label))
        length += len(piece)
        label = int((label + rng.choice([-1, 1])) % len(ECG_BANDS))
    signal, per_sample = np.concatenate(pieces), np.concatenate(labels)
    x = np.empty((n, ECG_WINDOW, 1, 1), np.float32)
    y = np.empty(n, np.int64)
    for i in range(n):
        s = i * hop_n
        x[i, :, 0, 0] = _normalize(signal[s : s + ECG_WINDOW])
        y[i] = per_sample[s + ECG_WINDOW // 2]
    return {"x": x, "y": y, "t": (np.arange(n) * hop).astype(np.float32), "classes": np.array(ECG_CLASSES)}


# ---------------------------------------------------------------------------
# ECG rhythms: synthesized beat by beat (sum of Gaussian waves per beat, as in
# McSharry's ECGSYN model, placed directly in time so that each beat's kind,
# timing and morphology are known), per simulated patient


@dataclass(frozen=True)
class Patient:
    """A simulated patient: beat morphology, amplitude and noise levels, fixed for a whole record.

    sinus: P, Q, R, S, T waves as rows (time from the R peak in s, amplitude, width in s);
    pvc: the premature ventricular beat's wide R, S and opposite T (no P wave).
    """

    sinus: np.ndarray
    pvc: np.ndarray
    gain: float
    wander: float  # baseline wander amplitude
    muscle: float  # muscle (EMG) noise RMS, in bursts up to several times that
    powerline: float  # hum amplitude before the front end's low-pass
    mains: float  # 50 or 60 Hz
    fibrillation: float  # amplitude of AF's fibrillatory waves
    jitter: float  # beat-to-beat RR variation of sinus rhythm (fraction)


def random_patient(rng: np.random.Generator) -> Patient:
    qrs = rng.uniform(0.008, 0.015)
    sinus = np.array([
        [-rng.uniform(0.15, 0.21), rng.uniform(0.06, 0.2), rng.uniform(0.018, 0.03)],
        [-rng.uniform(0.025, 0.04), -rng.uniform(0.0, 0.2), 0.8 * qrs],
        [0.0, rng.uniform(0.6, 1.3), qrs],
        [rng.uniform(0.025, 0.045), -rng.uniform(0.05, 0.4), 1.1 * qrs],
        [rng.uniform(0.2, 0.3), rng.uniform(0.1, 0.45) * (1.0 if rng.random() < 0.9 else -1.0), rng.uniform(0.04, 0.07)],
    ])  # fmt: skip
    polarity = 1.0 if rng.random() < 0.6 else -1.0
    pvc = np.array([
        [0.0, polarity * rng.uniform(0.9, 1.8), rng.uniform(0.022, 0.04)],
        [rng.uniform(0.06, 0.09), -polarity * rng.uniform(0.1, 0.5), rng.uniform(0.022, 0.04)],
        [rng.uniform(0.26, 0.36), -polarity * rng.uniform(0.2, 0.5), rng.uniform(0.06, 0.09)],
    ])  # fmt: skip
    return Patient(sinus, pvc, gain=float(rng.uniform(0.5, 2.0)), wander=float(rng.uniform(0.05, 0.5)),
                   muscle=float(rng.uniform(0.01, 0.12)), powerline=float(rng.uniform(0.0, 0.15)),
                   mains=float(rng.choice([50.0, 60.0])), fibrillation=float(rng.uniform(0.02, 0.1)),
                   jitter=float(rng.uniform(0.01, 0.05)))


@dataclass(frozen=True)
class Beats:
    """R-peak times (s) of a record and which beats are premature ventricular ones."""

    times: np.ndarray
    pvc: np.ndarray


SINUS_RATES = {"normal": (62.0, 98.0), "brady": (42.0, 58.0), "tachy": (102.0, 145.0)}


def _smooth_walk(rng: np.random.Generator, count: int, scale: float) -> np.ndarray:
    """A slowly varying random curve (about +-scale) over `count` beats."""
    walk = np.cumsum(rng.normal(0.0, 1.0, count + 8))
    walk = np.convolve(walk - walk.mean(), np.ones(8) / 8, mode="valid")[:count]
    return scale * walk / (np.abs(walk).max() + 1e-9)


def episode_beats(kind: str, start: float, seconds: float, patient: Patient, rng: np.random.Generator) -> Beats:
    """The beats of one rhythm episode from `start` for `seconds` s.

    Sinus rhythms (normal, brady, tachy): a base rate in the kind's range that
    drifts by a few bpm, respiratory sinus arrhythmia and beat-to-beat jitter,
    so a window near 60 or 100 bpm may fall on either side. af: irregularly
    irregular RR (coefficient of variation 12-30%) around 70-150 bpm. pvc:
    sinus rhythm at 60-100 bpm in which every 2nd or 3rd beat (bigeminy,
    trigeminy) or a random 15-35% of beats come early (coupling 0.45-0.7 RR)
    as ventricular beats, followed by a full compensatory pause.
    """
    if kind == "af":
        mean_rr = 60.0 / rng.uniform(70.0, 150.0)
        count = int(seconds / mean_rr * 1.5) + 4
        cv = rng.uniform(0.12, 0.3)
        rr = np.maximum(0.28, mean_rr * rng.gamma(1.0 / cv**2, cv**2, count))
        times = start + np.cumsum(rr) - rr[0] * rng.random()
        keep = times < start + seconds
        return Beats(times[keep], np.zeros(int(keep.sum()), bool))
    low, high = SINUS_RATES["normal" if kind == "pvc" else kind]
    if kind == "pvc":
        low, high = 60.0, 100.0
    base = rng.uniform(low, high)
    count = int(seconds * high / 60.0 * 1.3) + 4
    resp = rng.uniform(0.15, 0.4)
    rate = base + _smooth_walk(rng, count, rng.uniform(1.0, 5.0))
    rr = 60.0 / rate
    phase = 2 * np.pi * resp * np.cumsum(rr) + rng.uniform(0, 2 * np.pi)
    rr = rr * (1.0 + rng.uniform(0.01, 0.05) * np.sin(phase) + patient.jitter * rng.normal(0.0, 0.5, count))
    times = start + np.cumsum(rr) - rr[0] * rng.random()
    pvc = np.zeros(count, bool)
    if kind == "pvc":
        pattern = rng.integers(3)
        if pattern < 2:  # bigeminy (every 2nd beat) or trigeminy (every 3rd)
            pvc[int(rng.integers(2 + pattern)) :: 2 + pattern] = True
        else:
            pvc = rng.random(count) < rng.uniform(0.15, 0.35)
        pvc[0] = False
        pvc[1:] &= ~pvc[:-1]  # no couplets
        coupling = rng.uniform(0.45, 0.7)
        prev = times[np.maximum(np.arange(count) - 1, 0)]
        times = np.where(pvc, prev + coupling * (times - prev), times)
    keep = times < start + seconds
    return Beats(times[keep], pvc[keep])


def _add_waves(signal: np.ndarray, centre: float, waves: np.ndarray, stretch: float) -> None:
    """Add one beat's Gaussian waves to `signal` (sampled at RHYTHM_SIM_RATE) in place."""
    fs = RHYTHM_SIM_RATE
    for offset, amp, width in waves:
        at = centre + offset * (stretch if offset > 0.15 else 1.0)
        lo, hi = int((at - 4 * width) * fs), int((at + 4 * width) * fs) + 1
        lo, hi = max(lo, 0), min(hi, len(signal))
        if lo < hi:
            t = np.arange(lo, hi) / fs
            signal[lo:hi] += amp * np.exp(-0.5 * ((t - at) / width) ** 2)


def render_record(beats: Beats, af: np.ndarray, patient: Patient, rng: np.random.Generator) -> np.ndarray:
    """The record's ECG at ECG_RATE: beats, AF's fibrillatory waves, noise, front-end low-pass, decimation.

    af: per output sample (ECG_RATE), whether the rhythm is atrial fibrillation
    there (no P waves, f-waves at 4-9 Hz instead).
    """
    from scipy.signal import butter, lfilter

    fs = RHYTHM_SIM_RATE
    n = len(af) * (fs // ECG_RATE)
    t = np.arange(n) / fs
    clean = np.zeros(n)
    af_fine = np.repeat(af, fs // ECG_RATE)
    rr = np.diff(beats.times, prepend=beats.times[0] - 0.8) if len(beats.times) else np.zeros(0)
    for time, premature, interval in zip(beats.times, beats.pvc, rr):
        stretch = float(np.sqrt(np.clip(interval, 0.3, 1.6) / 0.8))  # QT shortens as the rate rises
        if premature:
            _add_waves(clean, time, patient.pvc, stretch)
        else:
            in_af = af_fine[min(max(int(time * fs), 0), n - 1)]
            _add_waves(clean, time, patient.sinus[1:] if in_af else patient.sinus, stretch)
    freq = rng.uniform(4.0, 9.0) + 0.8 * np.interp(t, np.linspace(0, t[-1] + 1e-9, 64), rng.normal(0, 1, 64))
    clean += af_fine * patient.fibrillation * np.sin(np.cumsum(2 * np.pi * freq / fs))
    resp = rng.uniform(0.15, 0.4)
    ecg = patient.gain * clean * (1.0 + rng.uniform(0.02, 0.1) * np.sin(2 * np.pi * resp * t))
    for _ in range(3):  # baseline wander: breathing and movement
        ecg += patient.wander * rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t + rng.uniform(0, 6.3))
    emg = rng.normal(0.0, 1.0, n)
    emg -= np.convolve(emg, np.ones(16) / 16, mode="same")  # high-pass: muscle noise has no slow part
    envelope = np.ones(n)
    for _ in range(int(rng.poisson(n / fs / 30.0))):  # bursts of movement, a few per minute
        a = int(rng.integers(n))
        envelope[a : a + int(rng.uniform(0.5, 4.0) * fs)] += rng.uniform(2.0, 6.0)
    ecg += patient.muscle * envelope * emg
    ecg += patient.powerline * np.sin(2 * np.pi * patient.mains * t + rng.uniform(0, 6.3))
    b, a = butter(2, 30.0, fs=fs)  # the analog front end's anti-alias filter (not a brick wall: hum leaks)
    return lfilter(b, a, ecg)[:: fs // ECG_RATE]


def window_label(beats: Beats, af: np.ndarray, start: int, margin: float = 0.15) -> int:
    """The class of the window of ECG_WINDOW samples from sample `start`, from the beats inside it.

    pvc if a ventricular beat's R peak lies inside (margin s from the edges);
    else af if the rhythm at the window's centre is AF; else sinus by the mean
    RR inside the window: brady below 60 bpm, tachy above 100, normal between.
    """
    a, b = start / ECG_RATE, (start + ECG_WINDOW) / ECG_RATE
    inside = (beats.times >= a) & (beats.times < b)
    if np.any(beats.pvc & (beats.times >= a + margin) & (beats.times < b - margin)):
        return RHYTHM_CLASSES.index("pvc")
    if af[start + ECG_WINDOW // 2]:
        return RHYTHM_CLASSES.index("af")
    times = beats.times[inside]
    if len(times) < 2:
        return RHYTHM_CLASSES.index("brady")
    rate = 60.0 / float(np.mean(np.diff(times)))
    return RHYTHM_CLASSES.index("brady" if rate < 60.0 else "tachy" if rate > 100.0 else "normal")


def rhythm_record(episodes: list[tuple[str, float]], rng: np.random.Generator) -> tuple[np.ndarray, Beats, np.ndarray]:
    """One patient's record of consecutive (kind, seconds) episodes: ECG at ECG_RATE, beats, AF per sample."""
    patient = random_patient(rng)
    parts, start = [], 0.0
    af = np.zeros(int(np.ceil(sum(s for _, s in episodes) * ECG_RATE)) + ECG_RATE, bool)
    for kind, seconds in episodes:
        parts.append(episode_beats(kind, start, seconds, patient, rng))
        if kind == "af":
            af[int(start * ECG_RATE) : int((start + seconds) * ECG_RATE)] = True
        start += seconds
    beats = Beats(np.concatenate([p.times for p in parts]), np.concatenate([p.pvc for p in parts]))
    return render_record(beats, af, patient, rng), beats, af


def ecg_rhythm(n: int = 3000, seed: int = 0, per_record: int = 15) -> dict[str, np.ndarray]:
    """n 4 s windows of 5 rhythm classes; each record is a new patient in one rhythm for 64 s.

    The rhythm of each record is drawn uniformly from the five kinds; labels
    come from the beats inside each window (window_label), so a window of a
    brady record at 61 bpm is normal and a pvc record's window without a
    premature beat is labelled by its rate.
    """
    rng = np.random.default_rng(seed)
    x = np.empty((n, ECG_WINDOW, 1, 1), np.float32)
    y = np.empty(n, np.int64)
    source = np.empty(n, np.int64)
    i = record = 0
    while i < n:
        kind = RHYTHM_CLASSES[int(rng.integers(len(RHYTHM_CLASSES)))]
        signal, beats, af = rhythm_record([(kind, 64.0)], rng)
        for s in rng.integers(0, 64 * ECG_RATE - ECG_WINDOW, per_record)[: n - i]:
            x[i, :, 0, 0] = _normalize(signal[s : s + ECG_WINDOW])
            y[i] = window_label(beats, af, int(s))
            source[i] = record
            i += 1
        record += 1
    return {"x": x, "y": y, "record": source, "classes": np.array(RHYTHM_CLASSES)}


def stream_episodes(seconds: float, rng: np.random.Generator) -> list[tuple[str, float]]:
    """Rhythm episodes for a record of about `seconds` s: starts in normal sinus rhythm, never repeats a kind."""
    kinds = list(RHYTHM_EPISODES)
    weights = np.array([RHYTHM_EPISODES[k][0] for k in kinds])
    out, total, kind = [], 0.0, "normal"
    while total < seconds:
        length = float(rng.uniform(*RHYTHM_EPISODES[kind][1]))
        out.append((kind, length))
        total += length
        p = np.where(np.array(kinds) == kind, 0.0, weights)
        kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
    return out


def ecg_rhythm_stream(n: int = 4000, seed: int = 0, hop: float = 0.25,
                      record_seconds: tuple[float, float] = (180.0, 360.0)) -> dict[str, np.ndarray]:
    """n consecutive windows (every `hop` s) over patients' records with rhythm episodes.

    Each record is a new patient (Patient) for 3-6 min, in episodes of normal
    sinus rhythm, AF, PVC runs, brady- and tachycardia (stream_episodes);
    windows do not cross records; `record` numbers the patients in stream
    order and `t` is each window's start in s from the stream's start.
    """
    rng = np.random.default_rng(seed)
    hop_n = int(round(hop * ECG_RATE))
    xs, ys, records, times = [], [], [], []
    count = offset = record = 0
    while count < n:
        signal, beats, af = rhythm_record(stream_episodes(rng.uniform(*record_seconds), rng), rng)
        starts = np.arange(0, len(signal) - ECG_WINDOW - ECG_RATE, hop_n)[: n - count]
        xs.append(np.stack([_normalize(signal[s : s + ECG_WINDOW]) for s in starts]))
        ys.append(np.array([window_label(beats, af, int(s)) for s in starts], np.int64))
        records.append(np.full(len(starts), record, np.int64))
        times.append((offset + starts) / ECG_RATE)
        count += len(starts)
        offset += len(signal)
        record += 1
    x = np.concatenate(xs).astype(np.float32)[:, :, None, None]
    return {"x": x, "y": np.concatenate(ys), "record": np.concatenate(records),
            "t": np.concatenate(times).astype(np.float32), "classes": np.array(RHYTHM_CLASSES)}


def _find_ecg_dat(record: str | Path | None) -> bytes:
    if record is None:
        try:
            import scipy.misc

            path = Path(scipy.misc.__file__).parent / "ecg.dat"
            return path.read_bytes()
        except (ImportError, OSError):
            raise TinyexitError(
                "ecg-record: this scipy has no bundled ecg.dat (removed in scipy 1.15); "
                "pass record=PATH to scipy/misc/ecg.dat or a scipy 1.14.1 wheel (pip download scipy==1.14.1 --no-deps)"
            ) from None
    path = Path(record)
    try:
        if path.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(path) as z:
                return z.read("scipy/misc/ecg.dat")
        return path.read_bytes()
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise TinyexitError(f"{path}: cannot read scipy's ecg.dat from it ({exc}); pass ecg.dat or a scipy 1.14.1 wheel") from None


def ecg_record(record: str | Path | None = None, n: int | None = None) -> dict[str, np.ndarray]:
    """Beat-centred windows of scipy's MIT-BIH record 208 (360 Hz, resampled to 64 Hz).

    y = 1 (premature) when the RR interval before the beat is shorter than
    0.85 x the median of the surrounding RR intervals or 0.8 x the RR interval
    after it (a compensatory pause), else 0. Peaks and labels come from
    tinyexit's own simple detector, not from the MIT-BIH annotations.
    """
    import io

    from scipy.signal import find_peaks, resample_poly

    raw = _find_ecg_dat(record)
    try:
        with np.load(io.BytesIO(raw)) as z:
            signal = (z["ecg"].astype(np.float64) - 1024) / 200.0
    except Exception:
        raise TinyexitError("ecg-record: the file is not scipy's ecg.dat (an .npz with 'ecg'); pass the right file") from None
    signal = resample_poly(signal, 8, 45)  # 360 Hz -> 64 Hz
    detrended = np.abs(signal - np.convolve(signal, np.ones(ECG_RATE) / ECG_RATE, mode="same"))
    peaks, _ = find_peaks(detrended, distance=int(0.3 * ECG_RATE), height=np.percentile(detrended, 97) * 0.35)
    rr = np.diff(peaks).astype(np.float64)
    x, y = [], []
    for k in range(1, len(peaks) - 1):
        s = peaks[k] - ECG_WINDOW // 2
        if s < 0 or s + ECG_WINDOW > len(signal):
            continue
        local = np.median(rr[max(0, k - 5) : k + 4])
        premature = rr[k - 1] < 0.85 * local or rr[k - 1] < 0.8 * rr[k]
        x.append(_normalize(signal[s : s + ECG_WINDOW]))
        y.append(int(premature))
    x = np.asarray(x, np.float32)[:n, :, None, None]
    return {"x": x, "y": np.asarray(y, np.int64)[:n], "classes": np.array(("regular", "premature"))}
