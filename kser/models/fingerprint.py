"""A fingerprint of a model's weights, which names its features in caches
and its runs in results. Imports Keras only when called."""

import hashlib

import numpy as np


def weights_fingerprint(model):
    """str. A SHA-256 over all of a Keras model's weight values.

    Hashes the dtype, shape and bytes of every entry of `model.weights`, in
    order; names are left out because Keras numbers them per session.

    Args:
        model: a Keras model or layer (e.g. a backbone).

    Examples:
    ```python
    from kser.models import load_backbone, weights_fingerprint

    backbone = load_backbone("presets/hubert_base_ls960")
    weights_fingerprint(backbone)[:16]
    ```
    """
    import keras

    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{value.dtype.str}{value.shape};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()
