"""The model seams: family registry and loader, head registry, frame
arithmetic in one place, old names and old presets still loading."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kser.convert import convert_checkpoint
from kser.errors import PresetError
from kser.models import EmotionClassifier
from kser.models import FAMILIES
from kser.models import HEADS
from kser.models import build_backbone
from kser.models import build_head
from kser.models import load_audio_converter
from kser.models import load_backbone
from kser.models.heads import head_defaults
from kser.models.waveform import conv_output_length
from kser.models.waveform import normalize_waveform
from tests.models.helpers import LAYOUTS
from tests.models.helpers import TINY_BACKBONE
from tests.models.helpers import backbone_outputs
from tests.models.helpers import fixture_dir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


@pytest.fixture(scope="module")
def preset_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("seams") / "preset")
    convert_checkpoint(fixture_dir(LAYOUTS[0]), out)
    return out


def test_loader_picks_the_family_from_the_preset(preset_dir):
    backbone = load_backbone(preset_dir, dtype="mixed_bfloat16")
    assert type(backbone).__name__ == "HubertBackbone"
    assert backbone.dtype_policy.name == "mixed_bfloat16"
    assert backbone.hidden_dim == 32
    assert load_audio_converter(preset_dir).do_normalize is True
    named = load_backbone("hubert_base_ls960", load_weights=False)
    assert named.hidden_dim == 768
    assert load_audio_converter("hubert_base_ls960").do_normalize is True
    assert "hubert" in FAMILIES


def test_loader_errors_are_one_line(tmp_path, preset_dir):
    with pytest.raises(PresetError, match="unknown preset 'nope'") as info:
        load_backbone("nope")
    assert "\n" not in str(info.value)
    with pytest.raises(PresetError, match="no config.json"):
        load_backbone(str(tmp_path))
    odd = tmp_path / "odd"
    odd.mkdir()
    config = json.load(open(os.path.join(preset_dir, "config.json")))
    config["class_name"] = config["registered_name"] = "kser>OtherBackbone"
    (odd / "config.json").write_text(json.dumps(config))
    with pytest.raises(PresetError, match="no registered family"):
        load_backbone(str(odd))
    with pytest.raises(PresetError, match="unknown backbone family"):
        build_backbone("nope")


def test_keras_hub_loads_a_converted_preset_in_a_fresh_process(preset_dir):
    # keras-hub finds the class from the preset's config once the family
    # is registered (importing it, or any kser model name, does that).
    code = (
        "import sys, keras_hub, kser.models.hubert\n"
        "b = keras_hub.models.Backbone.from_preset(sys.argv[1])\n"
        "print(type(b).__name__, b.hidden_dim)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, preset_dir],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["HubertBackbone", "32"]


def test_old_module_paths_still_resolve():
    from kser.models.hubert_backbone import HubertBackbone as old
    from kser.models import HubertBackbone

    assert old is HubertBackbone
    # The old registered layer names deserialize to the shared layers.
    from kser.models.hubert.layers import HubertEncoderLayer  # noqa: F401

    objects = keras.saving.get_custom_objects()
    assert objects["kser>HubertEncoderLayer"].__name__ == "TransformerEncoderLayer"


def test_frame_arithmetic_has_one_home():
    backbone = build_backbone("hubert", **TINY_BACKBONE)
    assert backbone.min_samples == 400
    assert backbone.num_frames(399) == 0
    assert backbone.num_frames(400) == 1
    assert backbone.num_frames(16000) == 49
    assert backbone.samples_per_frame == 320
    for n in (400, 999, 16000, 48123):
        out = backbone_outputs(
            backbone,
            {"waveform": np.zeros((1, n), "float32"),
             "padding_mask": np.ones((1, n), "int32")},
        )
        assert out["sequence_output"].shape[1] == backbone.num_frames(n)
    # Tensor lengths too (the frame padding mask uses the same function).
    lengths = keras.ops.convert_to_tensor(np.array([400, 16000]), "int32")
    got = keras.ops.convert_to_numpy(
        conv_output_length(lengths, backbone.conv_kernel_sizes,
                           backbone.conv_strides)
    )
    assert got.tolist() == [1, 49]


def test_normalization_agrees_across_numpy_and_keras():
    rng = np.random.default_rng(0)
    waveform = (rng.normal(size=(2, 800)) * 3 + 1).astype("float32")
    mask = np.ones((2, 800), "int32")
    mask[1, 500:] = 0
    ours = normalize_waveform(waveform[1, :500])
    keras_out = keras.ops.convert_to_numpy(
        normalize_waveform(keras.ops.convert_to_tensor(waveform),
                           keras.ops.convert_to_tensor(mask), xp=keras.ops)
    )
    np.testing.assert_allclose(keras_out[1, :500], ours, atol=1e-5)
    assert np.all(keras_out[1, 500:] == 0)
    x = waveform[0].astype(np.float64)
    reference = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    np.testing.assert_allclose(normalize_waveform(waveform[0]), reference,
                               atol=1e-6)
    assert np.all(normalize_waveform(np.zeros(10)) == 0)


def test_head_registry(monkeypatch):
    assert set(HEADS) >= {"dense", "lstm"}
    assert head_defaults("lstm") == {"lstm_units": 256, "dropout": 0.2,
                                     "lstm_impl": "fast"}
    # Arguments of another head are ignored; unknown ones are errors.
    head = build_head("dense", feature_dim=8, num_classes=3, hidden_units=4,
                      lstm_units=5)
    assert head.get_layer("hidden").units == 4
    with pytest.raises(ValueError, match="unknown head argument"):
        build_head("dense", feature_dim=8, hiden_units=4)
    with pytest.raises(ValueError, match="unknown head 'gru'"):
        build_head("gru", feature_dim=8)

    def max_pool_head(x, frame_padding_mask, num_classes, scale=1.0):
        x = keras.layers.GlobalMaxPooling1D(name="max_pool")(x)
        return keras.layers.Dense(num_classes, name="logits")(x * scale)

    monkeypatch.setitem(HEADS, "maxpool", max_pool_head)
    backbone = build_backbone("hubert", **TINY_BACKBONE)
    model = EmotionClassifier(backbone, head="maxpool",
                              label_names=["a", "b"],
                              head_args={"scale": 2.0})
    # One compiled call (eager jax compiles every op at a new shape: ~14 s).
    out = model.predict_on_batch({"waveform": np.zeros((1, 1600), "float32"),
                                  "padding_mask": np.ones((1, 1600), "int32")})
    assert out.shape == (1, 2)
    assert model.get_config()["head_args"] == {"scale": 2.0}


def test_classifier_takes_label_names_and_old_configs_load():
    backbone = build_backbone("hubert", **TINY_BACKBONE)
    model = EmotionClassifier(backbone, head="dense",
                              label_names=["neutral", "angry", "sad"],
                              head_args={"hidden_units": 8})
    config = model.get_config()
    assert config["label_names"] == ["neutral", "angry", "sad"]
    assert config["head_args"] == {"hidden_units": 8}
    # A config saved before `head_args` (both heads' sizes given directly).
    legacy = dict(config)
    del legacy["head_args"]
    legacy.update(hidden_units=8, dropout=0.1, lstm_units=256)
    legacy["backbone"] = keras.layers.serialize(backbone)
    rebuilt = EmotionClassifier.from_config(legacy)
    assert rebuilt.head.get_layer("hidden").units == 8
    assert rebuilt.head_args == {"hidden_units": 8, "dropout": 0.1}
    default = EmotionClassifier(backbone)
    assert len(default.label_names) == 8 and default.label_names[0] == "neutral"
