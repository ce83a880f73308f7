"""The LiteRT exporter: an `EmotionClassifier` as one `model.tflite`.

The TFLite converter cannot keep a dynamic time axis with its builtin ops
(the backbone's strided slices over a symbolic length need TensorFlow
"flex" ops, which the standalone LiteRT runtime lacks), so the LiteRT
model scores fixed-length windows, like `kser predict`:

- inputs `waveform`, float32 `[1, window]`, mono 16 kHz raw audio, and
  `padding_mask`, int32 `[1, window]` (1 for real samples, 0 for
  padding); `window` is 6 s (96000 samples) by default, `kser predict`'s
  window. The batch is fixed at 1 (the LSTM head's loop needs a static
  batch in TFLite's builtin ops): one window per call.
- output `probabilities`, float32 `[1, num_classes]`.

A shorter clip is zero-padded to the window with its mask marking the real
samples (the padding-invariant backbone gives the same result as the
unpadded clip); a longer one is cut into windows (`kser predict`'s
`window_bounds`) and their probabilities averaged. `kser_export.json` holds
the label names, sample rate, window length and input/output names; the
interpreter's input tensors are named `waveform` and `padding_mask`.

How it is built: the serving function is traced on the tensorflow backend,
its variables frozen into constants, and converted with
`tf.lite.TFLiteConverter` (builtin ops only). From the jax or torch backend
the classifier is converted in a tensorflow-backend subprocess (see
`kser.export._tensorflow`).
"""

import os

from kser.export import _tensorflow

FILE_NAME = "model.tflite"
INPUT_NAME = _tensorflow.INPUT_NAME
MASK_NAME = _tensorflow.MASK_NAME
OUTPUT_NAME = _tensorflow.OUTPUT_NAME
# kser predict's window (`kser.predict.scoring.DEFAULT_WINDOW_SECONDS`).
WINDOW_SECONDS = 6.0


def check():
    """Nothing to check: the converter ships with TensorFlow, and every
    backend exports (jax and torch through a tensorflow subprocess)."""


def write(model, folder, window_seconds=WINDOW_SECONDS):
    """Write `model` (a loaded `EmotionClassifier`) as `model.tflite` into
    the empty `folder` (the exporter entry point; see `kser.export`).

    Args:
        model: `EmotionClassifier`.
        folder: str. An empty folder.
        window_seconds: float. The fixed window length of the input.
    """
    if _tensorflow.backend() != "tensorflow":
        if window_seconds != WINDOW_SECONDS:
            raise ValueError(
                "a window other than 6 s needs the tensorflow backend"
            )
        _tensorflow.write_on_tensorflow("litert", model, folder)
        return

    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    from kser.data.audio import SAMPLE_RATE

    window = int(round(window_seconds * SAMPLE_RATE))
    # Batch 1: the LSTM head's tensor lists need a static batch in TFLite.
    function = _tensorflow.serving_function(
        model, samples=window, with_mask=True, batch=1
    )
    # Frozen weights: with resource variables the converted model reads
    # uninitialised variables (NaN probabilities) in a plain interpreter.
    frozen = convert_variables_to_constants_v2(function.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    flatbuffer = converter.convert()
    with open(os.path.join(folder, FILE_NAME), "wb") as f:
        f.write(flatbuffer)
    description = (
        f"{window} samples ({window_seconds:g} s): zero-pad shorter clips, "
        "cut longer ones into windows"
    )
    _tensorflow.write_metadata(
        model,
        folder,
        FILE_NAME,
        inputs=[
            {
                "name": INPUT_NAME,
                "dtype": "float32",
                "shape": [1, window],
                "description": "mono 16 kHz raw audio, " + description,
            },
            {
                "name": MASK_NAME,
                "dtype": "int32",
                "shape": [1, window],
                "description": "1 for real samples, 0 for padding",
            },
        ],
        extra={
            "window_samples": window,
            "window_seconds": window_seconds,
            "output": {
                "name": OUTPUT_NAME,
                "dtype": "float32",
                "shape": [1, len(model.label_names)],
                "description": "softmax probabilities in label_names order",
            },
        },
    )
