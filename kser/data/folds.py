"""Speaker-disjoint folds: the paper's 12 folds, EmoBox's 6, and a helper.

Every fold is a `Fold` of actor ids; building one checks that no actor is in
two of its splits. `Fold.split` turns an index of clips into the three
lists.
"""

import dataclasses

import numpy as np

from kser.data.ravdess import ACTORS
from kser.errors import DataError

# EmoBox's RAVDESS protocol: 6 folds of 4 test actors each (its
# data/ravdess/fold_*/ravdess_test_fold_*.jsonl).
EMOBOX_TEST_ACTORS = (
    (1, 11, 20, 21),
    (4, 10, 12, 14),
    (8, 9, 19, 23),
    (3, 5, 7, 24),
    (2, 15, 16, 18),
    (6, 13, 17, 22),
)

PROTOCOLS = ("paper", "emobox")


@dataclasses.dataclass(frozen=True)
class Fold:
    """One speaker-disjoint split of actors into train, validation and test.

    Args:
        index: int. The fold number, 1-based.
        train: tuple of int. Training actors.
        validation: tuple of int. Validation actors (may be empty).
        test: tuple of int. Test actors.
        protocol: str. Which protocol the fold belongs to, e.g. `"paper"`.

    Raises:
        DataError: an actor is in two splits.

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

    def __post_init__(self):
        for split in ("train", "validation", "test"):
            object.__setattr__(
                self, split, tuple(sorted(int(a) for a in getattr(self, split)))
            )
        splits = {
            "train": self.train,
            "validation": self.validation,
            "test": self.test,
        }
        seen = {}
        for split, actors in splits.items():
            if len(set(actors)) != len(actors):
                raise DataError(
                    f"{self.name}: an actor is listed twice in {split}"
                )
            for actor in actors:
                if actor in seen:
                    raise DataError(
                        f"{self.name}: actor {actor:02d} is in both "
                        f"{seen[actor]} and {split}; folds must be "
                        "speaker-disjoint"
                    )
                seen[actor] = split
        if not self.train or not self.test:
            raise DataError(f"{self.name}: train and test must not be empty")

    @property
    def name(self):
        return f"{self.protocol}-{self.index}"

    @property
    def actors(self):
        """tuple of int. Every actor the fold uses."""
        return tuple(sorted(self.train + self.validation + self.test))

    def split(self, files):
        """Split clips by actor into (train, validation, test) lists.

        Args:
            files: iterable of objects with an `actor` attribute, such as a
                `RavdessIndex` or a list of `RavdessFile`.

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
            if clip.actor in train:
                out[0].append(clip)
            elif clip.actor in validation:
                out[1].append(clip)
            elif clip.actor in test:
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
        speakers: iterable of int. Speaker ids.
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
    speakers = sorted(int(s) for s in speakers)
    if len(set(speakers)) != len(speakers):
        raise DataError("speaker_kfold: a speaker is listed twice")
    minimum = 3 if validation else 2
    if num_folds < minimum or num_folds > len(speakers):
        raise DataError(
            f"speaker_kfold: num_folds must be between {minimum} and the "
            f"number of speakers ({len(speakers)}), got {num_folds}"
        )
    if shuffle:
        speakers = list(np.random.default_rng(seed).permutation(speakers))
    groups = [
        tuple(int(s) for s in g) for g in np.array_split(speakers, num_folds)
    ]
    folds = []
    for k in range(num_folds):
        test = groups[(k + 1) % num_folds]
        val = groups[k] if validation else ()
        train = [s for s in speakers if s not in test and s not in val]
        folds.append(Fold(k + 1, train, val, test, protocol=protocol))
    return folds


def paper_folds():
    """The 12 folds of the paper's Table I.

    Fold k (1..12) validates on actors 2k-1 and 2k and tests on the next
    pair, 2k+1 and 2k+2; fold 12 tests on actors 01 and 02. The other 20
    actors train.

    Returns:
        A list of 12 `Fold`s with `protocol="paper"`.
    """
    return speaker_kfold(ACTORS, num_folds=12, protocol="paper")


def _emobox_validation(fold_number, test):
    # Walk the paper's actor pairs (1,2), (3,4), ... from pair 2k-1 on and
    # take the first pair with no test actor: one male and one female
    # actor, 18 left to train, and no actor validates twice across folds.
    num_pairs = len(ACTORS) // 2
    for step in range(num_pairs):
        j = (2 * (fold_number - 1) + step) % num_pairs
        pair = (2 * j + 1, 2 * j + 2)
        if not set(pair) & set(test):
            return pair
    raise AssertionError("unreachable: every fold leaves a free pair")


def emobox_folds(validation=True):
    """EmoBox's 6-fold RAVDESS protocol, so results compare with its numbers.

    Test actors per fold: {1,11,20,21}, {4,10,12,14}, {8,9,19,23},
    {3,5,7,24}, {2,15,16,18}, {6,13,17,22}. EmoBox itself has no
    validation split; kser validates fold k on the first actor pair
    (2j-1, 2j), j = 2k-1, 2k, ... (wrapping), with no test actor:
    (3,4), (5,6), (11,12), (13,14), (19,20), (23,24). Each is one male
    and one female actor, as in the paper's pairs, and 18 actors train.

    Args:
        validation: bool. Hold out the validation pair; with False the 20
            non-test actors all train, as in EmoBox.

    Returns:
        A list of 6 `Fold`s with `protocol="emobox"`.
    """
    folds = []
    for k, test in enumerate(EMOBOX_TEST_ACTORS, start=1):
        val = _emobox_validation(k, test) if validation else ()
        train = [a for a in ACTORS if a not in test and a not in val]
        folds.append(Fold(k, train, val, test, protocol="emobox"))
    return folds


def get_folds(protocol):
    """The folds of a named protocol.

    Args:
        protocol: str. `"paper"` (12 folds, Table I) or `"emobox"` (6 folds).

    Returns:
        A list of `Fold`s.
    """
    if protocol == "paper":
        return paper_folds()
    if protocol == "emobox":
        return emobox_folds()
    raise DataError(
        f"unknown fold protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}"
    )


def get_fold(protocol, index):
    """One fold of a named protocol, by its 1-based number.

    Args:
        protocol: str. `"paper"` or `"emobox"`.
        index: int. The fold number, 1-based.
    """
    folds = get_folds(protocol)
    if not 1 <= int(index) <= len(folds):
        raise DataError(f"{protocol} has folds 1..{len(folds)}, not {index}")
    return folds[int(index) - 1]
