"""kser's fused-bias `Linear` against keras.layers.Dense, and the feature
encoder's one-group-per-channel norm against keras.layers.GroupNormalization."""

import keras
import numpy as np
import pytest

from kser.models.linear import Linear
from kser.models.speech_encoder_layers import ConvFeatureEncoder


def _pair(dtype, units=6, features=5, activation=None, use_bias=True):
    dense = keras.layers.Dense(
        units, dtype=dtype, activation=activation, use_bias=use_bias
    )
    linear = Linear(units, dtype=dtype, activation=activation, use_bias=use_bias)
    dense.build((None, None, features))
    linear.build((None, None, features))
    rng = np.random.default_rng(1)
    dense.set_weights(
        [rng.standard_normal(w.shape).astype("float32") for w in dense.weights]
    )
    linear.set_weights(dense.get_weights())
    return dense, linear


def _numpy(x):
    return keras.ops.convert_to_numpy(keras.ops.cast(x, "float32"))


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_linear_matches_dense(dtype, activation):
    dense, linear = _pair(dtype, activation=activation)
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype("float32")
    want, got = dense(x), linear(x)
    assert keras.backend.standardize_dtype(got.dtype) == (
        keras.backend.standardize_dtype(want.dtype)
    )
    tol = 1e-6 if dtype == "float32" else 2e-2
    np.testing.assert_allclose(_numpy(got), _numpy(want), rtol=tol, atol=tol)


def test_linear_without_bias_matches_dense():
    dense, linear = _pair("float32", use_bias=False)
    x = np.random.default_rng(0).standard_normal((2, 5)).astype("float32")
    np.testing.assert_allclose(_numpy(linear(x)), _numpy(dense(x)), atol=1e-6)


class _Holder(keras.layers.Layer):
    """A layer holding one projection as an attribute, as kser's
    transformer layers hold theirs (Keras names the saved weights by the
    attribute, not the class)."""

    def __init__(self, projection, **kwargs):
        super().__init__(**kwargs)
        self.projection = projection(3, name="proj")

    def call(self, x):
        return self.projection(x)


def test_linear_loads_dense_weights(tmp_path):
    dense, linear = _pair("float32")
    assert [w.path.split("/")[-1] for w in linear.weights] == ["kernel", "bias"]
    assert linear.get_config() == {**dense.get_config(), "name": linear.name}
    x = np.random.default_rng(4).standard_normal((2, 5)).astype("float32")
    old, new = _Holder(keras.layers.Dense), _Holder(Linear)
    inputs = keras.Input((5,))
    old_model = keras.Model(inputs, old(inputs))
    new_inputs = keras.Input((5,))
    new_model = keras.Model(new_inputs, new(new_inputs))
    path = str(tmp_path / "m.weights.h5")
    old_model.save_weights(path)
    new_model.load_weights(path)
    np.testing.assert_allclose(_numpy(new_model(x)), _numpy(old_model(x)), atol=1e-6)
    # And back: Linear weights into Dense.
    new_model.save_weights(path)
    old_model.load_weights(path)
    np.testing.assert_allclose(_numpy(old_model(x)), _numpy(new_model(x)), atol=1e-6)


def test_linear_gradients_match_dense():
    dense, linear = _pair("float32")
    x = np.random.default_rng(2).standard_normal((3, 5)).astype("float32")
    want = _gradients(dense, x)
    got = _gradients(linear, x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def _gradients(layer, x):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(values):
            y, _ = layer.stateless_call(values, [], x)
            return (y**2).sum()

        grads = jax.grad(loss)([v.value for v in layer.trainable_variables])
        return [np.asarray(g) for g in grads]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x) ** 2)
        grads = tape.gradient(loss, layer.trainable_variables)
        return [g.numpy() for g in grads]
    import torch

    loss = (layer(torch.from_numpy(x)) ** 2).sum()
    grads = torch.autograd.grad(loss, [v.value for v in layer.trainable_variables])
    return [g.detach().cpu().numpy() for g in grads]


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_group_norm_matches_keras_group_normalization(dtype):
    encoder = ConvFeatureEncoder([6, 6], [10, 3], [5, 2], norm="group", dtype=dtype)
    encoder.build((None, 900))
    norm = encoder.norm_layers[0]
    rng = np.random.default_rng(3)
    norm.set_weights([rng.standard_normal(6).astype("float32") for _ in range(2)])
    # Offsets and scales per channel, as a conv output has.
    x = (3.0 * rng.standard_normal((2, 179, 6)) + rng.standard_normal(6)).astype(
        "float32"
    )
    x = keras.ops.cast(x, encoder.compute_dtype)
    want, got = norm(x), encoder._group_norm(x, norm)
    assert keras.backend.standardize_dtype(got.dtype) == encoder.compute_dtype
    tol = 1e-5 if dtype == "float32" else 2e-2
    np.testing.assert_allclose(_numpy(got), _numpy(want), rtol=tol, atol=tol)


def _trace_on_meta(layer, x):
    # Keras traces shapes on torch's "meta" device (tensors without data),
    # e.g. when `fit` or `predict` builds a model: a weight copy made there
    # must not be kept for real calls.
    if keras.backend.backend() == "torch":
        with keras.device("meta"):
            assert layer(x).device.type == "meta"


def test_linear_follows_new_weights_in_inference():
    # On torch with gradients off, Linear keeps the compute-dtype cast of
    # its weights between calls; it must notice when they change.
    import contextlib

    no_grad = contextlib.nullcontext()
    if keras.backend.backend() == "torch":
        import torch

        no_grad = torch.no_grad()
    dense, linear = _pair("mixed_bfloat16")
    x = np.random.default_rng(5).standard_normal((3, 4, 5)).astype("float32")
    with no_grad:
        _trace_on_meta(linear, x)
        first = _numpy(linear(x))
        np.testing.assert_allclose(first, _numpy(dense(x)), rtol=2e-2, atol=2e-2)
        if keras.backend.backend() == "torch":
            # The cast was kept (inside the call Keras' autocast scope
            # makes the variables report bfloat16: the cache must look at
            # the stored float32 tensors).
            cache = linear.__dict__.get("_kser_cast_cache", {})
            assert sorted(cache) == sorted(v.path for v in linear.weights)
            assert {str(value.dtype) for _, value in cache.values()} == {
                "torch.bfloat16"
            }
            # The kernel is kept as torch's (out, in) weight, contiguous.
            weight = cache[linear.kernel.path][1]
            assert tuple(weight.shape) == tuple(linear.kernel.shape)[::-1]
            assert weight.is_contiguous()
        new_weights = [2.0 * w + 1.0 for w in dense.get_weights()]
        dense.set_weights(new_weights)
        linear.set_weights(new_weights)
        second = _numpy(linear(x))
    assert not np.allclose(first, second)
    np.testing.assert_allclose(second, _numpy(dense(x)), rtol=2e-2, atol=2e-2)


def _keras_feature_encoder(encoder, waveform):
    # The encoder's math through its Keras sublayers, channels-last (the
    # jax and tensorflow path; on torch the encoder runs its own
    # channels-first path, which this checks).
    x = keras.ops.expand_dims(keras.ops.cast(waveform, encoder.compute_dtype), -1)
    for conv, norm in zip(encoder.conv_layers, encoder.norm_layers):
        x = conv(x)
        if norm is not None:
            x = norm(x)
        x = keras.ops.gelu(x, approximate=False)
    return x


def _encoder(norm, dtype, seed=4):
    encoder = ConvFeatureEncoder(
        [6, 8, 8], [10, 3, 2], [5, 2, 2], conv_bias=norm == "layer",
        norm=norm, dtype=dtype,
    )
    encoder.build((None, 900))
    rng = np.random.default_rng(seed)
    encoder.set_weights(
        [rng.standard_normal(w.shape).astype("float32") for w in encoder.weights]
    )
    return encoder


@pytest.mark.parametrize("norm", ["group", "layer"])
@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_feature_encoder_matches_its_keras_layers(norm, dtype):
    encoder = _encoder(norm, dtype)
    wave = np.random.default_rng(6).standard_normal((2, 900)).astype("float32")
    got, want = encoder(wave), _keras_feature_encoder(encoder, wave)
    assert tuple(got.shape) == tuple(want.shape) == (2, 44, 8)
    assert keras.backend.standardize_dtype(got.dtype) == encoder.compute_dtype
    tol = 1e-5 if dtype == "float32" else 5e-2
    np.testing.assert_allclose(_numpy(got), _numpy(want), rtol=tol, atol=tol)


def _grads_of(fn, layer, x):
    # Gradients of sum(fn(x) ** 2) over `layer`'s trainable variables.
    variables = layer.trainable_variables
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return (fn(x) ** 2).sum()

        return [np.asarray(g) for g in jax.grad(loss)([v.value for v in variables])]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(fn(x) ** 2)
        return [g.numpy() for g in tape.gradient(loss, variables)]
    import torch

    loss = (fn(torch.from_numpy(x)) ** 2).sum()
    grads = torch.autograd.grad(loss, [v.value for v in variables])
    return [g.detach().cpu().numpy() for g in grads]


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_feature_encoder_gradients_match_its_keras_layers(norm):
    encoder = _encoder(norm, "float32")
    wave = np.random.default_rng(7).standard_normal((2, 900)).astype("float32")
    got = _grads_of(encoder, encoder, wave)
    want = _grads_of(lambda w: _keras_feature_encoder(encoder, w), encoder, wave)
    # 3 kernels and group's 2 norm variables; or 3 kernels, 3 biases and
    # 3 x 2 norm variables.
    count = 5 if norm == "group" else 12
    assert len(got) == len(want) == len(encoder.trainable_variables) == count
    for g, w in zip(got, want):
        assert np.abs(w).max() > 0
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * np.abs(w).max())


def test_feature_encoder_follows_new_weights_in_inference():
    # On torch with gradients off, the encoder keeps its conv kernels in
    # torch's layout and the compute dtype between calls; it must notice
    # when they change.
    import contextlib

    no_grad = contextlib.nullcontext()
    if keras.backend.backend() == "torch":
        import torch

        no_grad = torch.no_grad()
    encoder = _encoder("group", "mixed_bfloat16")
    wave = np.random.default_rng(8).standard_normal((2, 900)).astype("float32")
    with no_grad:
        _trace_on_meta(encoder, wave)
        first = _numpy(encoder(wave))
        if keras.backend.backend() == "torch":
            for conv in encoder.conv_layers:
                cache = conv.__dict__.get("_kser_cast_cache", {})
                (kernel,) = [value for _, value in cache.values()]
                assert str(kernel.dtype) == "torch.bfloat16"
                assert tuple(kernel.shape) == tuple(conv.kernel.shape)[::-1]
        fresh = _encoder("group", "mixed_bfloat16", seed=9)
        encoder.set_weights(fresh.get_weights())
        second = _numpy(encoder(wave))
        want = _numpy(fresh(wave))
    assert not np.allclose(first, second)
    np.testing.assert_allclose(second, want, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("normalize_first", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_transformer_layer_fast_path_matches_keras_ops(
    normalize_first, dtype, monkeypatch
):
    # On torch the layer runs its attention and LayerNorms through torch's
    # own calls; with those turned off it runs the keras.ops math that the
    # other backends run. Both must agree, padded frames included.
    from kser.models import torch_ops
    from kser.models.speech_encoder_layers import TransformerEncoderLayer

    layer = TransformerEncoderLayer(
        16, 4, 32, normalize_first=normalize_first, dtype=dtype
    )
    layer.build((None, None, 16))
    rng = np.random.default_rng(10)
    layer.set_weights(
        [(0.5 * rng.standard_normal(w.shape) + (w.name == "gamma")).astype("float32")
         for w in layer.weights]
    )
    x = rng.standard_normal((3, 7, 16)).astype("float32")
    mask = np.arange(7)[None, :] < np.array([7, 5, 2])[:, None]
    got = _numpy(layer(x, mask))
    monkeypatch.setattr(torch_ops, "eager", lambda x: False)
    want = _numpy(layer(x, mask))
    tol = 1e-5 if dtype == "float32" else 5e-2
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert np.abs(want).max() > 0.1


@pytest.mark.parametrize("kernel_size", [8, 7])
@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_positional_conv_fast_path_matches_keras_ops(kernel_size, dtype, monkeypatch):
    # On torch the positional conv runs channels-first with its kernel kept
    # in torch's layout; with that turned off, Keras' Conv1D as elsewhere.
    from kser.models import torch_ops
    from kser.models.speech_encoder_layers import PositionalConvEmbedding

    layer = PositionalConvEmbedding(12, kernel_size=kernel_size, groups=3, dtype=dtype)
    layer.build((None, None, 12))
    rng = np.random.default_rng(11)
    layer.set_weights(
        [rng.standard_normal(w.shape).astype("float32") for w in layer.weights]
    )
    x = rng.standard_normal((2, 9, 12)).astype("float32")
    mask = np.arange(9)[None, :] < np.array([9, 4])[:, None]
    got = _numpy(layer(x, mask))
    monkeypatch.setattr(torch_ops, "eager", lambda x: False)
    want = _numpy(layer(x, mask))
    assert got.shape == want.shape == (2, 9, 12)
    tol = 1e-5 if dtype == "float32" else 5e-2
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("padding_invariant", [False, True])
@pytest.mark.parametrize("kernel_size", [8, 7])
@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_data2vec_positional_convs_fast_path_matches_keras_ops(
    padding_invariant, kernel_size, dtype, monkeypatch
):
    # On torch data2vec-audio's stacked positional convs run channels-first
    # (kept kernels, torch's LayerNorm); with that turned off, the Keras
    # layers as elsewhere. Padded frames included.
    from kser.models import torch_ops
    from kser.models.data2vec_audio.layers import (
        Data2VecAudioPositionalConvEmbedding,
    )

    layer = Data2VecAudioPositionalConvEmbedding(
        12,
        kernel_size=kernel_size,
        groups=3,
        depth=3,
        padding_invariant=padding_invariant,
        dtype=dtype,
    )
    layer.build((None, None, 12))
    rng = np.random.default_rng(12)
    layer.set_weights(
        [rng.standard_normal(w.shape).astype("float32") for w in layer.weights]
    )
    x = rng.standard_normal((2, 11, 12)).astype("float32")
    mask = np.arange(11)[None, :] < np.array([11, 5])[:, None]
    got = _numpy(layer(x, mask))
    monkeypatch.setattr(torch_ops, "eager", lambda x: False)
    want = _numpy(layer(x, mask))
    assert got.shape == want.shape == (2, 11, 12)
    tol = 1e-5 if dtype == "float32" else 5e-2
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
