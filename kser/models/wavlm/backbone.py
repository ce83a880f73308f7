"""WavLM backbone: a keras-hub `Backbone` port of transformers' WavLMModel."""

import keras

from kser.models.speech_backbone import SpeechEncoderBackbone
from kser.models.speech_encoder_layers import DEFAULT_EPSILON
from kser.models.speech_encoder_layers import PositionalConvEmbedding
from kser.models.wavlm.layers import WavLMEncoderLayer
from kser.models.wavlm.presets import backbone_presets

SAMPLE_RATE = 16000


@keras.saving.register_keras_serializable(package="kser")
class WavLMBackbone(SpeechEncoderBackbone):
    """WavLM speech encoder (Chen et al., 2021) in Keras 3.

    Reproduces transformers' `WavLMModel` at inference for both layouts:
    base and base-plus (group-norm conv encoder, post-LN transformer;
    `feature_norm="group"`, `normalize_first=False`) and large (layer-norm
    conv encoder, pre-LN "stable layer norm" transformer with a final
    LayerNorm; `feature_norm="layer"`, `normalize_first=True`).

    WavLM is wav2vec2/HuBERT's architecture (conv feature encoder,
    LayerNorm + projection, positional conv) with a gated relative position
    bias in every attention layer: layer 0 embeds bucketed relative
    distances (`num_buckets`, `max_bucket_distance`) per head and every
    layer gates that bias with its own `gru_rel_pos_linear` and
    `gru_rel_pos_const` (see `WavLMEncoderLayer`).

    The waveform is mono 16 kHz float audio, normalised only if the
    checkpoint expects it (see `WavLMAudioConverter`; Microsoft's WavLM
    checkpoints on the Hub do not). `padding_mask` marks real samples with 1
    and trailing padding with 0; padded frames are zeroed before the
    positional conv and never attended to, exactly as transformers does with
    an `attention_mask`.

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
        num_buckets: int. Relative position buckets (320).
        max_bucket_distance: int. Relative distance (in frames) from which
            the last bucket is used (800).
        normalize_first: bool. Pre-LN ("stable layer norm") transformer.
        layer_norm_epsilon: float. Epsilon of the feature projection and
            transformer LayerNorms (the conv encoder's norms use 1e-5, as
            transformers' do whatever the config says).
        dropout: float. Dropout in the transformer and after the feature
            projection (inactive at inference).
        attention_dropout: float. Dropout on attention probabilities.
        padding_invariant: bool. For the group-norm (base) layout, compute
            the conv encoder's GroupNorm statistics over real samples only,
            so each clip's features are independent of the padding in its
            batch and equal transformers' output for the clip alone. The
            default (False) reproduces transformers' batched output. The
            pre-LN (large) layout is padding-invariant either way.
        dtype: string or `keras.mixed_precision.DTypePolicy`. Compute and
            weight dtype, e.g. `"float32"` or `"mixed_bfloat16"`.

    Examples:
    ```python
    import numpy as np
    from kser.models.wavlm import WavLMBackbone

    # Randomly initialised, a small configuration.
    backbone = WavLMBackbone(
        hidden_dim=64, num_layers=2, num_heads=4, intermediate_dim=128,
        conv_dims=[32] * 7, pos_conv_kernel_size=16, pos_conv_groups=4,
        num_buckets=32, max_bucket_distance=64,
    )
    outputs = backbone({
        "waveform": np.random.randn(2, 16000).astype("float32"),
        "padding_mask": np.ones((2, 16000), "int32"),
    })
    outputs["sequence_output"].shape  # (2, 49, 64)

    # The architecture of WavLM base-plus, random weights.
    backbone = WavLMBackbone.from_preset("wavlm_base_plus", load_weights=False)
    # A converted checkpoint (`kser convert HF_DIR OUT_DIR`).
    backbone = WavLMBackbone.from_preset("OUT_DIR")
    ```
    """

    presets = backbone_presets
    config_keys = (
        "conv_dims", "conv_kernel_sizes", "conv_strides", "conv_bias",
        "feature_norm", "hidden_dim", "num_layers", "num_heads",
        "intermediate_dim", "pos_conv_kernel_size", "pos_conv_groups",
        "num_buckets", "max_bucket_distance",
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
        num_buckets=320,
        max_bucket_distance=800,
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
            WavLMEncoderLayer(
                hidden_dim=hidden_dim,
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                normalize_first=normalize_first,
                dropout=dropout,
                attention_dropout=attention_dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                num_buckets=num_buckets,
                max_bucket_distance=max_bucket_distance,
                has_relative_position_bias=(i == 0),
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
        self.num_buckets = num_buckets
        self.max_bucket_distance = max_bucket_distance
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.padding_invariant = padding_invariant

    def _encoder_step(self, layer, x, frame_mask, position_bias):
        # Layer 0 computes the relative position bias; every layer gates it.
        return layer(x, frame_mask, position_bias)

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build a backbone from a preset name or a converted preset folder.

        Args:
            preset: str. A kser preset name (`wavlm_base`,
                `wavlm_base_plus`, `wavlm_large`) or the path of a folder
                written by `kser convert`. A name resolves to
                `$KSER_HOME/presets/NAME` (default `~/.cache/kser`) when
                that folder exists.
            load_weights: bool. Load the weights (True) or build the
                architecture with random weights (False; names only need
                no files).
            **kwargs: Overrides of config values, e.g. `dtype`.

        Examples:
        ```python
        backbone = WavLMBackbone.from_preset("wavlm_large", load_weights=False)
        backbone = WavLMBackbone.from_preset("presets/wavlm_base_plus")
        ```
        """
        return super().from_preset(preset, load_weights, **kwargs)
