"""wav2vec 2.0 presets: the architectures users convert from transformers.

No weights ship with kser: a preset name gives the architecture, and its
weights come from converting the matching transformers checkpoint with
`kser convert`. A converted folder placed at `$KSER_HOME/presets/NAME`
(default `~/.cache/kser/presets/NAME`) is found by name.

`params` is what `count_params()` reports: transformers'
`Wav2Vec2Model(config)` count less the training-only `masked_spec_embed`
(`hidden_dim` values) and the positional conv's weight-norm gains
(`pos_conv_kernel_size` values, folded into the kernel at conversion).
"""

_CONV = {
    "conv_dims": [512] * 7,
    "conv_kernel_sizes": [10, 3, 3, 3, 3, 2, 2],
    "conv_strides": [5, 2, 2, 2, 2, 2, 2],
    "pos_conv_kernel_size": 128,
    "pos_conv_groups": 16,
    "layer_norm_epsilon": 1e-5,
}

_BASE = {
    **_CONV,
    "conv_bias": False,
    "feature_norm": "group",
    "hidden_dim": 768,
    "num_layers": 12,
    "num_heads": 12,
    "intermediate_dim": 3072,
    "normalize_first": False,
}

_LARGE = {
    **_CONV,
    "conv_bias": True,
    "feature_norm": "layer",
    "hidden_dim": 1024,
    "num_layers": 24,
    "num_heads": 16,
    "intermediate_dim": 4096,
    "normalize_first": True,
}


def _large(description, checkpoint):
    return {
        "metadata": {
            "description": description,
            "params": 315_437_568,
            "transformers_checkpoint": checkpoint,
        },
        "config": dict(_LARGE),
    }


backbone_presets = {
    "wav2vec2_base": {
        "metadata": {
            "description": (
                "wav2vec 2.0 base: 12 layers, 768 hidden, group-norm conv "
                "encoder, post-LN. Pretrained on LibriSpeech 960 h."
            ),
            "params": 94_370_816,
            "transformers_checkpoint": "facebook/wav2vec2-base",
        },
        "config": dict(_BASE),
    },
    "wav2vec2_large_lv60": _large(
        "wav2vec 2.0 large: 24 layers, 1024 hidden, layer-norm conv encoder, "
        "pre-LN. Pretrained on Libri-Light 60k h.",
        "facebook/wav2vec2-large-lv60",
    ),
    "wav2vec2_large_robust": _large(
        "wav2vec 2.0 large robust: the large-lv60 architecture pretrained on "
        "Libri-Light, CommonVoice, Switchboard and Fisher (63k h).",
        "facebook/wav2vec2-large-robust",
    ),
    "wav2vec2_xls_r_300m": _large(
        "XLS-R 300M: the large-lv60 architecture pretrained on 436k h of "
        "speech in 128 languages.",
        "facebook/wav2vec2-xls-r-300m",
    ),
}
