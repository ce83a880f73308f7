"""Choosing the Keras backend before Keras is imported."""

import os
import sys

from kser.errors import KserError

BACKENDS = ("jax", "tensorflow", "torch")


def set_backend(backend):
    """Set the Keras backend; must run before the first `import keras`.

    Args:
        backend: str or None. One of "jax", "tensorflow", "torch". `None`
            keeps `KERAS_BACKEND` (or Keras' own default).

    Returns:
        The backend that Keras will use.
    """
    if backend is None:
        return os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend not in BACKENDS:
        raise KserError(
            f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}"
        )
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise KserError(
                f"Keras is already imported with the {keras.backend.backend()} "
                f"backend; set KERAS_BACKEND={backend} before importing keras"
            )
    os.environ["KERAS_BACKEND"] = backend
    return backend
