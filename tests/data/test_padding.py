"""Datasets pad batches to a bounded set of lengths (few XLA programs).

Padding each batch to its own longest clip gave one shape per batch: jax
compiled a program per batch, and the README's script died of exhausted
memory mappings after a few epochs. The default now pads to multiples of
0.5 s up to the crop; padding is masked, so results do not change.
"""

import numpy as np
import pytest

from kser.data.folds import Fold
from kser.data.pipeline import Clip
from kser.data.pipeline import Preprocessing
from kser.data.pipeline import feature_dataset
from kser.data.pipeline import fold_datasets
from kser.data.pipeline import make_dataset
from kser.errors import DataError

RATE = 16000


@pytest.fixture(scope="module")
def long_clips():
    """160 clips of 4 actors, 0.3 to 5.5 s long."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(int(0.3 * RATE), int(5.5 * RATE), size=160)
    return [
        Clip.from_array(
            rng.standard_normal(n).astype(np.float32) * 0.1, label=i % 8,
            name=f"c{i}", actor=1 + i % 4,
        )
        for i, n in enumerate(lengths)
    ]


def shapes(ds):
    return [tuple(x["waveform"].shape) for x, _ in ds]


def test_fold_datasets_yield_few_shapes(long_clips):
    fold = Fold(1, train=(1, 2), validation=(3,), test=(4,))
    train, val, test = fold_datasets(long_clips, fold, batch_size=4)
    seen = set()
    for ds in (train, val, test):
        got = shapes(ds)
        seen.update(got)
        for _, samples in got:
            assert samples % 8000 == 0 and samples <= 6 * RATE
    # 11 lengths (0.5 s to 5.5 s) and one short last batch at most per split.
    assert len({s for s in seen if s[0] == 4}) <= 11
    assert len(set(shapes(train))) <= 13
    # Before: one shape per batch (every batch padded to its own longest).
    exact = fold_datasets(long_clips, fold, batch_size=4, pad_multiple=None)[0]
    assert len(set(shapes(exact))) > 13


def test_auto_padding_stops_at_the_crop(long_clips):
    pre = Preprocessing(max_seconds=1.3)  # not a multiple of 0.5 s
    ds = make_dataset(long_clips[:40], batch_size=8, preprocessing=pre)
    assert {s[1] for s in shapes(ds)} <= {8000, 16000, 20800}
    assert max(s[1] for s in shapes(ds)) == 20800
    # An explicit multiple is not capped (as `kser train` pads online).
    ds = make_dataset(long_clips[:40], batch_size=8, preprocessing=pre,
                      pad_multiple=8000)
    assert max(s[1] for s in shapes(ds)) == 24000
    with pytest.raises(DataError, match="pad_multiple"):
        make_dataset(long_clips[:4], pad_multiple="max")


def test_feature_dataset_pads_to_25_frames_by_default():
    feats = [np.ones((n, 3), np.float32) for n in (3, 30, 51)]
    sizes = [x["sequence_output"].shape[1]
             for x, _ in feature_dataset(feats, [0, 1, 2], batch_size=1)]
    assert sizes == [25, 50, 75]


def test_padding_does_not_change_predictions(long_clips):
    """A padding-invariant classifier gives the same logits either way."""
    import keras

    from kser.models import EmotionClassifier
    from kser.models import HubertBackbone
    from tests.models.helpers import TINY_BACKBONE

    keras.utils.set_random_seed(0)
    backbone = HubertBackbone(**TINY_BACKBONE, padding_invariant=True)
    model = EmotionClassifier(backbone, head="dense")
    rng = np.random.default_rng(1)
    clips = [
        Clip.from_array(rng.standard_normal(n).astype(np.float32), label=0)
        for n in (3000, 5000, 9000, 4000)
    ]
    pre = Preprocessing(max_seconds=1.0)
    padded = make_dataset(clips, batch_size=4, preprocessing=pre)
    exact = make_dataset(clips, batch_size=4, preprocessing=pre, pad_multiple=None)
    assert shapes(padded) != shapes(exact)
    np.testing.assert_allclose(
        model.predict(padded, verbose=0), model.predict(exact, verbose=0),
        rtol=1e-4, atol=1e-5,
    )
