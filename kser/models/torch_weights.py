"""Inference copies of layer variables on the torch backend.

On torch every op runs eagerly, so what XLA and TensorFlow's graph do once
per trace (cast a float32 variable to the compute dtype under a mixed
policy, put a conv kernel in the layout the kernel wants) is done again on
every call. `compute_value` keeps that copy between calls while gradients
are off (`predict`, feature extraction), until the variable changes: torch
counts every in-place write to a tensor (`_version`), and Keras' `assign`
writes in place. With gradients on, the value is recomputed every call so
gradients flow to the variable. A copy is kept per device scope, and none
is kept under the "meta" device (Keras traces shapes there, e.g. when
`fit` or `predict` builds a model: the copy would hold no data). Used by `Linear` and the conv feature
encoder's torch path.
"""

import keras


def compute_value(owner, variable, layout=None):
    """`variable` as `owner`'s call sees it, optionally rearranged.

    Call it inside `owner`'s call: `convert_to_tensor` applies Keras'
    autocast scope, which under a mixed policy casts the float32 variable
    to the compute dtype (as torch's autocast casts `nn.Linear` and
    `nn.Conv1d` weights).

    Args:
        owner: the layer that owns `variable` (holds the cache).
        variable: a `keras.Variable` on the torch backend.
        layout: None, or a function of the tensor (e.g. a permute to
            torch's conv kernel layout) whose result is kept too.

    Returns:
        A torch tensor.
    """
    import torch

    def value():
        tensor = keras.ops.convert_to_tensor(variable)
        return tensor if layout is None else layout(tensor)

    raw = getattr(variable, "_value", None)
    if (
        torch.is_grad_enabled()
        or not isinstance(raw, torch.Tensor)
        # Nothing to keep: the stored dtype (inside the layer's call, Keras'
        # autocast scope makes `variable.dtype` report the compute dtype)
        # is the compute dtype and the layout is as stored.
        or (
            layout is None
            and keras.backend.standardize_dtype(raw.dtype) == owner.compute_dtype
        )
    ):
        return value()
    device = _scope_device()
    if device == "meta":
        return value()
    key = (raw.data_ptr(), raw._version, owner.compute_dtype, device)
    cache = owner.__dict__.setdefault("_kser_cast_cache", {})
    entry = cache.get(variable.path)
    if entry is None or entry[0] != key:
        entry = (key, value())
        cache[variable.path] = entry
    return entry[1]


def _scope_device():
    # The device Keras' `convert_to_tensor` puts tensors on now (its
    # `keras.device` scope), as a string.
    try:
        from keras.src.backend.torch.core import get_device
    except ImportError:  # another Keras layout: treat every scope alike
        return None
    return str(get_device())
