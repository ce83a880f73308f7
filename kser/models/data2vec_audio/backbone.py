"""data2vec-audio backbone: a keras-hub `Backbone` port of transformers'
`Data2VecAudioModel`."""

import keras

from kser.models.data2vec_audio.layers import Data2VecAudioPositionalConvEmbedding
from kser.models.data2vec_audio.presets import backbone_presets
from kser.models.speech_backbone import SpeechEncoderBackbone
from kser.models.speech_encoder_layers import DEFAULT_EPSILON
from kser.models.speech_encoder_layers import TransformerEncoderLayer

SAMPLE_RATE = 16000


@keras.saving.register_keras_serializable(package="kser")
class Data2VecAudioBackbone(SpeechEncoderBackbone):
    """data2vec-audio speech encoder (Baevski et al., 2022) in Keras 3.

    Reproduces transformers' `Data2VecAudioModel` at inference: wav2vec2's
    layer-norm conv feature encoder, LayerNorm + projection to
    `hidden_dim`, a positional embedding made of `pos_conv_depth` stacked
    convs (conv -> non-affine LayerNorm -> GELU, see
    `Data2VecAudioPositionalConvEmbedding`), a LayerNorm, then post-LN
    transformer layers. Base and large differ in widths only.

    The waveform is mono 16 kHz float audio, already normalised if the
    checkpoint expects it (see `Data2VecAudioConverter`). `padding_mask`
    marks real samples with 1 and trailing padding with 0; padded frames
    are zeroed before the positional convs and never attended to, exactly
    as transformers does with an `attention_mask`.

    Outputs, a dict:
    - `"sequence_output"`: `(batch, frames, hidden_dim)`, the last hidden
      state.
    - `"hidden_states"`: `(batch, num_layers + 1, frames, hidden_dim)`, the
      input of every transformer layer and the output of the last one, as
      transformers (>= 5) returns them.
    - `"frame_padding_mask"`: `(batch, frames)` boolean, True for frames
      computed from real samples.

    One frame covers 320 samples (20 ms); `num_frames(samples)` and
    `min_samples` (400) give the frame arithmetic.

    Args:
        conv_dims: list of int. Channels of each conv layer of the waveform
            encoder.
        conv_kernel_sizes: list of int. Kernel size of each conv layer.
        conv_strides: list of int. Stride of each conv layer.
        conv_bias: bool. Whether the conv layers have biases.
        hidden_dim: int. Transformer width.
        num_layers: int. Transformer layers.
        num_heads: int. Attention heads.
        intermediate_dim: int. Feed-forward width.
        pos_conv_kernel_size: int. Kernel size of each positional conv (19).
        pos_conv_groups: int. Groups of each positional conv (16).
        pos_conv_depth: int. Positional convs in the stack (5).
        layer_norm_epsilon: float. Epsilon of the feature projection and
            transformer LayerNorms (the conv encoder's and the positional
            convs' norms use 1e-5, as transformers does).
        dropout: float. Dropout in the transformer and after the feature
            projection (inactive at inference).
        attention_dropout: float. Dropout on attention probabilities.
        padding_invariant: bool. Zero the padded frames before every
            positional conv, so each clip's features do not depend on the
            padding in its batch (they then equal transformers' output for
            the clip alone). The default (False) reproduces transformers'
            batched output, which zeroes them before the first conv only.
        dtype: string or `keras.mixed_precision.DTypePolicy`. Compute and
            weight dtype, e.g. `"float32"` or `"mixed_bfloat16"`.

    Examples:
    ```python
    import numpy as np
    from kser.models.data2vec_audio import Data2VecAudioBackbone

    backbone = Data2VecAudioBackbone(
        hidden_dim=64, num_layers=2, num_heads=4, intermediate_dim=128,
        conv_dims=[32] * 7, pos_conv_groups=4,
    )
    outputs = backbone({
        "waveform": np.random.randn(2, 16000).astype("float32"),
        "padding_mask": np.ones((2, 16000), "int32"),
    })
    outputs["sequence_output"].shape  # (2, 49, 64)

    backbone = Data2VecAudioBackbone.from_preset(
        "data2vec_audio_base", load_weights=False
    )
    ```
    """

    presets = backbone_presets
    config_keys = (
        "conv_dims", "conv_kernel_sizes", "conv_strides", "conv_bias",
        "hidden_dim", "num_layers", "num_heads", "intermediate_dim",
        "pos_conv_kernel_size", "pos_conv_groups", "pos_conv_depth",
        "layer_norm_epsilon", "dropout", "attention_dropout",
        "padding_invariant",
    )

    def __init__(
        self,
        conv_dims=(512,) * 7,
        conv_kernel_sizes=(10, 3, 3, 3, 3, 2, 2),
        conv_strides=(5, 2, 2, 2, 2, 2, 2),
        conv_bias=False,
        hidden_dim=768,
        num_layers=12,
        num_heads=12,
        intermediate_dim=3072,
        pos_conv_kernel_size=19,
        pos_conv_groups=16,
        pos_conv_depth=5,
        layer_norm_epsilon=DEFAULT_EPSILON,
        dropout=0.1,
        attention_dropout=0.1,
        padding_invariant=False,
        dtype=None,
        **kwargs,
    ):
        # === Layers ===
        # The conv encoder is always the layer-norm one; its padding is
        # invariant by construction (`padding_invariant` is for the
        # positional convs).
        self._build_front_end(
            conv_dims=conv_dims,
            conv_kernel_sizes=conv_kernel_sizes,
            conv_strides=conv_strides,
            conv_bias=conv_bias,
            feature_norm="layer",
            conv_epsilon=DEFAULT_EPSILON,
            padding_invariant=False,
            projection_norm_epsilon=layer_norm_epsilon,
            hidden_dim=hidden_dim,
            dropout=dropout,
            dtype=dtype,
        )
        self.pos_conv_embedding = Data2VecAudioPositionalConvEmbedding(
            hidden_dim,
            kernel_size=pos_conv_kernel_size,
            groups=pos_conv_groups,
            depth=pos_conv_depth,
            padding_invariant=padding_invariant,
            dtype=dtype,
            name="pos_conv_embedding",
        )
        self._build_encoder_norm(layer_norm_epsilon, dropout, dtype)
        self.encoder_layers = [
            TransformerEncoderLayer(
                hidden_dim=hidden_dim,
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                normalize_first=False,
                dropout=dropout,
                attention_dropout=attention_dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                dtype=dtype,
                name=f"encoder_layer_{i}",
            )
            for i in range(num_layers)
        ]

        # === Functional Model ===
        # Post-LN only: encoder LayerNorm before the transformer layers.
        inputs, outputs = self._build_graph(normalize_first=False)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.conv_dims = list(conv_dims)
        self.conv_kernel_sizes = list(conv_kernel_sizes)
        self.conv_strides = list(conv_strides)
        self.conv_bias = conv_bias
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.pos_conv_kernel_size = pos_conv_kernel_size
        self.pos_conv_groups = pos_conv_groups
        self.pos_conv_depth = pos_conv_depth
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.padding_invariant = padding_invariant

