"""Checkpoint conversion: refusals, errors and the `kser convert` command."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.convert.transformers import convert_backbone_config
from kser.convert.transformers import fold_weight_norm
from kser.convert.transformers import load_transformers_checkpoint
from kser.convert.transformers import read_safetensors
from kser.errors import ConversionError
from tests.models.helpers import LAYOUTS
from tests.models.helpers import copy_checkpoint
from tests.models.helpers import fixture_dir


def _config(layout=LAYOUTS[0]):
    with open(os.path.join(fixture_dir(layout), "config.json")) as f:
        return json.load(f)


@pytest.mark.parametrize(
    "update, message",
    [
        ({"conv_pos_batch_norm": True}, "conv_pos_batch_norm"),
        ({"feat_extract_norm": "batch"}, "feat_extract_norm 'batch'"),
        ({"model_type": "wav2vec2"}, "model_type 'wav2vec2'"),
        ({"hidden_act": "relu"}, "hidden_act 'relu'"),
    ],
)
def test_unsupported_configs_are_refused(update, message):
    config = _config()
    config.update(update)
    with pytest.raises(ConversionError, match=message):
        convert_backbone_config(config)


def test_config_mapping_of_both_layouts():
    base = convert_backbone_config(_config(LAYOUTS[0]))
    large = convert_backbone_config(_config(LAYOUTS[1]))
    assert (base["feature_norm"], base["normalize_first"], base["conv_bias"]) == (
        "group", False, False)
    assert (large["feature_norm"], large["normalize_first"], large["conv_bias"]) == (
        "layer", True, True)
    assert base["hidden_dim"] == 32 and base["pos_conv_kernel_size"] == 16


def test_weight_norm_folding_formula():
    rng = np.random.default_rng(0)
    v = rng.standard_normal((6, 3, 4)).astype("float32")
    g = rng.uniform(0.5, 2.0, (1, 1, 4)).astype("float32")
    w = fold_weight_norm(g, v)
    for k in range(4):
        expected = g[0, 0, k] * v[:, :, k] / np.linalg.norm(v[:, :, k])
        np.testing.assert_allclose(w[:, :, k], expected, rtol=1e-6)


def test_missing_tensor_is_named(tmp_path):
    weights = read_safetensors(
        os.path.join(fixture_dir(LAYOUTS[0]), "model.safetensors")
    )
    del weights["encoder.layers.1.attention.q_proj.weight"]
    folder = copy_checkpoint(LAYOUTS[0], str(tmp_path / "c"), weights=weights)
    with pytest.raises(ConversionError, match="layers.1.attention.q_proj.weight"):
        load_transformers_checkpoint(folder)


def test_config_that_does_not_match_weights(tmp_path):
    folder = copy_checkpoint(
        LAYOUTS[0], str(tmp_path / "c"), config_update={"intermediate_size": 48}
    )
    with pytest.raises(ConversionError, match="does not match the weights"):
        load_transformers_checkpoint(folder)


def test_unknown_tensors_are_refused(tmp_path):
    weights = read_safetensors(
        os.path.join(fixture_dir(LAYOUTS[0]), "model.safetensors")
    )
    weights["encoder.adapter.weight"] = np.zeros((2, 2), "float32")
    folder = copy_checkpoint(LAYOUTS[0], str(tmp_path / "c"), weights=weights)
    with pytest.raises(ConversionError, match="encoder.adapter.weight"):
        load_transformers_checkpoint(folder)


def test_truncated_safetensors_is_named(tmp_path):
    folder = copy_checkpoint(LAYOUTS[0], str(tmp_path / "c"))
    path = os.path.join(folder, "model.safetensors")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ConversionError, match="model.safetensors"):
        load_transformers_checkpoint(folder)


def test_preprocessor_config_is_read(tmp_path):
    folder = copy_checkpoint(LAYOUTS[0], str(tmp_path / "c"))
    path = os.path.join(folder, "preprocessor_config.json")
    with open(path) as f:
        config = json.load(f)
    config["do_normalize"] = False
    with open(path, "w") as f:
        json.dump(config, f)
    _, converter, _ = load_transformers_checkpoint(folder)
    assert converter.do_normalize is False
    config["sampling_rate"] = 8000
    with open(path, "w") as f:
        json.dump(config, f)
    with pytest.raises(ConversionError, match="8000 Hz"):
        load_transformers_checkpoint(folder)


def test_cli_convert_writes_a_loadable_preset(tmp_path):
    out = str(tmp_path / "preset")
    result = CliRunner().invoke(main, ["convert", fixture_dir(LAYOUTS[1]), out])
    assert result.exit_code == 0, result.output
    assert "large (pre-LN)" in result.output
    from kser.models import HubertBackbone

    assert HubertBackbone.from_preset(out).normalize_first is True


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda t: [str(t / "nope"), str(t / "out")], "no such checkpoint folder"),
        (lambda t: [str(t), str(t / "out")], "no config.json"),
    ],
)
def test_cli_convert_errors_are_one_line(tmp_path, make_args, message):
    result = CliRunner().invoke(main, ["convert", *make_args(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kser: error:"), result.output
    assert message in lines[0]
    assert not os.path.exists(tmp_path / "out")


def test_cli_convert_refuses_to_overwrite(tmp_path):
    out = tmp_path / "preset"
    out.mkdir()
    result = CliRunner().invoke(main, ["convert", fixture_dir(LAYOUTS[0]), str(out)])
    assert result.exit_code == 2 and "--overwrite" in result.output
    result = CliRunner().invoke(
        main, ["convert", fixture_dir(LAYOUTS[0]), str(out), "--overwrite"]
    )
    assert result.exit_code == 0, result.output


def test_cli_convert_unsupported_config_leaves_nothing(tmp_path):
    folder = copy_checkpoint(
        LAYOUTS[0], str(tmp_path / "c"), config_update={"conv_pos_batch_norm": True}
    )
    result = CliRunner().invoke(main, ["convert", folder, str(tmp_path / "out")])
    assert result.exit_code == 2 and "conv_pos_batch_norm" in result.output
    assert sorted(os.listdir(tmp_path)) == ["c"]
