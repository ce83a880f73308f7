"""Batch order and padding shared by the waveform and feature datasets:
length-grouped epochs, and padding a batch's time axis to a multiple.

The datasets pad every batch to a multiple of `PAD_SECONDS` by default
(`pad_multiple="auto"`), so an epoch has few distinct batch shapes: with
the 6 s crop at most 12 lengths, where padding each batch to its own
longest clip gave XLA (jax, tensorflow with jit) one new program to compile
per batch, and enough compiled programs exhaust the process's memory
mappings. Padding is masked (`padding_mask`, `frame_padding_mask`).

TensorFlow is passed in by the dataset builders (`tf` arguments), never
imported here.
"""

import numpy as np

from kser.errors import DataError

# Length-grouped batching sorts pools of this many batches by length (as
# transformers' `group_by_length` "megabatches"): large enough that a batch
# holds clips of nearly one length, small enough that the pools of an epoch
# still mix.
GROUP_POOL_BATCHES = 50

# Default padding grid of batches, in seconds: waveform batches are padded
# to a multiple of this many samples, feature batches to a multiple of
# `PAD_FRAMES` (the same 0.5 s at HuBERT's 50 frames per second; `kser
# train` pads cached features to 25 frames too).
PAD_SECONDS = 0.5
PAD_FRAMES = 25


def resolve_pad_multiple(pad_multiple, default):
    """int or None. A dataset's `pad_multiple` option: `"auto"` is `default`,
    None or 0 no padding beyond a batch's longest element."""
    if isinstance(pad_multiple, str):
        if pad_multiple != "auto":
            raise DataError(
                f"pad_multiple must be 'auto', None or a positive int, got "
                f"{pad_multiple!r}"
            )
        return int(default)
    if pad_multiple is None or int(pad_multiple) == 0:
        return None
    if int(pad_multiple) < 0:
        raise DataError(f"pad_multiple must not be negative, got {pad_multiple}")
    return int(pad_multiple)


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


def grouped_positions(tf, lengths, batch_size, seed):
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


def pad_time_to_multiple(tf, x, key, mask_key, multiple, maximum=None):
    """Pad a batch's time axis (axis 1) with zeros up to a multiple.

    With `maximum` (e.g. the crop length), a batch is padded no further
    than `maximum` (nor cut if already longer): the longest batches of a
    cropped corpus all get that one length.
    """
    if not multiple:
        return x
    x = dict(x)
    frames = tf.shape(x[mask_key])[1]
    pad = (multiple - frames % multiple) % multiple
    if maximum:
        pad = tf.minimum(pad, tf.maximum(int(maximum) - frames, 0))
    x[mask_key] = tf.pad(x[mask_key], [[0, 0], [0, pad]])
    rank = len(x[key].shape)
    x[key] = tf.pad(x[key], [[0, 0], [0, pad]] + [[0, 0]] * (rank - 2))
    return x
