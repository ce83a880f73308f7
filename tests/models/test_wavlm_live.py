"""Full-size WavLM base and large against transformers, run live.

Random weights (no downloads), 2 s of audio in a padded batch, tolerance
1e-3. WavLM base runs at full size; WavLM large keeps its real widths
(1024 hidden, 16 heads, 4096 feed-forward, layer-norm conv encoder, pre-LN,
320 buckets up to 800 frames) with 6 of its 24 layers, to stay within the
test's time budget (every layer is the same code; the 24-layer architecture
is checked by the parameter counts below). Skipped when torch or
transformers is not installed; CI installs both.
"""

import numpy as np
import pytest
from keras import ops

from kser.convert import load_transformers_checkpoint
from kser.convert.wavlm import transformers_config_kwargs
from kser.models.wavlm import backbone_presets
from kser.models.wavlm.layers import relative_position_buckets
from tests.models.helpers import max_abs_diff

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = [pytest.mark.live, pytest.mark.slow]

TOLERANCE = 1e-3
SAMPLES = 32000  # 2 s at 16 kHz
VALID = 24000  # the second clip is 1.5 s, padded
LAYERS = {"wavlm_base_plus": None, "wavlm_large": 6}


def _hf_config(name, **overrides):
    kwargs = transformers_config_kwargs(name)
    kwargs.update(overrides)
    return transformers.WavLMConfig(**kwargs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_full_width_matches_transformers(name, tmp_path):
    overrides = {}
    if LAYERS[name]:
        overrides["num_hidden_layers"] = LAYERS[name]
    torch.manual_seed(0)
    model = transformers.WavLMModel(_hf_config(name, **overrides)).eval()
    with torch.no_grad():  # a bias and gates far from their initial values
        for layer in model.encoder.layers:
            layer.attention.gru_rel_pos_const.normal_(1.0, 0.5)
        model.encoder.layers[0].attention.rel_attn_embed.weight.normal_()
    model.save_pretrained(str(tmp_path))
    extractor = transformers.Wav2Vec2FeatureExtractor(
        do_normalize=False, return_attention_mask=True
    )
    extractor.save_pretrained(str(tmp_path))

    rng = np.random.default_rng(0)
    raw = [
        (0.1 * rng.standard_normal(SAMPLES)).astype("float32"),
        (0.1 * rng.standard_normal(VALID)).astype("float32"),
    ]
    batch = extractor(raw, sampling_rate=16000, padding=True, return_tensors="np")
    with torch.no_grad():
        ref = model(
            torch.from_numpy(batch["input_values"]),
            attention_mask=torch.from_numpy(batch["attention_mask"]),
            output_hidden_states=True,
        )
    ref_hidden = np.stack([h.numpy() for h in ref.hidden_states], axis=1)
    ref_last = ref.last_hidden_state.numpy()
    del model

    backbone, converter, _ = load_transformers_checkpoint(str(tmp_path))
    padded = np.zeros((2, SAMPLES), "float32")
    padded[0], padded[1, :VALID] = raw[0], raw[1]
    mask = np.zeros((2, SAMPLES), "int32")
    mask[0], mask[1, :VALID] = 1, 1
    inputs = converter(padded, mask)
    assert max_abs_diff(
        ops.convert_to_numpy(inputs["waveform"]), batch["input_values"]
    ) < 1e-6
    out = backbone(inputs)
    hidden = ops.convert_to_numpy(out["hidden_states"])
    assert hidden.shape == ref_hidden.shape
    for i in range(hidden.shape[1]):
        diff = max_abs_diff(hidden[:, i], ref_hidden[:, i])
        assert diff < TOLERANCE, f"{name} hidden state {i}: {diff}"
    diff = max_abs_diff(ops.convert_to_numpy(out["sequence_output"]), ref_last)
    assert diff < TOLERANCE, f"{name} last hidden state: {diff}"


@pytest.mark.parametrize("name", sorted(backbone_presets))
def test_preset_parameter_counts_match_transformers(name):
    """metadata `params` = transformers' WavLMModel count, less the
    training-only masked_spec_embed and the folded weight-norm magnitude."""
    config = _hf_config(name, mask_time_prob=0.0)
    with torch.device("meta"):
        model = transformers.WavLMModel(config)
    total = sum(p.numel() for p in model.parameters())
    weight_g = config.num_conv_pos_embeddings
    assert total - weight_g == backbone_presets[name]["metadata"]["params"]


def test_relative_position_buckets_match_transformers():
    attention = transformers.models.wavlm.modeling_wavlm.WavLMAttention(
        64, 4, num_buckets=320, max_distance=800
    )
    length = 3000  # one minute of frames
    relative = torch.arange(-(length - 1), length)[None, :]
    ref = attention._relative_positions_bucket(relative).numpy()[0]
    got = ops.convert_to_numpy(relative_position_buckets(length, 320, 800))
    ours = np.concatenate([got[-1, :-1], got[0]])  # distances -(L-1)..L-1
    np.testing.assert_array_equal(ours, ref)
