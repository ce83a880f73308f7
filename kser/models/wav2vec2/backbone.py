"""wav2vec 2.0 backbone: a keras-hub `Backbone` port of transformers'
`Wav2Vec2Model`."""

import keras

from kser.models.speech_backbone import SpeechEncoderBackbone
from kser.models.speech_encoder_layers import DEFAULT_EPSILON
from kser.models.speech_encoder_layers import PositionalConvEmbedding
from kser.models.speech_encoder_layers import TransformerEncoderLayer
from kser.models.wav2vec2.presets import backbone_presets

SAMPLE_RATE = 16000


@keras.saving.register_keras_serializable(package="kser")
class Wav2Vec2Backbone(SpeechEncoderBackbone):
    """wav2vec 2.0 speech encoder (Baevski et al., 2020) in Keras 3.

    Reproduces transformers' `Wav2Vec2Model` at inference (the quantizer
    and adapters are not part of it) for both layouts: base (group-norm
    conv encoder, post-LN transformer; `feature_norm="group"`,
    `normalize_first=False`) and large-lv60 / large-robust / XLS-R
    (layer-norm conv encoder, pre-LN "stable layer norm" transformer with a
    final LayerNorm; `feature_norm="layer"`, `normalize_first=True`).
    Unlike HuBERT, the conv features always pass a LayerNorm before the
    projection to `hidden_dim`.

    The waveform is mono 16 kHz float audio, already normalised if the
    checkpoint expects it (see `Wav2Vec2AudioConverter`). `padding_mask`
    marks real samples with 1 and trailing padding with 0; padded frames
    are zeroed before the positional conv and never attended to, exactly as
    transformers does with an `attention_mask`.

    Outputs, a dict:
    - `"sequence_output"`: `(batch, frames, hidden_dim)`, the last hidden
      state (after the final LayerNorm for the large layout).
    - `"hidden_states"`: `(batch, num_layers + 1, frames, hidden_dim)`, the
      input of every transformer layer and the output of the last one, as
      transformers (>= 5) returns them: for the large layout the last entry
      is taken before the final LayerNorm.
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
        feature_norm: str. `"group"` (base) or `"layer"` (large).
        hidden_dim: int. Transformer width.
        num_layers: int. Transformer layers.
        num_heads: int. Attention heads.
        intermediate_dim: int. Feed-forward width.
        pos_conv_kernel_size: int. Kernel size of the positional conv.
        pos_conv_groups: int. Groups of the positional conv.
        normalize_first: bool. Pre-LN ("stable layer norm") transformer.
        layer_norm_epsilon: float. Epsilon of the feature projection and
            transformer LayerNorms (the conv encoder's norms use 1e-5, as
            transformers does).
        dropout: float. Dropout in the transformer and after the feature
            projection (inactive at inference).
        attention_dropout: float. Dropout on attention probabilities.
        padding_invariant: bool. For the group-norm (base) layout, compute
            the conv encoder's GroupNorm statistics over real samples only,
            so each clip's features do not depend on the padding in its
            batch. The default (False) reproduces transformers' batched
            output. The large layout is padding-invariant either way.
        dtype: string or `keras.mixed_precision.DTypePolicy`. Compute and
            weight dtype, e.g. `"float32"` or `"mixed_bfloat16"`.

    Examples:
    ```python
    import numpy as np
    from kser.models.wav2vec2 import Wav2Vec2Backbone

    backbone = Wav2Vec2Backbone(
        hidden_dim=64, num_layers=2, num_heads=4, intermediate_dim=128,
        conv_dims=[32] * 7, pos_conv_kernel_size=16, pos_conv_groups=4,
    )
    outputs = backbone({
        "waveform": np.random.randn(2, 16000).astype("float32"),
        "padding_mask": np.ones((2, 16000), "int32"),
    })
    outputs["sequence_output"].shape  # (2, 49, 64)

    # The architecture of a preset (random weights), or a converted folder.
    backbone = Wav2Vec2Backbone.from_preset("wav2vec2_base", load_weights=False)
    backbone = Wav2Vec2Backbone.from_preset("OUT_DIR")
    ```
    """

    presets = backbone_presets
    config_keys = (
        "conv_dims", "conv_kernel_sizes", "conv_strides", "conv_bias",
        "feature_norm", "hidden_dim", "num_layers", "num_heads",
        "intermediate_dim", "pos_conv_kernel_size", "pos_conv_groups",
        "normalize_first", "layer_norm_epsilon", "dropout",
        "attention_dropout", "padding_invariant",
    )

    def __init__(
        self,
        conv_dims=(512,) * 7,
        conv_kernel_sizes=(10, 3, 3, 3, 3, 2, 2),
        conv_strides=(5, 2, 2, 2, 2, 2, 2),
        conv_bias=False,
        feature_norm="group",
        hidden_dim=768,
        num_layers=12,
        num_heads=12,
        intermediate_dim=3072,
        pos_conv_kernel_size=128,
        pos_conv_groups=16,
        normalize_first=False,
        layer_norm_epsilon=DEFAULT_EPSILON,
        dropout=0.1,
        attention_dropout=0.1,
        padding_invariant=False,
        dtype=None,
        **kwargs,
    ):
        # === Layers ===
        self._build_front_end(
            conv_dims=conv_dims,
            conv_kernel_sizes=conv_kernel_sizes,
            conv_strides=conv_strides,
            conv_bias=conv_bias,
            feature_norm=feature_norm,
            conv_epsilon=DEFAULT_EPSILON,
            padding_invariant=padding_invariant,
            projection_norm_epsilon=layer_norm_epsilon,
            hidden_dim=hidden_dim,
            dropout=dropout,
            dtype=dtype,
        )
        self.pos_conv_embedding = PositionalConvEmbedding(
            hidden_dim,
            kernel_size=pos_conv_kernel_size,
            groups=pos_conv_groups,
            dtype=dtype,
            name="pos_conv_embedding",
        )
        self._build_encoder_norm(layer_norm_epsilon, dropout, dtype)
        self.encoder_layers = [
            TransformerEncoderLayer(
                hidden_dim=hidden_dim,
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                normalize_first=normalize_first,
                dropout=dropout,
                attention_dropout=attention_dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                dtype=dtype,
                name=f"encoder_layer_{i}",
            )
            for i in range(num_layers)
        ]

        # === Functional Model ===
        inputs, outputs = self._build_graph(normalize_first)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.conv_dims = list(conv_dims)
        self.conv_kernel_sizes = list(conv_kernel_sizes)
        self.conv_strides = list(conv_strides)
        self.conv_bias = conv_bias
        self.feature_norm = feature_norm
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.pos_conv_kernel_size = pos_conv_kernel_size
        self.pos_conv_groups = pos_conv_groups
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.padding_invariant = padding_invariant

