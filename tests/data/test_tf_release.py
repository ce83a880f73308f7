"""What tf.data pipelines keep alive: the features of a fold that is over."""

import gc
import weakref

import numpy as np

from kser.data.pipeline import feature_dataset
from kser.data.tf_release import py_functions_released


def _features_dataset():
    """A feature dataset and a weak reference to one of its arrays."""
    features = [np.full((5 + i, 4), i, np.float32) for i in range(6)]
    ds = feature_dataset(features, [0, 1, 2, 0, 1, 2], batch_size=4,
                         shuffle=True, group_by_length=True)
    # Rows are fetched from contiguous arrays of this dtype: these very
    # objects (no copy is made for arrays that already are).
    row = weakref.ref(features[0])
    assert sum(int(y.shape[0]) for _, y in ds) == 6
    return row


def test_tensorflow_keeps_features_of_a_dead_dataset():
    # The behaviour the release exists for: without it the arrays outlive
    # every Python reference to the dataset.
    row = _features_dataset()
    gc.collect()
    assert row() is not None


def test_features_are_freed_after_the_block():
    with py_functions_released():
        row = _features_dataset()
    gc.collect()
    assert row() is None


def test_datasets_made_before_the_block_keep_working():
    kept = feature_dataset([np.ones((3, 2), np.float32)] * 2, [0, 1], batch_size=2)
    with py_functions_released():
        _features_dataset()
    (x, y), = list(kept)
    assert x["sequence_output"].shape[0] == 2
    np.testing.assert_array_equal(y.numpy(), [0, 1])


def test_nested_blocks_release_their_own():
    with py_functions_released():
        outer = _features_dataset()
        with py_functions_released():
            inner = _features_dataset()
        gc.collect()
        assert inner() is None
        assert outer() is not None
    gc.collect()
    assert outer() is None
