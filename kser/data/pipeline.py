"""From clips to batches: crop/pad, noise augmentation, shuffling, tf.data.

Batches are `({"waveform": float32 [batch, samples], "padding_mask": int32
[batch, samples]}, label int32 [batch])` at 16 kHz, padding_mask 1 for real
samples and 0 for the zeros padded at the end, ready for `HubertBackbone`.

TensorFlow is imported inside the functions that build datasets, never at
module import: importing TensorFlow loads Keras, and Keras must not be
loaded before the user has chosen its backend.
"""

import dataclasses
import hashlib
import math
import os

import numpy as np

from kser.data.audio import NORMALIZE_EPSILON
from kser.data.audio import RESAMPLE_FILTER
from kser.data.audio import SAMPLE_RATE
from kser.data.audio import content_hash
from kser.data.audio import decode_audio
from kser.data.audio import normalize_waveform
from kser.data.audio import read_bytes
from kser.data.audio import rms
from kser.errors import DataError

# RAVDESS speech clips last about 3 to 5 s, so 6 s keeps every clip whole
# while bounding memory and compute for longer user audio.
DEFAULT_MAX_SECONDS = 6.0
# White noise 20 dB below each clip's RMS: clearly audible, speech stays
# intelligible. The paper says only "a small amount" of noise.
DEFAULT_SNR_DB = 20.0
CROP_POLICIES = ("center", "start")
NOISE_MODES = ("online", "cached")
# Length-grouped batching sorts pools of this many batches by length (as
# transformers' `group_by_length` "megabatches"): large enough that a batch
# holds clips of nearly one length, small enough that the pools of an epoch
# still mix.
GROUP_POOL_BATCHES = 50


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
        if self.max_seconds is not None and not float(self.max_seconds) > 0:
            raise DataError(
                f"max_seconds must be positive or None, got {self.max_seconds}"
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
        actor: int or None. The speaker.
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
    return path, getattr(item, "label", None), getattr(item, "actor", None)


def load_clips(files, labels=None, preprocessing=None, progress=False, workers=None):
    """Load and resample clips into memory, failing early on a bad file.

    Files are decoded and resampled by a pool of threads (soundfile and
    resampy release the GIL), so a corpus loads on all cores.

    Args:
        files: iterable of `RavdessFile` (or anything with `path`, `label`
            and `actor`) or of paths.
        labels: sequence of int or None. Labels for plain paths; taken from
            `RavdessFile.label` when None.
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
        raise DataError(f"{len(files)} files but {len(labels)} labels")
    described = []
    for i, item in enumerate(files):
        path, label, actor = _describe(item)
        if labels is not None:
            label = labels[i]
        if label is None:
            raise DataError(
                f"{path}: no label; pass labels= or RavdessFile objects"
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


def _tf_normalize(tf, waveform):
    mean = tf.reduce_mean(waveform)
    centered = waveform - mean
    var = tf.reduce_mean(tf.square(centered))
    return centered / tf.sqrt(var + NORMALIZE_EPSILON)


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


def length_grouped_order(lengths, batch_size, seed=0, epoch=0,
                         pool_batches=GROUP_POOL_BATCHES):
    """One epoch's element order for length-grouped batches.

    The elements are shuffled, cut into pools of `pool_batches * batch_size`,
    each pool is sorted by length (a stable sort, so equal lengths keep
    their shuffled order) and cut into batches, and the full batches are
    shuffled. Consecutive runs of `batch_size` elements of the result are
    the batches; only the last one can be short. A batch then holds clips
    of nearly equal length, so padding it to its longest clip wastes little.

    Args:
        lengths: sequence of int. Length of each element (any unit).
        batch_size: int. Elements per batch.
        seed: int. Seed of the run.
        epoch: int. Seed of this epoch (a fresh draw every epoch).
        pool_batches: int. Batches per sorted pool.

    Returns:
        int64 array, a permutation of `range(len(lengths))`.
    """
    lengths = np.asarray(lengths, np.int64)
    n = len(lengths)
    rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, int(epoch) & 0x7FFFFFFF])
    order = rng.permutation(n)
    pool = max(1, int(pool_batches)) * int(batch_size)
    order = np.concatenate(
        [
            chunk[np.argsort(lengths[chunk], kind="stable")]
            for chunk in np.split(order, np.arange(pool, n, pool))
        ]
    ) if n else order
    full = n // int(batch_size)
    batches = order[: full * batch_size].reshape(full, batch_size)
    batches = batches[rng.permutation(full)]
    return np.concatenate([batches.reshape(-1), order[full * batch_size :]]).astype(
        np.int64
    )


def _grouped_positions(tf, lengths, batch_size, seed):
    """A dataset of element positions in length-grouped order, drawn anew
    every epoch (every iteration of the dataset), reproducibly from `seed`."""
    lengths = np.asarray(lengths, np.int64)
    n = len(lengths)
    draws = tf.data.Dataset.random(
        seed=(int(seed) * 7_919 + 104_729) & 0x7FFFFFFF,
        rerandomize_each_iteration=True,
    ).take(1)

    def order(draw):
        return length_grouped_order(lengths, batch_size, seed, int(draw))

    def epoch_order(draw):
        positions = tf.numpy_function(order, [draw], tf.int64, stateful=False)
        return tf.ensure_shape(positions, [n])

    return draws.map(epoch_order).unbatch()


def _pad_frames_to_multiple(tf, x, key, mask_key, multiple):
    """Pad a batch's time axis (axis 1) with zeros up to a multiple."""
    if not multiple:
        return x
    x = dict(x)
    frames = tf.shape(x[mask_key])[1]
    pad = (multiple - frames % multiple) % multiple
    x[mask_key] = tf.pad(x[mask_key], [[0, 0], [0, pad]])
    rank = len(x[key].shape)
    x[key] = tf.pad(x[key], [[0, 0], [0, pad]] + [[0, 0]] * (rank - 2))
    return x


def make_dataset(
    clips,
    batch_size=8,
    training=False,
    preprocessing=None,
    noise=None,
    shuffle=None,
    seed=0,
    bucket_boundaries=None,
    pad_to_max=False,
    drop_remainder=False,
    group_by_length=False,
    length_fn=None,
    pad_multiple=None,
):
    """A batched `tf.data.Dataset` of waveforms and labels.

    Each element is `({"waveform": float32 [batch, samples],
    "padding_mask": int32 [batch, samples]}, label int32 [batch])`, padded
    with zeros at the end.

    Args:
        clips: sequence of `Clip` (see `load_clips`).
        batch_size: int. Clips per batch.
        training: bool. Training data: shuffled by default, and the only
            data noise may be added to.
        preprocessing: `Preprocessing` or None (defaults).
        noise: `NoiseAugmentation` or None. Requires `training=True`:
            validation and test data are never augmented.
        shuffle: bool or None. Shuffle every epoch; defaults to `training`.
        seed: int. Seed of the shuffling (and of online noise, with
            `noise.seed`).
        bucket_boundaries: sequence of float or None. Clip lengths in
            seconds at which to cut length buckets: clips of similar length
            are batched together and padded to their bucket's upper bound
            (less padding, few distinct shapes for XLA). None pads each
            batch to its longest clip.
        pad_to_max: bool. Pad every batch to `preprocessing.max_seconds`
            (static shapes, e.g. for TPUs). Ignored with bucketing.
        drop_remainder: bool. Drop a last, smaller batch.
        group_by_length: bool. With shuffling, batch clips of nearly equal
            length together (see `length_grouped_order`): each epoch is
            still a fresh shuffle, but padding a batch to its longest clip
            wastes little. Batch sizes stay `batch_size` (only the last
            batch can be short). `feature_dataset` does the same with the
            same seed, so cached-feature and end-to-end training see the
            same batches when `length_fn` maps samples to frames.
        length_fn: callable or None. Maps an int64 array of clip lengths in
            samples (after cropping) to the lengths to group by, e.g.
            `backbone.num_frames`. None groups by samples.
        pad_multiple: int or None. Pad each batch further, up to a multiple
            of this many samples: fewer distinct shapes to compile.

    Returns:
        A `tf.data.Dataset`, prefetched.

    Examples:
    ```python
    index = index_ravdess("data/ravdess")
    train_files, val_files, _ = paper_folds()[0].split(index)
    train = make_dataset(
        load_clips(train_files), batch_size=8, training=True,
        noise=NoiseAugmentation(snr_db=20.0),
    )
    val = make_dataset(load_clips(val_files), batch_size=8)
    ```
    """
    import tensorflow as tf

    clips = _check_clips(clips)
    preprocessing = preprocessing or Preprocessing()
    if noise is not None and not training:
        raise DataError(
            "noise augmentation applies to training data only; pass "
            "training=True, or noise=None for validation and test data"
        )
    if shuffle is None:
        shuffle = training
    max_samples = preprocessing.max_samples
    if pad_to_max and max_samples is None:
        raise DataError("pad_to_max needs max_seconds")
    if group_by_length and bucket_boundaries:
        raise DataError("choose group_by_length or bucket_boundaries, not both")

    cropped = []
    for clip in clips:
        if clip.sample_rate != preprocessing.sample_rate:
            raise DataError(
                f"{clip.name}: loaded at {clip.sample_rate} Hz but preprocessing "
                f"wants {preprocessing.sample_rate} Hz; load it again"
            )
        cropped.append(
            crop_waveform(clip.waveform, max_samples, preprocessing.crop)
        )
    lengths = np.array([len(w) for w in cropped], np.int64)
    if np.any(lengths == 0):
        bad = clips[int(np.argmin(lengths))].name
        raise DataError(f"{bad}: empty waveform")
    waveforms = tf.RaggedTensor.from_row_lengths(
        np.concatenate(cropped).astype(np.float32), lengths
    )
    labels = tf.constant([clip.label for clip in clips], tf.int32)

    copies = noise.copy_indices if noise is not None else (0,)
    clip_index = np.repeat(np.arange(len(clips), dtype=np.int64), len(copies))
    copy_index = np.tile(np.asarray(copies, np.int64), len(clips))
    if shuffle and group_by_length:
        keys = lengths if length_fn is None else np.asarray(length_fn(lengths))
        clip_index_t = tf.constant(clip_index)
        copy_index_t = tf.constant(copy_index)
        ds = _grouped_positions(tf, keys[clip_index], batch_size, seed).map(
            lambda j: (clip_index_t[j], copy_index_t[j])
        )
    else:
        ds = tf.data.Dataset.from_tensor_slices((clip_index, copy_index))
        if shuffle:
            ds = ds.shuffle(
                len(clip_index), seed=seed, reshuffle_each_iteration=True
            )

    normalize = bool(preprocessing.normalize)
    if noise is not None and noise.mode == "online":
        # One int64 per element, different every epoch, reproducible: the
        # seed of that element's noise.
        draws = tf.data.Dataset.random(
            seed=(int(seed) * 1_000_003 + int(noise.seed)) & 0x7FFFFFFF,
            rerandomize_each_iteration=True,
        )
        ds = tf.data.Dataset.zip((ds, draws))
        noise_factor = 10.0 ** (-float(noise.snr_db) / 20.0)

        def element(pair, draw):
            i, k = pair
            w = waveforms[i]
            std = tf.sqrt(tf.reduce_mean(tf.square(w))) * noise_factor
            eps = tf.random.stateless_normal(
                tf.shape(w), seed=tf.stack([draw, k]), dtype=tf.float32
            )
            w = tf.where(k > 0, w + std * eps, w)
            return finish(w, labels[i])

    elif noise is not None:
        np_noise = noise

        def cached_copy(i, k):
            clip = clips[int(i)]
            w = cropped[int(i)]
            rng = np.random.default_rng(
                noise_seed(np_noise.seed, clip.content_hash, int(k))
            )
            return add_noise(w, np_noise.snr_db, rng)

        def element(i, k):
            w = tf.cond(
                k > 0,
                lambda: tf.numpy_function(
                    cached_copy, [i, k], tf.float32, stateful=False
                ),
                lambda: waveforms[i],
            )
            w = tf.ensure_shape(w, [None])
            return finish(w, labels[i])

    else:

        def element(i, k):
            return finish(waveforms[i], labels[i])

    def finish(w, label):
        if normalize:
            w = _tf_normalize(tf, w)
        mask = tf.ones_like(w, tf.int32)
        return {"waveform": w, "padding_mask": mask}, label

    ds = ds.map(
        element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    padding_values = ({"waveform": 0.0, "padding_mask": 0}, 0)
    if bucket_boundaries:
        rate = preprocessing.sample_rate
        bounds = sorted(
            {int(round(float(b) * rate)) for b in bucket_boundaries}
        )
        longest = int(lengths.max())
        bounds = [b for b in bounds if b < longest] + [longest]
        # Elements must be shorter than the last boundary; each batch is
        # padded to (its bucket's boundary - 1).
        bounds = [b + 1 for b in bounds]
        ds = ds.bucket_by_sequence_length(
            lambda x, y: tf.shape(x["waveform"])[0],
            bucket_boundaries=bounds,
            bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
            padded_shapes=({"waveform": [None], "padding_mask": [None]}, []),
            padding_values=padding_values,
            pad_to_bucket_boundary=True,
            drop_remainder=drop_remainder,
        )
    else:
        size = max_samples if pad_to_max else None
        ds = ds.padded_batch(
            batch_size,
            padded_shapes=({"waveform": [size], "padding_mask": [size]}, []),
            padding_values=padding_values,
            drop_remainder=drop_remainder,
        )
        if pad_multiple and not pad_to_max:
            multiple = int(pad_multiple)
            ds = ds.map(
                lambda x, y: (
                    _pad_frames_to_multiple(tf, x, "waveform", "padding_mask", multiple),
                    y,
                )
            )
    return ds.prefetch(tf.data.AUTOTUNE)


def fold_datasets(
    files,
    fold,
    batch_size=8,
    preprocessing=None,
    noise=None,
    seed=0,
    bucket_boundaries=None,
    pad_to_max=False,
    progress=False,
):
    """Train, validation and test datasets of one fold.

    Noise (if any) goes on the training split only; validation and test
    are never shuffled nor augmented. Pass clips loaded once with
    `load_clips` to build many folds without decoding the audio again.

    Args:
        files: a `RavdessIndex`, a list of `RavdessFile`, or a list of
            `Clip` (already loaded; they need `actor`).
        fold: `Fold`. Which actors go where.
        batch_size: int. Clips per batch.
        preprocessing: `Preprocessing` or None.
        noise: `NoiseAugmentation` or None. Training noise.
        seed: int. Shuffling seed.
        bucket_boundaries: sequence of float or None. See `make_dataset`.
        pad_to_max: bool. See `make_dataset`.
        progress: bool. Show a progress bar while loading audio.

    Returns:
        A tuple `(train, validation, test)` of `tf.data.Dataset`;
        `validation` is None when the fold has no validation actors.
    """
    preprocessing = preprocessing or Preprocessing()
    train_files, val_files, test_files = fold.split(files)
    for split, members in (("train", train_files), ("test", test_files)):
        if not members:
            raise DataError(f"{fold.name}: no {split} clips in the index")
    common = dict(
        batch_size=batch_size,
        preprocessing=preprocessing,
        bucket_boundaries=bucket_boundaries,
        pad_to_max=pad_to_max,
    )

    def clips_of(members):
        if all(isinstance(member, Clip) for member in members):
            return members
        return load_clips(
            members, preprocessing=preprocessing, progress=progress
        )

    train = make_dataset(
        clips_of(train_files),
        training=True,
        noise=noise,
        seed=seed,
        **common,
    )
    val = None
    if val_files:
        val = make_dataset(clips_of(val_files), **common)
    test = make_dataset(clips_of(test_files), **common)
    return train, val, test


def feature_dataset(
    features,
    labels,
    batch_size=8,
    shuffle=False,
    seed=0,
    drop_remainder=False,
    group_by_length=False,
    pad_multiple=None,
):
    """Batches of cached backbone features for training a head.

    Args:
        features: sequence of float arrays, one per clip: `[frames, hidden]`
            (last layer) or `[layers, frames, hidden]` (several layers), as
            `FeatureCache` returns them.
        labels: sequence of int. One per clip.
        batch_size: int. Clips per batch.
        shuffle: bool. Shuffle every epoch.
        seed: int. Shuffling seed.
        drop_remainder: bool. Drop a last, smaller batch.
        group_by_length: bool. With shuffling, batch clips of nearly equal
            frame counts together (see `length_grouped_order`; the same
            batches as `make_dataset(..., group_by_length=True,
            length_fn=backbone.num_frames)` with the same seed).
        pad_multiple: int or None. Pad each batch's frames further, up to a
            multiple of this: fewer distinct shapes to compile.

    Returns:
        A `tf.data.Dataset` of `({"sequence_output": [batch, frames, hidden]
        or "hidden_states": [batch, layers, frames, hidden],
        "frame_padding_mask": bool [batch, frames]}, label int32)`, named as
        the backbone's outputs so a head takes either.
    """
    import tensorflow as tf

    features = [np.asarray(f) for f in features]
    if not features:
        raise DataError("no features to make a dataset from")
    if len(features) != len(labels):
        raise DataError(
            f"{len(features)} feature arrays but {len(labels)} labels"
        )
    ndim = features[0].ndim
    if ndim not in (2, 3) or any(f.ndim != ndim for f in features):
        raise DataError(
            "features must all be [frames, hidden] or all [layers, frames, hidden]"
        )
    key = "sequence_output" if ndim == 2 else "hidden_states"
    if ndim == 3:
        # Ragged rows must be the leading axis: [frames, layers, hidden].
        features = [np.transpose(f, (1, 0, 2)) for f in features]
    # Rows are fetched from this list by index (no copy of the features:
    # a concatenated tensor captured by the map function would hold the
    # features twice more, which for a Table I fold is gigabytes).
    dtype = np.result_type(*[f.dtype for f in features])
    rows = [np.ascontiguousarray(f, dtype=dtype) for f in features]
    value_dtype = tf.as_dtype(dtype)
    label_tensor = tf.constant(np.asarray(labels, np.int32))
    inner = list(rows[0].shape[1:])

    if shuffle and group_by_length:
        frames = [row.shape[0] for row in rows]
        ds = _grouped_positions(tf, frames, batch_size, seed)
    else:
        ds = tf.data.Dataset.range(len(rows))
        if shuffle:
            ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)

    def fetch(i):
        return rows[int(i)]

    def element(i):
        x = tf.numpy_function(fetch, [i], value_dtype, stateful=False)
        x = tf.ensure_shape(x, [None] + inner)
        return (
            {key: x, "frame_padding_mask": tf.ones([tf.shape(x)[0]], tf.bool)},
            label_tensor[i],
        )

    ds = ds.map(
        element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    ds = ds.padded_batch(
        batch_size,
        padded_shapes=({key: [None] + inner, "frame_padding_mask": [None]}, []),
        padding_values=(
            {key: tf.constant(0, value_dtype), "frame_padding_mask": False},
            0,
        ),
        drop_remainder=drop_remainder,
    )
    if pad_multiple:
        multiple = int(pad_multiple)
        ds = ds.map(
            lambda x, y: (
                _pad_frames_to_multiple(tf, x, key, "frame_padding_mask", multiple),
                y,
            )
        )
    if ndim == 3:

        def to_layers_first(x, y):
            x = dict(x)
            x[key] = tf.transpose(x[key], (0, 2, 1, 3))
            return x, y

        ds = ds.map(to_layers_first)
    return ds.prefetch(tf.data.AUTOTUNE)
