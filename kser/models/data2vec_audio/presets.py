"""data2vec-audio presets: the architectures users convert from transformers.

No weights ship with kser: a preset name gives the architecture, and its
weights come from converting the matching transformers checkpoint with
`kser convert`. A converted folder placed at `$KSER_HOME/presets/NAME`
(default `~/.cache/kser/presets/NAME`) is found by name.

`params` is what `count_params()` reports: transformers'
`Data2VecAudioModel(config)` count less the training-only
`masked_spec_embed` (`hidden_dim` values).
"""

_COMMON = {
    "conv_dims": [512] * 7,
    "conv_kernel_sizes": [10, 3, 3, 3, 3, 2, 2],
    "conv_strides": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": False,
    "pos_conv_kernel_size": 19,
    "pos_conv_groups": 16,
    "pos_conv_depth": 5,
    "layer_norm_epsilon": 1e-5,
}

backbone_presets = {
    "data2vec_audio_base": {
        "metadata": {
            "description": (
                "data2vec-audio base: 12 layers, 768 hidden, layer-norm conv "
                "encoder, 5 positional convs, post-LN. Pretrained on "
                "LibriSpeech 960 h."
            ),
            "params": 93_163_520,
            "transformers_checkpoint": "facebook/data2vec-audio-base",
        },
        "config": {
            **_COMMON,
            "hidden_dim": 768,
            "num_layers": 12,
            "num_heads": 12,
            "intermediate_dim": 3072,
        },
    },
    "data2vec_audio_large": {
        "metadata": {
            "description": (
                "data2vec-audio large: 24 layers, 1024 hidden, layer-norm "
                "conv encoder, 5 positional convs, post-LN. Pretrained on "
                "Libri-Light 60k h."
            ),
            "params": 313_275_392,
            "transformers_checkpoint": "facebook/data2vec-audio-large",
        },
        "config": {
            **_COMMON,
            "hidden_dim": 1024,
            "num_layers": 24,
            "num_heads": 16,
            "intermediate_dim": 4096,
        },
    },
}
