"""Clip-level folds: splits by clip, not by speaker (NOT speaker-independent).

Some published protocols split a corpus by clip, so the same speakers are in
train and test. kser's folds are speaker folds (`kser.data.folds.Fold`); a
`ClipFold` is the clip-level counterpart with the same interface as far as
the training code is concerned (`index`, `protocol`, `name`, `train`,
`validation`, `test`, `speakers`, `actors`, `split`, `to_dict`), plus
`speaker_independent = False` (a `Fold` has `speaker_independent = True`).
Its `train`, `validation` and `test` are the speakers present in each split
(for reports); which clip goes where is decided by the clip's stem, its file
name without the extension.

The one clip-level protocol offered is `emobox-leaky`: EmoBox's published
splits (`emo-box/EmoBox`, `data/<corpus>/fold_*/`) for CREMA-D (1 fold, 1856
test clips) and EmoDB (5 folds, 107 test clips each), so kser's numbers can be
set beside EmoBox's. The test clip lists are package data in
`kser/data/corpora/emobox_splits/<corpus>.json`, with the EmoBox commit they
come from; train is every other clip of the index. EmoBox has no validation
split, so the validation split is empty and the best epoch is picked on
training accuracy (as for TESS).

Examples:
```python
index = load_corpus("emodb", "emodb")
folds = get_folds("emobox-leaky", corpus="emodb", index=index)
folds[0].speaker_independent  # False
train, validation, test = folds[0].split(index)  # 428, 0, 107 clips
```
"""

import dataclasses
import functools
import importlib.resources
import json
import os

from kser.data.corpora.base import check_speaker
from kser.data.corpora.base import speaker_key
from kser.errors import DataError

EMOBOX_LEAKY = "emobox-leaky"
SPLITS_PACKAGE = "kser.data.corpora"
SPLITS_DIR = "emobox_splits"


def clip_stem(clip):
    """str. A clip's stem: its file name without the extension."""
    path = getattr(clip, "path", clip)
    return os.path.splitext(os.path.basename(os.fspath(path)))[0]


def _speakers(clips):
    speakers = set()
    for clip in clips:
        speaker = getattr(clip, "speaker", None)
        if speaker is None:
            speaker = getattr(clip, "actor", None)
        if speaker is not None:
            speakers.add(check_speaker(speaker, where=clip_stem(clip)))
    return tuple(sorted(speakers, key=speaker_key))


@dataclasses.dataclass(frozen=True)
class ClipFold:
    """One clip-level split: the test clips by stem, every other clip trains.

    NOT speaker-independent: a speaker may be in train and test. Build one
    with `ClipFold.from_index`, which checks every test clip is in the index
    and fills `train`, `validation` and `test` with the speakers present.

    Args:
        index: int. The fold number, 1-based.
        train: tuple of int or str. Speakers with training clips.
        validation: tuple of int or str. Speakers with validation clips
            (empty: clip-level protocols here have no validation split).
        test: tuple of int or str. Speakers with test clips.
        protocol: str. Which protocol the fold belongs to.
        test_clips: frozenset of str. The test clips' stems.
    """

    index: int
    train: tuple
    validation: tuple
    test: tuple
    protocol: str = "custom"
    test_clips: frozenset = dataclasses.field(default=frozenset(), repr=False)

    # Not a field: the class says what kind of fold it is.
    speaker_independent = False

    def __post_init__(self):
        for split in ("train", "validation", "test"):
            speakers = [
                check_speaker(s, where=self.name) for s in getattr(self, split)
            ]
            object.__setattr__(
                self, split, tuple(sorted(set(speakers), key=speaker_key))
            )
        object.__setattr__(self, "test_clips", frozenset(self.test_clips))
        if not self.test_clips:
            raise DataError(f"{self.name}: no test clips")

    @classmethod
    def from_index(cls, index, test_clips, clips, protocol="custom",
                   where=None):
        """A fold testing on `test_clips` (stems), training on the rest.

        Args:
            index: int. The fold number, 1-based.
            test_clips: iterable of str. Stems of the test clips.
            clips: the corpus index (clips with a `path` and a `speaker`).
            protocol: str. The protocol name.
            where: str or None. What the list is (for error messages).

        Raises:
            DataError: a test clip missing from `clips` (one line naming
                it), or no training clips left.
        """
        test_clips = frozenset(test_clips)
        clips = list(clips)
        stems = {clip_stem(clip) for clip in clips}
        missing = sorted(test_clips - stems)
        name = f"{protocol}-{index}"
        if missing:
            source = f" ({where})" if where else ""
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise DataError(
                f"{name}: test clip {missing[0]}{more} of the list{source} is "
                "not in the index; this copy of the corpus differs from the "
                "one the list was made from"
            )
        train = [c for c in clips if clip_stem(c) not in test_clips]
        test = [c for c in clips if clip_stem(c) in test_clips]
        if not train:
            raise DataError(f"{name}: no training clips left in the index")
        return cls(index, _speakers(train), (), _speakers(test),
                   protocol=protocol, test_clips=test_clips)

    @property
    def name(self):
        return f"{self.protocol}-{self.index}"

    @property
    def speakers(self):
        """tuple. Every speaker the fold uses, sorted."""
        return tuple(sorted(
            set(self.train + self.validation + self.test), key=speaker_key
        ))

    @property
    def actors(self):
        """tuple. Every speaker the fold uses (an alias of `speakers`)."""
        return self.speakers

    def split(self, files):
        """Split clips by stem into (train, validation, test) lists.

        Args:
            files: iterable of clips with a `path` (a corpus index, a list
                of `Utterance`s or loaded `Clip`s).

        Returns:
            A tuple of three lists, in the order of `files`: the clips
            whose stem is a test clip, every other clip in train, and an
            empty validation list.
        """
        out = ([], [], [])
        for clip in files:
            out[2 if clip_stem(clip) in self.test_clips else 0].append(clip)
        return out

    def to_dict(self):
        return {
            "protocol": self.protocol,
            "index": self.index,
            "train": list(self.train),
            "validation": list(self.validation),
            "test": list(self.test),
            "speaker_independent": False,
            "num_test_clips": len(self.test_clips),
        }


@functools.lru_cache(maxsize=None)
def _read_splits(corpus):
    resource = importlib.resources.files(SPLITS_PACKAGE) / SPLITS_DIR / (
        f"{corpus}.json"
    )
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            f"{corpus}: no EmoBox clip lists (kser/data/corpora/{SPLITS_DIR}/"
            f"{corpus}.json is not installed)"
        ) from None
    return json.loads(text)


def emobox_splits(corpus):
    """dict. EmoBox's clip lists for a corpus, as committed in kser.

    Keys: `corpus`, `protocol`, `speaker_independent` (False), `source`,
    `commit` (the EmoBox commit the lists come from), `files` (EmoBox's
    test lists), `num_clips` (clips in EmoBox's copy of the corpus) and
    `folds`: per fold `index`, `num_train`, `num_test` and `test` (the
    sorted test clip stems).

    Args:
        corpus: str. `"crema_d"` or `"emodb"`.
    """
    data = _read_splits(corpus)
    return json.loads(json.dumps(data))  # a copy the caller may change


def emobox_leaky_folds(corpus, index):
    """EmoBox's clip-level folds of a corpus (protocol `emobox-leaky`).

    NOT speaker-independent: every speaker is in train and test. Offered so
    results compare with EmoBox's published numbers. Validation is empty.

    Args:
        corpus: str. `"crema_d"` or `"emodb"`.
        index: the corpus index; the test clips are looked up in it by stem.

    Returns:
        A list of `ClipFold`s with `protocol="emobox-leaky"`.

    Raises:
        DataError: no index, or a listed test clip missing from it.
    """
    if index is None:
        raise DataError(
            f"{corpus}: protocol {EMOBOX_LEAKY} needs the corpus index (its "
            "test clips are looked up by file name)"
        )
    data = _read_splits(corpus)
    where = f"EmoBox {data['commit'][:7]}"
    return [
        ClipFold.from_index(fold["index"], fold["test"], index,
                            protocol=EMOBOX_LEAKY, where=where)
        for fold in data["folds"]
    ]
