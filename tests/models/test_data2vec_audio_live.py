"""data2vec-audio against transformers' `Data2VecAudioModel`, run live.

Random weights (no downloads), 2 s of audio in a padded batch, tolerance
1e-3. The base layout runs at full size (5 positional convs of kernel 19);
the large layout keeps its real widths (1024 hidden, 4096 feed-forward, 16
heads) with 4 of its 24 transformer layers, to stay within ~40 s per
backend. The presets' parameter counts are checked against transformers'
full-size models. Skipped when torch or transformers is not installed.
"""

import pytest

from kser.convert.data2vec_audio import transformers_config_kwargs
from kser.models.data2vec_audio import backbone_presets
from tests.models.speech_family_checks import live_compare
from tests.models.speech_family_checks import transformers_param_count

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.mark.parametrize(
    "name, num_layers",
    [("data2vec_audio_base", None), ("data2vec_audio_large", 4)],
)
def test_matches_transformers(name, num_layers, tmp_path):
    kwargs = transformers_config_kwargs(name)
    if num_layers is not None:
        kwargs["num_hidden_layers"] = num_layers
    torch.manual_seed(0)
    model = transformers.Data2VecAudioModel(
        transformers.Data2VecAudioConfig(**kwargs)
    ).eval()
    live_compare(model, tmp_path)


@pytest.mark.parametrize("name", sorted(backbone_presets))
def test_preset_param_counts_match_transformers(name):
    """kser's count is transformers' less `masked_spec_embed` (training
    only)."""
    preset = backbone_presets[name]
    config = transformers.Data2VecAudioConfig(**transformers_config_kwargs(name))
    count = transformers_param_count(transformers.Data2VecAudioModel, config)
    assert count - preset["config"]["hidden_dim"] == preset["metadata"]["params"]
