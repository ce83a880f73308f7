"""EmoDB: names, indexing, the loso protocol."""

import os
import sys
import warnings

import pytest

from kser.data.corpora import class_index
from kser.data.corpora import get_corpus
from kser.data.corpora import load_corpus
from kser.data.corpora.emodb import CORPUS
from kser.data.corpora.emodb import EMOTIONS
from kser.data.corpora.emodb import GENDERS
from kser.data.corpora.emodb import LABEL_NAMES
from kser.data.corpora.emodb import SPEAKERS
from kser.data.corpora.emodb import TEXTS
from kser.data.corpora.emodb import index_emodb
from kser.data.corpora.emodb import parse_filename
from kser.data.folds import get_folds
from kser.errors import DataError
from tests.data.conftest import touch


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("emodb") / "emodb"
    return get_corpus("emodb").synthesize(root)


def tree(root, names):
    for name in names:
        touch(root / "wav" / name)
    return root


def one_warning(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    assert len(caught) == 1, [str(w.message) for w in caught]
    return result, str(caught[0].message)


def test_synthetic_index(synthetic):
    index = synthetic
    assert index.corpus == "emodb" and index.skipped == ()
    assert index.label_names == LABEL_NAMES == CORPUS.label_names
    assert set(LABEL_NAMES) == {"angry", "boredom", "disgust", "fearful", "happy",
                                "sad", "neutral"}
    assert index.speakers == SPEAKERS == ("03", "08", "09", "10", "11", "12",
                                          "13", "14", "15", "16")
    assert index.speaker_counts() == {s: 14 for s in SPEAKERS}
    assert index.label_counts() == {name: 20 for name in LABEL_NAMES}
    rel = [os.path.relpath(u.path, index.root) for u in index]
    assert rel == sorted(rel) and all(r.startswith("wav" + os.sep) for r in rel)
    for clip in index:
        meta = clip.metadata
        assert meta["gender"] == GENDERS[clip.speaker]
        assert meta["language"] == "de" and meta["version"] in "ab"
        assert meta["text"] in TEXTS and clip.name[2:5] == meta["text"]
        assert meta["text_type"] == ("short" if meta["text"][0] == "a" else "long")
        assert EMOTIONS[meta["emotion_code"]] == clip.label


def test_load_corpus_get_folds_and_class_index(synthetic):
    index = load_corpus("emodb", synthetic.root)
    assert [u.path for u in index] == [u.path for u in synthetic]
    folds = get_folds("loso", corpus="emodb", index=index)
    assert folds == get_folds(None, corpus="emodb", index=index)
    assert folds == CORPUS.folds("loso") == CORPUS.folds()  # fixed speakers
    assert list(CORPUS.protocols) == ["loso", "emobox-leaky"]
    assert CORPUS.default_protocol == "loso"
    labels = [class_index(u, index.label_names) for u in index]
    assert sorted(set(labels)) == list(range(7))
    clip = next(u for u in index if u.label == "boredom")
    assert class_index(clip, LABEL_NAMES) == LABEL_NAMES.index("boredom")


def test_loso_folds(synthetic):
    folds = CORPUS.folds("loso", index=synthetic)
    assert len(folds) == 10
    assert [f.test for f in folds] == [(s,) for s in SPEAKERS[1:] + SPEAKERS[:1]]
    assert [f.validation for f in folds] == [(s,) for s in SPEAKERS]
    for fold in folds:
        assert fold.protocol == "loso"
        assert set(fold.train).isdisjoint(fold.validation + fold.test)
        assert set(fold.validation).isdisjoint(fold.test)
        assert len(fold.train) == 8
        train, val, test = fold.split(synthetic)
        assert len(train) == 112 and len(val) == 14 and len(test) == 14
    assert sorted(s for f in folds for s in f.test) == list(SPEAKERS)
    # Fold 10 wraps: validates on the last speaker, tests on the first.
    assert folds[-1].validation == ("16",) and folds[-1].test == ("03",)


def test_loso_on_a_subset_and_too_few(tmp_path):
    index = index_emodb(tree(tmp_path, ["03a01Wa.wav", "08a01Wa.wav", "16b10Na.wav"]))
    folds = CORPUS.folds("loso", index=index)
    assert [f.test for f in folds] == [("08",), ("16",), ("03",)]
    small = index.select(["03", "08"])
    with pytest.raises(DataError, match="at least 3 speakers"):
        CORPUS.folds("loso", index=small)


def test_label_mapping_for_every_code():
    assert EMOTIONS == {"W": "angry", "L": "boredom", "E": "disgust",
                        "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
    for code, label in EMOTIONS.items():
        fields = parse_filename(f"wav/11b03{code}d.wav")
        assert fields["label"] == label and fields["emotion_code"] == code
        assert fields["speaker"] == "11" and fields["version"] == "d"
    for speaker in SPEAKERS:
        assert parse_filename(f"{speaker}a01Fa.wav")["speaker"] == speaker
    for text in TEXTS:
        assert parse_filename(f"03{text}Ng.WAV")["text"] == text
    assert {s for s, g in GENDERS.items() if g == "male"} == {"03", "10", "11",
                                                             "12", "15"}


@pytest.mark.parametrize("name, what", [
    ("03a01Fa", "expected SSTTTEV.wav"),
    ("03a01F.wav", "expected SSTTTEV.wav"),
    ("03a01fa.wav", "expected SSTTTEV.wav"),
    ("03a01Xa.wav", "emotion X"),
    ("04a01Fa.wav", "speaker 04"),
    ("03a03Fa.wav", "text a03"),
    ("03a01Fh.wav", "version h"),
    ("3a01Fa.wav", "not an EmoDB file name"),
])
def test_bad_names_are_errors(name, what):
    with pytest.raises(DataError, match=what) as error:
        parse_filename(name)
    assert name in str(error.value) and "\n" not in str(error.value)


def test_bad_file_in_tree_errors_or_is_skipped(tmp_path):
    root = tree(tmp_path, ["03a01Fa.wav", "08b10Wc.wav", "03a01Fa_copy.wav",
                           "erkennung.txt"])
    touch(tmp_path / "silb" / "03a01Fa.silb")
    with pytest.raises(DataError) as error:
        index_emodb(root)
    message = str(error.value)
    assert "03a01Fa_copy.wav" in message and "SSTTTEV.wav" in message
    assert "skip_invalid=True" in message and "\n" not in message
    index, warning = one_warning(lambda: index_emodb(root, skip_invalid=True))
    assert [u.name for u in index] == ["03a01Fa.wav", "08b10Wc.wav"]
    assert len(index.skipped) == 1 and "skipped 1 file not named" in warning


def test_missing_empty_and_wrong_roots(tmp_path):
    with pytest.raises(DataError, match="no such folder.*wav/"):
        index_emodb(tmp_path / "nope")
    touch(tmp_path / "03a01Fa.wav")  # clips at the root, not in wav/
    with pytest.raises(DataError, match="no wav/ folder") as error:
        index_emodb(tmp_path)
    assert "\n" not in str(error.value)
    (tmp_path / "wav").mkdir()
    with pytest.raises(DataError, match="no EmoDB clips found"):
        index_emodb(tmp_path)


def test_duplicate_clip_is_an_error(tmp_path):
    root = tree(tmp_path, ["03a01Fa.wav", "again/03a01Fa.wav"])
    with pytest.raises(DataError, match="same clip is also at"):
        index_emodb(root)


def test_module_imports_no_keras():
    source = open(sys.modules["kser.data.corpora.emodb"].__file__).read()
    assert "import keras" not in source and "tensorflow" not in source
