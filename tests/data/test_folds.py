import pytest

from kser.data.folds import EMOBOX_TEST_ACTORS
from kser.data.folds import Fold
from kser.data.folds import emobox_folds
from kser.data.folds import get_fold
from kser.data.folds import get_folds
from kser.data.folds import paper_folds
from kser.data.folds import speaker_kfold
from kser.data.ravdess import ACTORS
from kser.data.ravdess import RavdessFile
from kser.errors import DataError

# The paper's Table I, written out: (validation actors, test actors).
TABLE_I = [
    ((1, 2), (3, 4)),
    ((3, 4), (5, 6)),
    ((5, 6), (7, 8)),
    ((7, 8), (9, 10)),
    ((9, 10), (11, 12)),
    ((11, 12), (13, 14)),
    ((13, 14), (15, 16)),
    ((15, 16), (17, 18)),
    ((17, 18), (19, 20)),
    ((19, 20), (21, 22)),
    ((21, 22), (23, 24)),
    ((23, 24), (1, 2)),
]


def assert_disjoint(fold, actors=ACTORS):
    train, val, test = set(fold.train), set(fold.validation), set(fold.test)
    assert not train & val and not train & test and not val & test
    assert train | val | test == set(actors)


def test_paper_folds_are_table_one():
    folds = paper_folds()
    assert len(folds) == 12
    for k, (fold, (val, test)) in enumerate(zip(folds, TABLE_I), start=1):
        assert fold.index == k and fold.protocol == "paper"
        assert fold.validation == val and fold.test == test
        assert fold.train == tuple(a for a in ACTORS if a not in val + test)
        assert len(fold.train) == 20
        assert_disjoint(fold)
    # The paper's best fold: validation 05-06, test 07-08.
    assert folds[2].name == "paper-3" and folds[2].test == (7, 8)


def test_emobox_folds():
    folds = emobox_folds()
    assert [f.test for f in folds] == [
        tuple(sorted(t)) for t in EMOBOX_TEST_ACTORS
    ]
    assert [set(f.test) for f in folds] == [
        {1, 11, 20, 21},
        {4, 10, 12, 14},
        {8, 9, 19, 23},
        {3, 5, 7, 24},
        {2, 15, 16, 18},
        {6, 13, 17, 22},
    ]
    assert [f.validation for f in folds] == [
        (3, 4),
        (5, 6),
        (11, 12),
        (13, 14),
        (19, 20),
        (23, 24),
    ]
    for fold in folds:
        assert_disjoint(fold)
        assert len(fold.train) == 18
        # One male (odd) and one female (even) validation actor.
        assert sorted(a % 2 for a in fold.validation) == [0, 1]
    no_val = emobox_folds(validation=False)
    assert all(f.validation == () and len(f.train) == 20 for f in no_val)


@pytest.mark.parametrize(
    "folds", [paper_folds(), emobox_folds(), emobox_folds(False)]
)
def test_every_actor_tested_exactly_once(folds):
    tested = [a for f in folds for a in f.test]
    assert sorted(tested) == list(ACTORS)
    for fold in folds:
        assert_disjoint(fold)


def test_validation_never_repeats_across_emobox_folds():
    vals = [a for f in emobox_folds() for a in f.validation]
    assert len(vals) == len(set(vals))


def test_speaker_kfold_reproduces_paper_folds():
    assert speaker_kfold(ACTORS, 12, protocol="paper") == paper_folds()


@pytest.mark.parametrize(
    "num_folds, validation", [(2, False), (3, True), (5, True), (10, False)]
)
@pytest.mark.parametrize("shuffle", [False, True])
def test_speaker_kfold_is_disjoint(num_folds, validation, shuffle):
    speakers = list(range(100, 131))  # 31 speakers, uneven groups
    folds = speaker_kfold(
        speakers, num_folds, validation=validation, shuffle=shuffle, seed=3
    )
    assert len(folds) == num_folds
    assert sorted(a for f in folds for a in f.test) == speakers
    for fold in folds:
        assert_disjoint(fold, speakers)
        assert bool(fold.validation) == validation
    again = speaker_kfold(
        speakers, num_folds, validation=validation, shuffle=shuffle, seed=3
    )
    assert again == folds


def test_speaker_kfold_shuffle_depends_on_seed():
    a = speaker_kfold(range(20), 4, shuffle=True, seed=0)
    b = speaker_kfold(range(20), 4, shuffle=True, seed=1)
    assert [f.test for f in a] != [f.test for f in b]


def test_speaker_kfold_bad_arguments():
    with pytest.raises(DataError, match="num_folds"):
        speaker_kfold(range(5), 2, validation=True)
    with pytest.raises(DataError, match="num_folds"):
        speaker_kfold(range(5), 6)
    with pytest.raises(DataError, match="listed twice"):
        speaker_kfold([1, 1, 2, 3], 3)


def test_fold_rejects_overlap():
    with pytest.raises(DataError, match="actor 03 is in both train and test"):
        Fold(1, train=(1, 2, 3), validation=(4,), test=(3, 5))
    with pytest.raises(DataError, match="in both validation and test"):
        Fold(1, train=(1,), validation=(4,), test=(4,))
    with pytest.raises(DataError, match="must not be empty"):
        Fold(1, train=(), validation=(), test=(1,))


def test_fold_split_by_actor():
    files = [RavdessFile(3, 1, 1, 1, 1, 1, actor) for actor in ACTORS]
    train, val, test = paper_folds()[11].split(files)
    assert [f.actor for f in val] == [23, 24]
    assert [f.actor for f in test] == [1, 2]
    assert [f.actor for f in train] == list(range(3, 23))
    fold = Fold(1, train=(1,), validation=(), test=(2,))
    assert fold.split(files) == ([files[0]], [], [files[1]])


def test_get_folds_by_name():
    assert get_folds("paper") == paper_folds()
    assert get_folds("emobox") == emobox_folds()
    assert get_fold("paper", 3).test == (7, 8)
    with pytest.raises(DataError, match="unknown fold protocol 'iemocap'"):
        get_folds("iemocap")
    with pytest.raises(DataError, match="folds 1..6"):
        get_fold("emobox", 7)


def test_fold_to_dict():
    d = paper_folds()[0].to_dict()
    assert (
        d["validation"] == [1, 2]
        and d["test"] == [3, 4]
        and len(d["train"]) == 20
    )
