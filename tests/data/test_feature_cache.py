import os

import numpy as np
import pytest

from kser.data.feature_cache import FeatureCache
from kser.data.feature_cache import min_samples
from kser.data.feature_cache import weights_fingerprint
from kser.data.pipeline import Clip
from kser.data.pipeline import NoiseAugmentation
from kser.data.pipeline import Preprocessing
from kser.data.pipeline import load_clips
from kser.data.pipeline import prepare_waveform
from kser.errors import AudioError
from kser.errors import DataError
from kser.models.waveform import conv_output_length
from tests.data.conftest import write_wav

HOP = 320
# HuBERT's conv feature encoder: one frame per 320 samples.
HUBERT_KERNELS = (10, 3, 3, 3, 3, 2, 2)
HUBERT_STRIDES = (5, 2, 2, 2, 2, 2, 2)


def num_frames(samples):
    return conv_output_length(int(samples), HUBERT_KERNELS, HUBERT_STRIDES)


class FakeEncoder:
    """A numpy stand-in for the backbone: per-frame statistics of 320 samples.

    Like the real backbone, valid frames depend only on the clip's own
    samples, so features can be compared with an unbatched computation.
    """

    def __init__(self, layers=2, fail_on_call=None, wrong_mask=False):
        self.layers = layers
        self.calls = 0
        self.shapes = []
        self.fail_on_call = fail_on_call
        self.wrong_mask = wrong_mask

    def num_frames(self, samples):
        return num_frames(samples)

    def frames(self, waveform):
        n = num_frames(len(waveform))
        hops = waveform[: n * HOP].reshape(n, HOP)
        base = np.stack(
            [
                hops.mean(1),
                np.sqrt((hops**2).mean(1)),
                hops.max(1),
                hops.min(1),
            ],
            -1,
        )
        return np.stack(
            [base * (i + 1) for i in range(self.layers + 1)]
        )  # [L+1, F, 4]

    def __call__(self, batch):
        self.calls += 1
        if self.fail_on_call == self.calls:
            raise KeyboardInterrupt("interrupted")
        wave, mask = batch["waveform"], batch["padding_mask"]
        assert wave.dtype == np.float32 and mask.dtype == np.int32
        self.shapes.append(wave.shape)
        hidden = np.stack([self.frames(w) for w in wave])  # [B, L+1, F, 4]
        valid = np.array([num_frames(n) for n in mask.sum(1)]) + (
            1 if self.wrong_mask else 0
        )
        frame_mask = np.arange(hidden.shape[2])[None] < valid[:, None]
        return {
            "sequence_output": hidden[:, -1],
            "hidden_states": hidden,
            "frame_padding_mask": frame_mask,
        }


@pytest.fixture()
def subset(clips):
    return clips[:12]


def make_cache(directory, encoder=None, fingerprint="weights-A", **kwargs):
    kwargs.setdefault("progress", False)
    kwargs.setdefault("batch_size", 4)
    return FeatureCache(
        directory, encoder or FakeEncoder(), fingerprint, **kwargs
    )


def entries(directory):
    return sorted(
        os.path.join(root, f)
        for root, _, files in os.walk(directory)
        for f in files
    )


def test_num_frames():
    assert num_frames(16000) == 49
    assert num_frames(400) == 1 and num_frames(399) == 0
    assert num_frames(96000) == 299
    assert num_frames(0) == 0
    assert min_samples(num_frames) == 400
    assert min_samples(lambda n: n // 7) == 7
    assert min_samples(lambda n: 0) is None


def test_num_frames_comes_from_the_backbone(tmp_path, subset):
    def encode(batch):  # a plain function: no num_frames attribute
        return FakeEncoder()(batch)

    with pytest.raises(DataError, match="pass num_frames=backbone.num_frames"):
        FeatureCache(tmp_path, encode, "weights-A")
    cache = FeatureCache(
        tmp_path, encode, "weights-A", num_frames=num_frames, progress=False
    )
    got = cache.extract(subset[:2])
    assert got[0].shape == (num_frames(len(subset[0].waveform)), 4)
    # The encoder's own num_frames is used when none is passed.
    assert make_cache(tmp_path).num_frames(16000) == 49


def test_miss_then_hit(tmp_path, subset):
    encoder = FakeEncoder()
    # One padded length for all clips: 3 full batches of 4.
    cache = make_cache(tmp_path, encoder, pad_seconds=2.0)
    first = cache.extract(subset)
    assert cache.stats["misses"] == 12 and cache.stats["written"] == 12
    assert encoder.calls == 3  # 12 clips, batches of 4
    for clip, features in zip(subset, first):
        expected = encoder.frames(clip.waveform)[-1]
        assert features.shape == (num_frames(len(clip.waveform)), 4)
        np.testing.assert_allclose(features, expected, rtol=1e-6)
    assert len(entries(tmp_path)) == 12

    again_encoder = FakeEncoder()
    again = make_cache(tmp_path, again_encoder, pad_seconds=2.0)
    second = again.extract(subset)
    assert again.stats["hits"] == 12 and again.stats["misses"] == 0
    assert again_encoder.calls == 0
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_reused_across_folds_and_orders(tmp_path, subset):
    cache = make_cache(tmp_path)
    cache.extract(subset[:8])
    encoder = FakeEncoder()
    other = make_cache(tmp_path, encoder)
    got = other.extract(subset[::-1])
    assert other.stats["hits"] == 8 and other.stats["misses"] == 4
    assert encoder.calls == 1
    for clip, features in zip(subset[::-1], got):
        np.testing.assert_allclose(
            features, encoder.frames(clip.waveform)[-1], rtol=1e-6
        )


def test_files_and_loaded_clips_share_entries(tmp_path, corpus):
    files = list(corpus)[:6]
    cache = make_cache(tmp_path)
    from_files = cache.extract(files)
    assert cache.stats["misses"] == 6
    other = make_cache(tmp_path)
    from_clips = other.extract(load_clips(files))
    assert other.stats["hits"] == 6
    for a, b in zip(from_files, from_clips):
        np.testing.assert_array_equal(a, b)


def test_batches_group_similar_lengths(tmp_path):
    rng = np.random.default_rng(0)
    lengths = [1000, 9000, 1500, 8500, 2000, 8200, 700, 16000]
    clips = [
        Clip.from_array(rng.standard_normal(n) * 0.1, 0, f"c{i}")
        for i, n in enumerate(lengths)
    ]
    encoder = FakeEncoder()
    cache = make_cache(tmp_path, encoder, batch_size=4, pad_seconds=0.5)
    got = cache.extract(clips)
    # Padded to multiples of 8000 samples; batches are always full size.
    assert sorted(encoder.shapes) == [(4, 8000), (4, 16000)]
    for clip, features in zip(clips, got):
        assert features.shape[0] == num_frames(len(clip.waveform))


def test_key_covers_every_setting(tmp_path):
    noise = NoiseAugmentation(mode="cached", snr_db=20.0, seed=0)
    base = dict(fingerprint="w")
    variants = [
        (base, {}, 1, noise),
        (dict(fingerprint="w2"), {}, 1, noise),
        (base, dict(preprocessing=Preprocessing(sample_rate=8000)), 1, noise),
        (base, dict(preprocessing=Preprocessing(max_seconds=3.0)), 1, noise),
        (base, dict(preprocessing=Preprocessing(max_seconds=None)), 1, noise),
        (base, dict(preprocessing=Preprocessing(crop="start")), 1, noise),
        (base, dict(preprocessing=Preprocessing(normalize=True)), 1, noise),
        (
            base,
            dict(preprocessing=Preprocessing(resample_filter="kaiser_fast")),
            1,
            noise,
        ),
        (base, dict(pad_seconds=1.0), 1, noise),
        (base, dict(layers="all"), 1, noise),
        (base, dict(layers=[0, 3]), 1, noise),
        (base, dict(dtype="float16"), 1, noise),
        (base, {}, 2, noise),
        (base, {}, 1, NoiseAugmentation(mode="cached", snr_db=10.0)),
        (base, {}, 1, NoiseAugmentation(mode="cached", seed=5)),
        (base, {}, 0, None),
    ]
    keys = set()
    for cache_args, kwargs, copy_index, n in variants:
        cache = FeatureCache(
            tmp_path, FakeEncoder(), cache_args["fingerprint"], **kwargs
        )
        keys.add(cache.key(cache.settings("a" * 64, copy_index, n)))
    assert len(keys) == len(variants)
    cache = FeatureCache(tmp_path, FakeEncoder(), "w")
    assert cache.key(cache.settings("a" * 64)) != cache.key(
        cache.settings("b" * 64)
    )
    # The clean clip's key ignores noise settings: shared by all variants.
    assert cache.key(cache.settings("a" * 64, 0, noise)) == cache.key(
        cache.settings("a" * 64)
    )


def test_audio_change_and_new_weights_miss(tmp_path):
    audio = tmp_path / "audio"
    rng = np.random.default_rng(0)
    path = write_wav(
        audio / "03-01-01-01-01-01-01.wav", rng.standard_normal(4000) * 0.1
    )
    cache_dir = tmp_path / "cache"
    cache = make_cache(cache_dir)
    before = cache.extract([path], copy_index=0)[0]
    write_wav(path, rng.standard_normal(4000) * 0.1)  # same name, new content
    cache = make_cache(cache_dir)
    after = cache.extract([path])[0]
    assert cache.stats["misses"] == 1 and not np.allclose(before, after)
    cache = make_cache(cache_dir, fingerprint="weights-B")
    cache.extract([path])
    assert cache.stats["misses"] == 1
    assert make_cache(cache_dir).extract([path]) is not None


def _entry_path(cache, clip, copy_index=0, noise=None):
    return cache.path(
        cache.key(cache.settings(clip.content_hash, copy_index, noise))
    )


def test_stale_entry_is_recomputed(tmp_path, subset):
    cache = make_cache(tmp_path)
    good = cache.extract(subset[:1])[0]
    path = _entry_path(cache, subset[0])
    # An entry whose recorded settings differ from the request (e.g. left by
    # another kser version) is stale.
    with np.load(path) as entry:
        meta, features = str(entry["meta"]), entry["features"]
    assert '"format": 1' in meta
    with open(path, "wb") as f:
        np.savez(
            f,
            features=features * 0 + 7,
            meta=np.array(meta.replace('"format": 1', '"format": 0')),
        )
    encoder = FakeEncoder()
    cache = make_cache(tmp_path, encoder)
    got = cache.extract(subset[:1])[0]
    assert cache.stats["stale"] == 1 and encoder.calls == 1
    np.testing.assert_array_equal(got, good)
    cache = make_cache(tmp_path)
    cache.extract(subset[:1])
    assert cache.stats["hits"] == 1


@pytest.mark.parametrize("damage", ["truncate", "garbage", "features", "empty"])
def test_corrupt_entry_is_recomputed(tmp_path, subset, damage):
    cache = make_cache(tmp_path)
    good = cache.extract(subset[:2])
    path = _entry_path(cache, subset[1])
    data = open(path, "rb").read()
    if damage == "truncate":
        open(path, "wb").write(data[: len(data) // 2])
    elif damage == "garbage":
        open(path, "wb").write(os.urandom(len(data)))
    elif damage == "empty":
        open(path, "wb").write(b"")
    else:
        with np.load(path) as entry:
            meta, features = entry["meta"], entry["features"].copy()
        features[0, 0] += 1.0  # bit rot: the checksum no longer matches
        with open(path, "wb") as f:
            np.savez(f, features=features, meta=meta)
    encoder = FakeEncoder()
    cache = make_cache(tmp_path, encoder)
    got = cache.extract(subset[:2])
    assert cache.stats["corrupt"] == 1 and cache.stats["hits"] == 1
    assert encoder.calls == 1
    for a, b in zip(got, good):
        np.testing.assert_array_equal(a, b)
    cache = make_cache(tmp_path)
    cache.extract(subset[:2])
    assert cache.stats["hits"] == 2


def test_interrupted_extraction_keeps_finished_entries(tmp_path, subset):
    encoder = FakeEncoder(fail_on_call=2)
    cache = make_cache(tmp_path, encoder, batch_size=4, pad_seconds=2.0)
    with pytest.raises(KeyboardInterrupt):
        cache.extract(subset)
    files = entries(tmp_path)
    assert len(files) == 4 and all(f.endswith(".npz") for f in files)
    assert not any(os.path.basename(f).startswith(".tmp-") for f in files)
    encoder = FakeEncoder()
    cache = make_cache(tmp_path, encoder, batch_size=4, pad_seconds=2.0)
    cache.extract(subset)
    assert cache.stats["hits"] == 4 and cache.stats["misses"] == 8
    assert encoder.calls == 2


def test_cached_noise_copies(tmp_path, subset):
    noise = NoiseAugmentation(mode="cached", snr_db=10.0, copies=2, seed=3)
    encoder = FakeEncoder()
    cache = make_cache(tmp_path, encoder)
    clean, copy1, copy2 = cache.extract_copies(
        subset[:3], noise, copies=(0, 1, 2)
    )
    for i, clip in enumerate(subset[:3]):
        for k, got in ((1, copy1[i]), (2, copy2[i])):
            expected = encoder.frames(
                prepare_waveform(clip, noise=noise, copy_index=k)
            )[-1]
            np.testing.assert_allclose(got, expected, rtol=1e-5)
            assert not np.allclose(got, clean[i])
        assert not np.allclose(copy1[i], copy2[i])
    # Deterministic: a fresh cache computes the same noisy features.
    fresh = make_cache(tmp_path / "fresh")
    np.testing.assert_array_equal(
        fresh.extract(subset[:3], noise, copy_index=2)[1], copy2[1]
    )
    # Other noise settings give other entries; the clean ones are shared.
    other = make_cache(tmp_path)
    other.extract(
        subset[:3], NoiseAugmentation(mode="cached", snr_db=20.0), copy_index=1
    )
    assert other.stats["misses"] == 3
    other.extract(subset[:3])
    assert other.stats["hits"] == 3


def test_extract_training(tmp_path, subset):
    noise = NoiseAugmentation(mode="cached", copies=2)
    cache = make_cache(tmp_path)
    features, labels = cache.extract_training(subset[:4], noise)
    assert len(features) == len(labels) == 12
    assert labels == [c.label for c in subset[:4] for _ in range(3)]
    clean_only, clean_labels = cache.extract_training(subset[:4])
    assert len(clean_only) == 4 and clean_labels == [
        c.label for c in subset[:4]
    ]
    np.testing.assert_array_equal(clean_only[1], features[3])
    with pytest.raises(DataError, match="mode='cached'"):
        cache.extract_training(subset[:4], NoiseAugmentation(mode="online"))
    with pytest.raises(DataError, match="only mode='cached'"):
        cache.extract(
            subset[:1], NoiseAugmentation(mode="online"), copy_index=1
        )
    with pytest.raises(DataError, match="without a NoiseAugmentation"):
        cache.extract(subset[:1], copy_index=1)


def test_layers_and_dtype(tmp_path, subset):
    encoder = FakeEncoder(layers=3)
    all_layers = make_cache(tmp_path, encoder, layers="all").extract(subset[:2])
    n = num_frames(len(subset[0].waveform))
    assert all_layers[0].shape == (4, n, 4)
    picked = make_cache(tmp_path, FakeEncoder(layers=3), layers=[0, 2]).extract(
        subset[:2]
    )
    np.testing.assert_array_equal(picked[0], all_layers[0][[0, 2]])
    half = make_cache(tmp_path, FakeEncoder(layers=3), dtype="float16").extract(
        subset[:2]
    )
    assert half[0].dtype == np.float16
    np.testing.assert_allclose(half[0], all_layers[0][-1], rtol=1e-2, atol=1e-3)
    with pytest.raises(DataError, match="unknown dtype"):
        make_cache(tmp_path, dtype="int8")
    with pytest.raises(DataError, match="unknown layers"):
        make_cache(tmp_path, layers="middle")


def test_float16_entries_are_rounded_from_float32_ones(tmp_path, subset):
    wide = make_cache(tmp_path).extract(subset[:6])
    # A float16 cache over the same folder: the six clips with a float32
    # entry are rounded from it, without the backbone; two new clips are
    # extracted.
    encoder = FakeEncoder()
    half = make_cache(tmp_path, encoder, dtype="float16")
    got = half.extract(subset[:8])
    assert half.stats["derived"] == 6 and half.stats["misses"] == 2
    assert half.stats["hits"] == 0 and half.stats["written"] == 8
    assert encoder.calls == 1  # the two new clips, one batch
    for a, b in zip(wide, got[:6]):
        assert b.dtype == np.float16
        np.testing.assert_array_equal(b, a.astype(np.float16))
    np.testing.assert_array_equal(
        got[7], encoder.frames(subset[7].waveform)[-1].astype(np.float16)
    )
    # The rounded entries are float16 entries of their own from now on.
    again = make_cache(tmp_path, FakeEncoder(), dtype="float16")
    for a, b in zip(got, again.extract(subset[:8])):
        np.testing.assert_array_equal(a, b)
    assert again.stats["hits"] == 8 and again.stats["derived"] == 0
    # float32 never reads float16 entries: a clip cached only as float16
    # is extracted again at full precision.
    full = make_cache(tmp_path, FakeEncoder(), dtype="float32")
    full.extract(subset[:8])
    assert full.stats["hits"] == 6 and full.stats["misses"] == 2


class LoudEncoder(FakeEncoder):
    def __call__(self, batch):
        out = super().__call__(batch)
        return {k: v * 1e6 if k != "frame_padding_mask" else v
                for k, v in out.items()}


def test_features_beyond_float16_are_an_error(tmp_path, subset):
    with pytest.raises(DataError, match="beyond float16's range: cache them as float32"):
        make_cache(tmp_path, LoudEncoder(), dtype="float16").extract(subset[:2])
    assert entries(tmp_path) == []
    # Rounding a float32 entry checks the same.
    make_cache(tmp_path, LoudEncoder()).extract(subset[:2])
    with pytest.raises(DataError, match="beyond float16's range"):
        make_cache(tmp_path, FakeEncoder(), dtype="float16").extract(subset[:2])


def test_too_short_clip_is_an_error(tmp_path):
    short = Clip.from_array(np.ones(300) * 0.1, 0, "short.wav")
    with pytest.raises(AudioError, match="short.wav: too short") as error:
        make_cache(tmp_path).extract([short])
    assert "300 samples make no frame; at least 400 are needed" in str(
        error.value
    )


def test_frame_mask_must_match_conv_stack(tmp_path, subset):
    with pytest.raises(RuntimeError, match="conv stack gives"):
        make_cache(tmp_path, FakeEncoder(wrong_mask=True)).extract(subset[:1])


def test_progress_bar(tmp_path, subset, capsys):
    make_cache(tmp_path, progress=True).extract(subset[:2])
    assert "extracting features" in capsys.readouterr().err


def test_weights_fingerprint():
    import keras

    def model(seed):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((3,))
        return keras.Model(
            inputs, keras.layers.Dense(2)(keras.layers.Dense(4)(inputs))
        )

    a, b, c = model(0), model(0), model(1)
    fp = weights_fingerprint(a)
    assert isinstance(fp, str) and len(fp) == 64
    assert weights_fingerprint(b) == fp
    assert weights_fingerprint(c) != fp
    weights = a.get_weights()
    weights[-1] = weights[-1] + 1e-6
    b.set_weights(weights)
    assert weights_fingerprint(b) != fp


def test_with_hubert_backbone(tmp_path, subset):
    # The real backbone as encode_fn: its frame mask agrees with the cache.
    models = pytest.importorskip("kser.models")
    backbone = models.HubertBackbone(
        hidden_dim=16,
        num_layers=2,
        num_heads=2,
        intermediate_dim=32,
        conv_dims=[8] * 7,
        pos_conv_kernel_size=8,
        pos_conv_groups=2,
    )
    # One padded length and one batch: a single backbone call shape.
    cache = FeatureCache(
        tmp_path,
        backbone,
        weights_fingerprint(backbone),
        batch_size=4,
        pad_seconds=1.0,
        progress=False,
    )
    got = cache.extract(subset[:4])
    for clip, features in zip(subset[:4], got):
        assert features.shape == (num_frames(len(clip.waveform)), 16)
        assert features.dtype == np.float32
    layered = FeatureCache(
        tmp_path,
        backbone,
        weights_fingerprint(backbone),
        layers="all",
        batch_size=4,
        pad_seconds=1.0,
        progress=False,
    ).extract(subset[:1])
    assert layered[0].shape[0] == 3
    np.testing.assert_allclose(layered[0][-1], got[0], atol=1e-5)
