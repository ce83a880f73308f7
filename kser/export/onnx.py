"""The ONNX exporter: an `EmotionClassifier` as one `model.onnx`.

The folder holds:

- `model.onnx`: input `waveform`, float32 `[batch, samples]`, mono 16 kHz
  raw audio with dynamic batch and time axes -> output `probabilities`,
  float32 `[batch, num_classes]`, the softmax of the logits. As in the
  SavedModel's `serve`, the padding mask is all ones inside: every row is
  one whole clip (batch clips of equal length, or run one clip per call).
  The model's `metadata_props` hold `label_names` (a JSON list),
  `sample_rate`, `input_name`, `output_name` and `kser_version`.
- `kser_export.json`: the same label names, sample rate, input and output.

Any ONNX runtime serves it (`onnxruntime.InferenceSession`); kser, Keras
and TensorFlow are not needed there.

How it is built: the serving function is traced on the tensorflow backend
and converted with tf2onnx (TensorFlow's `Erfc`, in the exact GELU, becomes
`1 - Erf`). From the jax or torch backend the classifier is converted in a
tensorflow-backend subprocess (see `kser.export._tensorflow`).
"""

import json
import os

from kser.errors import ExportError
from kser.export import _tensorflow

FILE_NAME = "model.onnx"
INPUT_NAME = _tensorflow.INPUT_NAME
OUTPUT_NAME = _tensorflow.OUTPUT_NAME
PACKAGES = ("onnx", "tf2onnx")
INSTALL = "pip install 'kser[export]' (or: pip install onnx onnxruntime tf2onnx)"


def check():
    """Fail fast, before a model loads: the converter must be installed."""
    missing = _tensorflow.missing_packages(PACKAGES)
    if missing:
        raise ExportError(
            f"ONNX export needs {' and '.join(missing)}: {INSTALL}"
        )


def _erfc(ctx, node, name, args):
    # erfc(x) = 1 - erf(x); ONNX has Erf only.
    import numpy as np
    from tf2onnx import utils

    erf = ctx.make_node("Erf", [node.input[0]])
    one = ctx.make_const(utils.make_name("erfc_one"), np.array(1, np.float32))
    ctx.replace_inputs(node, [one.output[0], erf.output[0]])
    node.type = "Sub"
    node.domain = ""


def _name_axes(value_info, names):
    dims = value_info.type.tensor_type.shape.dim
    for dim, name in zip(dims, names):
        if name is not None:
            dim.ClearField("dim_value")
            dim.dim_param = name


def write(model, folder):
    """Write `model` (a loaded `EmotionClassifier`) as `model.onnx` into
    the empty `folder` (the exporter entry point; see `kser.export`)."""
    check()
    if _tensorflow.backend() != "tensorflow":
        _tensorflow.write_on_tensorflow("onnx", model, folder)
        return

    import onnx
    import tf2onnx

    from kser import __version__
    from kser.data.audio import SAMPLE_RATE

    try:  # tf2onnx 1.17 still uses numpy 1 names; Keras patches them.
        from keras.src.export.tf2onnx_lib import patch_tf2onnx

        patch_tf2onnx()
    except ImportError:
        pass
    function = _tensorflow.serving_function(model)
    proto, _ = tf2onnx.convert.from_function(
        function,
        input_signature=function.input_signature,
        custom_op_handlers={"Erfc": (_erfc, [])},
    )
    unsupported = sorted(
        {n.op_type for n in proto.graph.node if n.domain not in ("", "ai.onnx")}
    )
    if unsupported:
        raise ExportError(
            f"ONNX export left TensorFlow ops it could not convert: "
            f"{', '.join(unsupported)}"
        )
    (graph_input,) = proto.graph.input
    (graph_output,) = proto.graph.output
    if (graph_input.name, graph_output.name) != (INPUT_NAME, OUTPUT_NAME):
        raise ExportError(
            f"ONNX export named its input/output {graph_input.name!r}/"
            f"{graph_output.name!r}, not {INPUT_NAME!r}/{OUTPUT_NAME!r}"
        )
    _name_axes(graph_input, ["batch", "samples"])
    _name_axes(graph_output, ["batch", None])
    properties = {
        "label_names": json.dumps(list(model.label_names)),
        "sample_rate": str(SAMPLE_RATE),
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "kser_version": __version__,
    }
    del proto.metadata_props[:]
    for key, value in properties.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "kser"
    onnx.checker.check_model(proto)
    onnx.save(proto, os.path.join(folder, FILE_NAME))
    _tensorflow.write_metadata(
        model,
        folder,
        FILE_NAME,
        inputs=[{
            "name": INPUT_NAME,
            "dtype": "float32",
            "shape": ["batch", "samples"],
            "description": "mono 16 kHz raw audio, one whole clip per row "
            "(the padding mask is all ones)",
        }],
        extra={"opset": proto.opset_import[0].version},
    )
