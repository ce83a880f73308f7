"""Speech emotion data: corpora, folds, audio, batches, feature cache.

Data flows one way: a corpus index (`corpora`) -> speaker-disjoint folds
(`folds`) -> audio (`audio`, `clips`) -> batches (`pipeline`, `batching`)
-> cached backbone features (`feature_cache`). `synthetic` writes a
RAVDESS-format stand-in corpus.

The corpus seam: `kser.data.corpora.CORPORA` maps each corpus name to a
module whose `CORPUS` (a `Corpus`) gives its canonical label names, its
index function (a `CorpusIndex` of clips with `path`, `label_name` and
`speaker`) and its fold protocols. `load_corpus(name, root)` indexes one,
`get_folds(protocol, corpus=name)` gives its folds, and `class_index`
maps a clip's label name to a class number. RAVDESS is the first corpus
(`corpora/ravdess.py`; `kser.data.ravdess` re-exports it).

Names are imported on first use, so `import kser.data` stays light and
loads neither TensorFlow nor Keras (TensorFlow loads Keras, which must wait
until the backend is chosen).

Examples:
```python
from kser.data import load_corpus, get_folds, fold_datasets

index = load_corpus("ravdess", "Audio_Speech_Actors_01-24", require_complete=True)
fold = get_folds("paper", corpus="ravdess")[2]
train, val, test = fold_datasets(index, fold, batch_size=8)
```
"""

import importlib

_EXPORTS = {
    "kser.data.corpora": (
        "CORPORA",
        "Corpus",
        "CorpusIndex",
        "Utterance",
        "class_index",
        "corpus_names",
        "get_corpus",
        "load_corpus",
    ),
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
    "kser.data.clip_folds": (
        "ClipFold",
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
