"""WavLM's transformer layer: wav2vec2's, with gated relative position bias.

WavLM (Chen et al., 2021) keeps wav2vec2's conv feature encoder and
positional conv (`kser.models.speech_encoder_layers`) and adds to every
attention layer a relative position bias: relative distances between frames
fall into `num_buckets` log-spaced buckets (`max_bucket_distance` is where
the last bucket starts), layer 0 embeds them once per head
(`has_relative_position_bias`) and hands the bias to every later layer,
and each layer scales it per query frame and head with a gate computed
from its input (`gru_rel_pos_linear`, `gru_rel_pos_const`). This file
reproduces transformers' `WavLMAttention`, `WavLMEncoderLayer` and
`WavLMEncoderLayerStableLayerNorm` at inference.
"""

import math

import keras
from keras import ops

from kser.models.speech_encoder_layers import DEFAULT_EPSILON
from kser.models.speech_encoder_layers import TransformerEncoderLayer


def relative_position_buckets(length, num_buckets=320, max_distance=800):
    """Bucket of each `(query, key)` frame pair, as transformers'
    `WavLMAttention._relative_positions_bucket`.

    Half the buckets are for keys after the query, half for the rest; in each
    half, distances below a quarter of `num_buckets` get a bucket each, longer
    ones share log-spaced buckets up to `max_distance` (float32 arithmetic in
    the same order as transformers, so boundaries fall on the same frames).

    Args:
        length: int or scalar int tensor. Number of frames.
        num_buckets: int. Buckets in all.
        max_distance: int. Distance from which the last bucket is used.

    Returns:
        int32 tensor of shape `(length, length)`.
    """
    positions = ops.arange(length, dtype="int32")
    relative = positions[None, :] - positions[:, None]  # key - query
    half = num_buckets // 2
    buckets = ops.cast(ops.greater(relative, 0), "int32") * half
    relative = ops.abs(relative)
    max_exact = half // 2
    is_small = ops.less(relative, max_exact)
    # max(., 1) keeps log finite where the small branch is taken anyway.
    scaled = ops.cast(ops.maximum(relative, 1), "float32") / float(max_exact)
    large = ops.log(scaled) / math.log(max_distance / max_exact)
    large = large * float(half - max_exact)
    large = ops.cast(float(max_exact) + large, "int32")  # truncates, >= 0
    large = ops.minimum(large, half - 1)
    return buckets + ops.where(is_small, relative, large)


def _check_buckets(num_buckets, max_distance):
    max_exact = num_buckets // 4
    if max_exact < 1 or max_distance <= max_exact:
        raise ValueError(
            f"`num_buckets` ({num_buckets}) must be >= 4 and "
            f"`max_bucket_distance` ({max_distance}) above num_buckets // 4"
        )


@keras.saving.register_keras_serializable(package="kser")
class WavLMEncoderLayer(TransformerEncoderLayer):
    """One WavLM transformer layer (post-LN base or pre-LN large).

    The residual and normalisation order is `TransformerEncoderLayer`'s; the
    attention adds a gated relative position bias to the scaled scores:
    `softmax(q k^T / sqrt(d) + gate * bias)`, where `bias` (one value per
    head and frame pair) comes from layer 0's embedding of
    `relative_position_buckets`, and per head and query frame
    `gate = a * (b * gru_rel_pos_const - 1) + 2`, `(a, b)` the sigmoids of
    the attention input's head slice through `gru_rel_pos_linear` (8 outputs
    summed in two groups of 4). Padded keys are masked.

    Args:
        hidden_dim, num_heads, intermediate_dim, normalize_first, dropout,
        attention_dropout, layer_norm_epsilon: as `TransformerEncoderLayer`.
        num_buckets: int. Relative position buckets (320 in WavLM).
        max_bucket_distance: int. Distance of the last bucket (800).
        has_relative_position_bias: bool. This layer owns the bucket
            embedding and computes the bias (layer 0 only).

    Call arguments:
        x: tensor of shape `(batch, frames, hidden_dim)`.
        frame_padding_mask: boolean tensor of shape `(batch, frames)`.
        position_bias: tensor of shape `(1, num_heads, frames, frames)`, the
            ungated bias from layer 0; None for layer 0 itself.
        training: bool.

    Returns:
        `(x, position_bias)`: the layer output and the ungated bias to hand
        to the next layer.
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        intermediate_dim,
        normalize_first=False,
        dropout=0.0,
        attention_dropout=0.0,
        layer_norm_epsilon=DEFAULT_EPSILON,
        num_buckets=320,
        max_bucket_distance=800,
        has_relative_position_bias=False,
        **kwargs,
    ):
        super().__init__(
            hidden_dim=hidden_dim,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            normalize_first=normalize_first,
            dropout=dropout,
            attention_dropout=attention_dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            **kwargs,
        )
        _check_buckets(num_buckets, max_bucket_distance)
        self.num_buckets = num_buckets
        self.max_bucket_distance = max_bucket_distance
        self.has_relative_position_bias = has_relative_position_bias
        self.gru_rel_pos_linear = keras.layers.Dense(
            8, dtype=self.dtype_policy, name="gru_rel_pos_linear"
        )
        self.rel_attn_embed = None
        if has_relative_position_bias:
            self.rel_attn_embed = keras.layers.Embedding(
                num_buckets,
                num_heads,
                dtype=self.dtype_policy,
                name="rel_attn_embed",
            )

    def build(self, x_shape, frame_padding_mask_shape=None,
              position_bias_shape=None):
        super().build(x_shape, frame_padding_mask_shape)
        self.gru_rel_pos_linear.build((None, None, None, self.head_dim))
        self.gru_rel_pos_const = self.add_weight(
            shape=(self.num_heads,),
            initializer="ones",
            name="gru_rel_pos_const",
        )
        if self.rel_attn_embed is not None:
            self.rel_attn_embed.build((None, None))

    def compute_position_bias(self, frames):
        """The ungated bias, `(1, num_heads, frames, frames)` (layer 0)."""
        buckets = relative_position_buckets(
            frames, self.num_buckets, self.max_bucket_distance
        )
        values = self.rel_attn_embed(buckets)  # (frames, frames, heads)
        return ops.transpose(values, (2, 0, 1))[None]

    def _gate(self, x, batch, frames):
        # Per head and query frame, from the attention input's head slice.
        heads = ops.reshape(x, (batch, frames, self.num_heads, self.head_dim))
        proj = self._sublayer(self.gru_rel_pos_linear, heads)
        proj = ops.sum(
            ops.reshape(proj, (batch, frames, self.num_heads, 2, 4)), axis=-1
        )
        gates = ops.sigmoid(proj)
        const = ops.cast(self.gru_rel_pos_const, gates.dtype)
        gate = gates[..., 0] * (gates[..., 1] * const - 1.0) + 2.0
        return ops.transpose(gate, (0, 2, 1))[..., None]  # (b, h, q, 1)

    def _biased_attention(self, x, frame_padding_mask, position_bias, training):
        batch, frames = ops.shape(x)[0], ops.shape(x)[1]
        heads_shape = (batch, frames, self.num_heads, self.head_dim)
        query = ops.reshape(self._sublayer(self.query_dense, x), heads_shape)
        key = ops.reshape(self._sublayer(self.key_dense, x), heads_shape)
        value = ops.reshape(self._sublayer(self.value_dense, x), heads_shape)
        bias = self._gate(x, batch, frames) * ops.cast(
            position_bias, query.dtype
        )
        # Padded keys are masked for every query, folded into the bias
        # (the torch backend takes a bias or a mask, not both).
        mask = ops.cast(frame_padding_mask, "bool")[:, None, None, :]
        bias = ops.where(mask, bias, ops.cast(-1e9, bias.dtype))
        scale = self.head_dim**-0.5
        if training and self.attention_dropout > 0:
            scores = ops.einsum("bqhd,bkhd->bhqk", query, key)
            scores = scores * ops.cast(scale, scores.dtype) + bias
            probs = ops.softmax(scores, axis=-1)
            probs = self._sublayer(
                self.attention_dropout_layer, probs, training=training
            )
            out = ops.einsum("bhqk,bkhd->bqhd", probs, value)
        else:
            out = ops.dot_product_attention(
                query, key, value, bias=bias, scale=scale
            )
        out = ops.reshape(out, (batch, frames, self.hidden_dim))
        return self._sublayer(self.output_dense, out)

    def call(self, x, frame_padding_mask, position_bias=None, training=None):
        if position_bias is None:
            if self.rel_attn_embed is None:
                raise ValueError(
                    "a WavLM layer without `has_relative_position_bias` needs "
                    "the `position_bias` of layer 0"
                )
            position_bias = self.compute_position_bias(ops.shape(x)[1])
        if self.normalize_first:
            h = self._biased_attention(
                self._sublayer(self.attention_norm, x), frame_padding_mask,
                position_bias, training,
            )
            x = x + self._sublayer(self.dropout_layer, h, training=training)
            h = self._feed_forward(self._sublayer(self.ffn_norm, x), training)
            x = x + self._sublayer(self.dropout_layer, h, training=training)
            return x, position_bias
        h = self._biased_attention(x, frame_padding_mask, position_bias, training)
        h = self._sublayer(self.dropout_layer, h, training=training)
        x = self._sublayer(self.attention_norm, x + h)
        h = self._feed_forward(x, training)
        h = self._sublayer(self.dropout_layer, h, training=training)
        x = self._sublayer(self.ffn_norm, x + h)
        return x, position_bias

    def compute_output_spec(self, x, frame_padding_mask, position_bias=None,
                            training=None):
        frames = x.shape[1]
        return (
            keras.KerasTensor(x.shape, dtype=self.compute_dtype),
            keras.KerasTensor(
                (1, self.num_heads, frames, frames), dtype=self.compute_dtype
            ),
        )

    def compute_output_shape(self, x_shape, frame_padding_mask_shape=None,
                             position_bias_shape=None):
        frames = x_shape[1]
        return x_shape, (1, self.num_heads, frames, frames)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_buckets": self.num_buckets,
                "max_bucket_distance": self.max_bucket_distance,
                "has_relative_position_bias": self.has_relative_position_bias,
            }
        )
        return config
