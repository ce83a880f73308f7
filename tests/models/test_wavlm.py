"""The WavLM family: parity with transformers on committed tiny fixtures,
conversion, loading, config and `.keras` round trips, presets, refusals.

The fixtures (tests/fixtures/make_wavlm_fixtures.py) hold transformers
`WavLMModel`s with random weights and their recorded outputs, so these
tests need neither torch nor transformers.
"""

import json
import os

import keras
import numpy as np
import pytest
from keras import ops

from kser.convert import convert_checkpoint
from kser.convert import get_converter
from kser.convert import load_transformers_checkpoint
from kser.convert.checkpoint import read_safetensors
from kser.convert.wavlm import convert_backbone_config
from kser.errors import ConversionError
from kser.models import EmotionClassifier
from kser.models import load_audio_converter
from kser.models import load_backbone
from kser.models.wavlm import WavLMAudioConverter
from kser.models.wavlm import WavLMBackbone
from kser.models.wavlm import backbone_presets
from kser.models.wavlm.layers import relative_position_buckets
from tests.models.helpers import backbone_outputs
from tests.models.helpers import call_in_training
from tests.models.helpers import copy_checkpoint
from tests.models.helpers import expected
from tests.models.helpers import fixture_dir
from tests.models.helpers import max_abs_diff

TOLERANCE = 1e-4
LAYOUTS = ("wavlm_tiny_base", "wavlm_tiny_large")
NORMALIZED = {"wavlm_tiny_base": True, "wavlm_tiny_large": False}
TINY = dict(
    hidden_dim=32,
    num_layers=2,
    num_heads=4,
    intermediate_dim=64,
    conv_dims=[32] * 7,
    pos_conv_kernel_size=16,
    pos_conv_groups=4,
    num_buckets=16,
    max_bucket_distance=24,
)


def _outputs(backbone, waveform, padding_mask):
    return backbone_outputs(
        backbone, {"waveform": waveform, "padding_mask": padding_mask}
    )


def _check(backbone, ref, kind):
    values = ref[f"{kind}_input_values"]
    mask = (
        ref["batch_attention_mask"] if kind == "batch"
        else np.ones_like(values, dtype="int32")
    )
    out = _outputs(backbone, values, mask)
    hidden = ref[f"{kind}_hidden_states"]
    assert out["hidden_states"].shape == hidden.shape
    for i in range(hidden.shape[1]):
        diff = max_abs_diff(out["hidden_states"][:, i], hidden[:, i])
        assert diff < TOLERANCE, f"hidden state {i}: max abs diff {diff}"
    diff = max_abs_diff(out["sequence_output"], ref[f"{kind}_last_hidden_state"])
    assert diff < TOLERANCE, f"last hidden state: max abs diff {diff}"
    return out


def _config(layout=LAYOUTS[0]):
    with open(os.path.join(fixture_dir(layout), "config.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module", params=LAYOUTS)
def converted(request):
    backbone, converter, ignored = load_transformers_checkpoint(
        fixture_dir(request.param)
    )
    return request.param, backbone, converter, ignored


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(1)
    return WavLMBackbone(**TINY)


# === Parity ===


def test_unpadded_clip_matches_transformers(converted):
    layout, backbone, converter, ignored = converted
    assert isinstance(backbone, WavLMBackbone)
    assert ignored == ["masked_spec_embed"]  # pretraining-only tensor
    assert converter.do_normalize is NORMALIZED[layout]
    _check(backbone, expected(layout), "single")


def test_padded_batch_matches_transformers(converted):
    layout, backbone, _, _ = converted
    ref = expected(layout)
    out = _check(backbone, ref, "batch")
    frames = backbone.num_frames(int(ref["padded_length"]))
    mask = out["frame_padding_mask"]
    assert mask[0].all()
    assert mask[1, :frames].all() and not mask[1, frames:].any()


def test_audio_converter_matches_feature_extractor(converted):
    layout, _, converter, _ = converted
    ref = expected(layout)
    raw = ref["raw_audio"].copy()
    length = int(ref["padded_length"])
    raw[1, length:] = 0.0
    mask = np.ones_like(raw, dtype="int32")
    mask[1, length:] = 0
    got = ops.convert_to_numpy(converter(raw, mask)["waveform"])
    assert max_abs_diff(got, ref["batch_input_values"]) < 1e-5
    assert np.all(got[1, length:] == 0.0)
    single = ops.convert_to_numpy(converter(raw[:1])["waveform"])
    assert max_abs_diff(single, ref["single_input_values"]) < 1e-5


def test_fixture_exercises_every_bucket_range():
    """37 frames, 16 buckets, max distance 24: exact, log-spaced and clamped
    buckets in both directions all occur (every bucket that can)."""
    config = _config()
    frames = expected(LAYOUTS[0])["single_hidden_states"].shape[2]
    buckets = ops.convert_to_numpy(
        relative_position_buckets(
            frames, config["num_buckets"], config["max_bucket_distance"]
        )
    )
    half = config["num_buckets"] // 2  # "after, distance 0" cannot occur
    assert set(buckets.ravel()) == set(range(config["num_buckets"])) - {half}
    assert frames - 1 > config["max_bucket_distance"]


def _reference_buckets(length, num_buckets, max_distance):
    # transformers' _relative_positions_bucket in float32 numpy.
    positions = np.arange(length)
    relative = positions[None, :] - positions[:, None]
    half = num_buckets // 2
    buckets = (relative > 0).astype(np.int64) * half
    relative = np.abs(relative)
    max_exact = half // 2
    scaled = np.maximum(relative, 1).astype(np.float32) / np.float32(max_exact)
    large = np.log(scaled)
    large = large / np.float32(np.log(max_distance / max_exact))
    large = large * np.float32(half - max_exact)
    large = np.minimum(
        (np.float32(max_exact) + large).astype(np.int64), half - 1
    )
    return buckets + np.where(relative < max_exact, relative, large)


def test_relative_position_buckets_match_reference_over_long_clips():
    got = ops.convert_to_numpy(relative_position_buckets(1500, 320, 800))
    np.testing.assert_array_equal(got, _reference_buckets(1500, 320, 800))


def test_relative_position_bias_matters(converted):
    """Zeroing layer 0's bucket embedding changes the output: the port's
    agreement with transformers depends on the bias being right."""
    layout, backbone, _, _ = converted
    ref = expected(layout)
    clone = WavLMBackbone.from_config(backbone.get_config())
    clone.set_weights(backbone.get_weights())
    embed = clone.encoder_layers[0].rel_attn_embed.embeddings
    embed.assign(np.zeros(embed.shape, "float32"))
    values = ref["single_input_values"]
    out = _outputs(clone, values, np.ones_like(values, "int32"))
    assert max_abs_diff(
        out["sequence_output"], ref["single_last_hidden_state"]
    ) > 1e-2


@pytest.mark.parametrize("layout", LAYOUTS)
def test_padding_invariant_mode_matches_each_clip_alone(layout):
    backbone, _, _ = load_transformers_checkpoint(fixture_dir(layout))
    config = backbone.get_config()
    config["padding_invariant"] = True
    invariant = WavLMBackbone.from_config(config)
    invariant.set_weights(backbone.get_weights())
    ref = expected(layout)
    batch = _outputs(
        invariant, ref["batch_input_values"], ref["batch_attention_mask"]
    )
    length = int(ref["padded_length"])
    alone_input = ref["batch_input_values"][1:, :length]
    alone = _outputs(invariant, alone_input, np.ones_like(alone_input, "int32"))
    frames = alone["sequence_output"].shape[1]
    diff = max_abs_diff(
        batch["hidden_states"][1:, :, :frames], alone["hidden_states"]
    )
    assert diff < TOLERANCE, diff
    diff = max_abs_diff(batch["hidden_states"][:1], ref["single_hidden_states"])
    assert diff < TOLERANCE, diff


# === Conversion and loading ===


@pytest.mark.parametrize("layout", LAYOUTS)
def test_convert_then_load_backbone_and_from_preset(layout, tmp_path):
    from keras_hub.models import Backbone

    out_dir = str(tmp_path / "preset")
    report = convert_checkpoint(fixture_dir(layout), out_dir)
    assert report.startswith("converted") and "WavLM" in report
    backbone = load_backbone(out_dir)
    assert isinstance(backbone, WavLMBackbone)
    assert isinstance(Backbone.from_preset(out_dir), WavLMBackbone)
    assert isinstance(WavLMBackbone.from_preset(out_dir), WavLMBackbone)
    converter = load_audio_converter(out_dir)
    assert isinstance(converter, WavLMAudioConverter)
    assert converter.do_normalize is NORMALIZED[layout]
    _check(backbone, expected(layout), "batch")
    assert os.listdir(str(tmp_path)) == ["preset"]


def test_registry_dispatches_on_model_type():
    converter = get_converter("wavlm")
    assert converter.backbone_cls is WavLMBackbone
    assert converter.audio_converter_cls is WavLMAudioConverter


@pytest.mark.parametrize("spelling", ["weight_g", "weight_v"])
def test_legacy_weight_norm_spelling(tmp_path, spelling):
    """Old checkpoints store the positional conv as weight_g / weight_v."""
    layout = LAYOUTS[1]
    weights = read_safetensors(
        os.path.join(fixture_dir(layout), "model.safetensors")
    )
    renamed = {}
    for key, value in weights.items():
        key = key.replace("parametrizations.weight.original0", "weight_g")
        key = key.replace("parametrizations.weight.original1", "weight_v")
        renamed[key] = value
    assert "encoder.pos_conv_embed.conv." + spelling in renamed
    folder = copy_checkpoint(layout, str(tmp_path / "legacy"), weights=renamed)
    backbone, _, _ = load_transformers_checkpoint(folder)
    _check(backbone, expected(layout), "batch")


def test_task_checkpoint_prefix_and_ignored_tensors(tmp_path):
    """WavLMForCTC / XVector-style keys: `wavlm.` prefix, heads and
    pretraining tensors set aside and listed."""
    layout = LAYOUTS[0]
    weights = read_safetensors(
        os.path.join(fixture_dir(layout), "model.safetensors")
    )
    prefixed = {"wavlm." + k: v for k, v in weights.items()}
    extra = {
        "lm_head.weight": (5, 32),
        "feature_extractor.weight": (4, 32),
        "tdnn.0.kernel.weight": (4, 4),
        "objective.weight": (4, 2),
        "quantizer.codevectors": (1, 4, 2),
    }
    for key, shape in extra.items():
        prefixed[key] = np.zeros(shape, "float32")
    folder = copy_checkpoint(layout, str(tmp_path / "task"), weights=prefixed)
    backbone, _, ignored = load_transformers_checkpoint(folder)
    assert ignored == sorted(list(extra) + ["masked_spec_embed"])
    _check(backbone, expected(layout), "single")


def test_unknown_tensor_is_refused(tmp_path):
    layout = LAYOUTS[0]
    weights = read_safetensors(
        os.path.join(fixture_dir(layout), "model.safetensors")
    )
    weights["encoder.layers.1.attention.rel_attn_embed.weight"] = np.zeros(
        (16, 4), "float32"
    )
    folder = copy_checkpoint(layout, str(tmp_path / "odd"), weights=weights)
    with pytest.raises(ConversionError, match="does not use") as info:
        load_transformers_checkpoint(folder)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "update, message",
    [
        ({"conv_pos_batch_norm": True}, "conv_pos_batch_norm"),
        ({"add_adapter": True}, "add_adapter"),
        ({"adapter_attn_dim": 16}, "adapter_attn_dim"),
        ({"feat_extract_norm": "batch"}, "feat_extract_norm 'batch'"),
        ({"hidden_act": "relu"}, "hidden_act 'relu'"),
        ({"num_buckets": 2}, "num_buckets 2"),
        ({"max_bucket_distance": 4}, "max_bucket_distance 4"),
    ],
)
def test_unsupported_configs_are_refused_in_one_line(update, message):
    config = _config()
    config.update(update)
    with pytest.raises(ConversionError, match=message) as info:
        convert_backbone_config(config)
    assert "\n" not in str(info.value)


def test_preprocessor_sample_rate_is_refused(tmp_path):
    folder = copy_checkpoint(LAYOUTS[0], str(tmp_path / "sr"))
    path = os.path.join(folder, "preprocessor_config.json")
    with open(path) as f:
        config = json.load(f)
    config["sampling_rate"] = 8000
    with open(path, "w") as f:
        json.dump(config, f)
    with pytest.raises(ConversionError, match="8000 Hz") as info:
        load_transformers_checkpoint(folder)
    assert "\n" not in str(info.value)


# === Config, saving, dtypes, presets ===


def test_get_config_from_config_round_trip(tiny):
    config = tiny.get_config()
    json.dumps(config)
    restored = WavLMBackbone.from_config(config)
    assert restored.get_config() == config
    restored.set_weights(tiny.get_weights())
    inputs = {
        "waveform": np.random.default_rng(0).standard_normal((2, 6400)).astype(
            "float32"
        ),
        "padding_mask": np.ones((2, 6400), "int32"),
    }
    assert max_abs_diff(
        _outputs(restored, **inputs)["hidden_states"],
        _outputs(tiny, **inputs)["hidden_states"],
    ) == 0.0


def test_emotion_classifier_keras_file_round_trip(tiny, tmp_path):
    model = EmotionClassifier(tiny, head="dense", layers="weighted")
    rng = np.random.default_rng(0)
    waveform = (0.1 * rng.standard_normal((2, 4000))).astype("float32")
    mask = np.ones((2, 4000), "int32")
    mask[1, 2500:] = 0
    waveform[mask == 0] = 0.0
    x = {"waveform": waveform, "padding_mask": mask}
    logits = model.predict(x, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, EmotionClassifier)
    assert isinstance(loaded.backbone, WavLMBackbone)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), logits, atol=1e-5)


def test_mixed_bfloat16_tracks_float32(tiny):
    config = tiny.get_config()
    config["dtype"] = "mixed_bfloat16"
    low = WavLMBackbone.from_config(config)
    low.set_weights(tiny.get_weights())
    waveform = np.random.default_rng(2).standard_normal((2, 6400)).astype(
        "float32"
    )
    mask = np.ones((2, 6400), "int32")
    mask[1, 4000:] = 0
    ref = _outputs(tiny, waveform, mask)["sequence_output"]
    inputs = {"waveform": waveform, "padding_mask": mask}
    out = backbone_outputs(low, inputs)["sequence_output"]
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    got = out.astype("float32")
    assert np.all(np.isfinite(got))
    rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    assert rel < 0.05, rel


@pytest.mark.parametrize("name", sorted(backbone_presets))
def test_named_presets_build_with_their_parameter_count(name):
    backbone = load_backbone(name, load_weights=False)
    assert isinstance(backbone, WavLMBackbone)
    config = backbone_presets[name]["config"]
    assert backbone.hidden_dim == config["hidden_dim"]
    assert backbone.num_layers == config["num_layers"]
    assert backbone.normalize_first == config["normalize_first"]
    assert backbone.count_params() == backbone_presets[name]["metadata"]["params"]
    assert load_audio_converter(name).do_normalize is False


def test_layer_without_bias_needs_layer_zero(tiny):
    layer = tiny.encoder_layers[1]
    x = np.zeros((1, 5, 32), "float32")
    with pytest.raises(ValueError, match="position_bias"):
        layer(x, np.ones((1, 5), bool))


def test_training_call_takes_the_dropout_path(tiny):
    """With dropout active (training=True) the explicit-softmax attention
    runs; outputs stay finite and differ from inference."""
    waveform = np.random.default_rng(3).standard_normal((2, 4000)).astype(
        "float32"
    )
    mask = np.ones((2, 4000), "int32")
    mask[1, 3000:] = 0
    inputs = {"waveform": waveform, "padding_mask": mask}
    train = call_in_training(tiny, inputs)["sequence_output"]
    train = ops.convert_to_numpy(train)
    infer = backbone_outputs(tiny, inputs)["sequence_output"]
    assert np.all(np.isfinite(train))
    assert max_abs_diff(train, infer) > 1e-3


def test_audio_converter_in_tf_data():
    import tensorflow as tf

    ref = expected(LAYOUTS[0])
    converter = WavLMAudioConverter(do_normalize=True)
    ds = tf.data.Dataset.from_tensor_slices(ref["raw_audio"][:1]).batch(1)
    (out,) = list(ds.map(converter).as_numpy_iterator())
    assert max_abs_diff(out["waveform"], ref["single_input_values"]) < 1e-5
