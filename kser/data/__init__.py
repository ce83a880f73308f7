"""RAVDESS data: index, folds, audio, synthetic corpus, batches, feature cache.

Data flows one way: files (`ravdess`) -> actor folds (`folds`) -> audio
(`audio`) -> batches (`pipeline`) -> cached backbone features
(`feature_cache`). `synthetic` writes a RAVDESS-format stand-in corpus.

Names are imported on first use, so `import kser.data` stays light and
loads neither TensorFlow nor Keras (TensorFlow loads Keras, which must wait
until the backend is chosen).

Examples:
```python
from kser.data import index_ravdess, paper_folds, fold_datasets

index = index_ravdess("Audio_Speech_Actors_01-24", require_complete=True)
train, val, test = fold_datasets(index, paper_folds()[2], batch_size=8)
```
"""

import importlib

_EXPORTS = {
    "kser.data.ravdess": (
        "ACTORS",
        "CLIPS_PER_ACTOR",
        "EMOTIONS",
        "NUM_ACTORS",
        "NUM_EMOTIONS",
        "NUM_SPEECH_CLIPS",
        "RavdessFile",
        "RavdessIndex",
        "expected_speech_clips",
        "index_ravdess",
        "parse_filename",
    ),
    "kser.data.folds": (
        "Fold",
        "emobox_folds",
        "get_fold",
        "get_folds",
        "paper_folds",
        "speaker_kfold",
    ),
    "kser.data.audio": (
        "SAMPLE_RATE",
        "load_audio",
        "normalize_waveform",
    ),
    "kser.data.pipeline": (
        "DEFAULT_MAX_SECONDS",
        "DEFAULT_SNR_DB",
        "Clip",
        "NoiseAugmentation",
        "Preprocessing",
        "feature_dataset",
        "fold_datasets",
        "load_clips",
        "make_dataset",
        "prepare_waveform",
    ),
    "kser.data.feature_cache": (
        "FeatureCache",
        "num_frames",
        "weights_fingerprint",
    ),
    "kser.data.synthetic": (
        "synthesize_clip",
        "write_corpus",
    ),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'kser.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
