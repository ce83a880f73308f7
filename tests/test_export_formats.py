"""kser.export's ONNX and LiteRT formats, served by their plain runtimes."""

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.errors import ExportError
from kser.export import export_model
from tests.test_export import kser_probabilities
from tests.test_predict import signal
from tests.test_predict import tiny_classifier

BACKEND = keras.backend.backend()
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def model():
    return tiny_classifier("lstm", "weighted", seed=2)


@pytest.fixture(scope="module")
def clips():
    # Two lengths, and a batch of three clips of one length.
    return {
        "short": signal(0.7, 9)[None],
        "long": signal(2.1, 4)[None],
        "batch": np.stack([signal(1.3, i) for i in range(3)]),
    }


def report(format, name, got, want):
    diff = float(np.max(np.abs(got - want)))
    print(f"{format} {BACKEND} {name}: max abs difference {diff:.2e}")
    assert got.shape == want.shape
    assert diff <= TOLERANCE
    return diff


def test_onnx_reproduces_kser_in_onnxruntime(model, clips, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("tf2onnx")
    out = export_model(model, tmp_path / "onnx", format="onnx")

    session = ort.InferenceSession(
        str(tmp_path / "onnx" / "model.onnx"),
        providers=["CPUExecutionProvider"],
    )
    (inp,) = session.get_inputs()
    (output,) = session.get_outputs()
    assert (inp.name, inp.type) == ("waveform", "tensor(float)")
    assert inp.shape == ["batch", "samples"]
    assert output.name == "probabilities"
    for name, waveform in clips.items():
        (got,) = session.run(None, {"waveform": waveform})
        report("onnx", name, got, kser_probabilities(model, waveform))

    props = {
        p.key: p.value
        for p in onnx.load(str(tmp_path / "onnx" / "model.onnx")).metadata_props
    }
    assert json.loads(props["label_names"]) == list(model.label_names)
    assert props["sample_rate"] == "16000"
    with open(tmp_path / "onnx" / "kser_export.json") as f:
        metadata = json.load(f)
    assert metadata["label_names"] == list(model.label_names)
    assert metadata["file"] == "model.onnx"
    assert metadata["backend"] == BACKEND
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == [
        "kser_export.json",
        "model.onnx",
    ]
    assert out == str(tmp_path / "onnx")


def litert_interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=path)


def test_litert_reproduces_kser_on_padded_windows(model, clips, tmp_path):
    export_model(model, tmp_path / "litert", format="litert")
    with open(tmp_path / "litert" / "kser_export.json") as f:
        metadata = json.load(f)
    assert metadata["label_names"] == list(model.label_names)
    window = metadata["window_samples"]
    assert window == 96000 and metadata["window_seconds"] == 6.0

    interpreter = litert_interpreter(str(tmp_path / "litert" / "model.tflite"))
    interpreter.allocate_tensors()
    inputs = {d["name"]: d["index"] for d in interpreter.get_input_details()}
    print("litert inputs", inputs)
    assert sorted(inputs) == ["padding_mask", "waveform"]
    (output,) = interpreter.get_output_details()

    def serve(waveform, padding_mask):
        interpreter.set_tensor(inputs["waveform"], waveform)
        interpreter.set_tensor(inputs["padding_mask"], padding_mask)
        interpreter.invoke()
        return interpreter.get_tensor(output["index"])
    for name, waveform in clips.items():
        rows, length = waveform.shape
        got = []
        for row in waveform:  # The batch is fixed at 1: a call per clip.
            padded = np.zeros((1, window), np.float32)
            padded[0, :length] = row
            mask = np.zeros((1, window), np.int32)
            mask[0, :length] = 1
            got.append(serve(padded, mask))
        got = np.concatenate(got)
        report("litert", name, got, kser_probabilities(model, waveform))


def test_cli_export_onnx_and_unsupported_combinations(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    pytest.importorskip("tf2onnx")
    model_path = str(tmp_path / "model.keras")
    tiny_classifier().save(model_path)
    runner = CliRunner()
    out = tmp_path / "exported"
    result = runner.invoke(
        main,
        ["export", "--model", model_path, "--out", str(out), "--format", "onnx"],
    )
    assert result.exit_code == 0, result.output
    assert "as onnx" in result.stdout
    assert (out / "model.onnx").exists() and (out / "kser_export.json").exists()

    # Unknown format: one line naming the formats there are.
    result = runner.invoke(
        main,
        ["export", "--model", model_path, "--out", str(tmp_path / "x"),
         "--format", "tflite"],
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "onnx, litert" in lines[0], result.output

    # Converter packages missing: one line saying what to install.
    import kser.export.onnx as onnx_exporter

    monkeypatch.setattr(onnx_exporter, "PACKAGES", ("onnx", "kser_no_such_pkg"))
    with pytest.raises(ExportError, match="pip install"):
        export_model(model_path, tmp_path / "y", format="onnx")
    result = runner.invoke(
        main,
        ["export", "--model", model_path, "--out", str(tmp_path / "x"),
         "--format", "onnx"],
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install" in lines[0], result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
