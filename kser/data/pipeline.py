"""From clips to batches: `tf.data` datasets of waveforms or cached features.

Batches are `({"waveform": float32 [batch, samples], "padding_mask": int32
[batch, samples]}, label int32 [batch])` at 16 kHz, padding_mask 1 for real
samples and 0 for the zeros padded at the end, ready for a speech-encoder backbone.

Clips, preprocessing and noise are in `clips`, batch order and padding in
`batching`; every name this module had is still importable from it.

TensorFlow is imported inside the functions that build datasets, never at
module import: importing TensorFlow loads Keras, and Keras must not be
loaded before the user has chosen its backend.
"""

import numpy as np

from kser.data.audio import NORMALIZE_EPSILON  # noqa: F401
from kser.data.audio import RESAMPLE_FILTER  # noqa: F401
from kser.data.audio import SAMPLE_RATE  # noqa: F401
from kser.data.audio import content_hash  # noqa: F401
from kser.data.audio import decode_audio  # noqa: F401
from kser.data.audio import read_bytes  # noqa: F401
from kser.data.audio import rms  # noqa: F401
from kser.data.batching import GROUP_POOL_BATCHES  # noqa: F401
from kser.data.batching import PAD_FRAMES
from kser.data.batching import PAD_SECONDS
from kser.data.batching import grouped_positions
from kser.data.batching import length_grouped_order  # noqa: F401
from kser.data.batching import pad_time_to_multiple
from kser.data.batching import resolve_pad_multiple
from kser.data.clips import CROP_POLICIES  # noqa: F401
from kser.data.clips import DEFAULT_MAX_SECONDS  # noqa: F401
from kser.data.clips import DEFAULT_SNR_DB  # noqa: F401
from kser.data.clips import NOISE_MODES  # noqa: F401
from kser.data.clips import Clip
from kser.data.clips import NoiseAugmentation  # noqa: F401
from kser.data.clips import Preprocessing
from kser.data.clips import _check_clips
from kser.data.clips import _describe  # noqa: F401
from kser.data.clips import _progress  # noqa: F401
from kser.data.clips import add_noise
from kser.data.clips import crop_waveform
from kser.data.clips import load_clips
from kser.data.clips import noise_seed
from kser.data.clips import noise_std  # noqa: F401
from kser.data.clips import prepare_waveform  # noqa: F401
from kser.data.corpora.base import class_index
from kser.errors import DataError
from kser.models.waveform import normalize_waveform
from kser.models.waveform import ops_namespace

# The names these helpers had when they lived here.
_grouped_positions = grouped_positions
_pad_frames_to_multiple = pad_time_to_multiple


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
    pad_multiple="auto",
):
    """A batched `tf.data.Dataset` of waveforms and labels.

    Each element is `({"waveform": float32 [batch, samples],
    "padding_mask": int32 [batch, samples]}, label int32 [batch])`, padded
    with zeros at the end. By default each batch is padded to its longest
    clip rounded up to a multiple of 0.5 s (no further than
    `preprocessing.max_seconds`), so an epoch has few distinct shapes (at
    most 12 lengths with the 6 s crop) and XLA compiles few programs.

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
        pad_multiple: `"auto"`, int or None. Pad each batch further, up to
            a multiple of this many samples: fewer distinct shapes to
            compile. `"auto"` (default): `PAD_SECONDS` (0.5 s) of samples,
            capped at `preprocessing.max_samples`. None pads each batch to
            its longest clip only (one shape per distinct batch length).
            Ignored with `pad_to_max` or `bucket_boundaries`.

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
    if shuffle is None:
        shuffle = training
    _check_dataset_options(
        training, noise, preprocessing, pad_to_max, group_by_length,
        bucket_boundaries,
    )
    maximum = preprocessing.max_samples if pad_multiple == "auto" else None
    pad_multiple = resolve_pad_multiple(
        pad_multiple, round(PAD_SECONDS * preprocessing.sample_rate)
    )
    cropped, lengths = _crop_clips(clips, preprocessing)
    copies = noise.copy_indices if noise is not None else (0,)
    ds = _element_order(
        tf, lengths, copies, shuffle, group_by_length, length_fn, batch_size,
        seed,
    )
    ds = _load_elements(
        tf, ds, clips, cropped, lengths, noise, preprocessing.normalize, seed
    )
    return _batch_waveforms(
        tf, ds, lengths, batch_size, preprocessing, bucket_boundaries,
        pad_to_max, drop_remainder, pad_multiple, maximum,
    ).prefetch(tf.data.AUTOTUNE)


def _check_dataset_options(
    training, noise, preprocessing, pad_to_max, group_by_length,
    bucket_boundaries,
):
    if noise is not None and not training:
        raise DataError(
            "noise augmentation applies to training data only; pass "
            "training=True, or noise=None for validation and test data"
        )
    if pad_to_max and preprocessing.max_samples is None:
        raise DataError("pad_to_max needs max_seconds")
    if group_by_length and bucket_boundaries:
        raise DataError("choose group_by_length or bucket_boundaries, not both")


def _crop_clips(clips, preprocessing):
    """The cropped waveforms of the clips and their lengths in samples."""
    cropped = []
    for clip in clips:
        if clip.sample_rate != preprocessing.sample_rate:
            raise DataError(
                f"{clip.name}: loaded at {clip.sample_rate} Hz but preprocessing "
                f"wants {preprocessing.sample_rate} Hz; load it again"
            )
        cropped.append(
            crop_waveform(clip.waveform, preprocessing.max_samples, preprocessing.crop)
        )
    lengths = np.array([len(w) for w in cropped], np.int64)
    if np.any(lengths == 0):
        bad = clips[int(np.argmin(lengths))].name
        raise DataError(f"{bad}: empty waveform")
    return cropped, lengths


def _element_order(
    tf, lengths, copies, shuffle, group_by_length, length_fn, batch_size, seed
):
    """A dataset of `(clip index, copy index)` pairs in epoch order."""
    clip_index = np.repeat(np.arange(len(lengths), dtype=np.int64), len(copies))
    copy_index = np.tile(np.asarray(copies, np.int64), len(lengths))
    if shuffle and group_by_length:
        keys = lengths if length_fn is None else np.asarray(length_fn(lengths))
        clip_index_t = tf.constant(clip_index)
        copy_index_t = tf.constant(copy_index)
        return grouped_positions(tf, keys[clip_index], batch_size, seed).map(
            lambda j: (clip_index_t[j], copy_index_t[j])
        )
    ds = tf.data.Dataset.from_tensor_slices((clip_index, copy_index))
    if shuffle:
        ds = ds.shuffle(len(clip_index), seed=seed, reshuffle_each_iteration=True)
    return ds


def _load_elements(tf, ds, clips, cropped, lengths, noise, normalize, seed):
    """Map `(clip, copy)` pairs to `({"waveform", "padding_mask"}, label)`:
    the clean clip, or a noisy copy (fresh noise online, or the cached
    copy `prepare_waveform` makes), normalised if asked."""
    waveforms = tf.RaggedTensor.from_row_lengths(
        np.concatenate(cropped).astype(np.float32), lengths
    )
    labels = tf.constant([clip.label for clip in clips], tf.int32)
    ops = ops_namespace("tf") if normalize else None

    def finish(w, label):
        if normalize:
            w = normalize_waveform(w, None, xp=ops)
        mask = tf.ones_like(w, tf.int32)
        return {"waveform": w, "padding_mask": mask}, label

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

        def cached_copy(i, k):
            rng = np.random.default_rng(
                noise_seed(noise.seed, clips[int(i)].content_hash, int(k))
            )
            return add_noise(cropped[int(i)], noise.snr_db, rng)

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

    return ds.map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _batch_waveforms(
    tf, ds, lengths, batch_size, preprocessing, bucket_boundaries, pad_to_max,
    drop_remainder, pad_multiple, maximum=None,
):
    """Pad elements into batches: by length bucket, to the longest clip of
    each batch (then up to `pad_multiple`, at most `maximum` samples), or
    to `max_seconds`."""
    padding_values = ({"waveform": 0.0, "padding_mask": 0}, 0)
    if bucket_boundaries:
        rate = preprocessing.sample_rate
        bounds = sorted({int(round(float(b) * rate)) for b in bucket_boundaries})
        longest = int(lengths.max())
        bounds = [b for b in bounds if b < longest] + [longest]
        # Elements must be shorter than the last boundary; each batch is
        # padded to (its bucket's boundary - 1).
        bounds = [b + 1 for b in bounds]
        return ds.bucket_by_sequence_length(
            lambda x, y: tf.shape(x["waveform"])[0],
            bucket_boundaries=bounds,
            bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
            padded_shapes=({"waveform": [None], "padding_mask": [None]}, []),
            padding_values=padding_values,
            pad_to_bucket_boundary=True,
            drop_remainder=drop_remainder,
        )
    size = preprocessing.max_samples if pad_to_max else None
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
                pad_time_to_multiple(
                    tf, x, "waveform", "padding_mask", multiple, maximum
                ),
                y,
            )
        )
    return ds


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
    label_names=None,
    pad_multiple="auto",
    allow_missing_speakers=False,
):
    """Train, validation and test datasets of one fold.

    Noise (if any) goes on the training split only; validation and test
    are never shuffled nor augmented. Pass clips loaded once with
    `load_clips` to build many folds without decoding the audio again.
    Batches are padded to multiples of 0.5 s up to the crop by default (few
    distinct shapes, so jax and tensorflow compile few programs; padding
    is masked). A validation or test speaker of the fold with no clip is an
    error unless `allow_missing_speakers=True`.

    Args:
        files: a corpus index (`load_corpus`, `index_ravdess`), a list of
            its clips, or a list of `Clip` (already loaded; they need a
            speaker).
        fold: `Fold`. Which speakers go where.
        batch_size: int. Clips per batch.
        preprocessing: `Preprocessing` or None.
        noise: `NoiseAugmentation` or None. Training noise.
        seed: int. Shuffling seed.
        bucket_boundaries: sequence of float or None. See `make_dataset`.
        pad_to_max: bool. See `make_dataset`.
        progress: bool. Show a progress bar while loading audio.
        label_names: list of str or None. Class names in label order; by
            default the index's `label_names` (clips of a list need either
            this or integer labels).
        pad_multiple: `"auto"`, int or None. See `make_dataset`.
        allow_missing_speakers: bool. Build the datasets even if some
            validation or test speakers of the fold have no clips (see
            `kser.data.folds.check_fold_speakers`).

    Returns:
        A tuple `(train, validation, test)` of `tf.data.Dataset`;
        `validation` is None when the fold has no validation actors.

    Raises:
        DataError: a validation or test speaker has no clips (without
            `allow_missing_speakers`), or the train or test split is empty.
    """
    from kser.data.folds import check_fold_speakers

    preprocessing = preprocessing or Preprocessing()
    check_fold_speakers(fold, files, allow_missing=allow_missing_speakers)
    train_files, val_files, test_files = fold.split(files)
    for split, members in (("train", train_files), ("test", test_files)):
        if not members:
            raise DataError(f"{fold.name}: no {split} clips in the index")
    common = dict(
        batch_size=batch_size,
        preprocessing=preprocessing,
        bucket_boundaries=bucket_boundaries,
        pad_to_max=pad_to_max,
        pad_multiple=pad_multiple,
    )

    if label_names is None:
        label_names = getattr(files, "label_names", None)

    def clips_of(members):
        if all(isinstance(member, Clip) for member in members):
            return members
        labels = None
        if label_names is not None:
            labels = [class_index(member, label_names) for member in members]
        return load_clips(
            members, labels=labels, preprocessing=preprocessing,
            progress=progress,
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
    pad_multiple="auto",
):
    """Batches of cached backbone features for training a head.

    By default each batch's frames are padded to a multiple of 25 (0.5 s
    of HuBERT frames), so an epoch has few distinct shapes to compile.

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
        pad_multiple: `"auto"`, int or None. Pad each batch's frames
            further, up to a multiple of this: fewer distinct shapes to
            compile. `"auto"` (default): `PAD_FRAMES` (25). None pads each
            batch to its longest clip only.

    Returns:
        A `tf.data.Dataset` of `({"sequence_output": [batch, frames, hidden]
        or "hidden_states": [batch, layers, frames, hidden],
        "frame_padding_mask": bool [batch, frames]}, label int32)`, named as
        the backbone's outputs so a head takes either.
    """
    import tensorflow as tf

    pad_multiple = resolve_pad_multiple(pad_multiple, PAD_FRAMES)
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
        ds = grouped_positions(tf, frames, batch_size, seed)
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
                pad_time_to_multiple(tf, x, key, "frame_padding_mask", multiple),
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
