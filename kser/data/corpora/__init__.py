"""The corpus registry: one line per corpus in `CORPORA`.

Each entry maps a corpus name to the module that defines it; that module
exposes `CORPUS`, a `Corpus` (label names, index function, fold
protocols). Modules are imported on first use, so listing the corpora is
free and a corpus module may import what it needs.

To add a corpus: write one module under `kser/data/corpora/` (an index
function returning a `CorpusIndex` of `Utterance`s, its protocols, and
`CORPUS = Corpus(...)`) and add one line to `CORPORA`.

Examples:
```python
from kser.data.corpora import corpus_names, get_corpus, load_corpus

corpus_names()                                  # ["ravdess"]
get_corpus("ravdess").default_protocol          # "paper"
index = load_corpus("ravdess", "Audio_Speech_Actors_01-24")
```
"""

import importlib

from kser.data.corpora.base import Corpus
from kser.data.corpora.base import CorpusIndex
from kser.data.corpora.base import Utterance
from kser.data.corpora.base import class_index
from kser.errors import DataError

CORPORA = {
    "ravdess": "kser.data.corpora.ravdess",
    "crema_d": "kser.data.corpora.crema_d",
    "emodb": "kser.data.corpora.emodb",
    "tess": "kser.data.corpora.tess",
    "savee": "kser.data.corpora.savee",
    "iemocap": "kser.data.corpora.iemocap",
    "esd": "kser.data.corpora.esd",
    "msp_podcast": "kser.data.corpora.msp_podcast",
    "manifest": "kser.data.corpora.manifest",
}

__all__ = [
    "CORPORA",
    "Corpus",
    "CorpusIndex",
    "Utterance",
    "class_index",
    "corpus_names",
    "get_corpus",
    "load_corpus",
]


def corpus_names():
    """list of str. The registered corpus names, in registry order."""
    return list(CORPORA)


def get_corpus(name):
    """The `Corpus` registered under `name`.

    Raises:
        DataError: an unknown name; one line listing the known ones.
    """
    if name not in CORPORA:
        raise DataError(
            f"unknown corpus {name!r}: choose one of {', '.join(CORPORA)}"
        )
    return importlib.import_module(CORPORA[name]).CORPUS


def load_corpus(name, root, **kwargs):
    """Index a corpus under `root`: `get_corpus(name).index(root, **kwargs)`.

    Args:
        name: str. A name from `CORPORA`.
        root: str or path-like. The corpus folder.
        **kwargs: passed to the corpus's index function (for RAVDESS e.g.
            `require_complete=True`, `skip_invalid=True`).
    """
    return get_corpus(name).index(root, **kwargs)
