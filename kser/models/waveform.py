"""Waveform arithmetic shared by every speech encoder, with no Keras import.

- `normalize_waveform`: the one implementation of per-clip zero-mean,
  unit-variance normalisation (transformers' `Wav2Vec2FeatureExtractor`),
  for numpy (data pipeline, cache, predict), `keras.ops` (audio converter,
  feature extractor) and TensorFlow inside `tf.data`.
- `conv_output_length`: frames a valid-padded conv stack makes from a
  number of samples; backbones build `num_frames` and `min_samples` on it.

Examples:
```python
import numpy as np
from kser.models.waveform import normalize_waveform, conv_output_length

normalize_waveform(np.random.randn(16000))             # numpy in, numpy out
conv_output_length(16000, (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2))  # 49
```
"""

import numpy as np

# Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm adds 1e-7 to the variance.
NORMALIZE_EPSILON = 1e-7


class _NumpyOps:
    """The ops `normalize_waveform` needs, in float64 numpy."""

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x, dtype=dtype)

    maximum = staticmethod(np.maximum)
    sqrt = staticmethod(np.sqrt)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return np.sum(x, axis=axis, keepdims=keepdims)


class _TFOps:
    """The ops `normalize_waveform` needs, from TensorFlow (inside tf.data)."""

    def __init__(self):
        import tensorflow as tf

        self.cast = tf.cast
        self.maximum = tf.maximum
        self.sqrt = tf.sqrt
        self.sum = tf.reduce_sum


def ops_namespace(name):
    """The ops for `normalize_waveform`: `"numpy"`, `"tf"` or `"keras"`."""
    if name == "numpy":
        return _NumpyOps
    if name == "tf":
        return _TFOps()
    if name == "keras":
        from keras import ops

        return ops
    raise ValueError(f"unknown ops namespace {name!r}: numpy, tf or keras")


def normalize_waveform(waveform, padding_mask=None, xp=None,
                       epsilon=NORMALIZE_EPSILON):
    """Zero mean, unit variance over unpadded samples; padding stays zero.

    `(x - mean) / sqrt(var + 1e-7)` per clip with the population variance,
    as transformers' `Wav2Vec2FeatureExtractor` with `do_normalize=True`.
    A silent clip has variance 0 and stays all zeros.

    Args:
        waveform: float array of shape `(samples,)` or `(batch, samples)`.
        padding_mask: same shape, 1 for real samples; None means all real.
        xp: the ops namespace: None for numpy (computed in float64, returned
            as float32), `keras.ops`, or `ops_namespace("tf")` inside
            `tf.data`.
        epsilon: float. Added to the variance.
    """
    if xp is None:
        waveform = np.asarray(waveform, np.float64)
        if waveform.size == 0:
            return waveform.astype(np.float32)
        mask = (
            np.ones_like(waveform) if padding_mask is None
            else np.asarray(padding_mask, np.float64)
        )
        out = _normalize(waveform, mask, _NumpyOps, epsilon)
        return out.astype(np.float32)
    if padding_mask is None:
        mask = waveform * 0 + 1
    else:
        mask = xp.cast(padding_mask, waveform.dtype)
    return _normalize(waveform, mask, xp, epsilon)


def _normalize(waveform, mask, xp, epsilon):
    count = xp.maximum(xp.sum(mask, axis=-1, keepdims=True), 1.0)
    mean = xp.sum(waveform * mask, axis=-1, keepdims=True) / count
    centered = (waveform - mean) * mask
    var = xp.sum(centered * centered, axis=-1, keepdims=True) / count
    return centered / xp.sqrt(var + epsilon)


def conv_output_length(length, kernel_sizes, strides):
    """Frames that a valid-padded conv stack makes from `length` samples.

    Works on Python ints and on integer tensors alike:
    `L = floor((L - k) / s) + 1` per layer, as transformers'
    `_get_feat_extract_output_lengths`. For a Python int too short for the
    stack, the result is 0.

    Args:
        length: int or integer tensor. The number of input samples.
        kernel_sizes: list of int. Kernel size of each conv layer.
        strides: list of int. Stride of each conv layer.
    """
    if isinstance(length, (int, np.integer)):
        length = int(length)
        for kernel_size, stride in zip(kernel_sizes, strides):
            if length < kernel_size:
                return 0
            length = (length - kernel_size) // stride + 1
        return length
    for kernel_size, stride in zip(kernel_sizes, strides):
        length = (length - kernel_size) // stride + 1
    return length


def conv_min_samples(kernel_sizes, strides):
    """int. The fewest samples from which the conv stack makes one frame."""
    samples = 1
    for kernel_size, stride in reversed(list(zip(kernel_sizes, strides))):
        samples = (samples - 1) * stride + kernel_size
    return samples
