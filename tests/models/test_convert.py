"""Checkpoint conversion: refusals, errors and the `kser convert` command."""

import hashlib
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.convert import CONVERTERS
from kser.convert import get_converter
from kser.convert import load_transformers_checkpoint
from kser.convert.checkpoint import read_safetensors
from kser.convert.hubert import convert_backbone_config
from kser.convert.hubert import fold_weight_norm
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
        ({"hidden_act": "relu"}, "hidden_act 'relu'"),
    ],
)
def test_unsupported_configs_are_refused(update, message):
    config = _config()
    config.update(update)
    with pytest.raises(ConversionError, match=message):
        convert_backbone_config(config)


def test_registry_dispatches_on_model_type():
    assert CONVERTERS["hubert"] == "kser.convert.hubert"
    assert {"wav2vec2", "wavlm", "data2vec-audio"} <= set(CONVERTERS)
    converter = get_converter("hubert")
    for name in (
        "convert_backbone_config",
        "convert_weights",
        "load_audio_converter_config",
        "describe",
    ):
        assert callable(getattr(converter, name)), name
    assert converter.backbone_cls.__name__ == "HubertBackbone"
    assert converter.audio_converter_cls.__name__ == "HubertAudioConverter"


@pytest.mark.parametrize(
    "model_type, found",
    [("whisper", "has model_type 'whisper'"), (None, "has no model_type")],
)
def test_unsupported_model_type_is_one_line(tmp_path, model_type, found):
    folder = copy_checkpoint(
        LAYOUTS[0], str(tmp_path / "c"), config_update={"model_type": model_type}
    )
    with pytest.raises(ConversionError) as info:
        load_transformers_checkpoint(folder)
    message = str(info.value)
    assert "\n" not in message
    assert found in message and "supported model types: 'hubert'" in message


def test_old_import_paths_still_work():
    from kser.convert import transformers

    for name in (
        "convert_audio_converter_config",
        "convert_backbone_config",
        "convert_checkpoint",
        "convert_weights",
        "fold_weight_norm",
        "load_checkpoint_weights",
        "load_hf_config",
        "load_transformers_checkpoint",
        "read_safetensors",
        "transformers_config_kwargs",
    ):
        assert callable(getattr(transformers, name)), name
    with pytest.raises(ConversionError, match="model_type 'whisper'"):
        transformers.convert_backbone_config({**_config(), "model_type": "whisper"})
    assert transformers.transformers_config_kwargs("hubert_large_ll60k")[
        "do_stable_layer_norm"
    ] is True


def test_convert_package_is_light():
    """kser.convert loads neither Keras nor kser.data until it converts."""
    code = (
        "import sys, kser.convert, kser.convert.hubert, "
        "kser.convert.transformers; "
        "print(sorted(m for m in sys.modules if m == 'keras' "
        "or m.startswith('kser.data')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# Order-free digests of every converted weight (dtype, shape, bytes), pinned
# from the fixtures: conversion must keep the weights bit for bit.
_WEIGHT_DIGESTS = {
    "hubert_tiny_base": "6494c17c95533beb09bdf55519e728cf44f9fe628f45b55e7548a26735b87abb",
    "hubert_tiny_large": "620c7979b7305610578b6434867fe07261579ae60a3ae57556ee626a2b646414",
}


def _weights_digest(model):
    digests = []
    for weight in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digests.append(
            hashlib.sha256(
                f"{value.dtype.str}{value.shape};".encode() + value.tobytes()
            ).hexdigest()
        )
    return hashlib.sha256("".join(sorted(digests)).encode()).hexdigest()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_converted_weights_are_bit_identical(layout, tmp_path):
    backbone, converter, ignored = load_transformers_checkpoint(fixture_dir(layout))
    assert _weights_digest(backbone) == _WEIGHT_DIGESTS[layout]
    assert ignored == ["masked_spec_embed"]
    from kser.convert import convert_checkpoint
    from kser.models import HubertBackbone
    from kser.models.fingerprint import weights_fingerprint

    out = str(tmp_path / "preset")
    convert_checkpoint(fixture_dir(layout), out)
    assert sorted(os.listdir(out)) == [
        "audio_converter.json",
        "config.json",
        "kser_conversion.json",
        "metadata.json",
        "model.weights.h5",
    ]
    with open(os.path.join(out, "kser_conversion.json")) as f:
        record = json.load(f)
    assert record["weights_fingerprint"] == weights_fingerprint(backbone)
    assert record["ignored_keys"] == ["masked_spec_embed"]
    loaded = HubertBackbone.from_preset(out)
    assert _weights_digest(loaded) == _WEIGHT_DIGESTS[layout]


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
