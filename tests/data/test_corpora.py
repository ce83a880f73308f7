"""The corpus seam: registry, base types, class indices, generic folds."""

import pytest

import kser.data
from kser.data.corpora import CORPORA
from kser.data.corpora import Corpus
from kser.data.corpora import CorpusIndex
from kser.data.corpora import Utterance
from kser.data.corpora import class_index
from kser.data.corpora import corpus_names
from kser.data.corpora import get_corpus
from kser.data.corpora import load_corpus
from kser.data.folds import Fold
from kser.data.folds import emobox_folds
from kser.data.folds import get_fold
from kser.data.folds import get_folds
from kser.data.folds import paper_folds
from kser.data.folds import speaker_kfold
from kser.data.ravdess import EMOTIONS
from kser.data.ravdess import index_ravdess
from kser.data.ravdess import parse_filename
from kser.errors import DataError
from kser.labels import PAPER_EMOTIONS
from tests.data.conftest import touch


def utterances():
    return [
        Utterance("f1/a.wav", "angry", "F01", {"session": 1}),
        Utterance("f1/b.wav", "sad", "F01"),
        Utterance("m2/c.wav", "angry", "M02"),
        Utterance("f3/d.wav", "happy", "F03"),
        Utterance("m4/e.wav", "neutral", "M04"),
    ]


def test_registry():
    assert CORPORA["ravdess"] == "kser.data.corpora.ravdess"
    assert corpus_names()[0] == "ravdess"
    for name in corpus_names():
        # Each registered corpus module builds, with labels and protocols.
        other = get_corpus(name)
        assert other.name == name and other.label_names
        assert other.default_protocol in other.protocols
    corpus = get_corpus("ravdess")
    assert isinstance(corpus, Corpus) and corpus.name == "ravdess"
    assert corpus.label_names == EMOTIONS == PAPER_EMOTIONS
    assert list(corpus.protocols) == ["paper", "emobox"]
    assert corpus.default_protocol == "paper"
    assert kser.data.get_corpus is get_corpus
    for name in ("CORPORA", "Corpus", "CorpusIndex", "Utterance",
                 "class_index", "corpus_names", "load_corpus"):
        assert name in dir(kser.data)
    assert "num_frames" not in kser.data.__all__


def test_unknown_corpus_is_one_line():
    with pytest.raises(DataError, match="unknown corpus 'nope'") as error:
        get_corpus("nope")
    assert "ravdess" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(DataError, match="unknown corpus"):
        load_corpus("nope", ".")
    with pytest.raises(DataError, match="unknown corpus"):
        get_folds("paper", corpus="nope")


def test_load_corpus_equals_index_ravdess(tmp_path):
    for actor in (1, 2):
        for clip in kser.data.expected_speech_clips(actor):
            touch(tmp_path / f"Actor_{actor:02d}" / clip.name)
    index = load_corpus("ravdess", tmp_path)
    expected = index_ravdess(tmp_path)
    assert list(index) == list(expected)
    assert [f.path for f in index] == [f.path for f in expected]
    assert index.label_names == EMOTIONS
    assert index.speakers == index.actors == (1, 2)
    assert isinstance(index, CorpusIndex)
    assert index.label_counts() == index.emotion_counts()
    assert index.speaker_counts() == {1: 60, 2: 60}
    with pytest.raises(DataError, match="not the complete RAVDESS"):
        load_corpus("ravdess", tmp_path, require_complete=True)
    assert kser.data.load_corpus("ravdess", tmp_path, actors=[2]).speakers == (2,)


def test_ravdess_file_speaker_and_label_name():
    clip = parse_filename("03-01-06-01-02-01-12.wav")
    assert clip.speaker == clip.actor == 12
    assert clip.label_name == clip.emotion_name == "fearful"
    assert clip.label == 5


def test_class_index():
    clip = parse_filename("03-01-05-01-01-01-01.wav")
    assert class_index(clip, EMOTIONS) == 4
    assert class_index(clip, ["sad", "angry"]) == 1
    assert class_index(Utterance("x.wav", "sad", 1), ["angry", "sad"]) == 1

    class Plain:  # no label_name, a str label
        path = "plain.wav"
        label = "happy"

    assert class_index(Plain(), ("neutral", "happy")) == 1
    with pytest.raises(DataError, match="x.wav: label 'sad' is not one of"):
        class_index(Utterance("x.wav", "sad", 1), ["angry", "happy"])
    with pytest.raises(DataError, match="03-01-05-01-01-01-01.wav"):
        class_index(clip, ["neutral"])

    class IntLabel:
        path = "int.wav"
        label = 3

    with pytest.raises(DataError, match="int.wav: no label name"):
        class_index(IntLabel(), EMOTIONS)


def test_utterance():
    u = Utterance("dir/a.wav", "angry", "F01", {"gender": "female"})
    assert u.name == "a.wav" and u.label_name == "angry"
    assert u == Utterance("dir/a.wav", "angry", "F01")  # metadata not compared
    assert Utterance("a.wav", "sad", 7).speaker == 7
    with pytest.raises(DataError, match="a.wav: unknown label 'furious'"):
        Utterance("a.wav", "furious", "F01")
    with pytest.raises(DataError, match="neither an int nor a str"):
        Utterance("a.wav", "sad", None)


def test_corpus_index():
    index = CorpusIndex(
        utterances(), ("neutral", "happy", "sad", "angry"), root="/c", corpus="toy"
    )
    assert len(index) == 5 and index[0].name == "a.wav"
    assert index.speakers == ("F01", "F03", "M02", "M04")
    assert index.speaker_counts() == {"F01": 2, "F03": 1, "M02": 1, "M04": 1}
    assert index.label_counts() == {"neutral": 1, "happy": 1, "sad": 1, "angry": 2}
    picked = index.select(["F01", "M04"])
    assert [u.name for u in picked] == ["a.wav", "b.wav", "e.wav"]
    assert picked.label_names == index.label_names
    report = index.report()
    assert "toy: 5 clips from 4 speakers in /c" in report
    assert "angry 2" in report


def test_fold_with_str_speakers():
    fold = Fold(1, train=["M02", "F01"], validation=["F03"], test=["M04"])
    assert fold.train == ("F01", "M02")
    assert fold.speakers == fold.actors == ("F01", "F03", "M02", "M04")
    train, val, test = fold.split(utterances())
    assert [u.name for u in train] == ["a.wav", "b.wav", "c.wav"]
    assert [u.name for u in val] == ["d.wav"]
    assert [u.name for u in test] == ["e.wav"]
    assert fold.to_dict()["train"] == ["F01", "M02"]
    with pytest.raises(DataError, match="speaker F01 is in both train and test"):
        Fold(1, train=["F01"], validation=[], test=["F01"])
    folds = speaker_kfold(["M04", "F01", "M02", "F03"], 2, validation=False)
    assert [f.test for f in folds] == [("M02", "M04"), ("F01", "F03")]
    shuffled = speaker_kfold(["a", "b", "c", "d", "e"], 3, shuffle=True, seed=1)
    assert sorted(s for f in shuffled for s in f.test) == ["a", "b", "c", "d", "e"]


def test_fold_split_falls_back_to_actor():
    class Legacy:  # no speaker attribute
        def __init__(self, actor):
            self.actor = actor

    files = [Legacy(a) for a in (1, 2, 3)]
    train, val, test = Fold(1, train=(1,), validation=(2,), test=(3,)).split(files)
    assert (train, val, test) == ([files[0]], [files[1]], [files[2]])


def test_get_folds_dispatches_to_the_corpus():
    assert get_folds("paper", corpus="ravdess") == paper_folds()
    assert get_folds("emobox", corpus="ravdess") == emobox_folds()
    assert get_folds(None, corpus="ravdess") == paper_folds()
    assert get_corpus("ravdess").folds("paper") == paper_folds()
    assert get_fold("emobox", 2, corpus="ravdess") == emobox_folds()[1]
    with pytest.raises(DataError) as error:
        get_folds("iemocap", corpus="ravdess")
    message = str(error.value)
    assert "unknown fold protocol 'iemocap'" in message
    assert "ravdess" in message and "paper, emobox" in message


def test_folds_module_reexports_ravdess_protocols():
    from kser.data import folds
    from kser.data.corpora import ravdess_protocols

    assert folds.PROTOCOLS == ("paper", "emobox")
    assert folds.paper_folds is ravdess_protocols.paper_folds
    assert folds.EMOBOX_TEST_ACTORS is ravdess_protocols.EMOBOX_TEST_ACTORS
    with pytest.raises(AttributeError, match="nope"):
        folds.nope


def test_a_corpus_from_parts(tmp_path):
    def index_toy(root, speakers=None):
        clips = [u for u in utterances() if speakers is None or u.speaker in speakers]
        return CorpusIndex(clips, ("neutral", "happy", "sad", "angry"), root, "toy")

    toy = Corpus(
        "toy",
        ("neutral", "happy", "sad", "angry"),
        index_toy,
        {"loso": lambda index: speaker_kfold(index.speakers, 4, protocol="loso")},
        "loso",
    )
    index = toy.index(tmp_path, speakers={"F01", "M02", "F03"})
    assert index.speakers == ("F01", "F03", "M02")
    folds = toy.folds(None, index=toy.index(tmp_path))
    assert [f.test for f in folds] == [("F03",), ("M02",), ("M04",), ("F01",)]
    labels = [class_index(u, index.label_names) for u in index]
    assert labels == [3, 2, 3, 1]
    with pytest.raises(DataError, match="corpus toy"):
        toy.folds("paper")
    with pytest.raises(DataError, match="default protocol"):
        Corpus("bad", ("sad",), index_toy, {"a": None}, "b")
    with pytest.raises(DataError, match="unknown label"):
        Corpus("bad", ("meh",), index_toy, {"a": None}, "a")
