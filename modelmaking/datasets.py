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
from pathlib import Path

import numpy as np

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

DATASETS = ("fashion-mnist", "keywords", "keywords-stream", "ecg", "ecg-stream", "ecg-record")


# ---------------------------------------------------------------------------
# entry point


def make_dataset(name: str, out: str | Path, n: int | None = None, seed: int = 0, record: str | Path | None = None) -> Path:
    """Build data set `name` and write it to `out` (.npz); returns the path.

    n: number of samples (clips, windows) or, for fashion-mnist, training
    images (default: all 60000); seed: random seed; record: ecg-record's file.
    The file is written to a temporary name and moved into place at the end.
    """
    out = Path(out)
    if name not in DATASETS:
        raise TinyexitError(f"data set '{name}' is unknown; choose one of {', '.join(DATASETS)}")
    if n is not None and n < 1:
        raise TinyexitError(f"data set '{name}': n={n} must be at least 1")
    _check_output(out)
    if name == "fashion-mnist":
        arrays = fashion_mnist(n)
    elif name == "keywords":
        arrays = keywords(n or 2400, seed)
    elif name == "keywords-stream":
        arrays = keywords_stream(n or 600, seed)
    elif name == "ecg":
        arrays = ecg(n or 3000, seed)
    elif name == "ecg-stream":
        arrays = ecg_stream(n or 2400, seed)
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


def fashion_mnist(n: int | None = None, folder: Path = FASHION_DIR) -> dict[str, np.ndarray]:
    """Fashion-MNIST as 28x28x1 floats in [0, 1]; the first n training images."""
    x = _read_idx(folder / "train-images-idx3-ubyte.gz")[:n]
    y = _read_idx(folder / "train-labels-idx1-ubyte.gz")[:n]
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
