"""WavLM presets: the architectures users convert from transformers.

No weights can ship with kser: a preset name gives the architecture, and
its weights come from converting the matching transformers checkpoint with
`kser convert`. A converted folder placed at `$KSER_HOME/presets/NAME`
(default `~/.cache/kser/presets/NAME`) is found by name.

`params` is the backbone's parameter count: transformers' `WavLMModel`
for the checkpoint's config, less the training-only `masked_spec_embed`
and the positional conv's weight-norm magnitude (`weight_g`, folded into
the kernel at conversion).
"""

_BASE = {
    "conv_dims": [512] * 7,
    "conv_kernel_sizes": [10, 3, 3, 3, 3, 2, 2],
    "conv_strides": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": False,
    "pos_conv_kernel_size": 128,
    "pos_conv_groups": 16,
    "num_buckets": 320,
    "max_bucket_distance": 800,
    "layer_norm_epsilon": 1e-5,
}

_BASE_LAYOUT = {
    **_BASE,
    "feature_norm": "group",
    "hidden_dim": 768,
    "num_layers": 12,
    "num_heads": 12,
    "intermediate_dim": 3072,
    "normalize_first": False,
}

backbone_presets = {
    "wavlm_base": {
        "metadata": {
            "description": (
                "WavLM base: 12 layers, 768 hidden, group-norm conv encoder, "
                "post-LN, gated relative position bias. Pretrained on "
                "LibriSpeech 960 h."
            ),
            "params": 94_381_040,
            "transformers_checkpoint": "microsoft/wavlm-base",
        },
        "config": dict(_BASE_LAYOUT),
    },
    "wavlm_base_plus": {
        "metadata": {
            "description": (
                "WavLM base-plus: the base architecture pretrained on "
                "94k h (Libri-Light, GigaSpeech, VoxPopuli)."
            ),
            "params": 94_381_040,
            "transformers_checkpoint": "microsoft/wavlm-base-plus",
        },
        "config": dict(_BASE_LAYOUT),
    },
    "wavlm_large": {
        "metadata": {
            "description": (
                "WavLM large: 24 layers, 1024 hidden, layer-norm conv "
                "encoder, pre-LN, gated relative position bias. Pretrained "
                "on 94k h (Libri-Light, GigaSpeech, VoxPopuli)."
            ),
            "params": 315_451_968,
            "transformers_checkpoint": "microsoft/wavlm-large",
        },
        "config": {
            **_BASE,
            "feature_norm": "layer",
            "hidden_dim": 1024,
            "num_layers": 24,
            "num_heads": 16,
            "intermediate_dim": 4096,
            "normalize_first": True,
        },
    },
}
