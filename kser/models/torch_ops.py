"""Torch fast paths shared by the speech-encoder layers.

On torch every op runs eagerly, and Keras' channels-last conv and its
LayerNormalization under a mixed policy copy their inputs on every call.
These helpers run the same math with torch's own kernels, channels-first
where transformers is, with kernels kept in torch's layout between
inference calls (`torch_weights.compute_value`). Only called when
`eager(x)` is true; JAX and TensorFlow run the layers' `keras.ops` path.
"""

import keras

from kser.models.torch_weights import compute_value


def conv_layout(kernel):
    # Keras' Conv1D kernel (width, in, out) as torch's (out, in, width).
    return kernel.permute(2, 1, 0).contiguous()


def conv1d(conv, x, padding=0):
    # A Keras Conv1D ("valid", no dilation) on channels-first torch input,
    # its kernel kept in torch's layout and the compute dtype between
    # inference calls.
    import torch
    import torch.nn.functional as F

    kernel = compute_value(conv, conv.kernel, conv_layout)
    bias = compute_value(conv, conv.bias) if conv.use_bias else None
    if (
        x.shape[1] == 1
        and padding == 0
        and conv.groups == 1
        # Under the "meta" device (Keras' shape tracing) the kernel comes
        # uncast; conv1d accepts that there, matmul does not.
        and kernel.dtype == x.dtype
    ):
        # One input channel (the waveform): a matmul of the kernel with the
        # strided windows (a view), which runs about twice as fast as
        # torch's conv for HuBERT's first layer (4 x 4 s: 20.6 against
        # 42.8 ms in bfloat16, 46 against 69 ms in float32) and writes the
        # same channels-first output.
        windows = x[:, 0].unfold(-1, kernel.shape[-1], conv.strides[0])
        y = torch.matmul(kernel[:, 0], windows.transpose(1, 2))
        return y if bias is None else y + bias[:, None]
    if padding:
        # Padded first, then an unpadded conv: oneDNN's grouped conv with
        # its own padding ran 1.4-2.5x slower (HuBERT's positional conv, 4 x
        # 199 frames: 110 against 49 ms float32 on an AVX2 EPYC; 62 against
        # 43 float32 and 40 against 16-20 bfloat16 on an AVX512 EPYC).
        x = F.pad(x, (padding, padding))
    return F.conv1d(x, kernel, bias, stride=conv.strides, groups=conv.groups)


def stored_float32(variable, like):
    # A torch variable as stored (float32), not through Keras' autocast
    # scope (torch's GroupNorm takes float32 affine variables for bfloat16
    # input), on the device of `like`.
    import torch

    return variable._value.to(device=like.device, dtype=torch.float32)


def eager(x):
    # A real (or meta-device) torch tensor: ops run eagerly, one by one.
    return keras.backend.backend() == "torch" and not keras.backend.is_keras_tensor(x)


def layer_norm(layer, x):
    # Keras' LayerNormalization over the last axis in one torch kernel:
    # Keras casts a bfloat16 input to float32, normalises and casts back
    # (three passes); torch's CPU kernel reads the bfloat16 input with the
    # float32 variables and accumulates in float32 itself, as transformers'
    # LayerNorm under autocast. Same result up to the last bit of a few
    # bfloat16 outputs.
    import torch.nn.functional as F

    axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
    if layer.rms_scaling or len(axes) != 1 or axes[0] not in (-1, x.ndim - 1):
        return layer.call(x)
    gamma = None if layer.gamma is None else layer.gamma.value
    beta = None if layer.beta is None else layer.beta.value
    return F.layer_norm(x, (x.shape[-1],), gamma, beta, layer.epsilon)
