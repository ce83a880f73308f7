"""Parity of the HuBERT port with transformers, on committed tiny fixtures.

The fixtures (tests/fixtures/make_hubert_fixtures.py) hold transformers
`HubertModel`s with random weights and their recorded outputs, so these
tests need neither torch nor transformers.
"""

import os

import numpy as np
import pytest
from keras import ops

from kser.convert.transformers import load_transformers_checkpoint
from kser.convert.transformers import read_safetensors
from tests.models.helpers import LAYOUTS
from tests.models.helpers import backbone_outputs
from tests.models.helpers import copy_checkpoint
from tests.models.helpers import expected
from tests.models.helpers import fixture_dir
from tests.models.helpers import max_abs_diff

TOLERANCE = 1e-4


def _outputs(backbone, waveform, padding_mask):
    return backbone_outputs(
        backbone, {"waveform": waveform, "padding_mask": padding_mask}
    )


def _check(backbone, waveform, mask, last, hidden):
    out = _outputs(backbone, waveform, mask)
    assert out["hidden_states"].shape == hidden.shape
    for i in range(hidden.shape[1]):
        diff = max_abs_diff(out["hidden_states"][:, i], hidden[:, i])
        assert diff < TOLERANCE, f"hidden state {i}: max abs diff {diff}"
    diff = max_abs_diff(out["sequence_output"], last)
    assert diff < TOLERANCE, f"last hidden state: max abs diff {diff}"
    return out


@pytest.fixture(scope="module", params=LAYOUTS)
def converted(request):
    backbone, converter, ignored = load_transformers_checkpoint(
        fixture_dir(request.param)
    )
    return request.param, backbone, converter, ignored


def test_unpadded_clip_matches_transformers(converted):
    layout, backbone, _, ignored = converted
    ref = expected(layout)
    values = ref["single_input_values"]
    _check(
        backbone,
        values,
        np.ones_like(values, dtype="int32"),
        ref["single_last_hidden_state"],
        ref["single_hidden_states"],
    )
    assert ignored == ["masked_spec_embed"]  # training-only tensor


def test_padded_batch_matches_transformers(converted):
    layout, backbone, _, _ = converted
    ref = expected(layout)
    out = _check(
        backbone,
        ref["batch_input_values"],
        ref["batch_attention_mask"],
        ref["batch_last_hidden_state"],
        ref["batch_hidden_states"],
    )
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
    out = converter(raw, mask)
    got = ops.convert_to_numpy(out["waveform"])
    assert max_abs_diff(got, ref["batch_input_values"]) < 1e-5
    assert np.all(got[1, length:] == 0.0)
    np.testing.assert_array_equal(ops.convert_to_numpy(out["padding_mask"]), mask)
    # Without a mask the whole clip counts, as for an unpadded input.
    single = ops.convert_to_numpy(converter(raw[:1])["waveform"])
    assert max_abs_diff(single, ref["single_input_values"]) < 1e-5


def test_audio_converter_keeps_silence_finite():
    from kser.models import HubertAudioConverter

    out = HubertAudioConverter()(np.zeros((1, 1600), "float32"))
    got = ops.convert_to_numpy(out["waveform"])
    assert np.all(np.isfinite(got)) and np.all(got == 0.0)


def test_audio_converter_in_tf_data():
    import tensorflow as tf

    from kser.models import HubertAudioConverter

    converter = HubertAudioConverter()
    ref = expected(LAYOUTS[0])
    ds = tf.data.Dataset.from_tensor_slices(ref["raw_audio"][:1]).batch(1)
    (out,) = list(ds.map(converter).as_numpy_iterator())
    assert max_abs_diff(out["waveform"], ref["single_input_values"]) < 1e-5


@pytest.mark.parametrize("layout", LAYOUTS)
def test_legacy_weight_norm_spelling(tmp_path, layout):
    """Old checkpoints store the positional conv as weight_g / weight_v."""
    weights = read_safetensors(
        os.path.join(fixture_dir(layout), "model.safetensors")
    )
    renamed = {}
    for key, value in weights.items():
        key = key.replace("parametrizations.weight.original0", "weight_g")
        key = key.replace("parametrizations.weight.original1", "weight_v")
        renamed[key] = value
    assert "encoder.pos_conv_embed.conv.weight_g" in renamed
    folder = copy_checkpoint(layout, str(tmp_path / "legacy"), weights=renamed)
    backbone, _, _ = load_transformers_checkpoint(folder)
    ref = expected(layout)
    _check(
        backbone,
        ref["batch_input_values"],
        ref["batch_attention_mask"],
        ref["batch_last_hidden_state"],
        ref["batch_hidden_states"],
    )


def test_task_checkpoint_prefix_and_sharded_index(tmp_path):
    """HubertForCTC-style keys (`hubert.` prefix, a head) in two shards."""
    import json

    from tests.models.helpers import write_safetensors

    layout = LAYOUTS[1]
    weights = read_safetensors(
        os.path.join(fixture_dir(layout), "model.safetensors")
    )
    prefixed = {"hubert." + k: v for k, v in weights.items()}
    prefixed["lm_head.weight"] = np.zeros((5, 32), "float32")
    prefixed["lm_head.bias"] = np.zeros((5,), "float32")
    folder = copy_checkpoint(layout, str(tmp_path / "sharded"))
    os.remove(os.path.join(folder, "model.safetensors"))
    keys = sorted(prefixed)
    shards = {"model-00001-of-00002.safetensors": keys[::2],
              "model-00002-of-00002.safetensors": keys[1::2]}
    weight_map = {}
    for shard, names in shards.items():
        write_safetensors(
            os.path.join(folder, shard), {k: prefixed[k] for k in names}
        )
        weight_map.update({k: shard for k in names})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    backbone, _, ignored = load_transformers_checkpoint(folder)
    assert ignored == ["lm_head.bias", "lm_head.weight", "masked_spec_embed"]
    ref = expected(layout)
    _check(
        backbone,
        ref["single_input_values"],
        np.ones_like(ref["single_input_values"], dtype="int32"),
        ref["single_last_hidden_state"],
        ref["single_hidden_states"],
    )


def test_pytorch_bin_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    layout = LAYOUTS[0]
    weights = read_safetensors(
        os.path.join(fixture_dir(layout), "model.safetensors")
    )
    folder = copy_checkpoint(layout, str(tmp_path / "bin"))
    os.remove(os.path.join(folder, "model.safetensors"))
    torch.save(
        {k: torch.from_numpy(v.copy()) for k, v in weights.items()},
        os.path.join(folder, "pytorch_model.bin"),
    )
    backbone, _, _ = load_transformers_checkpoint(folder)
    ref = expected(layout)
    _check(
        backbone,
        ref["batch_input_values"],
        ref["batch_attention_mask"],
        ref["batch_last_hidden_state"],
        ref["batch_hidden_states"],
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_padding_invariant_mode_matches_each_clip_alone(layout):
    """`padding_invariant=True`: a padded clip's valid frames equal the clip
    run alone; the unpadded clip still equals transformers."""
    from kser.models import HubertBackbone

    backbone, _, _ = load_transformers_checkpoint(fixture_dir(layout))
    config = backbone.get_config()
    config["padding_invariant"] = True
    invariant = HubertBackbone.from_config(config)
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
    if layout == "hubert_tiny_base":
        # The default mode differs here: padding enters the GroupNorm.
        default = _outputs(
            backbone, ref["batch_input_values"], ref["batch_attention_mask"]
        )
        assert max_abs_diff(
            default["hidden_states"][1:, :, :frames], alone["hidden_states"]
        ) > 1e-3
