"""Mixed precision: a bfloat16 backbone under a float32 head and loss."""

import keras
import numpy as np
import pytest

from kser.errors import KserError
from kser.models import EmotionClassifier
from kser.models import HubertBackbone
from kser.train.precision import DTYPE_CHOICES
from kser.train.precision import backbone_dtype
from tests.models.helpers import TINY_BACKBONE


def test_backbone_dtype_mapping():
    assert DTYPE_CHOICES == ("float32", "bfloat16")
    assert backbone_dtype("float32") == "float32"
    assert backbone_dtype(None) == "float32"
    assert backbone_dtype("bfloat16") == "mixed_bfloat16"
    assert backbone_dtype("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(KserError, match="unknown dtype 'float16'"):
        backbone_dtype("float16")


def batch(seed=0, samples=1600):
    rng = np.random.default_rng(seed)
    waveform = rng.normal(size=(4, samples)).astype("float32")
    mask = np.ones((4, samples), "int32")
    mask[1::2, samples * 3 // 4 :] = 0
    labels = np.array([0, 3, 5, 7], "int32")
    return {"waveform": waveform * mask, "padding_mask": mask}, labels


def test_bfloat16_backbone_trains_a_float32_head():
    keras.utils.set_random_seed(0)
    backbone = HubertBackbone(**TINY_BACKBONE, dtype=backbone_dtype("bfloat16"))
    model = EmotionClassifier(backbone, head="dense", hidden_units=8)
    assert backbone.dtype_policy.name == "mixed_bfloat16"
    assert backbone.compute_dtype == "bfloat16"
    # Variables stay float32 everywhere; the head also computes in float32.
    assert {w.dtype for w in model.weights} == {"float32"}
    assert model.head.dtype_policy.name == "float32"
    assert all(layer.compute_dtype == "float32" for layer in model.head.layers)

    x, y = batch()
    out = backbone(x)
    assert keras.backend.standardize_dtype(out["sequence_output"].dtype) == "bfloat16"
    features = model.feature_extractor(x)
    assert keras.backend.standardize_dtype(features["features"].dtype) == "float32"
    logits = model(x)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"

    model.compile(learning_rate=1e-2)
    head_before = model.head.get_weights()
    backbone_before = backbone.get_weights()
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses))
    head_after = model.head.get_weights()
    assert max(np.max(np.abs(a - b)) for a, b in zip(head_after, head_before)) > 0
    for a, b in zip(backbone.get_weights(), backbone_before):
        np.testing.assert_array_equal(a, b)


def test_bfloat16_features_stay_close_to_float32():
    """bfloat16 keeps about 3 significant digits: close, not equal.

    Seen on CPU: 1.5-3% of the largest feature value.
    """
    keras.utils.set_random_seed(0)
    full = HubertBackbone(**TINY_BACKBONE)
    half = HubertBackbone(**TINY_BACKBONE, dtype=backbone_dtype("bfloat16"))
    half.set_weights(full.get_weights())
    x, _ = batch(seed=1)
    a = keras.ops.convert_to_numpy(full(x)["sequence_output"]).astype("float32")
    b = keras.ops.convert_to_numpy(
        keras.ops.cast(half(x)["sequence_output"], "float32")
    )
    mask = keras.ops.convert_to_numpy(full(x)["frame_padding_mask"])
    err = np.max(np.abs(a - b)[mask])
    assert err < 0.1 * np.max(np.abs(a[mask])), err
