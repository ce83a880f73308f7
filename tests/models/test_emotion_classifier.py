"""EmotionClassifier: each head, frozen backbone, fit, save and load."""

import keras
import numpy as np
import pytest

from kser.models import EmotionClassifier
from kser.models import HubertBackbone
from tests.models.helpers import TINY_BACKBONE
from tests.models.helpers import call_in_training


def _data(n=8, samples=4000, seed=0):
    rng = np.random.default_rng(seed)
    waveform = (0.1 * rng.standard_normal((n, samples))).astype("float32")
    mask = np.ones((n, samples), "int32")
    mask[1::2, samples // 2 :] = 0
    waveform[mask == 0] = 0.0
    labels = np.arange(n) % 8
    return {"waveform": waveform, "padding_mask": mask}, labels


# Each head and each layer choice once: the layer choice feeds the head and
# does not depend on it. The other two pairs run elsewhere: dense on
# weighted layers in each family's save-and-load check
# (speech_family_checks.py), the LSTM on the last layer in every lstm
# training run of tests/train.
@pytest.mark.parametrize(
    "head,layers", [("dense", "last"), ("lstm", "weighted")]
)
def test_fit_trains_the_head_only_and_round_trips(head, layers, tmp_path):
    keras.utils.set_random_seed(0)
    backbone = HubertBackbone(**TINY_BACKBONE)
    model = EmotionClassifier(backbone, head=head, layers=layers, dropout=0.5)
    backbone_ids = {id(w) for w in backbone.weights}
    assert model.trainable_weights
    assert not backbone_ids & {id(w) for w in model.trainable_weights}
    before = [np.array(keras.ops.convert_to_numpy(w)) for w in backbone.weights]
    head_before = [np.array(w) for w in model.head.get_weights()]

    x, y = _data()
    model.compile(learning_rate=1e-2)
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))

    after = [np.array(keras.ops.convert_to_numpy(w)) for w in backbone.weights]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)  # bitwise unchanged
    changed = [not np.array_equal(b, a) for b, a in zip(head_before, model.head.get_weights())]
    assert any(changed)

    logits = model.predict(x, verbose=0)
    assert logits.shape == (8, 8)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, EmotionClassifier)
    assert loaded.label_names == model.label_names
    np.testing.assert_allclose(loaded.predict(x, verbose=0), logits, atol=1e-5)


def test_backbone_dropout_never_fires_in_training():
    """Called with training=True, the classifier still runs the backbone
    deterministically (frozen means training=False inside)."""
    keras.utils.set_random_seed(0)
    backbone = HubertBackbone(**TINY_BACKBONE, dropout=0.5, attention_dropout=0.5)
    model = EmotionClassifier(backbone, head="dense", dropout=0.0)
    x, _ = _data(n=2)
    a = keras.ops.convert_to_numpy(call_in_training(model, x))
    b = keras.ops.convert_to_numpy(call_in_training(model, x))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_unknown_head_is_refused():
    with pytest.raises(ValueError, match="unknown head"):
        EmotionClassifier(HubertBackbone(**TINY_BACKBONE), head="gru")
