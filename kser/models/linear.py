"""`Linear`: Keras' `Dense` with the bias added inside the matmul on torch.

Keras' `Dense` computes `matmul(x, kernel)` and then adds the bias in a
second pass over the output. On the torch backend that second pass is a
separate kernel over every activation of every projection (six per
transformer layer), while `torch.nn.functional.linear` hands the bias to
the matmul (`addmm`: oneDNN and MKL add it as the output is written), as
transformers' `nn.Linear` does. `Linear` does the same on torch and is
Keras' `Dense` everywhere else (XLA and TensorFlow's graph optimiser fuse
the bias already).

Same variables (`kernel` of shape `(in, out)`, `bias`), same names, same
config, same math. Keras names the saved weights of a sublayer held in an
attribute by the attribute, so a preset, `.keras` file or weights file
written with a `Dense` attribute loads into a `Linear` one and back (a
layer kept in a list or a functional graph is saved under its class name:
kser keeps those `Dense`). Under a mixed policy the kernel and bias are
cast to the compute dtype exactly as `Dense` casts them (Keras' autocast
scope); with gradients off that cast is kept between calls (2 bytes per
weight in bfloat16). LoRA and quantized layers take `Dense`'s own path.
"""

import keras

from kser.models.torch_weights import compute_value


@keras.saving.register_keras_serializable(package="kser")
class Linear(keras.layers.Dense):
    """A `keras.layers.Dense` whose bias add is fused into the matmul on
    the torch backend; identical to `Dense` on the others.

    Args:
        Those of `keras.layers.Dense`.

    Examples:
    ```python
    layer = Linear(768, name="query")
    y = layer(x)  # same result as keras.layers.Dense(768)(x)
    ```
    """

    def call(self, inputs, training=None):
        if (
            keras.backend.backend() != "torch"
            or self.bias is None
            or self.quantization_mode is not None
            or self.lora_enabled
        ):
            return super().call(inputs, training=training)
        import torch
        import torch.nn.functional as F

        # F.linear computes x @ W.T + b with W of shape (out, in). Where a
        # cast copy of the kernel is kept anyway (inference under a mixed
        # policy), it is kept in that layout, contiguous: the matmul runs
        # 1-3 % faster reading W's rows than the kernel's columns.
        # Otherwise W is a view of the kernel (no second float32 copy).
        if torch.is_grad_enabled() or self.variable_dtype == self.compute_dtype:
            weight = compute_value(self, self.kernel).T
        else:
            weight = compute_value(self, self.kernel, _transposed_copy)
        bias = compute_value(self, self.bias)
        inputs = keras.ops.convert_to_tensor(inputs)
        if inputs.dtype != weight.dtype or bias.dtype != weight.dtype:
            # Mixed dtypes: Dense's own type promotion.
            return super().call(inputs, training=training)
        x = F.linear(inputs, weight, bias)
        if self.activation is not None:
            x = self.activation(x)
        return x


def _transposed_copy(kernel):
    return kernel.T.contiguous()
