"""The installed `kser` command: user mistakes are exactly one line."""

import os
import shutil
import subprocess
import sys

import pytest

KSER = shutil.which("kser") or os.path.join(os.path.dirname(sys.executable), "kser")


@pytest.mark.skipif(not os.path.exists(KSER), reason="kser console script not installed")
def test_error_after_keras_import_is_one_line(tmp_path):
    """TensorFlow's import-time log lines must not bury the error."""
    result = subprocess.run(
        [KSER, "train", "--data", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("kser: error:"), result.stderr
    assert "missing" in lines[0]


def test_default_backend_is_jax_unless_keras_backend_says():
    code = "from kser.backend import set_backend; print(set_backend(None))"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    out = subprocess.run([sys.executable, "-c", code], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "jax", out.stderr
    env["KERAS_BACKEND"] = "tensorflow"
    out = subprocess.run([sys.executable, "-c", code], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "tensorflow", out.stderr


@pytest.mark.skipif(not os.path.exists(KSER), reason="kser console script not installed")
def test_training_prints_no_library_noise(tmp_path):
    """No CUDA probe error on a CPU-only machine, no Keras warning about
    shuffle=True; the run's header names the backend."""
    from kser.convert import convert_checkpoint
    from kser.data.synthetic import write_corpus
    from tests.models.helpers import fixture_dir

    write_corpus(tmp_path / "ravdess", actors=6, clip_seconds=0.3, seed=2)
    convert_checkpoint(fixture_dir("hubert_tiny_base"), str(tmp_path / "preset"))
    backend = os.environ.get("KERAS_BACKEND", "jax")
    result = subprocess.run(
        [KSER, "train", "--backend", backend, "--variant", "dense", "--fold", "1",
         "--data", str(tmp_path / "ravdess"), "--preset", str(tmp_path / "preset"),
         "--epochs", "1", "--batch-size", "8", "--max-seconds", "1",
         "--no-save-model", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    for noise in ("cuInit", "shuffle=True", "retracing", "Traceback"):
        assert noise not in result.stderr, result.stderr
    assert f"backend {backend}" in result.stderr
