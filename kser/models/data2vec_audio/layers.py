"""data2vec-audio's layer: the stacked positional conv embedding.

Everything else in data2vec-audio (the layer-norm conv feature encoder, the
frame padding mask, the post-LN transformer layer) is wav2vec2's and comes
from `kser.models.speech_encoder_layers`.
"""

import keras
from keras import ops

from kser.models import torch_ops
from kser.models.speech_encoder_layers import DEFAULT_EPSILON
from kser.models.speech_encoder_layers import gelu


@keras.saving.register_keras_serializable(package="kser")
class Data2VecAudioPositionalConvEmbedding(keras.layers.Layer):
    """data2vec-audio's relative position embedding, added to its input.

    Zeroes padded frames, then `depth` times: grouped Conv1D with
    `kernel_size // 2` zeros padded on both sides (an even kernel's extra
    last frame dropped) -> LayerNorm over channels without scale or offset
    (epsilon 1e-5) -> GELU. The result is added to the (zeroed) input.
    This is transformers' `Data2VecAudioPositionalConvEmbedding` (a stack of
    `Data2VecAudioPositionalConvLayer`s, without weight norm).

    transformers zeroes the padded frames once, before the first conv, so
    in a padded batch the later convs see the earlier convs' output on the
    padded frames and a clip's last valid frames depend on its padding.
    `padding_invariant=True` zeroes the padded frames before every conv,
    so each clip's valid frames equal its output alone.

    Args:
        hidden_dim: int. Channels in and out.
        kernel_size: int. Kernel size of each conv (19 in data2vec-audio).
        groups: int. Conv groups (16).
        depth: int. Conv layers in the stack (5).
        padding_invariant: bool. Re-zero padded frames before every conv.

    Call arguments:
        x: tensor of shape `(batch, frames, hidden_dim)`.
        frame_padding_mask: boolean tensor of shape `(batch, frames)`.

    Returns:
        `x * mask + stack(x * mask)`.
    """

    def __init__(
        self,
        hidden_dim,
        kernel_size=19,
        groups=16,
        depth=5,
        padding_invariant=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.kernel_size = kernel_size
        self.groups = groups
        self.depth = depth
        self.padding_invariant = padding_invariant
        self.convs = [
            keras.layers.Conv1D(
                hidden_dim,
                kernel_size,
                padding="valid",
                groups=groups,
                use_bias=True,
                dtype=self.dtype_policy,
                name=f"conv_{i}",
            )
            for i in range(depth)
        ]
        self.norms = [
            keras.layers.LayerNormalization(
                epsilon=DEFAULT_EPSILON,
                center=False,
                scale=False,
                dtype=self.dtype_policy,
                name=f"norm_{i}",
            )
            for i in range(depth)
        ]

    def build(self, x_shape, frame_padding_mask_shape=None):
        shape = (None, None, self.hidden_dim)
        for conv, norm in zip(self.convs, self.norms):
            conv.build(shape)
            norm.build(shape)

    def call(self, x, frame_padding_mask):
        mask = ops.cast(frame_padding_mask, x.dtype)[:, :, None]
        x = x * mask
        if torch_ops.eager(x):
            return x + self._torch_stack(x, mask)
        pad = self.kernel_size // 2
        y = x
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if self.padding_invariant and i > 0:
                y = y * mask
            y = conv(ops.pad(y, ((0, 0), (pad, pad), (0, 0))))
            if self.kernel_size % 2 == 0:
                y = y[:, :-1, :]
            y = gelu(norm(y))
        return x + y

    def _torch_stack(self, x, mask):
        # The same stack channels-first, as transformers runs it: each conv
        # pads itself with its kernel kept in torch's layout and the
        # compute dtype between inference calls (Keras' torch conv
        # transposes its input and kernel on every call), each LayerNorm
        # is torch's kernel on a channels-last view, GELU follows it there.
        import torch.nn.functional as F

        pad = self.kernel_size // 2
        y = x.transpose(1, 2)
        mask = mask.transpose(1, 2)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if self.padding_invariant and i > 0:
                y = y * mask
            y = torch_ops.conv1d(conv, y, padding=pad)
            if self.kernel_size % 2 == 0:
                y = y[:, :, :-1]
            y = F.gelu(torch_ops.layer_norm(norm, y.transpose(1, 2)))
            y = y.transpose(1, 2)
        return y.transpose(1, 2)

    def compute_output_shape(self, x_shape, frame_padding_mask_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "kernel_size": self.kernel_size,
                "groups": self.groups,
                "depth": self.depth,
                "padding_invariant": self.padding_invariant,
            }
        )
        return config
