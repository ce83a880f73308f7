"""Frozen-backbone features for training: loading, the encoder, the cache.

The backbone runs once per clip (and per cached noisy copy); its features
go to a `FeatureCache` on disk that every fold and variant of a run reads.
`prepare_features` extracts, in one pass, everything some pending folds
will read, so that head-training workers never run the backbone.
"""

import os

from kser.data.audio import header_seconds
from kser.data.feature_cache import FeatureCache
from kser.data.pipeline import NoiseAugmentation
from kser.data.pipeline import Preprocessing
from kser.errors import KserError
from kser.train.cross_corpus import cross_corpus_clips
from kser.train.precision import backbone_dtype
from kser.train.precision import warn_if_emulated_bfloat16

# Clips per `prepare_features` extraction call: bounds the features held
# in memory at once. The clips are ordered by duration first, so a slice
# holds one or two padded lengths and few short (partly duplicated)
# extraction batches.
PREPARE_SLICE = 256


def load_backbone(preset, dtype="float32"):
    """Load a frozen-use backbone and whether its audio is normalised.

    The family (HuBERT, ...) comes from the preset. The backbone is built
    `padding_invariant`, so a clip's features never depend on the padding
    its batch adds (cache and online paths agree).

    Args:
        preset: str. A preset name, a folder written by `kser convert`,
            `hf://ORG/NAME[@REVISION]` or a transformers checkpoint folder
            (converted once into `$KSER_HOME`).
        dtype: str. `"float32"` or `"bfloat16"` (the backbone then runs
            `mixed_bfloat16`; on a CPU without AVX512_BF16 or AMX, and no
            GPU/TPU visible, one warning line goes to stderr).

    Returns:
        `(backbone, normalize)`.
    """
    from kser.models import load_audio_converter
    from kser.models import load_backbone as load_model_backbone
    from kser.models.loader import resolve_preset

    policy = backbone_dtype(dtype)  # a bad dtype fails before any loading
    preset = resolve_preset(preset)  # hub/checkpoint: one resolution
    backbone = load_model_backbone(
        preset, dtype=policy, padding_invariant=True
    )
    warn_if_emulated_bfloat16(dtype)
    normalize = bool(load_audio_converter(preset).do_normalize)
    return backbone, normalize


class BackboneShape:
    """What a head-training worker knows of the backbone: its shape and
    frame arithmetic, no weights."""

    def __init__(self, hidden_dim, num_layers, conv_kernel_sizes, conv_strides):
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.conv_kernel_sizes = [int(k) for k in conv_kernel_sizes]
        self.conv_strides = [int(s) for s in conv_strides]

    @classmethod
    def of(cls, backbone):
        return cls(
            backbone.hidden_dim,
            backbone.num_layers,
            backbone.conv_kernel_sizes,
            backbone.conv_strides,
        )

    def to_dict(self):
        return dict(vars(self))

    def num_frames(self, num_samples):
        """Frames the backbone makes from `num_samples` samples."""
        from kser.models.waveform import conv_output_length

        return conv_output_length(
            num_samples, self.conv_kernel_sizes, self.conv_strides
        )


def noise_augmentation(config, mode):
    """The `NoiseAugmentation` of an augmented variant's config."""
    return NoiseAugmentation(
        snr_db=config.snr_db,
        mode=mode,
        copies=config.noise_copies,
        seed=config.seed,
    )


def build_encoder(backbone, layers, normalize):
    """A compiled waveform -> features function for the feature cache.

    The graph is `FrozenFeatureExtractor`'s (normalisation, backbone with
    `training=False`, float32 features), with the output keys the cache
    stores: `sequence_output` (`layers="last"`) or `hidden_states`.
    """
    if isinstance(backbone, BackboneShape):
        raise KserError(
            "feature cache miss in a head-training worker: the parent "
            "process extracts every feature first (was the cache changed "
            "during the run?)"
        )
    import keras

    from kser.models import FrozenFeatureExtractor

    extractor = FrozenFeatureExtractor(backbone, layers=layers, normalize=normalize)
    inputs = {
        "waveform": keras.Input(shape=(None,), name="waveform"),
        "padding_mask": keras.Input(shape=(None,), dtype="int32", name="padding_mask"),
    }
    out = extractor(inputs)
    key = "hidden_states" if layers == "weighted" else "sequence_output"
    model = keras.Model(
        inputs,
        {key: out["features"], "frame_padding_mask": out["frame_padding_mask"]},
    )
    return model.predict_on_batch


def make_cache(cache_dir, config, encoder_fn, fingerprint, normalize, progress,
               num_frames):
    """The `FeatureCache` for a config's layers, crop and dtypes.

    Args:
        encoder_fn: callable. Returns the encoder on first use: a run
            whose features are all cached never compiles the backbone.
        num_frames: callable. The backbone's `num_frames(samples)`.
    """
    return FeatureCache(
        cache_dir,
        lambda inputs: encoder_fn()(inputs),
        f"{fingerprint}:normalize={normalize}:"
        f"dtype={config.dtype}:padding_invariant",
        layers="all" if config.layers == "weighted" else "last",
        dtype=config.cache_dtype,
        preprocessing=Preprocessing(max_seconds=config.max_seconds),
        batch_size=8,
        progress=progress,
        num_frames=num_frames,
    )


def prepare_features(experiment, pending):
    """Extract (or find cached) every feature some folds will read.

    Args:
        experiment: `Experiment`. Gives the clips and caches.
        pending: list of `(TrainConfig, Fold)`.
    """
    # Clips are keyed by path: clips of two corpora may compare equal
    # (e.g. two RAVDESS-format folders), their audio does not.
    wanted = {}
    for config, fold in pending:
        if config.mode != "cached":
            continue
        train, val, test = fold.split(experiment.files)
        entry = wanted.setdefault(
            config.cache_settings,
            {"config": config, "clean": {}, "noisy": {}},
        )
        _add(entry["clean"], train + val + test)
        for name, index in experiment.test_corpora:
            clips, _ = cross_corpus_clips(experiment.label_names, index, name)
            _add(entry["clean"], clips)
        if config.augment:
            noise = noise_augmentation(config, "cached")
            key = (noise.snr_db, noise.seed, tuple(noise.copy_indices))
            _add(entry["noisy"].setdefault(key, (noise, {}))[1], train)
    for entry in wanted.values():
        cache = experiment.cache(entry["config"])
        jobs = [(None, (0,), entry["clean"])]
        for noise, files in entry["noisy"].values():
            copies = tuple(c for c in noise.copy_indices if c != 0)
            if copies:
                jobs.append((noise, copies, files))
        max_seconds = entry["config"].max_seconds
        seconds = {}  # by path: each header is read once for all jobs

        def order(item, seconds=seconds, max_seconds=max_seconds):
            path, clip = item
            if path not in seconds:
                seconds[path] = _seconds(clip, max_seconds)
            return seconds[path], _clip_order(clip)

        for noise, copies, files in jobs:
            files = [clip for _, clip in sorted(files.items(), key=order)]
            # In slices, so that the features are not all in memory.
            for start in range(0, len(files), PREPARE_SLICE):
                cache.extract_copies(files[start : start + PREPARE_SLICE], noise, copies)


def _add(by_path, clips):
    for clip in clips:
        by_path.setdefault(os.fspath(clip.path), clip)


def _seconds(clip, max_seconds=None):
    """float. A clip's duration (its waveform's, else its file header's),
    at most `max_seconds`; 0.0 when unknown. Only orders extraction: the
    features do not depend on it."""
    waveform = getattr(clip, "waveform", None)
    if waveform is not None:
        seconds = len(waveform) / clip.sample_rate
    else:
        seconds = header_seconds(getattr(clip, "path", None) or clip) or 0.0
    return seconds if max_seconds is None else min(seconds, max_seconds)


def _clip_order(clip):
    # By file name, then path: for RAVDESS the order of its name fields.
    path = os.fspath(clip.path)
    return (os.path.basename(path), path)


def cache_folder(out_dir, cache_dir=None):
    """The feature cache folder: `cache_dir`, default `out_dir/feature_cache`."""
    return cache_dir or os.path.join(out_dir, "feature_cache")
