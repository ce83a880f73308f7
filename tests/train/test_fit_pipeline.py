"""What feeds the train step on a CPU: tf.data options, extraction order."""

import types

import numpy as np
import soundfile

from kser.data.audio import header_seconds
from kser.data.clips import Clip
from kser.data.pipeline import feature_dataset
from kser.train import features
from kser.train.fit import cpu_pipeline


def _dataset():
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=(n, 4)).astype("float32") for n in (3, 7, 5, 2, 6)]
    return feature_dataset(rows, [0, 1, 2, 3, 4], batch_size=2, shuffle=True,
                           seed=3, group_by_length=True)


def _elements(ds):
    return [
        (x["sequence_output"].numpy(), x["frame_padding_mask"].numpy(), y.numpy())
        for x, y in ds
    ]


def test_cpu_pipeline_turns_autotuning_off_and_keeps_the_batches():
    # Two datasets built alike: one shuffle op iterated twice reshuffles.
    ds = _dataset()
    quiet = cpu_pipeline(_dataset(), accelerator=False)
    options = quiet.options()
    assert options.autotune.enabled is False
    assert options.threading.private_threadpool_size == 1
    assert options.threading.max_intra_op_parallelism == 1
    before, after = _elements(ds), _elements(quiet)
    assert len(before) == len(after) == 3
    for (xa, ma, ya), (xb, mb, yb) in zip(before, after):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ma, mb)
        np.testing.assert_array_equal(ya, yb)


def test_cpu_pipeline_leaves_an_accelerators_pipeline_alone():
    ds = _dataset()
    assert cpu_pipeline(ds, accelerator=True) is ds


def _wav(path, seconds, rate=16000):
    soundfile.write(path, np.zeros(int(seconds * rate), "float32"), rate)
    return path


def test_header_seconds_reads_the_header_and_says_none_when_it_cannot(tmp_path):
    assert header_seconds(_wav(tmp_path / "a.wav", 1.25)) == 1.25
    assert header_seconds(_wav(tmp_path / "b.wav", 0.5, rate=48000)) == 0.5
    (tmp_path / "bad.wav").write_bytes(b"RIFF junk")
    assert header_seconds(tmp_path / "bad.wav") is None
    assert header_seconds(tmp_path / "missing.wav") is None


def test_clip_seconds_from_waveform_or_header_capped(tmp_path):
    clip = Clip.from_array(np.zeros(8000, "float32"), 0, name="c")
    assert features._seconds(clip) == 0.5
    path = _wav(tmp_path / "a.wav", 3.0)
    assert features._seconds(str(path)) == 3.0
    assert features._seconds(types.SimpleNamespace(path=path)) == 3.0
    assert features._seconds(str(path), max_seconds=2.0) == 2.0
    assert features._seconds(str(tmp_path / "missing.wav")) == 0.0


def test_prepare_features_extracts_in_slices_ordered_by_duration(
    tmp_path, monkeypatch
):
    seconds = {"d": 0.5, "a": 2.0, "c": 1.0, "e": 9.0, "b": 1.0, "f": 3.0}
    files = [
        types.SimpleNamespace(path=str(_wav(tmp_path / f"{name}.wav", s)))
        for name, s in seconds.items()
    ]
    calls = []

    class Cache:
        def extract_copies(self, items, noise, copies):
            calls.append(([f.path.rsplit("/", 1)[-1] for f in items], copies))

    config = types.SimpleNamespace(
        mode="cached", cache_settings="k", augment=False, max_seconds=6.0
    )
    fold = types.SimpleNamespace(split=lambda f: (f[:3], f[3:4], f[4:]))
    experiment = types.SimpleNamespace(
        files=files, test_corpora=[], cache=lambda c: Cache()
    )
    monkeypatch.setattr(features, "PREPARE_SLICE", 4)
    features.prepare_features(experiment, [(config, fold)])
    # Shortest first (ties by name); 9 s counts as the 6 s crop, after 3 s.
    assert calls == [
        (["d.wav", "b.wav", "c.wav", "a.wav"], (0,)),
        (["f.wav", "e.wav"], (0,)),
    ]
