"""Choosing the Keras backend before Keras is imported."""

import os
import sys

from kser.errors import KserError

BACKENDS = ("jax", "tensorflow", "torch")
# The command line's backend when neither --backend nor KERAS_BACKEND says.
# JAX: on a CPU its float32 backbone matches transformers and its head
# train steps are the fastest of the three (BENCHMARKS.md), XLA compiles the
# few padded batch shapes once, and every example in the docs uses it.
DEFAULT_BACKEND = "jax"


def set_backend(backend):
    """Set the Keras backend; must run before the first `import keras`.

    Args:
        backend: str or None. One of "jax", "tensorflow", "torch". `None`
            keeps `KERAS_BACKEND`, or the backend of an already imported
            Keras, and else chooses `DEFAULT_BACKEND` (jax).

    Returns:
        The backend that Keras will use.
    """
    if backend is None:
        if "keras" in sys.modules:
            return sys.modules["keras"].backend.backend()
        backend = os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND
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
    `TF_CPP_MIN_LOG_LEVEL` says, and on a machine without a GPU driver an
    error line (`failed call to cuInit ... (303)`) the first time it looks
    for devices; in a command-line tool they would bury a one-line error.
    The command line imports Keras through this function: TensorFlow's
    devices are listed while stderr is captured, so that line is written
    then or never, and the capture is replayed if the import fails.
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
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA probed once, here
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return sys.modules["keras"]
