"""kser.export and `kser export`: a SavedModel that runs without kser."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.errors import ExportError
from kser.export import export_saved_model
from tests.test_predict import signal
from tests.test_predict import tiny_classifier

BACKEND = keras.backend.backend()
needs_export_backend = pytest.mark.skipif(
    BACKEND not in ("jax", "tensorflow"),
    reason=f"Keras cannot write a SavedModel from the {BACKEND} backend",
)

# Runs in a fresh interpreter with plain TensorFlow; kser is never imported.
LOAD_AND_SERVE = textwrap.dedent(
    """
    import json
    import sys

    import numpy as np
    import tensorflow as tf

    args = json.loads(sys.argv[1])
    batch = np.load(args["batch"])
    single = np.load(args["single"])
    report = {}
    for name, folder in args["exports"].items():
        loaded = tf.saved_model.load(folder)
        serve = loaded.signatures["serve"]
        probs = serve(waveform=tf.constant(batch))["probabilities"].numpy()
        # A different length through the same signature: dynamic time.
        probs_single = loaded.serve(tf.constant(single))["probabilities"]
        np.save(args["out"] + name + "_batch.npy", probs)
        np.save(args["out"] + name + "_single.npy", probs_single.numpy())
        labels = loaded.signatures["labels"]()["label_names"].numpy()
        report[name] = {
            "labels": [x.decode() for x in labels],
            "signatures": sorted(loaded.signatures),
            "default_outputs": sorted(
                loaded.signatures["serving_default"].structured_outputs
            ),
        }
    report["imported"] = sorted(
        m for m in sys.modules if m.split(".")[0] == "kser"
    )
    print(json.dumps(report))
    """
)


def kser_probabilities(model, waveform):
    """kser's softmax(model.predict) on whole clips (mask all ones)."""
    logits = model.predict(
        {
            "waveform": waveform,
            "padding_mask": np.ones(waveform.shape, "int32"),
        },
        verbose=0,
    )
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits))


@pytest.mark.skipif(
    BACKEND != "torch", reason="the clear error is for the torch backend"
)
def test_torch_backend_says_export_needs_jax_or_tensorflow(tmp_path):
    model_path = str(tmp_path / "model.keras")
    tiny_classifier().save(model_path)
    with pytest.raises(ExportError, match="needs the jax or tensorflow"):
        export_saved_model(model_path, tmp_path / "export")
    result = CliRunner().invoke(
        main, ["export", "--model", model_path, "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs the jax or tensorflow backend" in lines[0]
    assert not (tmp_path / "x").exists()


@needs_export_backend
def test_savedmodel_reproduces_kser_in_a_process_without_kser(tmp_path):
    models = {
        "dense": tiny_classifier("dense", "last", seed=1),
        "lstm": tiny_classifier("lstm", "weighted", seed=2),
    }
    batch = np.stack([signal(1.3, i) for i in range(3)])
    single = signal(0.7, 9)[None]
    np.save(tmp_path / "batch.npy", batch)
    np.save(tmp_path / "single.npy", single)
    exports = {}
    for name, model in models.items():
        exports[name] = export_saved_model(model, tmp_path / f"export_{name}")

    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.pop("PYTHONPATH", None)
    args = {
        "batch": str(tmp_path / "batch.npy"),
        "single": str(tmp_path / "single.npy"),
        "exports": exports,
        "out": str(tmp_path) + os.sep,
    }
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_AND_SERVE, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),  # the repository is not on sys.path
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["imported"] == []  # kser was not needed

    for name, model in models.items():
        got = np.load(tmp_path / f"{name}_batch.npy")
        want = kser_probabilities(model, batch)
        assert got.shape == (3, len(model.label_names))
        diff = float(np.max(np.abs(got - want)))
        print(f"{BACKEND} {name}: max abs difference {diff:.2e}")
        assert diff <= 1e-4
        got_single = np.load(tmp_path / f"{name}_single.npy")
        np.testing.assert_allclose(
            got_single, kser_probabilities(model, single), atol=1e-4
        )
        info = report[name]
        assert info["labels"] == list(model.label_names)
        assert {"serve", "labels", "serving_default"} <= set(info["signatures"])
        assert info["default_outputs"] == ["probabilities"]
        assets = os.path.join(exports[name], "assets")
        with open(os.path.join(assets, "kser_export.json")) as f:
            metadata = json.load(f)
        assert metadata["label_names"] == list(model.label_names)
        assert metadata["sample_rate"] == 16000


@needs_export_backend
def test_cli_export_refuses_to_overwrite(tmp_path):
    model_path = str(tmp_path / "model.keras")
    tiny_classifier().save(model_path)
    out = tmp_path / "exported"
    runner = CliRunner()
    result = runner.invoke(
        main, ["export", "--model", model_path, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "saved_model.pb").exists()
    stamp = (out / "saved_model.pb").stat().st_mtime_ns

    result = runner.invoke(
        main, ["export", "--model", model_path, "--out", str(out)]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--overwrite" in lines[0]
    assert (out / "saved_model.pb").stat().st_mtime_ns == stamp

    result = runner.invoke(
        main,
        ["export", "--model", model_path, "--out", str(out), "--overwrite"],
    )
    assert result.exit_code == 0, result.output
    assert (out / "assets" / "kser_export.json").exists()
    # Only the export itself: no temporary folders left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "exported",
        "model.keras",
    ]


def test_cli_export_bad_model_is_one_line(tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_text("not a model")
    result = CliRunner().invoke(
        main, ["export", "--model", str(bad), "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a .keras model file" in lines[0]
    assert not (tmp_path / "x").exists()


def test_export_formats_registry_and_unknown_format(tmp_path):
    from kser.export import EXPORTERS
    from kser.export import export_formats
    from kser.export import export_model

    assert export_formats() == list(EXPORTERS) and "saved_model" in EXPORTERS
    with pytest.raises(ExportError, match="unknown export format 'nope'"):
        export_model(tiny_classifier(), str(tmp_path / "out"), format="nope")
    assert not (tmp_path / "out").exists()

    model_path = str(tmp_path / "model.keras")
    tiny_classifier().save(model_path)
    result = CliRunner().invoke(
        main,
        ["export", "--model", model_path, "--out", str(tmp_path / "x"),
         "--format", "nope"],
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "saved_model" in lines[0], result.output
    assert not (tmp_path / "x").exists()
