"""HubertBackbone: config, saving, presets, dtypes, tf.data."""

import json
import os

import keras
import numpy as np
import pytest

from kser.convert.transformers import convert_checkpoint
from kser.errors import PresetError
from kser.models import HubertAudioConverter
from kser.models import HubertBackbone
from kser.models import backbone_presets
from tests.models.helpers import LAYOUTS
from tests.models.helpers import TINY_BACKBONE
from tests.models.helpers import backbone_outputs
from tests.models.helpers import expected
from tests.models.helpers import fixture_dir
from tests.models.helpers import max_abs_diff


def _inputs(batch=2, samples=6400, pad=1600, seed=0):
    rng = np.random.default_rng(seed)
    waveform = rng.standard_normal((batch, samples)).astype("float32")
    mask = np.ones((batch, samples), "int32")
    mask[-1, samples - pad :] = 0
    waveform[-1, samples - pad :] = 0.0
    return {"waveform": waveform, "padding_mask": mask}


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(1)
    return HubertBackbone(**TINY_BACKBONE)


def test_output_shapes_and_frame_mask(tiny):
    inputs = _inputs()
    out = backbone_outputs(tiny, inputs)
    frames = tiny.num_frames(6400)
    assert frames == 19 and tiny.samples_per_frame == 320
    assert out["sequence_output"].shape == (2, frames, 32)
    assert out["hidden_states"].shape == (2, 3, frames, 32)
    assert out["frame_padding_mask"].dtype == bool
    valid = tiny.num_frames(6400 - 1600)
    assert out["frame_padding_mask"][1].sum() == valid
    assert out["frame_padding_mask"][0].all()
    # Base layout: the last hidden state is the last entry of hidden_states.
    np.testing.assert_array_equal(
        out["hidden_states"][:, -1], out["sequence_output"]
    )


def test_padding_does_not_change_valid_frames_for_layer_norm_layout():
    """With the layer-norm conv encoder (no statistics over time), extra
    padding leaves the valid frames unchanged."""
    keras.utils.set_random_seed(2)
    backbone = HubertBackbone(
        **TINY_BACKBONE, feature_norm="layer", normalize_first=True
    )
    inputs = _inputs(batch=1, samples=4800, pad=0)
    short = backbone_outputs(backbone, inputs)["sequence_output"]
    padded = {
        "waveform": np.pad(inputs["waveform"], ((0, 0), (0, 3200))),
        "padding_mask": np.pad(inputs["padding_mask"], ((0, 0), (0, 3200))),
    }
    long = backbone_outputs(backbone, padded)["sequence_output"]
    assert max_abs_diff(long[:, : short.shape[1]], short) < 1e-4


def test_get_config_from_config_round_trip(tiny):
    config = tiny.get_config()
    json.dumps(config)  # plain data
    restored = HubertBackbone.from_config(config)
    assert restored.get_config() == config
    restored.set_weights(tiny.get_weights())
    inputs = _inputs()
    assert max_abs_diff(
        backbone_outputs(restored, inputs)["sequence_output"],
        backbone_outputs(tiny, inputs)["sequence_output"],
    ) == 0.0


def test_keras_file_save_and_load(tiny, tmp_path):
    path = str(tmp_path / "backbone.keras")
    tiny.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, HubertBackbone)
    inputs = _inputs()
    for key in ("sequence_output", "hidden_states"):
        assert max_abs_diff(
            backbone_outputs(loaded, inputs)[key], backbone_outputs(tiny, inputs)[key]
        ) < 1e-6


def test_predict_on_tf_data(tiny):
    import tensorflow as tf

    inputs = _inputs(batch=4)
    ds = tf.data.Dataset.from_tensor_slices(inputs).batch(2)
    out = tiny.predict(ds, verbose=0)
    direct = backbone_outputs(tiny, inputs)
    assert max_abs_diff(out["sequence_output"], direct["sequence_output"]) < 1e-5


@pytest.mark.parametrize("dtype", ["bfloat16", "mixed_bfloat16"])
def test_bfloat16_policy_tracks_float32(tiny, dtype):
    config = tiny.get_config()
    config["dtype"] = dtype
    low = HubertBackbone.from_config(config)
    low.set_weights(tiny.get_weights())
    inputs = _inputs()
    ref = backbone_outputs(tiny, inputs)["sequence_output"]
    out = backbone_outputs(low, inputs)["sequence_output"]
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    got = out.astype("float32")
    assert np.all(np.isfinite(got))
    # bfloat16 keeps ~3 significant digits; through 2 layers stay close.
    rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    assert rel < 0.05, rel


@pytest.mark.parametrize("layout", LAYOUTS)
def test_convert_then_from_preset(layout, tmp_path):
    out_dir = str(tmp_path / "preset")
    report = convert_checkpoint(fixture_dir(layout), out_dir)
    assert "parameters" in report
    for name in ("config.json", "model.weights.h5", "metadata.json",
                 "audio_converter.json", "kser_conversion.json"):
        assert os.path.exists(os.path.join(out_dir, name)), name
    backbone = HubertBackbone.from_preset(out_dir)
    converter = HubertAudioConverter.from_preset(out_dir)
    assert converter.do_normalize is True
    ref = expected(layout)
    out = backbone_outputs(
        backbone,
        {
            "waveform": ref["batch_input_values"],
            "padding_mask": ref["batch_attention_mask"],
        },
    )
    assert max_abs_diff(out["hidden_states"], ref["batch_hidden_states"]) < 1e-4
    # No temporary folders left beside the preset.
    assert os.listdir(str(tmp_path)) == ["preset"]


def test_from_preset_dtype_override(tmp_path):
    out_dir = str(tmp_path / "preset")
    convert_checkpoint(fixture_dir(LAYOUTS[0]), out_dir)
    backbone = HubertBackbone.from_preset(out_dir, dtype="mixed_bfloat16")
    assert backbone.dtype_policy.name == "mixed_bfloat16"


@pytest.mark.parametrize("name", sorted(backbone_presets))
def test_named_presets_build_their_architecture(name):
    backbone = HubertBackbone.from_preset(name, load_weights=False)
    config = backbone_presets[name]["config"]
    assert backbone.hidden_dim == config["hidden_dim"]
    assert backbone.num_layers == config["num_layers"]
    assert backbone.normalize_first == config["normalize_first"]
    assert backbone.feature_norm == config["feature_norm"]
    assert backbone.count_params() == backbone_presets[name]["metadata"]["params"]


def test_named_preset_without_weights_explains_conversion(tmp_path, monkeypatch):
    monkeypatch.setenv("KSER_HOME", str(tmp_path))
    with pytest.raises(PresetError, match="kser convert"):
        HubertBackbone.from_preset("hubert_base_ls960")


def test_named_preset_finds_converted_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KSER_HOME", str(tmp_path))
    convert_checkpoint(
        fixture_dir(LAYOUTS[0]),
        str(tmp_path / "presets" / "hubert_base_ls960"),
    )
    backbone = HubertBackbone.from_preset("hubert_base_ls960")
    assert backbone.hidden_dim == 32  # the converted tiny model, not base


def test_unknown_preset_is_a_clear_error(tmp_path):
    with pytest.raises(PresetError, match="unknown preset"):
        HubertBackbone.from_preset("hubert_gigantic")
    with pytest.raises(PresetError, match="no config.json"):
        HubertBackbone.from_preset(str(tmp_path))
