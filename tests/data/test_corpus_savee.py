"""SAVEE: both layouts, names, indexing, the loso protocol."""

import os
import sys
import warnings

import pytest

from kser.data.corpora import class_index
from kser.data.corpora import get_corpus
from kser.data.corpora import load_corpus
from kser.data.corpora.savee import CORPUS
from kser.data.corpora.savee import EMOTIONS
from kser.data.corpora.savee import LABEL_NAMES
from kser.data.corpora.savee import SPEAKERS
from kser.data.corpora.savee import detect_layout
from kser.data.corpora.savee import index_savee
from kser.data.corpora.savee import parse_filename
from kser.data.folds import get_folds
from kser.errors import DataError
from tests.data.conftest import touch


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("savee") / "SAVEE"
    return get_corpus("savee").synthesize(root)


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
    assert index.corpus == "savee" and index.skipped == ()
    assert index.label_names == LABEL_NAMES == CORPUS.label_names
    assert set(LABEL_NAMES) == {"angry", "disgust", "fearful", "happy", "neutral",
                                "sad", "surprised"}
    assert index.speakers == SPEAKERS == ("DC", "JE", "JK", "KL")
    assert index.speaker_counts() == {s: 24 for s in SPEAKERS}
    expected = {name: 12 for name in LABEL_NAMES}
    expected["neutral"] = 24
    assert index.label_counts() == expected
    rel = [os.path.relpath(u.path, index.root).replace(os.sep, "/") for u in index]
    assert rel == sorted(rel) and rel[0] == "AudioData/DC/a01.wav"
    for clip in index:
        meta = clip.metadata
        assert meta["gender"] == "male" and meta["layout"] == "audiodata"
        assert EMOTIONS[meta["emotion_code"]] == clip.label
        assert clip.name == f"{meta['emotion_code']}{meta['number']:02d}.wav"
    assert os.path.isfile(os.path.join(index.root, "AudioData", "Info.txt"))


def test_flat_layout_matches_audiodata(synthetic, tmp_path):
    flat = CORPUS.synthesize(tmp_path / "flat", layout="all")
    assert detect_layout(flat.root) == "all"
    assert [u.name.split("_")[0] for u in flat][:3] == ["DC", "DC", "DC"]
    key = lambda u: (u.speaker, u.label, u.metadata["number"])  # noqa: E731
    assert sorted(map(key, flat)) == sorted(map(key, synthetic))
    assert {u.metadata["layout"] for u in flat} == {"all"}


def test_load_corpus_get_folds_and_class_index(synthetic):
    index = load_corpus("savee", synthetic.root)
    assert [u.path for u in index] == [u.path for u in synthetic]
    folds = get_folds("loso", corpus="savee", index=index)
    assert folds == get_folds(None, corpus="savee", index=index) == CORPUS.folds()
    assert list(CORPUS.protocols) == ["loso"] and CORPUS.default_protocol == "loso"
    labels = [class_index(u, index.label_names) for u in index]
    assert sorted(set(labels)) == list(range(7))


def test_loso_folds(synthetic):
    folds = CORPUS.folds("loso", index=synthetic)
    assert [(f.validation, f.test) for f in folds] == [
        (("DC",), ("JE",)), (("JE",), ("JK",)), (("JK",), ("KL",)),
        (("KL",), ("DC",)),
    ]
    for fold in folds:
        assert fold.protocol == "loso" and len(fold.train) == 2
        assert set(fold.train).isdisjoint(fold.validation + fold.test)
        train, val, test = fold.split(synthetic)
        assert (len(train), len(val), len(test)) == (48, 24, 24)
    assert sorted(s for f in folds for s in f.test) == list(SPEAKERS)
    with pytest.raises(DataError, match="at least 3 speakers"):
        CORPUS.folds("loso", index=synthetic.select(["DC", "JE"]))


def test_label_mapping_for_every_code():
    assert EMOTIONS == {"a": "angry", "d": "disgust", "f": "fearful",
                        "h": "happy", "n": "neutral", "sa": "sad",
                        "su": "surprised"}
    for code, label in EMOTIONS.items():
        flat = parse_filename(f"ALL/KL_{code}15.wav")
        nested = parse_filename(f"AudioData/JE/{code}01.wav", "audiodata")
        assert flat["label"] == nested["label"] == label
        assert (flat["speaker"], nested["speaker"]) == ("KL", "JE")
        assert flat["emotion_code"] == code and flat["number"] == 15
    assert parse_filename("DC_n30.wav")["number"] == 30


@pytest.mark.parametrize("name, layout, what", [
    ("DC_a16.wav", "all", "a16 is outside a01..a15"),
    ("DC_n31.wav", "all", "n31 is outside n01..n30"),
    ("DC_a00.wav", "all", "outside"),
    ("DC_x01.wav", "all", "emotion 'x'"),
    ("XY_a01.wav", "all", "speaker 'XY'"),
    ("DC_a1.wav", "all", "expected ALL/<DC|JE|JK|KL>_<emotion><NN>.wav"),
    ("a01.wav", "all", "not a SAVEE file name"),
    ("AudioData/XY/a01.wav", "audiodata", "speaker 'XY'"),
    ("AudioData/DC/DC_a01.wav", "audiodata", "expected AudioData/"),
    ("AudioData/DC/sur01.wav", "audiodata", "not a SAVEE file name"),
])
def test_bad_names_are_errors(name, layout, what):
    with pytest.raises(DataError, match=what) as error:
        parse_filename(name, layout)
    assert name in str(error.value) and "\n" not in str(error.value)


def test_bad_files_in_tree_error_or_are_skipped(tmp_path):
    root = tree(tmp_path, ["AudioData/DC/a01.wav", "AudioData/JE/su02.wav",
                           "AudioData/DC/a99.wav", "AudioData/stray.wav",
                           "AudioData/Info.txt"])
    with pytest.raises(DataError) as error:
        index_savee(root)
    message = str(error.value)
    assert "a99.wav" in message and "a01..a15" in message
    assert "skip_invalid=True" in message and "\n" not in message
    index, warning = one_warning(lambda: index_savee(root, skip_invalid=True))
    assert [u.name for u in index] == ["a01.wav", "su02.wav"]
    assert [os.path.basename(p) for p in index.skipped] == ["a99.wav", "stray.wav"]
    assert "skipped 2 files" in warning
    flat = tree(tmp_path / "flat", ["ALL/DC_a01.wav", "ALL/sub/DC_a02.wav"])
    with pytest.raises(DataError, match="not where SAVEE keeps clips"):
        index_savee(flat)


def test_layout_detection_and_roots(tmp_path):
    with pytest.raises(DataError, match="no such folder.*AudioData/"):
        index_savee(tmp_path / "nope")
    touch(tmp_path / "DC_a01.wav")
    with pytest.raises(DataError, match="neither AudioData/ nor ALL/") as error:
        index_savee(tmp_path)
    assert "\n" not in str(error.value)
    (tmp_path / "ALL").mkdir()
    with pytest.raises(DataError, match="no SAVEE clips found"):
        index_savee(tmp_path)
    tree(tmp_path, ["ALL/DC_a01.wav", "AudioData/DC/a01.wav", "AudioData/DC/a02.wav"])
    with pytest.raises(DataError, match="both AudioData/ and ALL/.*layout="):
        index_savee(tmp_path)
    assert len(index_savee(tmp_path, layout="all")) == 1
    assert len(index_savee(tmp_path, layout="audiodata")) == 2
    with pytest.raises(DataError, match="choose one of audiodata, all"):
        index_savee(tmp_path, layout="flat")
    only = tree(tmp_path / "only", ["ALL/DC_a01.wav"])
    with pytest.raises(DataError, match="no AudioData/ folder"):
        index_savee(only, layout="audiodata")


def test_duplicate_clip_is_an_error(tmp_path):
    root = tree(tmp_path, ["ALL/DC_a01.wav", "ALL/DC_a01.WAV"])
    if len(os.listdir(root / "ALL")) < 2:  # a case-insensitive file system
        pytest.skip("the file system folds case")
    with pytest.raises(DataError, match="same clip is also at"):
        index_savee(root)


def test_module_imports_no_keras():
    source = open(sys.modules["kser.data.corpora.savee"].__file__).read()
    assert "import keras" not in source and "tensorflow" not in source


def test_synthesize_speaker_choices(tmp_path):
    index = CORPUS.synthesize(tmp_path / "three", speakers=3)
    assert index.speakers == ("DC", "JE", "JK") and len(index) == 72
    with pytest.raises(DataError, match="unknown speakers"):
        CORPUS.synthesize(tmp_path / "bad", speakers=["XY"])
