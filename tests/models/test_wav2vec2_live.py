"""wav2vec2 against transformers' `Wav2Vec2Model`, run live.

Random weights (no downloads), 2 s of audio in a padded batch, tolerance
1e-3. The base layout runs at full size; the large layout (large-lv60,
large-robust, XLS-R) keeps its real widths (1024 hidden, 4096 feed-forward,
16 heads, 512-channel conv encoder with biases, 128-wide positional conv)
with 4 of its 24 transformer layers, to stay within ~40 s per backend.
The presets' parameter counts are checked against transformers'
full-size models. Skipped when torch or transformers is not installed.
"""

import pytest

from kser.convert.wav2vec2 import transformers_config_kwargs
from kser.models.wav2vec2 import backbone_presets
from tests.models.speech_family_checks import live_compare
from tests.models.speech_family_checks import transformers_param_count

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.mark.parametrize(
    "name, num_layers",
    [("wav2vec2_base", None), ("wav2vec2_large_lv60", 4)],
)
def test_matches_transformers(name, num_layers, tmp_path):
    kwargs = transformers_config_kwargs(name)
    if num_layers is not None:
        kwargs["num_hidden_layers"] = num_layers
    torch.manual_seed(0)
    model = transformers.Wav2Vec2Model(
        transformers.Wav2Vec2Config(**kwargs)
    ).eval()
    live_compare(model, tmp_path)


@pytest.mark.parametrize("name", sorted(backbone_presets))
def test_preset_param_counts_match_transformers(name):
    """kser's count is transformers' less `masked_spec_embed` (training
    only) and the weight-norm gains folded into the positional conv."""
    preset = backbone_presets[name]
    config = transformers.Wav2Vec2Config(**transformers_config_kwargs(name))
    count = transformers_param_count(transformers.Wav2Vec2Model, config)
    folded = preset["config"]["hidden_dim"] + preset["config"]["pos_conv_kernel_size"]
    assert count - folded == preset["metadata"]["params"]
