"""Speaker-disjoint folds for any corpus, and each corpus's protocols.

Every fold is a `Fold` of speaker ids (ints, such as RAVDESS actors, or
strings); building one checks that no speaker is in two of its splits.
`Fold.split` turns an index of clips into the three lists by
`clip.speaker`. `speaker_kfold` cuts any speakers into k folds.
`check_fold_speakers` checks that a corpus holds every validation and test
speaker of its folds; `fold_speaker_report` counts each fold's clips per
speaker.

Named protocols belong to their corpus (`kser.data.corpora`):
`get_folds("paper", corpus="ravdess")`. RAVDESS's `paper_folds`,
`emobox_folds`, `EMOBOX_TEST_ACTORS` and `PROTOCOLS` are importable from
here too; they live in `kser.data.corpora.ravdess_protocols`.
"""

import dataclasses

import numpy as np

from kser.data.corpora.base import check_speaker
from kser.data.corpora.base import speaker_key
from kser.errors import DataError

# Names re-exported, on first use, from the RAVDESS protocols module:
# importing it here at module top would be circular.
_RAVDESS_NAMES = (
    "EMOBOX_TEST_ACTORS",
    "PROTOCOLS",
    "emobox_folds",
    "paper_folds",
)


def __getattr__(name):
    if name in _RAVDESS_NAMES:
        import kser.data.corpora.ravdess_protocols as protocols

        return getattr(protocols, name)
    raise AttributeError(f"module 'kser.data.folds' has no attribute {name!r}")


def _speaker_label(speaker):
    # RAVDESS keeps its wording: "actor 07".
    if isinstance(speaker, int):
        return f"actor {speaker:02d}"
    return f"speaker {speaker}"


def _speaker_of(clip):
    speaker = getattr(clip, "speaker", None)
    if speaker is None:
        speaker = getattr(clip, "actor", None)
    return speaker


@dataclasses.dataclass(frozen=True)
class Fold:
    """One speaker-disjoint split of speakers into train, validation and test.

    Speakers are ints (RAVDESS actors) or strings; each split is stored
    sorted (ints numerically, before strings).

    Args:
        index: int. The fold number, 1-based.
        train: tuple of int or str. Training speakers.
        validation: tuple of int or str. Validation speakers (may be empty).
        test: tuple of int or str. Test speakers.
        protocol: str. Which protocol the fold belongs to, e.g. `"paper"`.

    Raises:
        DataError: a speaker is in two splits.

    Examples:
    ```python
    fold = paper_folds()[2]  # fold 3, the paper's best fold
    fold.validation, fold.test  # ((5, 6), (7, 8))
    train_files, val_files, test_files = fold.split(index)
    ```
    """

    index: int
    train: tuple
    validation: tuple
    test: tuple
    protocol: str = "custom"

    # Not a field: every `Fold` is speaker-disjoint (a clip-level
    # `kser.data.clip_folds.ClipFold` says False).
    speaker_independent = True

    def __post_init__(self):
        for split in ("train", "validation", "test"):
            speakers = [
                check_speaker(s, where=self.name) for s in getattr(self, split)
            ]
            object.__setattr__(
                self, split, tuple(sorted(speakers, key=speaker_key))
            )
        splits = {
            "train": self.train,
            "validation": self.validation,
            "test": self.test,
        }
        seen = {}
        for split, speakers in splits.items():
            if len(set(speakers)) != len(speakers):
                raise DataError(
                    f"{self.name}: a speaker is listed twice in {split}"
                )
            for speaker in speakers:
                if speaker in seen:
                    raise DataError(
                        f"{self.name}: {_speaker_label(speaker)} is in both "
                        f"{seen[speaker]} and {split}; folds must be "
                        "speaker-disjoint"
                    )
                seen[speaker] = split
        if not self.train or not self.test:
            raise DataError(f"{self.name}: train and test must not be empty")

    @property
    def name(self):
        return f"{self.protocol}-{self.index}"

    @property
    def speakers(self):
        """tuple. Every speaker the fold uses, sorted."""
        return tuple(
            sorted(self.train + self.validation + self.test, key=speaker_key)
        )

    @property
    def actors(self):
        """tuple. Every speaker the fold uses (an alias of `speakers`)."""
        return self.speakers

    def split(self, files):
        """Split clips by speaker into (train, validation, test) lists.

        Args:
            files: iterable of clips with a `speaker` (or, failing that, an
                `actor`) attribute: a corpus index, a list of `Utterance`
                or `RavdessFile`, or loaded `Clip`s.

        Returns:
            A tuple of three lists, in the order of `files`. Clips of actors
            outside the fold are left out.
        """
        train, validation, test = (
            set(self.train),
            set(self.validation),
            set(self.test),
        )
        out = ([], [], [])
        for clip in files:
            speaker = _speaker_of(clip)
            if speaker in train:
                out[0].append(clip)
            elif speaker in validation:
                out[1].append(clip)
            elif speaker in test:
                out[2].append(clip)
        return out

    def to_dict(self):
        return {
            "protocol": self.protocol,
            "index": self.index,
            "train": list(self.train),
            "validation": list(self.validation),
            "test": list(self.test),
        }


def _as_folds(folds):
    # One fold (a `Fold` or a `ClipFold`: anything with `split`) or many.
    return [folds] if hasattr(folds, "split") else list(folds)


def _present_counts(files):
    counts = {}
    for clip in files:
        speaker = _speaker_of(clip)
        counts[speaker] = counts.get(speaker, 0) + 1
    return counts


def fold_missing_speakers(fold, files):
    """The validation and test speakers of a fold that have no clip in `files`.

    Training speakers may be absent (a smaller training set is a common
    choice, e.g. a few actors for a quick run); a missing validation or
    test speaker changes what the fold measures.

    Args:
        fold: `Fold` (a clip-level `ClipFold` has no speakers to miss).
        files: a corpus index or iterable of clips with a `speaker` (or
            `actor`).

    Returns:
        dict. `{"validation": (...), "test": (...)}` with only the splits
        that miss speakers; empty when none is missing.
    """
    if not getattr(fold, "speaker_independent", True):
        return {}
    present = _present_counts(files)
    missing = {}
    for split in ("validation", "test"):
        absent = tuple(s for s in getattr(fold, split) if s not in present)
        if absent:
            missing[split] = absent
    return missing


def check_fold_speakers(folds, index, allow_missing=False):
    """Check that every validation and test speaker of the folds has clips.

    A corpus missing a speaker (e.g. a deleted `Actor_07/`) would otherwise
    train and test silently on fewer speakers than the protocol names.

    Args:
        folds: a `Fold` or a list of them.
        index: the corpus index (or a list of its clips).
        allow_missing: bool. Return the missing speakers instead of
            raising (an incomplete corpus, knowingly).

    Returns:
        tuple. The missing speakers over all folds, sorted (empty if none).

    Raises:
        DataError: a validation or test speaker has no clip and
            `allow_missing` is False; the one-line message names the fold,
            split and speakers.
    """
    folds = _as_folds(folds)
    files = list(index)
    parts, missing = [], set()
    for fold in folds:
        for split, absent in fold_missing_speakers(fold, files).items():
            missing.update(absent)
            names = ", ".join(_speaker_label(s) for s in absent)
            parts.append(f"{fold.name}: no {split} clips of {names}")
    missing = tuple(sorted(missing, key=speaker_key))
    if missing and not allow_missing:
        root = getattr(index, "root", None)
        where = f" in {root}" if root else ""
        shown = parts[:4] + ([f"{len(parts) - 4} more"] if len(parts) > 4 else [])
        raise DataError(
            "; ".join(shown) + f"{where} (the corpus is incomplete: restore "
            "those speakers, or allow it with allow_missing_speakers=True; "
            "kser train/cv/recipe: --allow-missing-speakers)"
        )
    return missing


def fold_speaker_report(folds, index, max_listed=12):
    """str. Clips per speaker of each fold's splits, one line per fold.

    Validation and test speakers are listed with their clip counts (absent
    ones as "absent"); training speakers as a total. A split of more than
    `max_listed` speakers is summarised (speakers, clips each).

    Args:
        folds: a `Fold` or a list of them.
        index: the corpus index (or a list of its clips).
        max_listed: int. Most speakers listed one by one per split.
    """
    folds = _as_folds(folds)
    counts = _present_counts(index)
    lines = []
    for fold in folds:
        if not getattr(fold, "speaker_independent", True):
            continue
        parts = []
        for split in ("train", "validation", "test"):
            speakers = getattr(fold, split)
            if not speakers:
                continue
            found = [counts.get(s, 0) for s in speakers]
            absent = [s for s, n in zip(speakers, found) if n == 0]
            text = f"{split} {sum(found)} clips"
            if split != "train" and len(speakers) <= max_listed:
                listed = ", ".join(
                    f"{_speaker_label(s)}: {n}" if n else f"{_speaker_label(s)}: absent"
                    for s, n in zip(speakers, found)
                )
                text += f" ({listed})"
            else:
                present = [n for n in found if n]
                text += f" from {len(present)} of {len(speakers)} speakers"
                if present:
                    text += f" ({min(present)} to {max(present)} each)"
                if absent:
                    shown = ", ".join(_speaker_label(s) for s in absent[:max_listed])
                    more = len(absent) - max_listed
                    text += f"; absent: {shown}" + (f" and {more} more" if more > 0 else "")
            parts.append(text)
        lines.append(f"{fold.name}: " + "; ".join(parts))
    return "\n".join(lines)


def speaker_kfold(
    speakers,
    num_folds,
    validation=True,
    shuffle=False,
    seed=0,
    protocol="custom",
):
    """Speaker-disjoint k-fold splits for any corpus.

    The speakers are cut into `num_folds` groups of nearly equal size (in
    sorted order, or shuffled with `seed`). Fold k tests on group k+1 and,
    as in the paper, validates on group k (fold `num_folds` tests on group 1);
    every other group trains. Every speaker is tested exactly once.

    Args:
        speakers: iterable of int or str. Speaker ids.
        num_folds: int. Number of folds, at least 2 (3 with validation).
        validation: bool. Hold out a validation group; if False, the
            validation split is empty and the rest trains.
        shuffle: bool. Shuffle speakers before grouping.
        seed: int. Seed for `shuffle`.
        protocol: str. Name recorded in each `Fold`.

    Returns:
        A list of `num_folds` `Fold`s.

    Examples:
    ```python
    # Reproduces `paper_folds()`: pairs of actors, rotating.
    speaker_kfold(range(1, 25), num_folds=12)
    ```
    """
    speakers = sorted(
        (check_speaker(s, where="speaker_kfold") for s in speakers),
        key=speaker_key,
    )
    if len(set(speakers)) != len(speakers):
        raise DataError("speaker_kfold: a speaker is listed twice")
    minimum = 3 if validation else 2
    if num_folds < minimum or num_folds > len(speakers):
        raise DataError(
            f"speaker_kfold: num_folds must be between {minimum} and the "
            f"number of speakers ({len(speakers)}), got {num_folds}"
        )
    if shuffle:
        # Permuting positions draws the same order as permuting the ids.
        order = np.random.default_rng(seed).permutation(len(speakers))
        speakers = [speakers[int(i)] for i in order]
    groups = [
        tuple(speakers[int(i)] for i in g)
        for g in np.array_split(np.arange(len(speakers)), num_folds)
    ]
    folds = []
    for k in range(num_folds):
        test = groups[(k + 1) % num_folds]
        val = groups[k] if validation else ()
        train = [s for s in speakers if s not in test and s not in val]
        folds.append(Fold(k + 1, train, val, test, protocol=protocol))
    return folds


def get_folds(protocol, corpus="ravdess", index=None):
    """The folds of one of a corpus's named protocols.

    Args:
        protocol: str or None. For RAVDESS `"paper"` (12 folds, Table I) or
            `"emobox"` (6 folds); None is the corpus's default.
        corpus: str. A name from `kser.data.corpora.CORPORA`.
        index: the corpus index or None; protocols built from the speakers
            found need it.

    Returns:
        A list of `Fold`s.

    Raises:
        DataError: an unknown corpus or protocol.
    """
    from kser.data.corpora import get_corpus

    return get_corpus(corpus).folds(protocol, index=index)


def get_fold(protocol, index, corpus="ravdess"):
    """One fold of a corpus's named protocol, by its 1-based number.

    Args:
        protocol: str. For RAVDESS `"paper"` or `"emobox"`.
        index: int. The fold number, 1-based.
        corpus: str. A name from `kser.data.corpora.CORPORA`.
    """
    folds = get_folds(protocol, corpus=corpus)
    if not 1 <= int(index) <= len(folds):
        raise DataError(f"{protocol} has folds 1..{len(folds)}, not {index}")
    return folds[int(index) - 1]


def balanced_speaker_kfold(
    speaker_groups,
    num_folds,
    validation=True,
    protocol="custom",
):
    """Speaker-disjoint k-fold splits with groups (e.g. genders) balanced.

    Speakers are sorted within each group, the groups interleaved
    (female, male, female, ...), and the interleaved list dealt round-robin
    into `num_folds` speaker groups, so every speaker group holds the
    groups in nearly equal shares. Fold k tests on speaker group k+1 and
    validates on speaker group k, as `speaker_kfold`. Deterministic: no
    seed.

    Args:
        speaker_groups: dict. Speaker id -> group name (e.g. `"female"`);
            a speaker whose group is unknown may map to None.
        num_folds: int. At least 2 (3 with validation), at most the number
            of speakers.
        validation: bool. Hold out a validation speaker group.
        protocol: str. Name recorded in each `Fold`.

    Examples:
    ```python
    balanced_speaker_kfold({1: "male", 2: "female", 3: "male", 4: "female",
                            5: "male", 6: "female"}, num_folds=3)
    ```
    """
    by_group = {}
    for speaker, group in speaker_groups.items():
        check_speaker(speaker, where="balanced_speaker_kfold")
        by_group.setdefault(str(group), []).append(speaker)
    lists = [sorted(v, key=speaker_key) for _, v in sorted(by_group.items())]
    interleaved = []
    for i in range(max((len(v) for v in lists), default=0)):
        interleaved.extend(v[i] for v in lists if i < len(v))
    minimum = 3 if validation else 2
    if num_folds < minimum or num_folds > len(interleaved):
        raise DataError(
            f"balanced_speaker_kfold: num_folds must be between {minimum} and "
            f"the number of speakers ({len(interleaved)}), got {num_folds}"
        )
    groups = [[] for _ in range(num_folds)]
    for i, speaker in enumerate(interleaved):
        groups[i % num_folds].append(speaker)
    folds = []
    for k in range(num_folds):
        test = groups[(k + 1) % num_folds]
        val = groups[k] if validation else ()
        train = [s for s in interleaved if s not in test and s not in val]
        folds.append(Fold(k + 1, train, val, test, protocol=protocol))
    return folds
