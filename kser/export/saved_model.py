"""The SavedModel exporter: an `EmotionClassifier` as a TensorFlow SavedModel.

The SavedModel needs neither kser nor Keras to run: plain
`tf.saved_model.load` (or TF Serving) is enough. It holds:

- `serve` (also `serving_default`): `waveform`, float32 `[batch, samples]`,
  mono 16 kHz raw audio, dynamic batch and time -> `{"probabilities":
  float32 [batch, num_classes]}`, the softmax of the logits. The padding
  mask is all ones inside the signature: every row is a whole clip, so
  batch clips of equal length (e.g. `kser predict`'s windows) or call it
  once per clip. Normalisation happens inside, as in kser.
- `labels`: no inputs -> `{"label_names": string [num_classes]}`, the class
  names in probability order.
- `assets/kser_export.json`: the same label names plus the sample rate,
  input and output names, and the kser and Keras versions that wrote it.

Export works from the jax and tensorflow backends. Keras cannot write a
SavedModel from the torch backend today; `export_saved_model` says so.
"""

import json
import os

from kser.errors import ExportError

SERVE_ENDPOINT = "serve"
LABELS_ENDPOINT = "labels"
INPUT_NAME = "waveform"
OUTPUT_NAME = "probabilities"
LABELS_OUTPUT_NAME = "label_names"
METADATA_FILE = "kser_export.json"
EXPORT_BACKENDS = ("jax", "tensorflow")


def check_export_backend():
    """Raise `ExportError` unless Keras runs on a backend that can export.

    Returns:
        str. The backend.
    """
    import keras

    backend = keras.backend.backend()
    if backend not in EXPORT_BACKENDS:
        raise ExportError(
            f"SavedModel export needs the jax or tensorflow backend, not "
            f"{backend}; run again with --backend jax (or tensorflow)"
        )
    return backend


def _metadata(model, backend):
    import keras

    from kser import __version__
    from kser.data.audio import SAMPLE_RATE

    return {
        "format": "kser-emotion-classifier",
        "label_names": list(model.label_names),
        "sample_rate": SAMPLE_RATE,
        "signature": SERVE_ENDPOINT,
        "input": {
            "name": INPUT_NAME,
            "dtype": "float32",
            "shape": ["batch", "samples"],
            "description": "mono 16 kHz raw audio, one whole clip per row "
            "(the padding mask is all ones)",
        },
        "output": {
            "name": OUTPUT_NAME,
            "dtype": "float32",
            "shape": ["batch", len(model.label_names)],
            "description": "softmax probabilities in label_names order",
        },
        "labels_signature": LABELS_ENDPOINT,
        "head": getattr(model, "head_type", None),
        "layers": getattr(model, "layer_choice", None),
        "kser_version": __version__,
        "keras_version": keras.__version__,
        "backend": backend,
    }


def _write_archive(model, folder, backend):
    import keras
    import tensorflow as tf
    from keras import ops

    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(waveform):
        # Whole clips only: the mask marks every sample as real.
        padding_mask = ops.ones_like(waveform, dtype="int32")
        logits = model({"waveform": waveform, "padding_mask": padding_mask})
        return {OUTPUT_NAME: ops.softmax(ops.cast(logits, "float32"), axis=-1)}

    kwargs = {}
    if backend == "jax":
        shortest = model.backbone.min_samples
        kwargs["jax2tf_kwargs"] = {
            # Inference needs no gradient, and tracing one over the
            # shape-polymorphic time axis does not finish in minutes.
            "with_gradient": False,
            "polymorphic_shapes": ["(batch, samples)"],
            # Without a lower bound, JAX's shape reasoning over the seven
            # strided convs (max(0, floor((n - k) / s) + 1), nested) runs
            # for many minutes; with it, it takes a second. A clip must
            # give the backbone at least one frame anyway (400 samples).
            "polymorphic_constraints": [f"samples >= {shortest}"],
        }
    archive.add_endpoint(
        SERVE_ENDPOINT,
        serve,
        input_signature=[
            tf.TensorSpec(shape=(None, None), dtype=tf.float32, name=INPUT_NAME)
        ],
        **kwargs,
    )

    label_names = tf.constant(list(model.label_names), dtype=tf.string)

    # A plain tf.function (already traced) is stored as is on every
    # backend, with no jax2tf conversion.
    @tf.function(input_signature=[])
    def labels():
        return {LABELS_OUTPUT_NAME: tf.identity(label_names)}

    labels.get_concrete_function()
    archive.add_endpoint(LABELS_ENDPOINT, labels)
    archive.write_out(folder, verbose=False)

    assets = os.path.join(folder, "assets")
    os.makedirs(assets, exist_ok=True)
    with open(os.path.join(assets, METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(_metadata(model, backend), f, indent=2)
        f.write("\n")


def check():
    """Fail fast, before a model loads: the backend must be able to export."""
    check_export_backend()


def write(model, folder):
    """Write `model` (a loaded `EmotionClassifier`) as a SavedModel into
    the empty `folder` (the exporter entry point; see `kser.export`)."""
    _write_archive(model, folder, check_export_backend())


def export_saved_model(model, out_dir, overwrite=False):
    """Write an `EmotionClassifier` as a TensorFlow SavedModel folder.

    The folder is written under a temporary name beside `out_dir` and
    renamed into place at the end, so `out_dir` is either absent, the old
    export, or the complete new one.

    Args:
        model: `EmotionClassifier`, or a path for
            `kser.predict.loader.load_classifier` (a `.keras` file or a run
            folder holding `model.keras`).
        out_dir: str or path-like. The SavedModel folder to create.
        overwrite: bool. Replace `out_dir` if it exists.

    Returns:
        str. `out_dir`.

    Raises:
        ExportError: the torch backend, or an existing `out_dir` without
            `overwrite`.
        ModelError: a model path that is not a kser classifier.

    Examples:
    ```python
    from kser.export import export_saved_model

    export_saved_model("runs/lstm/fold_06/model.keras", "exported/lstm")

    # Elsewhere, without kser:
    import tensorflow as tf
    loaded = tf.saved_model.load("exported/lstm")
    probabilities = loaded.signatures["serve"](
        waveform=tf.zeros([1, 48000]))["probabilities"]
    names = loaded.signatures["labels"]()["label_names"]
    ```
    """
    from kser.export import export_model

    return export_model(model, out_dir, format="saved_model", overwrite=overwrite)
