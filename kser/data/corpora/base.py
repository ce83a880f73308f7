"""What every corpus provides: its clips (`Utterance`), an index of them
(`CorpusIndex`), and the corpus itself (`Corpus`): label set, index
function and speaker-disjoint fold protocols.

Labels are names from `kser.labels.CANONICAL_LABELS`; `class_index` maps a
clip's label name to its class number in a model's `label_names` order, so
models and metrics never see corpus-specific label codes.

Examples:
```python
from kser.data.corpora.base import Utterance, CorpusIndex, class_index

clips = [Utterance("a.wav", "angry", "F01"), Utterance("b.wav", "sad", "M02")]
index = CorpusIndex(clips, label_names=("angry", "sad"))
[class_index(clip, index.label_names) for clip in index]  # [0, 1]
```
"""

import collections
import dataclasses
import numbers
import os

from kser.errors import DataError
from kser.labels import check_label
from kser.text import count_noun


def speaker_key(speaker):
    """A sort key that orders int speakers numerically and str ones by name
    (ints first), so mixed ids sort without a TypeError."""
    return (isinstance(speaker, str), speaker)


def check_speaker(speaker, where=None):
    """int or str. A speaker id: integers stay ints, strings stay strings.

    Raises:
        DataError: anything else (a float with a fraction, None, a list).
    """
    if isinstance(speaker, str):
        return str(speaker)
    if isinstance(speaker, numbers.Integral) and not isinstance(speaker, bool):
        return int(speaker)
    if isinstance(speaker, numbers.Real) and float(speaker).is_integer():
        return int(speaker)
    prefix = f"{where}: " if where else ""
    raise DataError(
        f"{prefix}speaker {speaker!r} is neither an int nor a str"
    )


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One clip of a corpus: its file, label name and speaker.

    Args:
        path: str. The audio file.
        label: str. A name from `kser.labels.CANONICAL_LABELS`.
        speaker: str or int. Who speaks; folds split by it.
        metadata: dict. Anything else the corpus knows (gender, session,
            transcript...); not compared.

    Raises:
        DataError: a label that is not canonical, or a speaker that is
            neither int nor str.
    """

    path: str
    label: str
    speaker: object
    metadata: dict = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "path", os.fspath(self.path))
        check_label(self.label, where=self.path)
        object.__setattr__(self, "speaker", check_speaker(self.speaker, self.path))

    @property
    def label_name(self):
        """str. The label name (the same as `label`)."""
        return self.label

    @property
    def name(self):
        """str. The file's base name."""
        return os.path.basename(self.path)


def class_index(clip, label_names):
    """int. The class number of a clip's label in `label_names` order.

    Uses `clip.label_name` (a `RavdessFile`, an `Utterance`), or a str
    `clip.label` for objects without `label_name`.

    Args:
        clip: an object with `label_name` or a str `label`.
        label_names: sequence of str. The classes, in output order.

    Raises:
        DataError: the clip has no label name, or one not in `label_names`;
            one line naming the clip's path.

    Examples:
    ```python
    class_index(parse_filename("03-01-05-01-01-01-01.wav"), EMOTIONS)  # 4
    ```
    """
    label_names = list(label_names)
    name = getattr(clip, "label_name", None)
    if name is None:
        label = getattr(clip, "label", None)
        if isinstance(label, str):
            name = label
    where = getattr(clip, "path", None) or getattr(clip, "name", None) or clip
    if name is None:
        raise DataError(
            f"{where}: no label name (label_name, or a str label) to look up "
            f"among the classes {', '.join(label_names)}"
        )
    if name not in label_names:
        raise DataError(
            f"{where}: label {name!r} is not one of the classes "
            f"{', '.join(label_names)}"
        )
    return label_names.index(name)


class CorpusIndex:
    """The clips of a corpus found under a root, with its label set.

    Iterating yields the clips (`Utterance`s, or a corpus's own type with
    `path`, `label_name` and `speaker`) in the order given.

    Args:
        utterances: sequence of clips.
        label_names: sequence of str. The corpus's classes, in class order.
        root: str or None. The folder the clips were found in.
        corpus: str or None. The corpus name, for reports.
        skipped: sequence of str. Files left out (e.g. names that do not
            follow the corpus, under `skip_invalid=True`), for reports.
    """

    def __init__(self, utterances, label_names, root=None, corpus=None,
                 skipped=()):
        self.utterances = tuple(utterances)
        self.label_names = tuple(label_names)
        self.root = root
        self.corpus = corpus
        self.skipped = tuple(skipped)

    def __len__(self):
        return len(self.utterances)

    def __iter__(self):
        return iter(self.utterances)

    def __getitem__(self, item):
        return self.utterances[item]

    def __repr__(self):
        return (
            f"{type(self).__name__}({count_noun(len(self), 'clip')}, "
            f"{count_noun(len(self.speakers), 'speaker')}, "
            f"corpus={self.corpus!r})"
        )

    @property
    def speakers(self):
        """tuple. The speakers present, sorted."""
        return tuple(sorted({u.speaker for u in self.utterances}, key=speaker_key))

    def select(self, speakers):
        """The clips of some speakers, as a new `CorpusIndex`.

        Args:
            speakers: iterable of int or str. The speakers to keep.
        """
        keep = set(speakers)
        return CorpusIndex(
            [u for u in self.utterances if u.speaker in keep],
            self.label_names,
            root=self.root,
            corpus=self.corpus,
        )

    def speaker_counts(self):
        """dict. Clips per speaker present, in speaker order."""
        counts = collections.Counter(u.speaker for u in self.utterances)
        return {s: counts[s] for s in sorted(counts, key=speaker_key)}

    def label_counts(self):
        """dict. Clips per label name, in `label_names` order (0 if absent)."""
        counts = collections.Counter(u.label_name for u in self.utterances)
        return {name: counts.get(name, 0) for name in self.label_names}

    def report(self):
        """str. A short human-readable summary: clips, speakers, labels."""
        where = f" in {self.root}" if self.root else ""
        corpus = f"{self.corpus}: " if self.corpus else ""
        labels = ", ".join(
            f"{name} {count}" for name, count in self.label_counts().items()
        )
        counts = list(self.speaker_counts().values())
        lines = [
            f"{corpus}{count_noun(len(self), 'clip')} from "
            f"{count_noun(len(counts), 'speaker')}{where}",
            f"labels: {labels}",
        ]
        if counts:
            lines.append(
                f"clips per speaker: {min(counts)} to {max(counts)}"
            )
        if self.skipped:
            lines.append(f"skipped {count_noun(len(self.skipped), 'file')}")
        return "\n".join(lines)


class Corpus:
    """A speech emotion corpus: its labels, how to index it, its folds.

    Args:
        name: str. The registry name, e.g. `"ravdess"`.
        label_names: sequence of str. Canonical label names in class order.
        index_fn: callable `(root, **kwargs) -> CorpusIndex` (or an index
            type with `label_names` and `speakers`).
        protocols: dict. Protocol name -> callable `(index or None) -> list
            of Fold`; a protocol whose folds depend on the speakers found
            uses the index.
        default_protocol: str. One of `protocols`.
        description: str. One line for listings.
        synthesize_fn: callable or None. `(root, **kwargs) -> index`:
            writes a small synthetic corpus in this corpus's layout (for
            tests, docs and `kser synth --corpus NAME`).

    Examples:
    ```python
    corpus = get_corpus("ravdess")
    index = corpus.index("Audio_Speech_Actors_01-24", require_complete=True)
    folds = corpus.folds("paper")
    ```
    """

    def __init__(
        self,
        name,
        label_names,
        index_fn,
        protocols,
        default_protocol,
        description="",
        synthesize_fn=None,
    ):
        self.name = str(name)
        self._synthesize_fn = synthesize_fn
        self.label_names = tuple(
            check_label(label, where=f"corpus {name}") for label in label_names
        )
        self._index_fn = index_fn
        self.protocols = dict(protocols)
        if default_protocol not in self.protocols:
            raise DataError(
                f"corpus {name}: default protocol {default_protocol!r} is not "
                f"one of {', '.join(self.protocols)}"
            )
        self.default_protocol = default_protocol
        self.description = description

    def __repr__(self):
        return (
            f"Corpus({self.name!r}, {count_noun(len(self.label_names), 'label')}, "
            f"protocols={list(self.protocols)})"
        )

    def index(self, root, **kwargs):
        """The corpus's clips under `root` (keyword arguments go to its
        index function, e.g. `require_complete=True`)."""
        return self._index_fn(root, **kwargs)

    def synthesize(self, root, **kwargs):
        """Write a small synthetic corpus in this corpus's layout under
        `root` and return its index (`kser synth --corpus NAME`)."""
        if self._synthesize_fn is None:
            raise DataError(f"corpus {self.name} has no synthetic stand-in")
        return self._synthesize_fn(root, **kwargs)

    def folds(self, protocol=None, index=None):
        """The folds of a named protocol (default: `default_protocol`).

        Args:
            protocol: str or None. A name from `protocols`.
            index: the corpus index or None; protocols built from the
                speakers found need it.

        Raises:
            DataError: an unknown protocol; the message names the corpus
                and its protocols.
        """
        protocol = protocol or self.default_protocol
        if protocol not in self.protocols:
            raise DataError(
                f"unknown fold protocol {protocol!r} for corpus {self.name}: "
                f"choose one of {', '.join(self.protocols)}"
            )
        return list(self.protocols[protocol](index))


def check_root(root, layout, subfolder=None):
    """`root` as a str (and `root/subfolder`), or a one-line DataError
    saying what is missing and which `layout` was expected."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        what = "no such folder" if not os.path.exists(root) else "not a folder"
        raise DataError(f"{root}: {what}; {layout}")
    if subfolder is None:
        return root
    folder = os.path.join(root, subfolder)
    if not os.path.isdir(folder):
        raise DataError(f"{root}: no {subfolder}/ folder; {layout}")
    return root, folder


def wav_files(folder, extension=".wav"):
    """Relative paths of the visible audio files under `folder`, sorted by
    their `/`-separated form (hidden files and folders are skipped)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for filename in filenames:
            if filename.startswith("."):
                continue
            if os.path.splitext(filename)[1].lower() == extension:
                found.append(os.path.relpath(os.path.join(dirpath, filename), folder))
    return sorted(found, key=lambda rel: rel.replace(os.sep, "/"))
