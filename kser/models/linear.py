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
        import torch.nn.functional as F

        kernel = self._compute_value(self.kernel)
        bias = self._compute_value(self.bias)
        inputs = keras.ops.convert_to_tensor(inputs)
        if inputs.dtype != kernel.dtype or bias.dtype != kernel.dtype:
            # Mixed dtypes: Dense's own type promotion.
            return super().call(inputs, training=training)
        # F.linear computes x @ W.T + b; W = kernel.T is a view, so its
        # transpose is the contiguous (in, out) kernel itself.
        x = F.linear(inputs, kernel.T, bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def _compute_value(self, variable):
        """The variable in the compute dtype, as `Dense` sees it.

        `convert_to_tensor` applies Keras' autocast scope: under a mixed
        policy it casts the float32 variable to the compute dtype on every
        call, as torch's autocast does for `nn.Linear` in inference. With
        gradients off (`predict`, feature extraction) the cast is done once
        and kept until the variable changes: torch counts every in-place
        write to a tensor (`_version`), and Keras' `assign` writes in place.
        """
        import torch

        raw = getattr(variable, "_value", None)
        if (
            torch.is_grad_enabled()
            or not isinstance(raw, torch.Tensor)
            # The stored dtype: inside the layer's call, Keras' autocast
            # scope makes `variable.dtype` report the compute dtype.
            or keras.backend.standardize_dtype(raw.dtype) == self.compute_dtype
        ):
            return keras.ops.convert_to_tensor(variable)
        key = (raw.data_ptr(), raw._version, self.compute_dtype)
        cache = self.__dict__.setdefault("_kser_cast_cache", {})
        entry = cache.get(variable.path)
        if entry is None or entry[0] != key:
            entry = (key, keras.ops.convert_to_tensor(variable))
            cache[variable.path] = entry
        return entry[1]
