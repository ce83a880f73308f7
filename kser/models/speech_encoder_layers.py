"""Speech-encoder layers shared by wav2vec2-style families (HuBERT first):
the conv feature encoder, the frame padding mask, the positional conv
embedding and the transformer encoder layer.

Each layer reproduces the matching module of transformers' `modeling_hubert`
(identical in `modeling_wav2vec2`) at inference (see the design notes for the exact order of operations). Model
code uses `keras.ops` only, so it runs unchanged on JAX, TensorFlow and
PyTorch.
"""

import keras
from keras import ops

from kser.models import torch_ops
from kser.models.linear import Linear
from kser.models.waveform import conv_output_length

# transformers' LayerNorm/GroupNorm use eps=1e-5; Keras defaults to 1e-3.
DEFAULT_EPSILON = 1e-5


def gelu(x):
    # The exact erf GELU that transformers' "gelu" is; keras.ops.gelu
    # defaults to the tanh approximation.
    return ops.gelu(x, approximate=False)


@keras.saving.register_keras_serializable(package="kser")
class ConvFeatureEncoder(keras.layers.Layer):
    """The convolutional waveform encoder: 7 strided Conv1D layers.

    `norm="group"` (base): layer 0 is conv -> GroupNorm with one group per
    channel -> GELU, the others conv -> GELU. `norm="layer"` (large): every
    layer is conv -> LayerNorm over channels -> GELU.

    Args:
        conv_dims: list of int. Output channels of each conv layer.
        conv_kernel_sizes: list of int. Kernel size of each conv layer.
        conv_strides: list of int. Stride of each conv layer.
        conv_bias: bool. Whether the conv layers have a bias.
        norm: str. `"group"` or `"layer"`.
        epsilon: float. Epsilon of the normalization layers.
        padding_invariant: bool. With `norm="group"`, take the GroupNorm
            statistics over the frames of real samples only, so a clip's
            features do not depend on the padding its batch adds (they then
            equal transformers' output for the clip alone). False matches
            transformers' batched output, padding included in the
            statistics.

    Call arguments:
        waveform: float tensor of shape `(batch, samples)`.
        padding_mask: tensor of shape `(batch, samples)`, 1 for real samples
            (used only when `padding_invariant`).

    Returns:
        Tensor of shape `(batch, frames, conv_dims[-1])`.
    """

    def __init__(
        self,
        conv_dims,
        conv_kernel_sizes,
        conv_strides,
        conv_bias=False,
        norm="group",
        epsilon=DEFAULT_EPSILON,
        padding_invariant=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if norm not in ("group", "layer"):
            raise ValueError(f"`norm` must be 'group' or 'layer', got {norm!r}")
        if not len(conv_dims) == len(conv_kernel_sizes) == len(conv_strides):
            raise ValueError(
                "`conv_dims`, `conv_kernel_sizes` and `conv_strides` must have "
                "the same length"
            )
        self.conv_dims = list(conv_dims)
        self.conv_kernel_sizes = list(conv_kernel_sizes)
        self.conv_strides = list(conv_strides)
        self.conv_bias = conv_bias
        self.norm = norm
        self.epsilon = epsilon
        self.padding_invariant = padding_invariant

        self.conv_layers = []
        self.norm_layers = []
        for i, (dim, kernel, stride) in enumerate(
            zip(self.conv_dims, self.conv_kernel_sizes, self.conv_strides)
        ):
            self.conv_layers.append(
                keras.layers.Conv1D(
                    dim,
                    kernel,
                    strides=stride,
                    padding="valid",
                    use_bias=conv_bias,
                    dtype=self.dtype_policy,
                    name=f"conv_{i}",
                )
            )
            if norm == "layer":
                norm_layer = keras.layers.LayerNormalization(
                    epsilon=epsilon, dtype=self.dtype_policy, name=f"norm_{i}"
                )
            elif i == 0:
                # groups == channels: each channel normalised over time.
                norm_layer = keras.layers.GroupNormalization(
                    groups=dim,
                    epsilon=epsilon,
                    dtype=self.dtype_policy,
                    name=f"norm_{i}",
                )
            else:
                norm_layer = None
            self.norm_layers.append(norm_layer)

    def build(self, waveform_shape, padding_mask_shape=None):
        shape = (waveform_shape[0], waveform_shape[1], 1)
        for conv, norm in zip(self.conv_layers, self.norm_layers):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if norm is not None:
                norm.build(shape)

    def _group_norm(self, x, norm, padding_mask=None):
        # GroupNorm with one group per channel (the variables of Keras'
        # layer): each channel normalised over time, with statistics in
        # float32 whatever the compute dtype (as Keras' layer: sums over
        # ~50k frames lose too much in bfloat16). With `padding_mask`, over
        # the frames of real samples only. Computed on (batch, frames,
        # channels) as it is: Keras' layer first reshapes into groups,
        # which on torch (whose conv output is channels-first in memory)
        # copies the model's largest activation and then broadcasts over it
        # in a slow layout.
        dtype = x.dtype
        x = ops.cast(x, "float32")
        if padding_mask is None:
            mean = ops.mean(x, axis=1, keepdims=True)
            var = ops.var(x, axis=1, keepdims=True)
        else:
            lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=-1)
            lengths = conv_output_length(
                lengths, self.conv_kernel_sizes[:1], self.conv_strides[:1]
            )
            frames = ops.arange(ops.shape(x)[1], dtype="int32")
            mask = ops.cast(frames[None, :] < lengths[:, None], x.dtype)[..., None]
            count = ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)
            mean = ops.sum(x * mask, axis=1, keepdims=True) / count
            centered = x - mean
            var = ops.sum(centered * centered * mask, axis=1, keepdims=True) / count
        inv = ops.rsqrt(var + ops.cast(self.epsilon, x.dtype))
        inv = inv * ops.cast(norm.gamma, x.dtype)
        shift = ops.cast(norm.beta, x.dtype) - mean * inv
        return ops.cast(x * inv + shift, dtype)

    def call(self, waveform, padding_mask=None):
        masked = (
            self.padding_invariant
            and self.norm == "group"
            and padding_mask is not None
        )
        if keras.backend.backend() == "torch":
            return self._torch_call(waveform, padding_mask if masked else None)
        x = ops.expand_dims(waveform, axis=-1)
        for conv, norm in zip(self.conv_layers, self.norm_layers):
            x = conv(x)
            if norm is not None and self.norm == "group":
                x = self._group_norm(x, norm, padding_mask if masked else None)
            elif norm is not None:
                x = norm(x)
            x = gelu(x)
        return x

    def _torch_call(self, waveform, padding_mask):
        # The same layers in torch's channels-first layout, as transformers
        # runs them. Keras' torch conv takes channels-last input, so each
        # layer would transpose (and copy) its input and transpose and cast
        # its kernel on every call. Here the kernels are kept in torch's
        # layout and the compute dtype between inference calls
        # (`torch_weights.compute_value`), and the activations stay
        # channels-first until one transpose at the end. GroupNorm is
        # torch's kernel on the compute dtype (its CPU kernel accumulates
        # bfloat16 in float32; the generic path's float32 copy and variance
        # took 115 ms of a 0.6 s bfloat16 HuBERT base call over 4 x 4 s,
        # this about 4 ms); the padding-invariant GroupNorm keeps its Keras
        # math, and the LayerNorm (over channels) is torch's kernel too.
        import torch.nn.functional as F

        x = waveform[:, None, :]
        for conv, norm in zip(self.conv_layers, self.norm_layers):
            x = torch_ops.conv1d(conv, x)
            if norm is not None and self.norm == "group" and padding_mask is None:
                x = F.group_norm(
                    x,
                    x.shape[1],
                    torch_ops.stored_float32(norm.gamma, x),
                    torch_ops.stored_float32(norm.beta, x),
                    self.epsilon,
                )
            elif norm is not None and self.norm == "group":
                x = self._group_norm(x.transpose(1, 2), norm, padding_mask)
                x = x.transpose(1, 2)
            elif norm is not None:
                x = torch_ops.layer_norm(norm, x.transpose(1, 2)).transpose(1, 2)
            x = F.gelu(x)
        return x.transpose(1, 2)

    def compute_output_shape(self, waveform_shape, padding_mask_shape=None):
        frames = waveform_shape[1]
        if frames is not None:
            frames = conv_output_length(
                frames, self.conv_kernel_sizes, self.conv_strides
            )
        return (waveform_shape[0], frames, self.conv_dims[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "conv_dims": self.conv_dims,
                "conv_kernel_sizes": self.conv_kernel_sizes,
                "conv_strides": self.conv_strides,
                "conv_bias": self.conv_bias,
                "norm": self.norm,
                "epsilon": self.epsilon,
                "padding_invariant": self.padding_invariant,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="kser")
class FramePaddingMask(keras.layers.Layer):
    """Turns a sample-level padding mask into a frame-level one.

    A frame is valid when its index is below the number of frames the conv
    stack makes from the clip's valid samples (padding sits at the end).

    Args:
        conv_kernel_sizes: list of int. Kernel size of each conv layer.
        conv_strides: list of int. Stride of each conv layer.

    Call arguments:
        padding_mask: tensor of shape `(batch, samples)`, 1/True for samples.
        frames: tensor of shape `(batch, frames, ...)` whose frame count the
            mask takes.

    Returns:
        Boolean tensor of shape `(batch, frames)`.
    """

    def __init__(self, conv_kernel_sizes, conv_strides, **kwargs):
        super().__init__(**kwargs)
        self.conv_kernel_sizes = list(conv_kernel_sizes)
        self.conv_strides = list(conv_strides)
        self.built = True

    def call(self, padding_mask, frames):
        lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=-1)
        lengths = conv_output_length(
            lengths, self.conv_kernel_sizes, self.conv_strides
        )
        positions = ops.arange(ops.shape(frames)[1], dtype="int32")
        return ops.less(positions[None, :], lengths[:, None])

    def compute_output_shape(self, padding_mask_shape, frames_shape):
        return (padding_mask_shape[0], frames_shape[1])

    def compute_output_spec(self, padding_mask, frames):
        return keras.KerasTensor(
            (padding_mask.shape[0], frames.shape[1]), dtype="bool"
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "conv_kernel_sizes": self.conv_kernel_sizes,
                "conv_strides": self.conv_strides,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="kser")
class PositionalConvEmbedding(keras.layers.Layer):
    """Convolutional relative position embedding, added to its input.

    Zeroes padded frames, then grouped Conv1D with `kernel_size // 2` zeros
    padded on both sides; an even kernel yields one extra frame, which is
    dropped (transformers' `HubertSamePadLayer`). Then GELU, then the result
    is added to the (zeroed) input. Keras `padding="same"` would pad 63/64
    and shift the output by one frame, so the padding is explicit. The weight
    norm of the checkpoint is folded into a plain kernel at conversion.

    Args:
        hidden_dim: int. Channels in and out.
        kernel_size: int. Conv kernel size (128 in HuBERT).
        groups: int. Conv groups (16 in HuBERT).

    Call arguments:
        x: tensor of shape `(batch, frames, hidden_dim)`.
        frame_padding_mask: boolean tensor of shape `(batch, frames)`.

    Returns:
        `x * mask + pos_conv(x * mask)`.
    """

    def __init__(self, hidden_dim, kernel_size=128, groups=16, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.kernel_size = kernel_size
        self.groups = groups
        self.conv = keras.layers.Conv1D(
            hidden_dim,
            kernel_size,
            padding="valid",
            groups=groups,
            use_bias=True,
            dtype=self.dtype_policy,
            name="conv",
        )

    def build(self, x_shape, frame_padding_mask_shape=None):
        self.conv.build((None, None, self.hidden_dim))

    def call(self, x, frame_padding_mask):
        mask = ops.cast(frame_padding_mask, x.dtype)[:, :, None]
        x = x * mask
        pad = self.kernel_size // 2
        if torch_ops.eager(x):
            # torch's conv pads itself, channels-first, with the kernel
            # kept in its layout (Keras' torch conv copies this 4.7M-weight
            # kernel into torch's layout on every call: 7 ms of a 0.4 s
            # bfloat16 HuBERT base call over 4 x 4 s).
            y = torch_ops.conv1d(self.conv, x.transpose(1, 2), padding=pad)
            y = y.transpose(1, 2)
        else:
            y = self.conv(ops.pad(x, ((0, 0), (pad, pad), (0, 0))))
        if self.kernel_size % 2 == 0:
            y = y[:, :-1, :]
        return x + gelu(y)

    def compute_output_shape(self, x_shape, frame_padding_mask_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "kernel_size": self.kernel_size,
                "groups": self.groups,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="kser")
class TransformerEncoderLayer(keras.layers.Layer):
    """One transformer layer of a HuBERT/wav2vec2-style encoder.

    `normalize_first=False` (base, post-LN):
    `x = LN(x + MHA(x)); x = LN_final(x + FFN(x))`.
    `normalize_first=True` (large, "stable layer norm", pre-LN):
    `x = x + MHA(LN(x)); x = x + FFN(LN_final(x))`.
    Attention has biases on q, k, v and out, scales q by `head_dim**-0.5`
    and masks padded keys.

    Args:
        hidden_dim: int. Model width.
        num_heads: int. Attention heads.
        intermediate_dim: int. Width of the feed-forward layer.
        normalize_first: bool. Pre-LN (True) or post-LN (False).
        dropout: float. Dropout after attention and feed-forward.
        attention_dropout: float. Dropout on attention probabilities.
        layer_norm_epsilon: float. Epsilon of both LayerNorms.

    Call arguments:
        x: tensor of shape `(batch, frames, hidden_dim)`.
        frame_padding_mask: boolean tensor of shape `(batch, frames)`.
        training: bool.
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(
                f"`hidden_dim` ({hidden_dim}) must be divisible by "
                f"`num_heads` ({num_heads})"
            )
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.head_dim = hidden_dim // num_heads
        self.intermediate_dim = intermediate_dim
        self.normalize_first = normalize_first
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon

        def dense(units, name):
            return Linear(units, dtype=self.dtype_policy, name=name)

        self.query_dense = dense(hidden_dim, "query")
        self.key_dense = dense(hidden_dim, "key")
        self.value_dense = dense(hidden_dim, "value")
        self.output_dense = dense(hidden_dim, "attention_output")
        self.intermediate_dense = dense(intermediate_dim, "intermediate")
        self.ffn_output_dense = dense(hidden_dim, "ffn_output")
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="attention_norm",
        )
        self.ffn_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="ffn_norm"
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy
        )
        self.attention_dropout_layer = keras.layers.Dropout(
            attention_dropout, dtype=self.dtype_policy
        )

    def build(self, x_shape, frame_padding_mask_shape=None):
        shape = (None, None, self.hidden_dim)
        for layer in (
            self.query_dense,
            self.key_dense,
            self.value_dense,
            self.output_dense,
            self.intermediate_dense,
        ):
            layer.build(shape)
        self.ffn_output_dense.build((None, None, self.intermediate_dim))
        self.attention_norm.build(shape)
        self.ffn_norm.build(shape)

    def _attention(self, x, frame_padding_mask, training):
        if torch_ops.eager(x) and not (training and self.attention_dropout > 0):
            return self._torch_attention(x, frame_padding_mask)
        batch, frames = ops.shape(x)[0], ops.shape(x)[1]
        heads_shape = (batch, frames, self.num_heads, self.head_dim)
        query = ops.reshape(self._sublayer(self.query_dense, x), heads_shape)
        key = ops.reshape(self._sublayer(self.key_dense, x), heads_shape)
        value = ops.reshape(self._sublayer(self.value_dense, x), heads_shape)
        # Padded keys are masked for every query: (batch, 1, 1, frames).
        mask = ops.cast(frame_padding_mask, "bool")[:, None, None, :]
        if training and self.attention_dropout > 0:
            scores = ops.einsum("bqhd,bkhd->bhqk", query, key)
            scores = scores * ops.cast(self.head_dim**-0.5, scores.dtype)
            scores = ops.where(mask, scores, ops.cast(-1e9, scores.dtype))
            probs = ops.softmax(scores, axis=-1)
            probs = self._sublayer(
                self.attention_dropout_layer, probs, training=training
            )
            out = ops.einsum("bhqk,bkhd->bqhd", probs, value)
        else:
            out = ops.dot_product_attention(
                query, key, value, mask=mask, scale=self.head_dim**-0.5
            )
        out = ops.reshape(out, (batch, frames, self.hidden_dim))
        return self._sublayer(self.output_dense, out)

    def _torch_attention(self, x, frame_padding_mask):
        # The same attention in torch's own calls, as transformers makes
        # them: Keras' torch `dot_product_attention` copies the transposed
        # query, key and value into contiguous tensors (36 copies per HuBERT
        # base forward, about 9 ms of a 0.4 s bfloat16 call over 4 x 4 s)
        # and each `keras.ops` call checks its arguments for symbolic
        # tensors; torch's kernel takes the transposed views.
        import torch.nn.functional as F

        batch, frames = x.shape[0], x.shape[1]

        def heads(layer):
            y = self._sublayer(layer, x)
            return y.view(batch, frames, self.num_heads, self.head_dim).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(self.query_dense),
            heads(self.key_dense),
            heads(self.value_dense),
            # Padded keys are masked for every query: (batch, 1, 1, frames).
            attn_mask=frame_padding_mask.bool()[:, None, None, :],
            scale=self.head_dim**-0.5,
        )
        out = out.transpose(1, 2).reshape(batch, frames, self.hidden_dim)
        return self._sublayer(self.output_dense, out)

    def _feed_forward(self, x, training):
        x = gelu(self._sublayer(self.intermediate_dense, x))
        x = self._sublayer(self.dropout_layer, x, training=training)
        return self._sublayer(self.ffn_output_dense, x)

    def call(self, x, frame_padding_mask, training=None):
        if self.normalize_first:
            h = self._attention(
                self._sublayer(self.attention_norm, x), frame_padding_mask, training
            )
            x = x + self._sublayer(self.dropout_layer, h, training=training)
            h = self._feed_forward(self._sublayer(self.ffn_norm, x), training)
            return x + self._sublayer(self.dropout_layer, h, training=training)
        h = self._attention(x, frame_padding_mask, training)
        h = self._sublayer(self.dropout_layer, h, training=training)
        x = self._sublayer(self.attention_norm, x + h)
        h = self._feed_forward(x, training)
        h = self._sublayer(self.dropout_layer, h, training=training)
        return self._sublayer(self.ffn_norm, x + h)

    def _sublayer(self, layer, x, **kwargs):
        # On torch every op runs eagerly, and Keras' `Layer.__call__`
        # (input casting, name and autocast scopes, call context) costs
        # about 70 us a call: 144 sublayer calls per HuBERT base forward,
        # about 10 ms. Here it adds nothing: the sublayers are built in
        # `build`, share this layer's dtype policy (its autocast scope is
        # already open) and get `training` explicitly. XLA and TensorFlow
        # pay that cost once, at tracing: they keep Keras' call.
        if layer.built and torch_ops.eager(x):
            if isinstance(layer, keras.layers.LayerNormalization):
                return torch_ops.layer_norm(layer, x)
            return layer.call(x, **kwargs)
        return layer(x, **kwargs)

    def compute_output_shape(self, x_shape, frame_padding_mask_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "normalize_first": self.normalize_first,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
