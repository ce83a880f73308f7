"""The wav2vec2 family: parity with transformers' `Wav2Vec2Model` on
committed tiny fixtures (tests/fixtures/make_wav2vec2_fixtures.py),
conversion, loading, saving, presets and refusals. Needs neither torch nor
transformers."""

import os

import numpy as np
import pytest

from kser.convert import CONVERTERS
from kser.convert import get_converter
from kser.convert import load_transformers_checkpoint
from kser.convert.checkpoint import read_safetensors
from kser.convert.wav2vec2 import convert_backbone_config
from kser.models import FAMILIES
from kser.models.wav2vec2 import Wav2Vec2AudioConverter
from kser.models.wav2vec2 import Wav2Vec2Backbone
from kser.models.wav2vec2 import backbone_presets
from tests.models import speech_family_checks as checks
from tests.models.helpers import copy_checkpoint
from tests.models.helpers import max_abs_diff

LAYOUTS = ("wav2vec2_tiny_base", "wav2vec2_tiny_large")


@pytest.fixture(scope="module", params=LAYOUTS)
def converted(request):
    backbone, converter, ignored = load_transformers_checkpoint(
        checks.fixture_dir(request.param)
    )
    return request.param, backbone, converter, ignored


def test_registered_in_both_registries():
    assert FAMILIES["wav2vec2"] == "kser.models.wav2vec2"
    assert CONVERTERS["wav2vec2"] == "kser.convert.wav2vec2"
    converter = get_converter("wav2vec2")
    assert converter.backbone_cls is Wav2Vec2Backbone
    assert converter.audio_converter_cls is Wav2Vec2AudioConverter


def test_unpadded_clip_matches_transformers(converted):
    layout, backbone, converter, ignored = converted
    assert type(backbone) is Wav2Vec2Backbone
    assert type(converter) is Wav2Vec2AudioConverter
    assert ignored == ["masked_spec_embed"]  # training-only tensor
    checks.check_parity(backbone, checks.expected(layout), batch=False)


def test_padded_batch_matches_transformers(converted):
    layout, backbone, _, _ = converted
    ref = checks.expected(layout)
    out, _ = checks.check_parity(backbone, ref, batch=True)
    checks.check_frame_mask(backbone, ref, out)


def test_layouts_map_to_the_right_options(converted):
    layout, backbone, _, _ = converted
    large = layout.endswith("large")
    assert backbone.normalize_first is large
    assert backbone.feature_norm == ("layer" if large else "group")
    assert backbone.conv_bias is large


def test_audio_converter_matches_feature_extractor(converted):
    layout, _, converter, _ = converted
    checks.check_audio_converter(converter, checks.expected(layout))


def test_legacy_weight_norm_spelling(tmp_path):
    """Old checkpoints store the positional conv as weight_g / weight_v."""
    layout = LAYOUTS[0]
    weights = read_safetensors(
        os.path.join(checks.fixture_dir(layout), "model.safetensors")
    )
    renamed = {}
    for key, value in weights.items():
        key = key.replace("parametrizations.weight.original0", "weight_g")
        key = key.replace("parametrizations.weight.original1", "weight_v")
        renamed[key] = value
    assert "encoder.pos_conv_embed.conv.weight_g" in renamed
    folder = copy_checkpoint(layout, str(tmp_path / "legacy"), weights=renamed)
    backbone, _, _ = load_transformers_checkpoint(folder)
    checks.check_parity(backbone, checks.expected(layout), batch=True)


def test_pretraining_checkpoint_drops_the_quantizer(tmp_path):
    """Wav2Vec2ForPreTraining keys: `wav2vec2.` prefix, quantizer,
    project_q and project_hid, which are ignored and listed."""
    layout = LAYOUTS[1]
    weights = read_safetensors(
        os.path.join(checks.fixture_dir(layout), "model.safetensors")
    )
    prefixed = {"wav2vec2." + k: v for k, v in weights.items()}
    extra = {
        "quantizer.codevectors": np.zeros((1, 8, 4), "float32"),
        "quantizer.weight_proj.weight": np.zeros((8, 32), "float32"),
        "quantizer.weight_proj.bias": np.zeros((8,), "float32"),
        "project_q.weight": np.zeros((4, 4), "float32"),
        "project_q.bias": np.zeros((4,), "float32"),
        "project_hid.weight": np.zeros((4, 32), "float32"),
        "project_hid.bias": np.zeros((4,), "float32"),
    }
    folder = copy_checkpoint(
        layout, str(tmp_path / "pretraining"), weights={**prefixed, **extra}
    )
    backbone, _, ignored = load_transformers_checkpoint(folder)
    assert ignored == sorted([*extra, "masked_spec_embed"])
    checks.check_parity(backbone, checks.expected(layout), batch=False)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_convert_then_load_through_kser_and_keras_hub(layout, tmp_path):
    out_dir = checks.check_convert_and_load(
        layout, tmp_path, Wav2Vec2Backbone, Wav2Vec2AudioConverter
    )
    if layout == LAYOUTS[0]:
        checks.check_keras_hub_loads(
            out_dir, "kser.models.wav2vec2", "Wav2Vec2Backbone"
        )


def test_padding_invariant_base_matches_each_clip_alone():
    layout = LAYOUTS[0]
    backbone, _, _ = load_transformers_checkpoint(checks.fixture_dir(layout))
    config = backbone.get_config()
    config["padding_invariant"] = True
    invariant = Wav2Vec2Backbone.from_config(config)
    invariant.set_weights(backbone.get_weights())
    ref = checks.expected(layout)
    batch = checks.outputs(
        invariant, ref["batch_input_values"], ref["batch_attention_mask"]
    )
    alone_input = ref["batch_input_values"][1:, : int(ref["padded_length"])]
    alone = checks.outputs(
        invariant, alone_input, np.ones_like(alone_input, "int32")
    )
    frames = alone["sequence_output"].shape[1]
    diff = max_abs_diff(batch["hidden_states"][1:, :, :frames], alone["hidden_states"])
    assert diff < checks.TOLERANCE, diff
    diff = max_abs_diff(batch["hidden_states"][:1], ref["single_hidden_states"])
    assert diff < checks.TOLERANCE, diff


def test_config_round_trip_and_bfloat16(converted):
    _, backbone, _, _ = converted
    checks.check_config_round_trip(backbone)
    checks.check_bfloat16_tracks_float32(backbone)


def test_emotion_classifier_keras_file_round_trip(converted, tmp_path):
    _, backbone, _, _ = converted
    checks.check_classifier_save_load(backbone, tmp_path)


def test_named_presets_build_and_match_param_counts():
    assert sorted(backbone_presets) == [
        "wav2vec2_base",
        "wav2vec2_large_lv60",
        "wav2vec2_large_robust",
        "wav2vec2_xls_r_300m",
    ]
    checks.check_named_presets(Wav2Vec2Backbone, backbone_presets, "wav2vec2")


@pytest.mark.parametrize(
    "update, message",
    [
        ({"conv_pos_batch_norm": True}, "conv_pos_batch_norm"),
        ({"add_adapter": True}, "add_adapter"),
        ({"adapter_attn_dim": 16}, "adapter_attn_dim"),
        ({"hidden_act": "relu"}, "hidden_act 'relu'"),
        ({"feat_extract_activation": "swish"}, "feat_extract_activation"),
        ({"feat_extract_norm": "batch"}, "feat_extract_norm 'batch'"),
    ],
)
def test_unsupported_configs_are_refused_in_one_line(update, message):
    config = checks.hf_config(LAYOUTS[0])
    checks.check_refused(convert_backbone_config, config, update, message)


def test_refusal_reaches_the_loader(tmp_path):
    checks.check_refused_end_to_end(
        LAYOUTS[1], tmp_path, {"add_adapter": True}, "add_adapter"
    )
