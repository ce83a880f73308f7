"""TESS: names, case-insensitive folders, indexing, the loso protocol."""

import os
import sys
import warnings

import pytest

from kser.data.corpora import class_index
from kser.data.corpora import get_corpus
from kser.data.corpora import load_corpus
from kser.data.corpora.tess import CORPUS
from kser.data.corpora.tess import EMOTIONS
from kser.data.corpora.tess import LABEL_NAMES
from kser.data.corpora.tess import index_tess
from kser.data.corpora.tess import parse_filename
from kser.data.folds import get_folds
from kser.errors import DataError
from tests.data.conftest import touch


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("tess") / "TESS"
    return get_corpus("tess").synthesize(root)


def tree(root, names):
    for name in names:
        touch(root / name)
    return root


def one_warning(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    assert len(caught) == 1, [str(w.message) for w in caught]
    return result, str(caught[0].message)


def test_synthetic_index(synthetic):
    index = synthetic
    assert index.corpus == "tess" and index.skipped == ()
    assert index.label_names == LABEL_NAMES == CORPUS.label_names
    assert set(LABEL_NAMES) == {"angry", "disgust", "fearful", "happy", "neutral",
                                "sad", "surprised"}
    assert index.speakers == ("OAF", "YAF")
    assert index.speaker_counts() == {"OAF": 42, "YAF": 42}
    assert index.label_counts() == {name: 12 for name in LABEL_NAMES}
    rel = [os.path.relpath(u.path, index.root).replace(os.sep, "/") for u in index]
    assert rel == sorted(rel)
    folders = {u.metadata["folder"] for u in index}
    assert {"OAF_Fear", "OAF_Pleasant_surprise", "YAF_pleasant_surprised",
            "YAF_fear", "OAF_angry"} <= folders
    for clip in index:
        meta = clip.metadata
        assert meta["gender"] == "female" and meta["language"] == "en"
        assert meta["age_group"] == {"OAF": "older", "YAF": "younger"}[clip.speaker]
        assert clip.name == f"{clip.speaker}_{meta['word']}_{meta['emotion_word']}.wav"
    surprised = [u for u in index if u.label == "surprised"]
    assert {u.metadata["emotion_word"] for u in surprised} == {"ps"}


def test_load_corpus_get_folds_and_class_index(synthetic):
    index = load_corpus("tess", synthetic.root)
    assert [u.path for u in index] == [u.path for u in synthetic]
    folds = get_folds("loso", corpus="tess", index=index)
    assert folds == get_folds(None, corpus="tess", index=index) == CORPUS.folds()
    assert list(CORPUS.protocols) == ["loso"] and CORPUS.default_protocol == "loso"
    labels = [class_index(u, index.label_names) for u in index]
    assert sorted(set(labels)) == list(range(7))


def test_loso_has_no_validation(synthetic):
    folds = CORPUS.folds("loso", index=synthetic)
    assert len(folds) == 2
    assert [(f.train, f.validation, f.test) for f in folds] == [
        (("OAF",), (), ("YAF",)), (("YAF",), (), ("OAF",))
    ]
    for fold in folds:
        assert fold.protocol == "loso"
        train, val, test = fold.split(synthetic)
        assert len(train) == len(test) == 42 and val == []
        assert {u.speaker for u in train}.isdisjoint(u.speaker for u in test)
    only = synthetic.select(["OAF"])
    with pytest.raises(DataError, match="needs both speakers"):
        CORPUS.folds("loso", index=only)


def test_label_mapping_for_every_word():
    expected = {"angry": "angry", "disgust": "disgust", "fear": "fearful",
                "happy": "happy", "neutral": "neutral", "ps": "surprised",
                "pleasant_surprise": "surprised",
                "pleasant_surprised": "surprised", "sad": "sad"}
    assert EMOTIONS == expected
    for word, label in expected.items():
        for written in (word, word.upper(), word.capitalize()):
            fields = parse_filename(f"OAF_back_{written}.wav")
            assert fields["label"] == label and fields["emotion_word"] == written
    assert parse_filename("yaf_Youth_ps.WAV")["speaker"] == "YAF"
    assert parse_filename("YAF_youth_sad.wav")["word"] == "youth"


@pytest.mark.parametrize("name, what", [
    ("OAF_back_surprised.wav", "emotion 'surprised'"),
    ("OAF_back_calm.wav", "emotion 'calm'"),
    ("MAF_back_angry.wav", "expected <OAF|YAF>_<word>_<emotion>.wav"),
    ("OAF_angry.wav", "expected <OAF|YAF>_<word>_<emotion>.wav"),
    ("OAF_back_angry.mp3", "not a TESS file name"),
])
def test_bad_names_are_errors(name, what):
    with pytest.raises(DataError, match=what) as error:
        parse_filename(name)
    assert name in str(error.value) and "\n" not in str(error.value)


def test_case_insensitive_folders_and_flat_layout(tmp_path):
    root = tree(tmp_path, [
        "data/OAF_Pleasant_surprise/OAF_back_ps.wav",
        "data/YAF_pleasant_surprised/YAF_back_ps.wav",
        "data/OAF_Fear/OAF_back_fear.wav",
        "data/yaf_FEAR/YAF_back_Fear.wav",
        "flat/OAF_bar_sad.wav",
    ])
    index = index_tess(root)
    assert [u.label for u in index] == ["fearful", "surprised", "surprised",
                                        "fearful", "sad"]
    assert index[-1].metadata["folder"] == "flat"


def test_folder_disagreement_errors_or_is_skipped(tmp_path):
    root = tree(tmp_path, ["OAF_angry/OAF_back_angry.wav",
                           "OAF_angry/OAF_bar_sad.wav",
                           "YAF_angry/OAF_base_angry.wav",
                           "OAF_angry/notes.wav", "OAF_angry/info.txt"])
    with pytest.raises(DataError) as error:
        index_tess(root)
    message = str(error.value)
    assert "OAF_bar_sad.wav" in message and "OAF_angry" in message
    assert "skip_invalid=True" in message and "\n" not in message
    index, warning = one_warning(lambda: index_tess(root, skip_invalid=True))
    assert [u.name for u in index] == ["OAF_back_angry.wav"]
    assert len(index.skipped) == 3 and "skipped 3 files" in warning
    bad = tree(tmp_path / "b", ["OAF_happiness/OAF_back_happy.wav"])
    with pytest.raises(DataError, match="not a TESS emotion folder"):
        index_tess(bad)


def test_missing_and_empty_roots(tmp_path):
    with pytest.raises(DataError, match="no such folder.*OAF_angry"):
        index_tess(tmp_path / "nope")
    (tmp_path / "OAF_angry").mkdir()
    touch(tmp_path / "README.txt")
    with pytest.raises(DataError, match="no TESS clips found") as error:
        index_tess(tmp_path)
    assert "\n" not in str(error.value)


def test_duplicate_clip_is_an_error(tmp_path):
    root = tree(tmp_path, ["OAF_Pleasant_surprise/OAF_back_ps.wav",
                           "copy/OAF_back_pleasant_surprise.wav"])
    with pytest.raises(DataError, match="same clip is also at"):
        index_tess(root)


def test_module_imports_no_keras():
    source = open(sys.modules["kser.data.corpora.tess"].__file__).read()
    assert "import keras" not in source and "tensorflow" not in source


def test_synthesize_speaker_choices(tmp_path):
    index = CORPUS.synthesize(tmp_path / "one", speakers=1)
    assert index.speakers == ("OAF",) and len(index) == 42
    with pytest.raises(DataError, match="unknown speakers"):
        CORPUS.synthesize(tmp_path / "bad", speakers=["MAF"])
    with pytest.raises(DataError, match="at least one speaker"):
        CORPUS.synthesize(tmp_path / "none", speakers=0)
