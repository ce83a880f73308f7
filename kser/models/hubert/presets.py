"""HuBERT presets: the architectures users convert from transformers.

No weights can ship with kser: a preset name gives the architecture, and
its weights come from converting the matching transformers checkpoint with
`kser convert`. A converted folder placed at `$KSER_HOME/presets/NAME`
(default `~/.cache/kser/presets/NAME`) is found by name.
"""

_BASE = {
    "conv_dims": [512] * 7,
    "conv_kernel_sizes": [10, 3, 3, 3, 3, 2, 2],
    "conv_strides": [5, 2, 2, 2, 2, 2, 2],
    "pos_conv_kernel_size": 128,
    "pos_conv_groups": 16,
    "feature_projection_norm": True,
    "layer_norm_epsilon": 1e-5,
}

backbone_presets = {
    "hubert_base_ls960": {
        "metadata": {
            "description": (
                "HuBERT base: 12 layers, 768 hidden, group-norm conv "
                "encoder, post-LN. Pretrained on LibriSpeech 960 h."
            ),
            "params": 94_370_816,
            "transformers_checkpoint": "facebook/hubert-base-ls960",
        },
        "config": {
            **_BASE,
            "conv_bias": False,
            "feature_norm": "group",
            "hidden_dim": 768,
            "num_layers": 12,
            "num_heads": 12,
            "intermediate_dim": 3072,
            "normalize_first": False,
        },
    },
    "hubert_large_ll60k": {
        "metadata": {
            "description": (
                "HuBERT large: 24 layers, 1024 hidden, layer-norm conv "
                "encoder, pre-LN. Pretrained on Libri-Light 60k h."
            ),
            "params": 315_437_568,
            "transformers_checkpoint": "facebook/hubert-large-ll60k",
        },
        "config": {
            **_BASE,
            "conv_bias": True,
            "feature_norm": "layer",
            "hidden_dim": 1024,
            "num_layers": 24,
            "num_heads": 16,
            "intermediate_dim": 4096,
            "normalize_first": True,
        },
    },
    "hubert_large_ls960_ft": {
        "metadata": {
            "description": (
                "HuBERT large pretrained on Libri-Light 60k h and fine-tuned "
                "for ASR on LibriSpeech 960 h (the CTC head is dropped)."
            ),
            "params": 315_437_568,
            "transformers_checkpoint": "facebook/hubert-large-ls960-ft",
        },
        "config": {
            **_BASE,
            "conv_bias": True,
            "feature_norm": "layer",
            "hidden_dim": 1024,
            "num_layers": 24,
            "num_heads": 16,
            "intermediate_dim": 4096,
            "normalize_first": True,
        },
    },
}
