"""kser's Bidirectional LSTM against keras.layers.Bidirectional(LSTM)."""

import json
import zipfile

import h5py
import keras
import numpy as np
import pytest

from kser.models.bilstm import Bidirectional
from kser.models.heads import build_head

BATCH, FRAMES, FEATURES, UNITS = 5, 7, 6, 4
# Varied valid lengths: full, a single frame, and in between.
LENGTHS = [FRAMES, 1, 4, 6, 2]


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, FRAMES, FEATURES)).astype("float32")
    mask = np.arange(FRAMES)[None] < np.asarray(LENGTHS)[:, None]
    return x, mask


def _pair(seed=0):
    """A kser layer and a Keras layer holding the same (non-initial)
    weights."""
    keras.utils.set_random_seed(seed)
    fast = Bidirectional(UNITS)
    fast.build((None, None, FEATURES))
    rng = np.random.default_rng(seed + 1)
    for w in fast.weights:  # away from the initial zero / unit biases
        w.assign(0.5 * rng.standard_normal(w.shape).astype("float32"))
    slow = keras.layers.Bidirectional(keras.layers.LSTM(UNITS))
    slow.build((None, None, FEATURES))
    slow.set_weights(fast.get_weights())
    return fast, slow


def _value_and_grads(layer, x, mask, cotangent, training):
    """`sum(layer(x, mask) * cotangent)` and its gradients with respect to
    `x` and every trainable weight, with the backend's autodiff."""
    backend = keras.backend.backend()
    weights = layer.trainable_variables
    if backend == "jax":
        import jax

        def loss(values, x):
            out, _ = layer.stateless_call(values, fixed, x, mask=mask,
                                          training=training)
            return (out * cotangent).sum(), out

        values = [w.value for w in weights]
        fixed = [w.value for w in layer.non_trainable_variables]
        (_, out), (gw, gx) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
            values, x
        )
        grads = [gx] + list(gw)
    elif backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, mask=mask, training=training)
            loss = tf.reduce_sum(out * cotangent)
        grads = tape.gradient(loss, [x] + weights)
    elif backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        out = layer(x, mask=torch.tensor(mask), training=training)
        loss = (out * torch.tensor(cotangent)).sum()
        grads = torch.autograd.grad(loss, [x] + [w.value for w in weights])
    else:
        pytest.skip(f"no autodiff helper for {backend}")
    return (keras.ops.convert_to_numpy(out),
            [keras.ops.convert_to_numpy(g) for g in grads])


def test_weights_and_initializers_match_keras():
    keras.utils.set_random_seed(3)
    fast = Bidirectional(UNITS)
    fast.build((None, None, FEATURES))
    keras.utils.set_random_seed(3)
    slow = keras.layers.Bidirectional(keras.layers.LSTM(UNITS))
    slow.build((None, None, FEATURES))
    assert [w.shape for w in fast.weights] == [
        (FEATURES, 4 * UNITS), (UNITS, 4 * UNITS), (4 * UNITS,)] * 2
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_array_equal(a, b)  # the same seed, the same head
    bias = keras.ops.convert_to_numpy(fast.forward_layer.cell.bias)
    np.testing.assert_array_equal(bias[UNITS:2 * UNITS], 1.0)  # forget gate
    np.testing.assert_array_equal(np.delete(bias, np.s_[UNITS:2 * UNITS]), 0.0)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("masked", [True, False])
def test_outputs_and_gradients_match_keras(masked, training):
    """training=True: the hand-written backward pass; False: autodiff
    through the inference loop."""
    fast, slow = _pair()
    x, mask = _inputs()
    mask = mask if masked else np.ones_like(mask)
    cotangent = np.random.default_rng(5).standard_normal(
        (BATCH, 2 * UNITS)).astype("float32")
    out_fast, grads_fast = _value_and_grads(fast, x, mask, cotangent, training)
    out_slow, grads_slow = _value_and_grads(slow, x, mask, cotangent, training)
    assert out_fast.shape == (BATCH, 2 * UNITS)
    np.testing.assert_allclose(out_fast, out_slow, atol=1e-5, rtol=0)
    names = ["inputs"] + [w.path for w in fast.trainable_variables]
    assert len(grads_fast) == len(grads_slow) == 7
    for name, a, b in zip(names, grads_fast, grads_slow):
        assert np.abs(b).max() > 1e-3, name  # the check can fail
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=name)
    if masked:  # padded frames get no gradient
        assert np.all(grads_fast[0][~mask] == 0.0)


def test_keras_implementation_is_keras_call():
    fast, slow = _pair()
    x, mask = _inputs()
    keras_impl = Bidirectional(UNITS, implementation="keras")
    keras_impl.build((None, None, FEATURES))
    keras_impl.set_weights(fast.get_weights())
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(keras_impl(x, mask=mask)),
        keras.ops.convert_to_numpy(slow(x, mask=mask)),
    )
    with pytest.raises(ValueError, match="unknown implementation"):
        Bidirectional(UNITS, implementation="cudnn")


def _head(impl, seed=0):
    keras.utils.set_random_seed(seed)
    head = build_head("lstm", feature_dim=FEATURES, num_classes=3,
                      lstm_units=UNITS, lstm_impl=impl)
    rng = np.random.default_rng(seed + 7)
    head.set_weights([0.5 * rng.standard_normal(w.shape).astype("float32")
                      for w in head.get_weights()])
    return head


def _logits(head, x, mask):
    return keras.ops.convert_to_numpy(
        head.predict_on_batch({"features": x, "frame_padding_mask": mask}))


def test_build_head_uses_the_fast_layer_and_keeps_keras_on_request():
    fast, slow = _head("fast"), _head("keras")
    assert isinstance(fast.get_layer("bilstm"), Bidirectional)
    assert type(slow.get_layer("bilstm")) is keras.layers.Bidirectional
    with pytest.raises(ValueError, match="lstm_impl"):
        build_head("lstm", feature_dim=FEATURES, lstm_impl="cudnn")


@pytest.mark.parametrize("source,target", [("keras", "fast"), ("fast", "keras")])
def test_weight_files_are_interchangeable(source, target, tmp_path):
    x, mask = _inputs()
    saved = _head(source, seed=1)
    path = str(tmp_path / "head.weights.h5")
    saved.save_weights(path)
    with h5py.File(path) as f:
        assert f["layers/bidirectional/forward_layer/cell/vars/0"].shape == (
            FEATURES, 4 * UNITS)
        assert "layers/bidirectional/backward_layer/cell/vars/2" in f
    loaded = _head(target, seed=2)
    before = _logits(loaded, x, mask)
    loaded.load_weights(path)
    for a, b in zip(loaded.get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(a, b)
    after = _logits(loaded, x, mask)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, _logits(saved, x, mask), atol=1e-5)


@pytest.mark.parametrize("impl", ["fast", "keras"])
def test_saved_head_round_trips(impl, tmp_path):
    """A `.keras` head loads as the layer it was saved with (an old file,
    made with Keras' Bidirectional, still loads as that)."""
    x, mask = _inputs()
    head = _head(impl)
    path = str(tmp_path / "head.keras")
    head.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("bilstm")) is type(head.get_layer("bilstm"))
    np.testing.assert_allclose(_logits(loaded, x, mask), _logits(head, x, mask),
                               atol=1e-6)


def test_classifier_saved_with_keras_layer_loads_with_the_fast_one(tmp_path):
    """A `.keras` classifier saved before the fast layer (its head_args
    without `lstm_impl`, its head Keras' Bidirectional) loads with kser's
    layer and the same weights: the same logits."""
    from kser.models import EmotionClassifier
    from kser.models import HubertBackbone
    from tests.models.helpers import TINY_BACKBONE

    keras.utils.set_random_seed(0)
    model = EmotionClassifier(HubertBackbone(**TINY_BACKBONE), head="lstm",
                              head_args={"lstm_units": UNITS, "lstm_impl": "keras"})
    head = model.head
    rng = np.random.default_rng(3)
    head.set_weights([0.5 * rng.standard_normal(w.shape).astype("float32")
                      for w in head.get_weights()])
    x = {"waveform": (0.1 * rng.standard_normal((2, 3200))).astype("float32"),
         "padding_mask": np.ones((2, 3200), "int32")}
    x["padding_mask"][1, 1600:] = 0
    expected = keras.ops.convert_to_numpy(model.predict_on_batch(x))
    saved = str(tmp_path / "new.keras")
    model.save(saved)
    old = str(tmp_path / "old.keras")
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                assert config["config"]["head_args"].pop("lstm_impl") == "keras"
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    loaded = keras.saving.load_model(old)
    assert isinstance(loaded.head.get_layer("bilstm"), Bidirectional)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.predict_on_batch(x)), expected, atol=1e-5)
    assert type(keras.saving.load_model(saved).head.get_layer("bilstm")) is (
        keras.layers.Bidirectional)
