"""Full-size HuBERT base and large against transformers, run live.

Random weights (no downloads), 2 s of audio in a padded batch, tolerance
1e-3. Skipped when torch or transformers is not installed; CI installs both.
"""

import numpy as np
import pytest
from keras import ops

from kser.convert.transformers import load_transformers_checkpoint
from kser.convert.transformers import transformers_config_kwargs
from tests.models.helpers import max_abs_diff

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = [pytest.mark.live, pytest.mark.slow]

TOLERANCE = 1e-3
SAMPLES = 32000  # 2 s at 16 kHz
VALID = 24000  # the second clip is 1.5 s, padded


def _hf_config(name):
    return transformers.HubertConfig(**transformers_config_kwargs(name))


@pytest.mark.parametrize("name", ["hubert_base_ls960", "hubert_large_ll60k"])
def test_full_size_matches_transformers(name, tmp_path):
    torch.manual_seed(0)
    model = transformers.HubertModel(_hf_config(name)).eval()
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
