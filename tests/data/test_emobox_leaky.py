"""EmoBox's clip-level protocol `emobox-leaky` (CREMA-D, EmoDB) and `ClipFold`.

The synthetic corpora do not hold EmoBox's clips, so `ClipFold` is tested
with hand-made lists on them, and the committed EmoBox lists on indexes
made from their own names (no audio is read).
"""

import itertools
import os
import pickle
import subprocess
import sys

import pytest

from kser.data.clip_folds import EMOBOX_LEAKY
from kser.data.clip_folds import ClipFold
from kser.data.clip_folds import clip_stem
from kser.data.clip_folds import emobox_splits
from kser.data.corpora import crema_d
from kser.data.corpora import emodb
from kser.data.corpora import get_corpus
from kser.data.corpora.base import Utterance
from kser.data.folds import Fold
from kser.data.folds import get_folds
from kser.errors import DataError

COMMIT = "08280f279d47fb55d2c614061c70523d0a338d6b"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def synthetic_emodb(tmp_path_factory):
    return get_corpus("emodb").synthesize(tmp_path_factory.mktemp("e") / "emodb")


@pytest.fixture(scope="module")
def synthetic_crema_d(tmp_path_factory):
    return get_corpus("crema_d").synthesize(tmp_path_factory.mktemp("c") / "cremad")


def utterances(module, folder, stems):
    """An index of clips named `stems` (no files: nothing is read)."""
    clips = []
    for stem in stems:
        fields = module.parse_filename(f"{folder}/{stem}.wav")
        speaker = fields["actor"] if "actor" in fields else fields["speaker"]
        clips.append(Utterance(f"{folder}/{stem}.wav", fields["label"], speaker))
    return clips


def test_committed_crema_d_list():
    data = emobox_splits("crema_d")
    assert data["commit"] == COMMIT and data["protocol"] == EMOBOX_LEAKY
    assert data["speaker_independent"] is False
    assert data["num_clips"] == 7442 and len(data["folds"]) == 1
    (fold,) = data["folds"]
    assert fold["index"] == 1
    assert (fold["num_test"], fold["num_train"]) == (1856, 5586)
    test = fold["test"]
    assert len(test) == len(set(test)) == 1856 and test == sorted(test)
    actors = {crema_d.parse_filename(f"{stem}.wav")["actor"] for stem in test}
    assert actors == set(crema_d.ACTORS)  # all 91 actors are tested


def test_committed_emodb_lists():
    data = emobox_splits("emodb")
    assert data["commit"] == COMMIT and data["protocol"] == EMOBOX_LEAKY
    assert data["speaker_independent"] is False
    assert data["num_clips"] == 535 and len(data["folds"]) == 5
    tests = []
    for k, fold in enumerate(data["folds"], start=1):
        assert fold["index"] == k
        assert (fold["num_test"], fold["num_train"]) == (107, 428)
        test = fold["test"]
        assert len(test) == len(set(test)) == 107 and test == sorted(test)
        speakers = {emodb.parse_filename(f"{s}.wav")["speaker"] for s in test}
        assert speakers == set(emodb.SPEAKERS)  # every speaker is tested
        tests.append(set(test))
    # The 5 test sets partition the 535 clips.
    assert all(not a & b for a, b in itertools.combinations(tests, 2))
    assert len(set().union(*tests)) == 535


def test_emodb_folds_on_the_listed_clips():
    names = sorted(set().union(*(f["test"] for f in emobox_splits("emodb")["folds"])))
    index = utterances(emodb, "wav", names)
    folds = get_folds(EMOBOX_LEAKY, corpus="emodb", index=index)
    assert [f.name for f in folds] == [f"emobox-leaky-{k}" for k in range(1, 6)]
    tested = set()
    for fold in folds:
        assert isinstance(fold, ClipFold) and fold.speaker_independent is False
        train, validation, test = fold.split(index)
        assert (len(train), len(validation), len(test)) == (428, 0, 107)
        train_stems = {clip_stem(c) for c in train}
        test_stems = {clip_stem(c) for c in test}
        assert not train_stems & test_stems
        assert len(train_stems | test_stems) == 535
        # Leaky: every speaker is in train and in test.
        assert fold.train == fold.test == fold.speakers == emodb.SPEAKERS
        assert fold.validation == ()
        tested |= test_stems
    assert len(tested) == 535


def test_crema_d_fold_on_the_listed_clips():
    test_list = emobox_splits("crema_d")["folds"][0]["test"]
    listed = set(test_list)
    # 200 valid CREMA-D names outside the test list stand in for train.
    extra = [
        f"{a}_{s}_{e}_XX"
        for a, s, e in itertools.product(crema_d.ACTORS, crema_d.SENTENCES,
                                         crema_d.EMOTIONS)
        if f"{a}_{s}_{e}_XX" not in listed
    ][:200]
    index = utterances(crema_d, "AudioWAV", test_list + extra)
    (fold,) = get_folds(EMOBOX_LEAKY, corpus="crema_d", index=index)
    train, validation, test = fold.split(index)
    assert (len(train), len(validation), len(test)) == (200, 0, 1856)
    assert {clip_stem(c) for c in test} == listed
    assert not {clip_stem(c) for c in train} & listed
    assert fold.test == crema_d.ACTORS and fold.validation == ()
    assert fold.to_dict()["num_test_clips"] == 1856


def test_clip_fold_with_a_hand_made_list(synthetic_emodb):
    index = synthetic_emodb
    stems = [clip_stem(c) for c in index]
    chosen = [stems[0], stems[15], stems[-1]]  # speakers 03, 08 and 16
    fold = ClipFold.from_index(2, chosen, index, protocol="mine")
    assert fold.name == "mine-2" and fold.index == 2 and fold.protocol == "mine"
    assert fold.speaker_independent is False and Fold.speaker_independent is True
    train, validation, test = fold.split(index)
    assert [clip_stem(c) for c in test] == chosen  # index order
    assert validation == [] and len(train) == len(index) - 3
    assert train == [c for c in index if clip_stem(c) not in chosen]
    assert fold.test == ("03", "08", "16")
    assert fold.train == fold.speakers == fold.actors == emodb.SPEAKERS
    assert fold.validation == ()
    assert fold.to_dict() == {
        "protocol": "mine",
        "index": 2,
        "train": list(emodb.SPEAKERS),
        "validation": [],
        "test": ["03", "08", "16"],
        "speaker_independent": False,
        "num_test_clips": 3,
    }
    assert pickle.loads(pickle.dumps(fold)) == fold  # workers get folds by pickle
    # Membership is by stem: another copy of the clips splits the same way.
    moved = [Utterance(os.path.join("elsewhere", c.name), c.label, c.speaker)
             for c in index]
    assert [c.name for c in fold.split(moved)[2]] == [f"{s}.wav" for s in chosen]


def test_clip_fold_int_speakers(synthetic_crema_d):
    index = synthetic_crema_d
    chosen = [clip_stem(c) for c in index if c.speaker == 1004]
    fold = ClipFold.from_index(1, chosen, index, protocol="p")
    # Every clip of 1004 tests, so 1004 has no training clips.
    assert fold.test == (1004,)
    assert fold.train == tuple(a for a in range(1001, 1011) if a != 1004)
    assert fold.speakers == tuple(range(1001, 1011))
    assert len(fold.split(index)[2]) == 12


@pytest.mark.parametrize("corpus", ["emodb", "crema_d"])
def test_missing_listed_clip_is_a_one_line_error(corpus, request):
    index = request.getfixturevalue(f"synthetic_{corpus}")
    first = emobox_splits(corpus)["folds"][0]["test"]
    have = {clip_stem(c) for c in index}
    missing = sorted(set(first) - have)
    with pytest.raises(DataError) as error:
        get_folds(EMOBOX_LEAKY, corpus=corpus, index=index)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("emobox-leaky-1: test clip ")
    assert missing[0] in message and "EmoBox 08280f2" in message
    assert "differs" in message


def test_hand_made_missing_clip(synthetic_emodb):
    stems = [clip_stem(c) for c in synthetic_emodb][:2]
    with pytest.raises(DataError, match=r"^x-1: test clip 03a01Wz and 1 more") as e:
        ClipFold.from_index(1, stems + ["03a01Wz", "16b10Nz"], synthetic_emodb,
                            protocol="x")
    assert "\n" not in str(e.value)
    every = [clip_stem(c) for c in synthetic_emodb]
    with pytest.raises(DataError, match="no training clips"):
        ClipFold.from_index(1, every, synthetic_emodb, protocol="x")


@pytest.mark.parametrize("corpus", ["emodb", "crema_d"])
def test_protocol_needs_the_index(corpus):
    with pytest.raises(DataError) as error:
        get_folds(EMOBOX_LEAKY, corpus=corpus)
    message = str(error.value)
    assert "\n" not in message and "needs the corpus index" in message


def test_defaults_unchanged():
    assert get_corpus("emodb").default_protocol == "loso"
    assert get_corpus("crema_d").default_protocol == "speaker-5fold"
    assert all(f.speaker_independent for f in get_folds("loso", corpus="emodb"))


def test_lists_are_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        config = tomllib.load(f)
    data = config["tool"]["setuptools"]["package-data"]["kser.data.corpora"]
    assert "emobox_splits/*.json" in data
    folder = os.path.join(ROOT, "kser", "data", "corpora", "emobox_splits")
    for name in ("crema_d.json", "emodb.json"):
        assert os.path.getsize(os.path.join(folder, name)) < 100_000


def test_module_imports_no_keras():
    code = (
        "import sys, kser.data.clip_folds, kser.data.corpora.emodb, "
        "kser.data.corpora.crema_d; "
        "print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
