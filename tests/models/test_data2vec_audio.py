"""The data2vec-audio family: parity with transformers'
`Data2VecAudioModel` on a committed tiny fixture
(tests/fixtures/make_data2vec_audio_fixtures.py), conversion, loading,
saving, presets and refusals. Needs neither torch nor transformers."""

import os

import numpy as np
import pytest

from kser.convert import CONVERTERS
from kser.convert import get_converter
from kser.convert import load_transformers_checkpoint
from kser.convert.checkpoint import read_safetensors
from kser.convert.data2vec_audio import convert_backbone_config
from kser.models import FAMILIES
from kser.models.data2vec_audio import Data2VecAudioBackbone
from kser.models.data2vec_audio import Data2VecAudioConverter
from kser.models.data2vec_audio import backbone_presets
from tests.models import speech_family_checks as checks
from tests.models.helpers import copy_checkpoint
from tests.models.helpers import max_abs_diff

LAYOUT = "data2vec_audio_tiny"


@pytest.fixture(scope="module")
def converted():
    return load_transformers_checkpoint(checks.fixture_dir(LAYOUT))


def test_registered_in_both_registries():
    assert FAMILIES["data2vec_audio"] == "kser.models.data2vec_audio"
    assert CONVERTERS["data2vec-audio"] == "kser.convert.data2vec_audio"
    converter = get_converter("data2vec-audio")
    assert converter.backbone_cls is Data2VecAudioBackbone
    assert converter.audio_converter_cls is Data2VecAudioConverter


def test_config_maps_the_positional_conv_stack(converted):
    backbone, _, _ = converted
    config = checks.hf_config(LAYOUT)
    assert backbone.pos_conv_depth == config["num_conv_pos_embeddings"] == 5
    assert backbone.pos_conv_kernel_size == config["conv_pos_kernel_size"]
    assert len(backbone.pos_conv_embedding.convs) == 5


def test_unpadded_clip_matches_transformers(converted):
    backbone, converter, ignored = converted
    assert type(backbone) is Data2VecAudioBackbone
    assert type(converter) is Data2VecAudioConverter
    assert ignored == ["masked_spec_embed"]
    checks.check_parity(backbone, checks.expected(LAYOUT), batch=False)


def test_padded_batch_matches_transformers(converted):
    backbone, _, _ = converted
    ref = checks.expected(LAYOUT)
    out, _ = checks.check_parity(backbone, ref, batch=True)
    checks.check_frame_mask(backbone, ref, out)


def test_audio_converter_matches_feature_extractor(converted):
    _, converter, _ = converted
    checks.check_audio_converter(converter, checks.expected(LAYOUT))


def test_padding_invariant_mode_matches_each_clip_alone(converted):
    """transformers zeroes padded frames once, before the first positional
    conv, so a padded clip's last frames depend on its padding;
    `padding_invariant=True` re-zeroes them before every conv."""
    backbone, _, _ = converted
    config = backbone.get_config()
    config["padding_invariant"] = True
    invariant = Data2VecAudioBackbone.from_config(config)
    invariant.set_weights(backbone.get_weights())
    ref = checks.expected(LAYOUT)
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
    default = checks.outputs(
        backbone, ref["batch_input_values"], ref["batch_attention_mask"]
    )
    assert max_abs_diff(
        default["hidden_states"][1:, :, :frames], alone["hidden_states"]
    ) > 1e-3


def test_task_checkpoint_prefix(tmp_path):
    """Data2VecAudioForSequenceClassification keys: `data2vec_audio.`
    prefix, a projector, a classifier and weighted-layer-sum weights."""
    weights = read_safetensors(
        os.path.join(checks.fixture_dir(LAYOUT), "model.safetensors")
    )
    prefixed = {"data2vec_audio." + k: v for k, v in weights.items()}
    extra = {
        "projector.weight": np.zeros((8, 32), "float32"),
        "projector.bias": np.zeros((8,), "float32"),
        "classifier.weight": np.zeros((4, 8), "float32"),
        "classifier.bias": np.zeros((4,), "float32"),
        "layer_weights": np.ones((3,), "float32"),
    }
    folder = copy_checkpoint(
        LAYOUT, str(tmp_path / "task"), weights={**prefixed, **extra}
    )
    backbone, _, ignored = load_transformers_checkpoint(folder)
    assert ignored == sorted([*extra, "masked_spec_embed"])
    checks.check_parity(backbone, checks.expected(LAYOUT), batch=True)


def test_convert_then_load_through_kser_and_keras_hub(tmp_path):
    out_dir = checks.check_convert_and_load(
        LAYOUT, tmp_path, Data2VecAudioBackbone, Data2VecAudioConverter
    )
    checks.check_keras_hub_loads(
        out_dir, "kser.models.data2vec_audio", "Data2VecAudioBackbone"
    )


def test_config_round_trip_and_bfloat16(converted):
    backbone, _, _ = converted
    checks.check_config_round_trip(backbone)
    checks.check_bfloat16_tracks_float32(backbone)


def test_emotion_classifier_keras_file_round_trip(converted, tmp_path):
    backbone, _, _ = converted
    checks.check_classifier_save_load(backbone, tmp_path)


def test_named_presets_build_and_match_param_counts():
    assert sorted(backbone_presets) == [
        "data2vec_audio_base",
        "data2vec_audio_large",
    ]
    checks.check_named_presets(
        Data2VecAudioBackbone, backbone_presets, "data2vec_audio"
    )


@pytest.mark.parametrize(
    "update, message",
    [
        ({"conv_pos_batch_norm": True}, "conv_pos_batch_norm"),
        ({"add_adapter": True}, "add_adapter"),
        ({"hidden_act": "relu"}, "hidden_act 'relu'"),
        ({"num_conv_pos_embeddings": 0}, "num_conv_pos_embeddings"),
    ],
)
def test_unsupported_configs_are_refused_in_one_line(update, message):
    config = checks.hf_config(LAYOUT)
    checks.check_refused(convert_backbone_config, config, update, message)


def test_refusal_reaches_the_loader(tmp_path):
    checks.check_refused_end_to_end(
        LAYOUT, tmp_path, {"add_adapter": True}, "add_adapter"
    )
