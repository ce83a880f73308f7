"""RAVDESS's fold protocols: the paper's 12 folds and EmoBox's 6.

Both are fixed lists of actors, the same whatever is found on disk; the
generic `Fold` and `speaker_kfold` are in `kser.data.folds`.
"""

from kser.data.corpora.ravdess import ACTORS
from kser.data.folds import Fold
from kser.data.folds import speaker_kfold

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
