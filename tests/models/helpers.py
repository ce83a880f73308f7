"""Shared helpers for the model tests."""

import json
import os
import shutil
import struct
import weakref

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")
LAYOUTS = ("hubert_tiny_base", "hubert_tiny_large")

TINY_BACKBONE = dict(
    hidden_dim=32,
    num_layers=2,
    num_heads=4,
    intermediate_dim=64,
    conv_dims=[32] * 7,
    pos_conv_kernel_size=16,
    pos_conv_groups=4,
)


def backbone_outputs(backbone, inputs):
    """A backbone's outputs for `inputs`, as a dict of numpy arrays.

    On JAX through one compiled program (`predict_on_batch`, as feature
    extraction and `kser predict` run it): eager JAX compiles every op again
    for each new input shape, so a tiny backbone's first eager call at a
    shape took 2-7 s against about 2 s compiled (2-core CPU). The other
    backends call the backbone eagerly.
    """
    import keras

    if keras.backend.backend() == "jax":
        out = backbone.predict_on_batch(inputs)
    else:
        out = backbone(inputs)
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


_TRAINING_CALLS = weakref.WeakKeyDictionary()  # model -> its jitted call


def call_in_training(model, inputs):
    """`model(inputs, training=True)`, compiled on JAX as `fit` runs it.

    On JAX the call is one `jax.jit` of `model.stateless_call` (eager JAX
    compiled each of the tiny backbone's ~190 ops at a new shape: 14 s on a
    2-core CPU). The returned non-trainable state (the dropout seed
    generators among it) is written back to the model, as an eager call
    would advance it, so a second call draws new dropout masks. The other
    backends call the model eagerly.
    """
    import keras

    if keras.backend.backend() != "jax":
        return model(inputs, training=True)
    import jax

    step = _TRAINING_CALLS.get(model)
    if step is None:
        step = jax.jit(
            lambda trainable, frozen, x: model.stateless_call(
                trainable, frozen, x, training=True
            )
        )
        _TRAINING_CALLS[model] = step
    out, frozen = step(
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        inputs,
    )
    for variable, value in zip(model.non_trainable_variables, frozen):
        variable.assign(value)
    return out


def fixture_dir(layout):
    return os.path.join(FIXTURES, layout)


def expected(layout):
    return dict(np.load(os.path.join(FIXTURES, f"{layout}_expected.npz")))


def write_safetensors(path, tensors):
    """Minimal safetensors writer (float32 only), for building test folders."""
    header = {}
    offset = 0
    blobs = []
    for name, value in tensors.items():
        blob = np.ascontiguousarray(value, dtype=np.float32).tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(np.shape(value)),
            "data_offsets": [offset, offset + len(blob)],
        }
        offset += len(blob)
        blobs.append(blob)
    encoded = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def copy_checkpoint(layout, dest, weights=None, config_update=None):
    """Copy a fixture checkpoint folder, optionally replacing its weights."""
    shutil.copytree(fixture_dir(layout), dest)
    if config_update:
        path = os.path.join(dest, "config.json")
        with open(path) as f:
            config = json.load(f)
        config.update(config_update)
        with open(path, "w") as f:
            json.dump(config, f)
    if weights is not None:
        os.remove(os.path.join(dest, "model.safetensors"))
        write_safetensors(os.path.join(dest, "model.safetensors"), weights)
    return dest


def max_abs_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
