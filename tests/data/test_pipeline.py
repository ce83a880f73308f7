import numpy as np
import pytest

from kser.data.folds import Fold
from kser.data.pipeline import Clip
from kser.data.pipeline import NoiseAugmentation
from kser.data.pipeline import Preprocessing
from kser.data.pipeline import feature_dataset
from kser.data.pipeline import fold_datasets
from kser.data.pipeline import length_grouped_order
from kser.data.pipeline import load_clips
from kser.data.pipeline import make_dataset
from kser.data.pipeline import prepare_waveform
from kser.errors import DataError


def snr_db(clean, noisy):
    noise = noisy - clean
    return 10 * np.log10(
        np.sum(clean.astype(np.float64) ** 2)
        / np.sum(noise.astype(np.float64) ** 2)
    )


def batches(ds):
    return [
        (x["waveform"].numpy(), x["padding_mask"].numpy(), y.numpy())
        for x, y in ds
    ]


def rows(ds):
    """Every example of a dataset as (real samples, label), in order."""
    out = []
    for wave, mask, label in batches(ds):
        for w, m, y in zip(wave, mask, label):
            out.append((w[m.astype(bool)], int(y)))
    return out


def test_batch_structure_and_padding(clips):
    subset = clips[:10]
    ds = make_dataset(subset, batch_size=4)
    got = batches(ds)
    assert [len(b[2]) for b in got] == [4, 4, 2]
    wave, mask, label = got[0]
    assert (
        wave.dtype == np.float32
        and mask.dtype == np.int32
        and label.dtype == np.int32
    )
    assert wave.shape == mask.shape and wave.ndim == 2
    for row, clip in enumerate(subset[:4]):
        n = len(clip.waveform)
        assert mask[row].sum() == n and np.all(mask[row, :n] == 1)
        np.testing.assert_array_equal(wave[row, :n], clip.waveform)
        assert not np.any(wave[row, n:]) and not np.any(mask[row, n:])
        assert label[row] == clip.label
    # Padded to the longest clip, rounded up to 0.5 s (8000 samples) by
    # default; to the longest clip itself with pad_multiple=None.
    longest = max(len(c.waveform) for c in subset[:4])
    assert wave.shape[1] == -(-longest // 8000) * 8000
    exact = batches(make_dataset(subset, batch_size=4, pad_multiple=None))
    assert exact[0][0].shape[1] == longest


def test_labels_follow_clips(clips):
    got = rows(make_dataset(clips, batch_size=16))
    assert [y for _, y in got] == [c.label for c in clips]


def test_crop_center_and_start(clips):
    clip = max(clips, key=lambda c: len(c.waveform))
    n = len(clip.waveform)
    prep = Preprocessing(max_seconds=0.25)
    assert prep.max_samples == 4000
    ((w, _),) = rows(make_dataset([clip], preprocessing=prep))
    start = (n - 4000) // 2
    np.testing.assert_array_equal(w, clip.waveform[start : start + 4000])
    ((w, _),) = rows(
        make_dataset(
            [clip], preprocessing=Preprocessing(max_seconds=0.25, crop="start")
        )
    )
    np.testing.assert_array_equal(w, clip.waveform[:4000])
    with pytest.raises(DataError, match="unknown crop policy"):
        Preprocessing(crop="random")


def test_pad_to_max_gives_static_shapes(clips):
    prep = Preprocessing(max_seconds=1.0)
    ds = make_dataset(
        clips[:6],
        batch_size=4,
        preprocessing=prep,
        pad_to_max=True,
        drop_remainder=True,
    )
    assert ds.element_spec[0]["waveform"].shape.as_list() == [4, 16000]
    assert [b[0].shape for b in batches(ds)] == [(4, 16000)]


def test_bucketing_cuts_padding(clips):
    def padding(ds):
        return sum(int((1 - m).sum()) for _, m, _ in batches(ds))

    plain = make_dataset(clips, batch_size=8)
    bucketed = make_dataset(
        clips, batch_size=8, bucket_boundaries=[0.35, 0.4, 0.45, 0.5]
    )
    assert sorted(y for _, y in rows(bucketed)) == sorted(
        c.label for c in clips
    )
    assert padding(bucketed) < padding(plain)
    longest = max(len(c.waveform) for c in clips)
    allowed = {5600, 6400, 7200, 8000, longest}
    for wave, mask, _ in batches(bucketed):
        assert wave.shape[1] in allowed
        assert mask.sum(axis=1).max() <= wave.shape[1]


def test_length_grouped_order_sorts_pools_and_shuffles_batches():
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 300, size=1005)
    order = length_grouped_order(lengths, batch_size=16, seed=3, epoch=1,
                                 pool_batches=10)
    assert sorted(order.tolist()) == list(range(1005))  # each element once
    np.testing.assert_array_equal(
        order, length_grouped_order(lengths, 16, seed=3, epoch=1, pool_batches=10)
    )
    assert not np.array_equal(
        order, length_grouped_order(lengths, 16, seed=3, epoch=2, pool_batches=10)
    )
    assert not np.array_equal(
        order, length_grouped_order(lengths, 16, seed=4, epoch=1, pool_batches=10)
    )
    # Full batches hold nearly equal lengths: padding to the longest wastes
    # far less than random batches do.
    full = order[: 1005 // 16 * 16].reshape(-1, 16)
    grouped_pad = sum(lengths[b].max() - lengths[b] for b in full).sum()
    random_pad = sum(
        lengths[b].max() - lengths[b] for b in rng.permutation(1005)[:992].reshape(-1, 16)
    ).sum()
    assert grouped_pad < random_pad / 5
    for b in full:
        assert np.all(np.diff(np.sort(lengths[b])) >= 0)
    # The batch order is shuffled: not sorted from short to long.
    firsts = [lengths[b].min() for b in full]
    assert firsts != sorted(firsts)
    # Only the last batch can be short (here 1005 % 16 = 13 elements).
    assert len(order) - len(full) * 16 == 13


def _index_clips(count, seed=0):
    """Clips whose samples all equal their index + 1, of varied lengths."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(400, 4000, size=count)
    return [
        Clip.from_array(np.full(n, i + 1, np.float32), label=i % 8, name=f"c{i}")
        for i, n in enumerate(lengths)
    ]


def test_grouped_waveform_and_feature_batches_match():
    """Cached-feature and waveform training see the same batches."""
    from kser.models.waveform import conv_output_length

    clips = _index_clips(150)
    pre = Preprocessing(max_seconds=None)

    def num_frames(samples):
        return conv_output_length(samples, [10, 3, 3, 3, 3, 2, 2], [5, 2, 2, 2, 2, 2, 2])

    waves = make_dataset(clips, batch_size=16, training=True, preprocessing=pre,
                         seed=5, group_by_length=True, length_fn=num_frames,
                         pad_multiple=8000)
    feats = [np.full((num_frames(len(c.waveform)), 3), i + 1, np.float32)
             for i, c in enumerate(clips)]
    features = feature_dataset(feats, [c.label for c in clips], batch_size=16,
                               shuffle=True, seed=5, group_by_length=True,
                               pad_multiple=50)

    def wave_ids(ds):
        return [[int(w[0]) for w in x["waveform"].numpy()] for x, _ in ds]

    def feature_ids(ds):
        out = []
        for x, _ in ds:
            assert x["sequence_output"].shape[1] % 50 == 0
            out.append([int(f[0, 0]) for f in x["sequence_output"].numpy()])
        return out

    epochs_w = [wave_ids(waves) for _ in range(2)]
    epochs_f = [feature_ids(features) for _ in range(2)]
    assert epochs_w == epochs_f
    assert epochs_w[0] != epochs_w[1]  # a fresh order every epoch
    for epoch in epochs_w:
        assert sorted(i for b in epoch for i in b) == list(range(1, 151))
        assert [len(b) for b in epoch] == [16] * 9 + [6]
    for x, _ in waves:
        assert x["waveform"].shape[1] % 8000 == 0
    # Less padding than freely shuffled batches (each padded to its longest).
    plain = make_dataset(clips, batch_size=16, training=True, preprocessing=pre,
                         seed=5, pad_multiple=None)

    def padding(ds):
        return sum(int((1 - x["padding_mask"].numpy()).sum()) for x, _ in ds)

    grouped = make_dataset(clips, batch_size=16, training=True, preprocessing=pre,
                           seed=5, group_by_length=True, pad_multiple=None)
    assert padding(grouped) < padding(plain) / 3
    with pytest.raises(DataError, match="not both"):
        make_dataset(clips, batch_size=16, training=True, group_by_length=True,
                     bucket_boundaries=[0.1])


def test_shuffle_is_seeded_and_reshuffles(clips):
    def order(ds):
        return [tuple(y) for _, _, y in batches(ds)]

    a = make_dataset(clips, batch_size=240, training=True, seed=7)
    b = make_dataset(clips, batch_size=240, training=True, seed=7)
    c = make_dataset(clips, batch_size=240, training=True, seed=8)
    first = order(a)
    assert first == order(b)
    assert first != order(c)
    assert order(a) != first  # a new epoch, a new order
    unshuffled = make_dataset(clips, batch_size=240)
    assert order(unshuffled) == [tuple(c.label for c in clips)]


def test_online_noise_level_and_freshness(clips):
    subset = clips[:12]
    noise = NoiseAugmentation(snr_db=20.0, mode="online", seed=1)
    ds = make_dataset(
        subset, batch_size=2, training=True, shuffle=False, noise=noise
    )
    epoch1, epoch2 = rows(ds), rows(ds)
    assert len(epoch1) == 24  # clean + one noisy copy of each clip
    measured = []
    for i, clip in enumerate(subset):
        (clean, y0), (noisy, y1) = epoch1[2 * i], epoch1[2 * i + 1]
        np.testing.assert_array_equal(clean, clip.waveform)
        assert y0 == y1 == clip.label
        measured.append(snr_db(clean, noisy))
        # Fresh noise in the next epoch, same clean clip.
        np.testing.assert_array_equal(epoch2[2 * i][0], clean)
        assert not np.allclose(epoch2[2 * i + 1][0], noisy)
    assert np.mean(measured) == pytest.approx(20.0, abs=0.1)
    assert np.all(np.abs(np.array(measured) - 20.0) < 0.5)
    # Reproducible from the seeds.
    again = rows(
        make_dataset(
            subset, batch_size=2, training=True, shuffle=False, noise=noise
        )
    )
    np.testing.assert_array_equal(again[1][0], epoch1[1][0])


@pytest.mark.parametrize("snr", [5.0, 30.0])
def test_noise_level_follows_snr(clips, snr):
    noise = NoiseAugmentation(snr_db=snr, keep_clean=False)
    got = rows(
        make_dataset(
            clips[:8], batch_size=8, training=True, shuffle=False, noise=noise
        )
    )
    measured = [snr_db(c.waveform, w) for c, (w, _) in zip(clips[:8], got)]
    assert np.mean(measured) == pytest.approx(snr, abs=0.15)


def test_cached_noise_copies(clips):
    subset = clips[:6]
    noise = NoiseAugmentation(snr_db=15.0, mode="cached", copies=2, seed=4)
    ds = make_dataset(
        subset, batch_size=3, training=True, shuffle=False, noise=noise
    )
    epoch1, epoch2 = rows(ds), rows(ds)
    assert len(epoch1) == 18
    for (w1, _), (w2, _) in zip(epoch1, epoch2):
        np.testing.assert_array_equal(w1, w2)  # same noise every epoch
    for i, clip in enumerate(subset):
        clean, copy1, copy2 = (epoch1[3 * i + k][0] for k in range(3))
        np.testing.assert_array_equal(clean, clip.waveform)
        np.testing.assert_allclose(
            copy1, prepare_waveform(clip, noise=noise, copy_index=1), atol=1e-7
        )
        np.testing.assert_allclose(
            copy2, prepare_waveform(clip, noise=noise, copy_index=2), atol=1e-7
        )
        assert not np.allclose(copy1, copy2)
        assert snr_db(clean, copy1) == pytest.approx(15.0, abs=0.5)


def test_silent_clip_stays_silent_with_noise_and_normalization():
    silent = Clip.from_array(np.zeros(4000), label=0, name="silence")
    loud = Clip.from_array(0.5 * np.ones(4000), label=1, name="dc")
    noise = NoiseAugmentation(snr_db=10.0, keep_clean=False)
    prep = Preprocessing(normalize=True)
    got = rows(
        make_dataset(
            [silent, loud],
            batch_size=2,
            training=True,
            shuffle=False,
            noise=noise,
            preprocessing=prep,
        )
    )
    assert np.all(np.isfinite(got[0][0])) and not np.any(got[0][0])
    assert np.all(np.isfinite(got[1][0]))


def test_normalization_over_real_samples(clips):
    prep = Preprocessing(normalize=True)
    for wave, mask, _ in batches(
        make_dataset(clips[:8], batch_size=8, preprocessing=prep)
    ):
        for w, m in zip(wave, mask):
            real = w[m.astype(bool)]
            assert abs(real.mean()) < 1e-4 and real.std() == pytest.approx(
                1.0, abs=1e-3
            )
            assert not np.any(w[~m.astype(bool)])


def test_noise_only_on_training_data(clips):
    noise = NoiseAugmentation()
    with pytest.raises(DataError, match="training data only"):
        make_dataset(clips[:4], noise=noise)
    with pytest.raises(DataError, match="training data only"):
        make_dataset(clips[:4], training=False, noise=noise)


@pytest.mark.parametrize("mode", ["online", "cached"])
def test_fold_validation_and_test_never_augmented(corpus, clips, mode):
    fold = Fold(1, train=(1, 2), validation=(3,), test=(4,))
    noise = NoiseAugmentation(snr_db=0.0, mode=mode, keep_clean=False)
    train, val, test = fold_datasets(corpus, fold, batch_size=16, noise=noise)
    by_name = {c.name: c for c in clips}
    train_files, val_files, test_files = fold.split(corpus)
    for ds, files in ((val, val_files), (test, test_files)):
        got = rows(ds)
        assert len(got) == 60
        for _ in range(2):  # and in every epoch
            for (w, y), f in zip(rows(ds), files):
                np.testing.assert_array_equal(w, by_name[f.name].waveform)
                assert y == f.label
    # The training split, at 0 dB, is all noise-augmented.
    train_rows = rows(train)
    assert len(train_rows) == 120
    clean_train = {
        len(by_name[f.name].waveform): by_name[f.name].waveform
        for f in train_files
    }
    for w, _ in train_rows:
        ref = clean_train.get(len(w))
        assert ref is None or not np.allclose(w, ref)


def test_fold_datasets_from_loaded_clips(corpus, clips):
    fold = Fold(2, train=(2, 3), validation=(4,), test=(1,))
    from_files = fold_datasets(corpus, fold, batch_size=32)
    from_clips = fold_datasets(clips, fold, batch_size=32)
    for a, b in zip(from_files[1:], from_clips[1:]):
        for (wa, ya), (wb, yb) in zip(rows(a), rows(b)):
            np.testing.assert_array_equal(wa, wb)
            assert ya == yb
    assert len(rows(from_clips[0])) == 120


def test_fold_without_validation(corpus):
    fold = Fold(1, train=(1, 2, 3), validation=(), test=(4,))
    train, val, test = fold_datasets(corpus, fold, batch_size=64)
    assert val is None and len(rows(test)) == 60
    with pytest.raises(DataError, match="no test clips"):
        fold_datasets(corpus, Fold(1, train=(1,), validation=(), test=(9,)))


def test_copies_enlarge_training_set(clips):
    noise = NoiseAugmentation(copies=3, keep_clean=False)
    assert noise.copy_indices == (1, 2, 3)
    assert (
        len(
            rows(
                make_dataset(
                    clips[:5], batch_size=8, training=True, noise=noise
                )
            )
        )
        == 15
    )
    assert NoiseAugmentation(copies=2).copy_indices == (0, 1, 2)
    with pytest.raises(DataError, match="unknown noise mode"):
        NoiseAugmentation(mode="sometimes")
    with pytest.raises(DataError, match="at least 1"):
        NoiseAugmentation(copies=0)


def test_load_clips_with_paths_and_labels(corpus):
    files = list(corpus)[:3]
    clips = load_clips([f.path for f in files], labels=[7, 6, 5])
    assert [c.label for c in clips] == [7, 6, 5]
    assert clips[0].actor is None and clips[0].sample_rate == 16000
    with pytest.raises(DataError, match="no label"):
        load_clips([files[0].path])
    with pytest.raises(DataError, match="loaded at 8000 Hz"):
        make_dataset(
            load_clips(files, preprocessing=Preprocessing(sample_rate=8000))
        )


def test_make_dataset_rejects_bad_input():
    with pytest.raises(DataError, match="no clips"):
        make_dataset([])
    with pytest.raises(DataError, match="expected Clip objects"):
        make_dataset(["a.wav"])


def test_feature_dataset_last_layer():
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((n, 5)).astype(np.float32) for n in (3, 7, 4)]
    ds = feature_dataset(feats, [0, 1, 2], batch_size=2, pad_multiple=None)
    (x, y), (x2, y2) = list(ds)
    assert set(x) == {"sequence_output", "frame_padding_mask"}
    assert (
        x["sequence_output"].shape == (2, 7, 5)
        and x["frame_padding_mask"].dtype.name == "bool"
    )
    np.testing.assert_array_equal(x["sequence_output"].numpy()[0, :3], feats[0])
    assert not np.any(x["sequence_output"].numpy()[0, 3:])
    assert x["frame_padding_mask"].numpy().sum(axis=1).tolist() == [3, 7]
    assert y.numpy().tolist() == [0, 1] and y2.numpy().tolist() == [2]


def test_feature_dataset_all_layers():
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((3, n, 4)).astype(np.float16) for n in (2, 5)]
    ((x, y),) = list(
        feature_dataset(feats, [4, 5], batch_size=2, shuffle=True, seed=1,
                        pad_multiple=None)
    )
    hs = x["hidden_states"].numpy()
    assert hs.shape == (2, 3, 5, 4) and hs.dtype == np.float16
    lengths = x["frame_padding_mask"].numpy().sum(axis=1)
    for row, label in enumerate(y.numpy()):
        f = feats[label - 4]
        np.testing.assert_array_equal(hs[row, :, : lengths[row]], f)
    with pytest.raises(DataError, match="labels"):
        feature_dataset(feats, [1])


def test_keras_fit_consumes_batches(clips):
    # Whatever KERAS_BACKEND is, Keras trains on these tf.data batches.
    import keras

    wave = keras.Input((None,), name="waveform")
    mask = keras.Input((None,), dtype="int32", name="padding_mask")
    weight = keras.ops.cast(mask, "float32")
    power = keras.ops.sum(
        wave * wave * weight, axis=1, keepdims=True
    ) / keras.ops.sum(weight, axis=1, keepdims=True)
    model = keras.Model(
        {"waveform": wave, "padding_mask": mask}, keras.layers.Dense(8)(power)
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    train = make_dataset(
        clips[:16], batch_size=8, training=True, noise=NoiseAugmentation()
    )
    history = model.fit(train, epochs=2, verbose=0, shuffle=False)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.predict(
        make_dataset(clips[:5], batch_size=4), verbose=0
    ).shape == (5, 8)


def test_threaded_loading_keeps_order_and_names_the_first_bad_file(corpus, tmp_path):
    from kser.errors import AudioError

    files = list(corpus)[:12]
    serial = load_clips(files, workers=1)
    threaded = load_clips(files, workers=4)
    assert [c.name for c in threaded] == [c.name for c in serial]
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a.waveform, b.waveform)
        assert a.content_hash == b.content_hash and a.label == b.label
    first = tmp_path / "first_bad.wav"
    first.write_bytes(b"RIFF not really a wav")
    second = tmp_path / "second_bad.wav"
    second.write_bytes(b"")
    paths = [f.path for f in files[:5]] + [str(first)] + [f.path for f in files[5:]]
    paths.append(str(second))
    with pytest.raises(AudioError, match="first_bad.wav"):
        load_clips(paths, labels=[0] * len(paths), workers=4)


def test_pipeline_keeps_its_names():
    # The module was split into clips, batching and pipeline; every name
    # it had still imports from it.
    from kser.data import batching
    from kser.data import clips
    from kser.data import pipeline

    for name in (
        "Preprocessing", "NoiseAugmentation", "Clip", "load_clips",
        "crop_waveform", "noise_std", "noise_seed", "add_noise",
        "prepare_waveform", "DEFAULT_MAX_SECONDS", "DEFAULT_SNR_DB",
        "CROP_POLICIES", "NOISE_MODES",
    ):
        assert getattr(pipeline, name) is getattr(clips, name)
    assert pipeline.length_grouped_order is batching.length_grouped_order
    assert pipeline.GROUP_POOL_BATCHES == 50
    for name in ("make_dataset", "fold_datasets", "feature_dataset",
                 "normalize_waveform", "NORMALIZE_EPSILON", "SAMPLE_RATE",
                 "_grouped_positions", "_pad_frames_to_multiple", "_check_clips"):
        assert hasattr(pipeline, name), name


def test_clips_carry_the_speaker(tmp_path):
    from kser.data.corpora import Utterance
    from tests.data.conftest import write_wav

    path = write_wav(tmp_path / "a.wav", np.ones(800) * 0.1)
    utterance = Utterance(str(path), "sad", "F01")
    (clip,) = load_clips([utterance], labels=[3])
    assert clip.speaker == clip.actor == "F01" and clip.label == 3
    train, _, test = Fold(1, train=["F01"], validation=[], test=["M02"]).split([clip])
    assert train == [clip] and test == []
    with pytest.raises(DataError, match="is a name, not a class index"):
        load_clips([utterance])


def test_fold_datasets_over_a_generic_corpus_index(corpus):
    # A corpus with string speakers and label names: labels follow the
    # index's label_names order, speakers split by name.
    from kser.data.corpora.base import CorpusIndex
    from kser.data.corpora.base import Utterance

    files = [f for f in corpus if f.emotion in (1, 5)]  # neutral, angry
    utterances = [
        Utterance(f.path, f.emotion_name, f"spk{f.actor}") for f in files
    ]
    index = CorpusIndex(utterances, label_names=("angry", "neutral"))
    fold = Fold(1, train=("spk1", "spk2"), validation=("spk3",),
                test=("spk4",))
    train, val, test = fold_datasets(index, fold, batch_size=64)
    expected = [0 if f.emotion == 5 else 1 for f in files if f.actor == 4]
    assert sorted(y for _, y in rows(test)) == sorted(expected)
    assert len(rows(train)) == sum(f.actor in (1, 2) for f in files)
    with pytest.raises(DataError, match="label"):
        fold_datasets(utterances, fold, batch_size=64)
