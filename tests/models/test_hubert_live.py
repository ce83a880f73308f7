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

import pytest

from kser.convert.transformers import transformers_config_kwargs
from kser.models.hubert import backbone_presets
from tests.models.speech_family_checks import live_compare
from tests.models.speech_family_checks import transformers_param_count

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = [pytest.mark.live, pytest.mark.slow]

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
    live_compare(model, tmp_path)


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
