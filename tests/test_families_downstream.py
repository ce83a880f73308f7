"""Every backbone family downstream: `kser cv --preset NAME` (a converted
preset found by name under KSER_HOME) on a synthetic corpus, with the
feature cache, then `kser predict` and `kser export` of the saved model."""

import json

import keras
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from kser.cli import main
from kser.convert import convert_checkpoint
from kser.data.synthetic import write_corpus
from tests.models.helpers import fixture_dir
from tests.shared import shared_folder
from tests.shared import thin_on_disk

# preset name (found under $KSER_HOME/presets/NAME) -> tiny fixture.
FAMILIES = {
    "wav2vec2_base": ("wav2vec2_tiny_base", "Wav2Vec2Backbone"),
    "wavlm_base": ("wavlm_tiny_base", "WavLMBackbone"),
    "data2vec_audio_base": ("data2vec_audio_tiny", "Data2VecAudioBackbone"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    def build(folder):
        # Each family extracts features for every clip, twice per test.
        thin_on_disk(write_corpus(folder / "ravdess", actors=6, clip_seconds=0.4, seed=3))

    return str(shared_folder(tmp_path_factory, "families-small", build, across_backends=True) / "ravdess")


@pytest.mark.parametrize("preset", sorted(FAMILIES))
def test_cv_predict_export_with_a_family_preset(preset, corpus, tmp_path, monkeypatch):
    fixture, class_name = FAMILIES[preset]
    home = tmp_path / "home"
    monkeypatch.setenv("KSER_HOME", str(home))
    convert_checkpoint(fixture_dir(fixture), str(home / "presets" / preset))
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["cv", "--data", corpus, "--preset", preset, "--variants", "dense",
         "--folds", "1", "--epochs", "1", "--batch-size", "8",
         "--max-seconds", "1", "--no-plots", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "dense" / "fold_01" / "result.json").read_text())
    family = preset.rsplit("_base", 1)[0]
    # The cache and results name the family: no entry shared with HuBERT.
    assert saved["weights_fingerprint"].startswith(f"{family}:")
    assert saved["config"]["preset"] == preset

    # `kser train` saves the whole classifier (trained head on the family),
    # which predicts and exports.
    out = tmp_path / "train"
    train = runner.invoke(
        main,
        ["train", "--data", corpus, "--preset", preset, "--variant", "dense",
         "--fold", "1", "--epochs", "1", "--batch-size", "8",
         "--max-seconds", "1", "--no-plots", "--out", str(out),
         "--cache-dir", str(tmp_path / "run" / "feature_cache")],
    )
    assert train.exit_code == 0, train.output
    model_path = out / "dense" / "fold_01"
    audio = tmp_path / "clip.wav"
    rng = np.random.default_rng(0)
    soundfile.write(str(audio), 0.1 * rng.standard_normal(16000), 16000)
    predicted = runner.invoke(
        main, ["predict", str(audio), "--model", str(model_path), "--format", "json"]
    )
    assert predicted.exit_code == 0, predicted.output
    files = json.loads(predicted.output)["files"]
    assert len(files) == 1
    from kser.predict import load_classifier

    model = load_classifier(str(model_path))
    assert type(model.backbone).__name__ == class_name
    if keras.backend.backend() in ("jax", "tensorflow"):
        exported = runner.invoke(
            main, ["export", "--model", str(model_path), "--out", str(tmp_path / "sm")]
        )
        assert exported.exit_code == 0, exported.output
        assert (tmp_path / "sm" / "saved_model.pb").exists()
