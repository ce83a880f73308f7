"""Config files and presets that cannot be used: one line, exit 2, nothing
written (a config that does not parse, a wrongly typed value, a damaged
preset)."""

import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.data.synthetic import write_corpus
from kser.errors import KserError
from kser.train.config import TrainConfig


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("config") / "ravdess"
    write_corpus(root, actors=6, clip_seconds=0.3, seed=3)
    return str(root)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("bad.yaml", "epochs: [6\nbatch_size: 8\n", "not valid YAML at line"),
        ("bad.json", '{"epochs": 6,,}', "not valid JSON at line 1"),
        ("list.yaml", "- epochs\n- 6\n", "not a list"),
        ("words.yaml", "epochs: six\n", "epochs must be a whole number, got 'six'"),
        ("half.json", '{"batch_size": 16.5}', "batch_size must be a whole number"),
        ("flag.yaml", "augment: 3\n", "augment must be true or false, got 3"),
        ("rate.yaml", "learning_rate: fast\n", "learning_rate must be a number"),
        ("preset.json", '{"preset": 7}', "preset must be text, got 7"),
        ("unknown.yaml", "epoch: 3\n", "unknown config keys: epoch"),
        ("cache.yaml", "cache_dtype: int8\n",
         "unknown cache_dtype 'int8': choose float32 or float16"),
        ("online16.yaml", "cache_dtype: float16\nmode: online\n",
         "cache_dtype float16 needs mode cached"),
    ],
)
def test_bad_config_files_are_one_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(KserError) as error:
        TrainConfig.load(str(path))
    line = str(error.value)
    assert "\n" not in line and str(path) in line
    assert message in line


def test_typed_values_that_mean_the_same_are_accepted(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("epochs: 3.0\nlearning_rate: 1\nmax_seconds: null\n")
    config = TrainConfig.load(str(path))
    assert config.epochs == 3 and isinstance(config.epochs, int)
    assert config.learning_rate == 1 and config.max_seconds is None


def test_keys_added_later_keep_the_hash_of_finished_folds():
    from kser.train.config import config_hash

    # Hashes of configs filed before `cache_dtype` existed (kser 2026-12-01,
    # db807f2): at its default the key leaves them as they were, so those
    # folds still count as finished.
    assert config_hash(TrainConfig()) == "b501ace5ac63169f"
    assert config_hash(TrainConfig(variant="dense", epochs=5)) == "12086b791fa3b0d0"
    assert config_hash(TrainConfig(cache_dtype="float16")) != "b501ace5ac63169f"


def _one_line_error(result):
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("kser: error:"), result.output
    return lines[0]


def test_cli_config_that_does_not_parse(corpus, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 2\n  batch_size: 8\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["train", "--data", corpus, "--config", str(config), "--out", str(out)]
    )
    assert "not valid YAML" in _one_line_error(result)
    assert not out.exists()


def test_cli_wrongly_typed_config_value(corpus, tmp_path):
    config = tmp_path / "run.json"
    config.write_text('{"epochs": "many"}')
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["cv", "--data", corpus, "--config", str(config), "--out", str(out)]
    )
    assert "epochs must be a whole number" in _one_line_error(result)
    assert not out.exists()


def test_cli_float16_cache_with_online_training(corpus, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["cv", "--data", corpus, "--cache-dtype", "float16", "--mode",
               "online", "--out", str(out)]
    )
    assert "cache_dtype float16 needs mode cached" in _one_line_error(result)
    assert not out.exists()


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_cli_damaged_preset_weights(corpus, tmp_path, damage):
    from kser.convert import convert_checkpoint
    from tests.models.helpers import fixture_dir

    preset = tmp_path / "preset"
    convert_checkpoint(fixture_dir("hubert_tiny_base"), str(preset))
    weights = preset / "model.weights.h5"
    data = weights.read_bytes()
    if damage == "truncate":
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        weights.write_bytes(b"")
    else:
        weights.write_bytes(b"not an hdf5 file" * 64)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["train", "--data", corpus, "--fold", "1", "--preset", str(preset),
               "--epochs", "1",
               "--max-seconds", "1", "--out", str(out)]
    )
    line = _one_line_error(result)
    assert "model.weights.h5" in line and "kser convert" in line
    assert not out.exists()
