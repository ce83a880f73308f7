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


def import_keras_quietly():
    """Import Keras (and TensorFlow) with their import-time log lines hidden.

    TensorFlow writes several informational lines (oneDNN, CUDA drivers,
    CPU features) straight to file descriptor 2 when imported, whatever
    `TF_CPP_MIN_LOG_LEVEL` says; in a command-line tool they would bury a
    one-line error. The command line imports Keras through this function:
    stderr is captured during the import only and replayed if the import
    fails.
    """
    import tempfile

    if "keras" in sys.modules:
        return sys.modules["keras"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
            import keras_hub  # noqa: F401  (imports TensorFlow too)
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return sys.modules["keras"]
