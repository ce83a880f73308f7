"""What the ONNX and LiteRT exporters share: a TensorFlow serving function.

Both formats are converted from a TensorFlow graph (tf2onnx, the TFLite
converter), so they need the classifier on the tensorflow backend. From
another backend the exporter saves the classifier to a temporary `.keras`
file and converts it in a fresh `KERAS_BACKEND=tensorflow` process
(`python -m kser.export._tensorflow FORMAT MODEL FOLDER`): a `.keras` file
loads on any backend.

Importing this module does not import Keras.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile

from kser.errors import ExportError

INPUT_NAME = "waveform"
MASK_NAME = "padding_mask"
OUTPUT_NAME = "probabilities"
METADATA_FILE = "kser_export.json"


def missing_packages(modules):
    """list of str. The modules in `modules` that cannot be imported."""
    import importlib.util

    return [m for m in modules if importlib.util.find_spec(m) is None]


def backend():
    import keras

    return keras.backend.backend()


@contextlib.contextmanager
def plain_convolutions():
    """Trace grouped convolutions as plain `tf.nn.convolution` ops.

    Keras's tensorflow backend wraps grouped convolutions (HuBERT's
    positional conv) in a `tf.function(jit_compile=True)`, because TF's CPU
    kernel lacks them; neither tf2onnx nor the TFLite converter can look
    inside that function. Both runtimes run the grouped conv themselves, so
    the export traces the op directly.
    """
    from keras.src.backend.tensorflow import nn as tf_nn

    original = tf_nn.conv

    def conv(inputs, kernel, strides=1, padding="valid", data_format=None,
             dilation_rate=1):
        import tensorflow as tf

        data_format = tf_nn.backend.standardize_data_format(data_format)
        return tf.nn.convolution(
            inputs,
            kernel,
            strides,
            padding.upper(),
            data_format=tf_nn._convert_data_format(data_format, len(inputs.shape)),
            dilations=dilation_rate,
        )

    tf_nn.conv = conv
    try:
        yield
    finally:
        tf_nn.conv = original


def serving_function(model, samples=None, with_mask=False, batch=None):
    """A traced `tf.function`: waveform [batch, samples] -> probabilities.

    Args:
        model: `EmotionClassifier` on the tensorflow backend.
        samples: int or None. A fixed time axis, or None for a dynamic one.
        batch: int or None. A fixed batch axis, or None for a dynamic one.
        with_mask: bool. Also take `padding_mask` int32 [batch, samples]
            (1 for real samples); otherwise the mask is all ones (every row
            is a whole clip), as in the SavedModel's `serve`.
    """
    import tensorflow as tf
    from keras import ops

    def probabilities(waveform, padding_mask):
        logits = model({"waveform": waveform, "padding_mask": padding_mask})
        return {OUTPUT_NAME: ops.softmax(ops.cast(logits, "float32"), axis=-1)}

    wave_spec = tf.TensorSpec((batch, samples), tf.float32, name=INPUT_NAME)
    if with_mask:
        mask_spec = tf.TensorSpec((batch, samples), tf.int32, name=MASK_NAME)

        @tf.function(input_signature=[wave_spec, mask_spec])
        def serve(waveform, padding_mask):
            return probabilities(waveform, padding_mask)
    else:

        @tf.function(input_signature=[wave_spec])
        def serve(waveform):
            # Whole clips only: the mask marks every sample as real.
            return probabilities(waveform, ops.ones_like(waveform, "int32"))

    with plain_convolutions():
        # Traced here, inside the context; later calls reuse this trace.
        serve.get_concrete_function()
    return serve


def write_metadata(model, folder, file, inputs, extra=None):
    """Write `kser_export.json` beside the exported `file`."""
    import keras

    from kser import __version__
    from kser.data.audio import SAMPLE_RATE

    metadata = {
        "format": "kser-emotion-classifier",
        "file": file,
        "label_names": list(model.label_names),
        "sample_rate": SAMPLE_RATE,
        "inputs": inputs,
        "output": {
            "name": OUTPUT_NAME,
            "dtype": "float32",
            "shape": ["batch", len(model.label_names)],
            "description": "softmax probabilities in label_names order",
        },
        "head": getattr(model, "head_type", None),
        "layers": getattr(model, "layer_choice", None),
        "kser_version": __version__,
        "keras_version": keras.__version__,
        "backend": os.environ.get("KSER_EXPORT_FROM_BACKEND", backend()),
        **(extra or {}),
    }
    with open(os.path.join(folder, METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)
        f.write("\n")


def write_on_tensorflow(format, model, folder, timeout=1800):
    """Run `format`'s exporter on `model` in a tensorflow-backend process."""
    with tempfile.TemporaryDirectory(prefix="kser-export-") as tmp:
        model_path = os.path.join(tmp, "model.keras")
        model.save(model_path)
        env = dict(os.environ)
        env["KERAS_BACKEND"] = "tensorflow"
        env["KSER_EXPORT_FROM_BACKEND"] = backend()
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # The child must import the same kser as this process.
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, env.get("PYTHONPATH")) if p
        )
        proc = subprocess.run(
            [sys.executable, "-m", "kser.export._tensorflow", format,
             model_path, folder],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise ExportError(
            f"{format} export (converted on the tensorflow backend in a "
            f"subprocess) failed: {last}"
        )


def _main(argv):
    from kser.export import get_exporter
    from kser.predict.loader import load_classifier

    format, model_path, folder = argv
    # Register every backbone class with Keras before the file loads:
    # `load_classifier` alone does not in a fresh process.
    from kser.models.registry import families

    families()
    model = load_classifier(model_path)
    get_exporter(format).write(model, folder)


if __name__ == "__main__":
    _main(sys.argv[1:])
