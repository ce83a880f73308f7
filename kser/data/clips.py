"""Clips in memory and the waveform the backbone sees: preprocessing
settings, noise augmentation, loading, cropping, cached noise copies.

`prepare_waveform` is the numpy path (feature cache, cached noise);
`kser.data.pipeline.make_dataset` does the same inside `tf.data`.
Imports neither TensorFlow nor Keras.
"""

import dataclasses
import hashlib
import math
import os

import numpy as np

from kser.data.audio import RESAMPLE_FILTER
from kser.data.audio import SAMPLE_RATE
from kser.data.audio import content_hash
from kser.data.audio import decode_audio
from kser.data.audio import read_bytes
from kser.data.audio import rms
from kser.errors import DataError
from kser.models.waveform import normalize_waveform
from kser.text import count_noun

# RAVDESS speech clips last about 3 to 5 s, so 6 s keeps every clip whole
# while bounding memory and compute for longer user audio.
DEFAULT_MAX_SECONDS = 6.0
# White noise 20 dB below each clip's RMS: clearly audible, speech stays
# intelligible. The paper says only "a small amount" of noise.
DEFAULT_SNR_DB = 20.0
CROP_POLICIES = ("center", "start")
NOISE_MODES = ("online", "cached")


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How a clip becomes the waveform the backbone sees.

    Args:
        sample_rate: int. Output sample rate; HuBERT wants 16000.
        max_seconds: float or None. Longer clips are cropped to this length;
            None keeps clips whole. Default 6 s keeps every RAVDESS speech
            clip whole.
        crop: str. Which part of a long clip to keep: `"center"` (default;
            RAVDESS clips start and end with silence) or `"start"`.
        normalize: bool. Zero mean, unit variance per clip, after noise.
            Leave False when the model's `HubertAudioConverter` does it.
        resample_filter: str. resampy filter, `"kaiser_best"` or
            `"kaiser_fast"`.
    """

    sample_rate: int = SAMPLE_RATE
    max_seconds: float = DEFAULT_MAX_SECONDS
    crop: str = "center"
    normalize: bool = False
    resample_filter: str = RESAMPLE_FILTER

    def __post_init__(self):
        if int(self.sample_rate) <= 0:
            raise DataError(
                f"sample_rate must be positive, got {self.sample_rate}"
            )
        if self.max_seconds is not None and not (
            math.isfinite(float(self.max_seconds)) and float(self.max_seconds) > 0
        ):
            raise DataError(
                "max_seconds (--max-seconds) must be a positive number of "
                f"seconds, got {self.max_seconds}; leave it unset for no crop"
            )
        if self.crop not in CROP_POLICIES:
            raise DataError(
                f"unknown crop policy {self.crop!r}: choose one of "
                f"{', '.join(CROP_POLICIES)}"
            )
        if self.resample_filter not in ("kaiser_best", "kaiser_fast"):
            raise DataError(
                f"unknown resample filter {self.resample_filter!r}: choose "
                "kaiser_best or kaiser_fast"
            )

    @property
    def max_samples(self):
        """int or None. `max_seconds` in samples."""
        if self.max_seconds is None:
            return None
        return int(round(float(self.max_seconds) * int(self.sample_rate)))

    def cache_settings(self):
        """dict. Every setting that changes the waveform, for cache keys."""
        return {
            "sample_rate": int(self.sample_rate),
            "max_samples": self.max_samples,
            "crop": self.crop,
            "normalize": bool(self.normalize),
            "resample": f"resampy:{self.resample_filter}",
        }


@dataclasses.dataclass(frozen=True)
class NoiseAugmentation:
    """Gaussian white noise on training audio, at an SNR relative to each clip.

    The noise standard deviation is `rms(clip) * 10 ** (-snr_db / 20)`, the
    RMS taken over the clip's real (cropped, unpadded) samples, so every
    clip gets the same signal-to-noise ratio whatever its loudness; a
    silent clip stays silent.

    Each epoch of training data holds every clip clean (if `keep_clean`)
    plus `copies` noisy versions of it:
    - `mode="online"`: fresh noise every epoch (waveform pipeline only).
    - `mode="cached"`: copy k of a clip always gets the same noise, seeded
      by `seed`, the clip's content hash and k, so the backbone's features
      for it can be cached (`FeatureCache`).

    Args:
        snr_db: float. Signal-to-noise ratio in dB; default 20.
        mode: str. `"online"` or `"cached"`.
        copies: int. Noisy versions of each clip per epoch, at least 1.
        keep_clean: bool. Also keep the clean clip in the training set.
        seed: int. Seed of the noise.

    Examples:
    ```python
    noise = NoiseAugmentation(snr_db=20.0, mode="online")
    train = make_dataset(train_clips, training=True, noise=noise)
    ```
    """

    snr_db: float = DEFAULT_SNR_DB
    mode: str = "online"
    copies: int = 1
    keep_clean: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.mode not in NOISE_MODES:
            raise DataError(
                f"unknown noise mode {self.mode!r}: choose one of "
                f"{', '.join(NOISE_MODES)}"
            )
        if int(self.copies) < 1:
            raise DataError(
                f"noise copies must be at least 1, got {self.copies}"
            )
        if not math.isfinite(float(self.snr_db)):
            raise DataError(
                f"noise snr_db must be a finite number, got {self.snr_db}"
            )

    @property
    def copy_indices(self):
        """tuple of int. Copy 0 is the clean clip, 1..copies are noisy."""
        first = 0 if self.keep_clean else 1
        return tuple(range(first, int(self.copies) + 1))


@dataclasses.dataclass(frozen=True, eq=False)
class Clip:
    """A loaded clip: its waveform at the pipeline's sample rate and label.

    Args:
        name: str. The file name (or any identifier).
        waveform: float32 array. Mono audio, uncropped.
        label: int. The class index.
        content_hash: str. SHA-256 of the source file's bytes (of the
            samples for in-memory audio); keys the feature cache and seeds
            cached noise.
        actor: int, str or None. The speaker (also as `speaker`).
        path: str or None. The source file.
        sample_rate: int. The waveform's sample rate.
    """

    name: str
    waveform: np.ndarray
    label: int
    content_hash: str
    actor: int = None
    path: str = None
    sample_rate: int = SAMPLE_RATE

    @property
    def speaker(self):
        """int, str or None. The speaker folds split by (`actor`)."""
        return self.actor

    @classmethod
    def from_array(
        cls, waveform, label, name="clip", actor=None, sample_rate=SAMPLE_RATE
    ):
        """A `Clip` from in-memory audio (already mono, at `sample_rate`)."""
        waveform = np.ascontiguousarray(waveform, np.float32)
        if waveform.ndim != 1:
            raise DataError(
                f"{name}: expected a 1D mono waveform, got shape {waveform.shape}"
            )
        if not np.all(np.isfinite(waveform)):
            raise DataError(
                f"{name}: waveform contains NaN or infinite samples"
            )
        digest = hashlib.sha256(
            f"array:{int(sample_rate)}:".encode() + waveform.tobytes()
        ).hexdigest()
        return cls(
            name, waveform, int(label), digest, actor, None, int(sample_rate)
        )


def _progress(iterable, enabled, **kwargs):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def _describe(item):
    path = getattr(item, "path", None) or item
    path = os.fspath(path)
    speaker = getattr(item, "speaker", None)
    if speaker is None:
        speaker = getattr(item, "actor", None)
    return path, getattr(item, "label", None), speaker


def load_clips(files, labels=None, preprocessing=None, progress=False, workers=None):
    """Load and resample clips into memory, failing early on a bad file.

    Files are decoded and resampled by a pool of threads (soundfile and
    resampy release the GIL), so a corpus loads on all cores.

    Args:
        files: iterable of `RavdessFile` (or anything with `path`, `label`
            and `speaker` or `actor`) or of paths.
        labels: sequence of int or None. Class indices (e.g. from
            `class_index`); taken from `RavdessFile.label` when None, so
            corpora with str labels must pass them.
        preprocessing: `Preprocessing` or None. Gives the sample rate and
            resample filter.
        progress: bool. Show a progress bar.
        workers: int or None. Decoding threads (default: the CPU count,
            at most 8); 1 decodes in this thread.

    Returns:
        A list of `Clip`, in the order of `files`.

    Raises:
        AudioError: a file cannot be used; the message names it (the first
            bad file in `files` order).
    """
    preprocessing = preprocessing or Preprocessing()
    files = list(files)
    if labels is not None and len(labels) != len(files):
        raise DataError(
            f"{count_noun(len(files), 'file')} but "
            f"{count_noun(len(labels), 'label')}"
        )
    described = []
    for i, item in enumerate(files):
        path, label, actor = _describe(item)
        if labels is not None:
            label = labels[i]
        if label is None:
            raise DataError(
                f"{path}: no label; pass labels= or RavdessFile objects"
            )
        if isinstance(label, str):
            raise DataError(
                f"{path}: label {label!r} is a name, not a class index; pass "
                "labels=[class_index(clip, label_names) for clip in files]"
            )
        described.append((path, int(label), actor))

    def load(entry):
        path, label, actor = entry
        data = read_bytes(path)
        waveform = decode_audio(
            data,
            path,
            preprocessing.sample_rate,
            filter=preprocessing.resample_filter,
        )
        return Clip(
            os.path.basename(path),
            waveform,
            label,
            content_hash(data),
            actor,
            path,
            int(preprocessing.sample_rate),
        )

    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    workers = max(1, min(int(workers), len(described) or 1))
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        # `map` yields in order and re-raises the first failure in order.
        loaded = pool.map(load, described) if workers > 1 else map(load, described)
        return list(_progress(loaded, progress, desc="loading audio", unit="clip",
                              total=len(described)))


def crop_waveform(waveform, max_samples, policy="center"):
    """Crop a waveform to at most `max_samples` samples.

    Args:
        waveform: 1D array.
        max_samples: int or None. The maximum length; None keeps it whole.
        policy: str. `"center"` keeps the middle, `"start"` the beginning.
    """
    if max_samples is None or len(waveform) <= max_samples:
        return waveform
    if policy == "start":
        start = 0
    elif policy == "center":
        start = (len(waveform) - max_samples) // 2
    else:
        raise DataError(f"unknown crop policy {policy!r}")
    return waveform[start : start + max_samples]


def noise_std(waveform, snr_db):
    """float. The noise standard deviation giving `snr_db` for this clip."""
    return rms(waveform) * 10.0 ** (-float(snr_db) / 20.0)


def noise_seed(seed, clip_hash, copy_index):
    """The numpy seed of cached noise copy `copy_index` of a clip.

    Depends only on the clip's content, not on its position in a list, so
    copies are the same in every fold.
    """
    return [int(seed) & 0xFFFFFFFF, int(clip_hash[:15], 16), int(copy_index)]


def add_noise(waveform, snr_db, rng):
    """Add Gaussian white noise at `snr_db` below the clip's RMS.

    Args:
        waveform: 1D float array (the real samples only).
        snr_db: float. Signal-to-noise ratio in dB.
        rng: `numpy.random.Generator`.

    Returns:
        A float32 array.
    """
    waveform = np.asarray(waveform, np.float32)
    std = noise_std(waveform, snr_db)
    noise = rng.standard_normal(waveform.shape, dtype=np.float32) * np.float32(
        std
    )
    return waveform + noise


def prepare_waveform(clip, preprocessing=None, noise=None, copy_index=0):
    """The waveform the backbone sees for one clip and one noise copy.

    Crop, then (for `copy_index` >= 1) add cached noise copy
    `copy_index`, then normalise if asked. The feature cache and the
    `"cached"` noise mode both use this, so they agree sample for sample.

    Args:
        clip: `Clip`.
        preprocessing: `Preprocessing` or None.
        noise: `NoiseAugmentation` or None. Needed when `copy_index` >= 1.
        copy_index: int. 0 for the clean clip.

    Returns:
        A 1D float32 array.
    """
    preprocessing = preprocessing or Preprocessing()
    if clip.sample_rate != preprocessing.sample_rate:
        raise DataError(
            f"{clip.name}: loaded at {clip.sample_rate} Hz but preprocessing "
            f"wants {preprocessing.sample_rate} Hz; load it again"
        )
    waveform = crop_waveform(
        clip.waveform, preprocessing.max_samples, preprocessing.crop
    )
    if copy_index:
        if noise is None:
            raise DataError("noise copy requested without a NoiseAugmentation")
        rng = np.random.default_rng(
            noise_seed(noise.seed, clip.content_hash, copy_index)
        )
        waveform = add_noise(waveform, noise.snr_db, rng)
    if preprocessing.normalize:
        return normalize_waveform(waveform)
    return np.asarray(waveform, np.float32)


def _check_clips(clips):
    clips = list(clips)
    if not clips:
        raise DataError("no clips to make a dataset from")
    for clip in clips:
        if not isinstance(clip, Clip):
            raise DataError(
                f"expected Clip objects (see load_clips), got {type(clip).__name__}"
            )
    return clips
