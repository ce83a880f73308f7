"""Full-width HuBERT base and large against transformers, run live.

Random weights (no downloads), 2 s of audio in a padded batch, tolerance
1e-3. HuBERT base runs at full size; HuBERT large keeps its real widths
(1024 hidden, 16 heads, 4096 feed-forward, layer-norm conv encoder, pre-LN)
with 6 of its 24 layers, as the WavLM test does: every layer is the same
code, and the large checkpoint at full depth (1.3 GB written and read
again) took 30-45 s per backend. The 24-layer architecture is checked by
the named presets' parameter counts, against transformers' below. Skipped
when torch or transformers is not installed; CI installs both.
"""

import numpy as np
import pytest
from keras import ops

from kser.convert.transformers import load_transformers_checkpoint
from kser.convert.transformers import transformers_config_kwargs
from kser.models.hubert import backbone_presets
from tests.models.helpers import max_abs_diff
from tests.models.speech_family_checks import transformers_param_count

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = [pytest.mark.live, pytest.mark.slow]

TOLERANCE = 1e-3
SAMPLES = 32000  # 2 s at 16 kHz
VALID = 24000  # the second clip is 1.5 s, padded


LAYERS = {"hubert_base_ls960": None, "hubert_large_ll60k": 6}


def _hf_config(name, num_layers=None):
    kwargs = transformers_config_kwargs(name)
    if num_layers is not None:
        kwargs["num_hidden_layers"] = num_layers
    return transformers.HubertConfig(**kwargs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_full_width_matches_transformers(name, tmp_path):
    torch.manual_seed(0)
    model = transformers.HubertModel(_hf_config(name, LAYERS[name])).eval()
    model.save_pretrained(str(tmp_path))
    extractor = transformers.Wav2Vec2FeatureExtractor(
        do_normalize=True, return_attention_mask=True
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
    ) < 1e-5
    out = backbone(inputs)
    hidden = ops.convert_to_numpy(out["hidden_states"])
    assert hidden.shape == ref_hidden.shape
    for i in range(hidden.shape[1]):
        diff = max_abs_diff(hidden[:, i], ref_hidden[:, i])
        assert diff < TOLERANCE, f"{name} hidden state {i}: {diff}"
    diff = max_abs_diff(ops.convert_to_numpy(out["sequence_output"]), ref_last)
    assert diff < TOLERANCE, f"{name} last hidden state: {diff}"


@pytest.mark.parametrize("name", sorted(backbone_presets))
def test_preset_param_counts_match_transformers(name):
    """kser's count is transformers' at full depth, less `masked_spec_embed`
    (training only, one per hidden unit) and the positional conv's
    weight-norm gain (one per kernel tap), which conversion folds into the
    kernel."""
    preset = backbone_presets[name]
    config = _hf_config(name)
    count = transformers_param_count(transformers.HubertModel, config)
    folded = config.hidden_size + config.num_conv_pos_embeddings
    assert count - folded == preset["metadata"]["params"]
