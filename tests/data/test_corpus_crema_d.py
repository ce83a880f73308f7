"""CREMA-D: names, demographics, indexing, the speaker-5fold protocol."""

import os
import sys
import warnings

import pytest

from kser.data.corpora import class_index
from kser.data.corpora import get_corpus
from kser.data.corpora import load_corpus
from kser.data.corpora.crema_d import CORPUS
from kser.data.corpora.crema_d import EMOTIONS
from kser.data.corpora.crema_d import LABEL_NAMES
from kser.data.corpora.crema_d import LEVELS
from kser.data.corpora.crema_d import SENTENCES
from kser.data.corpora.crema_d import index_crema_d
from kser.data.corpora.crema_d import parse_filename
from kser.data.folds import get_folds
from kser.errors import DataError
from tests.data.conftest import touch

CSV_HEADER = "ActorID,Age,Sex,Race,Ethnicity\n"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("crema") / "CREMA-D"
    return get_corpus("crema_d").synthesize(root)


def tree(root, names, demographics=None):
    for name in names:
        touch(root / "AudioWAV" / name)
    if demographics is not None:
        (root / "VideoDemographics.csv").write_text(CSV_HEADER + demographics)
    return root


def one_warning(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    assert len(caught) == 1, [str(w.message) for w in caught]
    return result, str(caught[0].message)


def test_synthetic_index(synthetic):
    index = synthetic
    assert index.corpus == "crema_d" and index.skipped == ()
    assert index.label_names == LABEL_NAMES == CORPUS.label_names
    assert set(LABEL_NAMES) == {"angry", "disgust", "fearful", "happy", "neutral",
                                "sad"}
    assert index.speakers == tuple(range(1001, 1011))
    assert index.speaker_counts() == {a: 12 for a in range(1001, 1011)}
    assert index.label_counts() == {name: 20 for name in LABEL_NAMES}
    rel = [os.path.relpath(u.path, index.root) for u in index]
    assert rel == sorted(rel) and all(r.startswith("AudioWAV") for r in rel)
    first = index[0]
    assert first.name == "1001_DFA_ANG_XX.wav" and first.label == "angry"
    assert first.metadata["gender"] == "male"
    assert first.metadata["level"] == "unspecified"
    assert first.metadata["sentence"] == "Don't forget a jacket"
    assert first.metadata["language"] == "en"
    genders = {u.speaker: u.metadata["gender"] for u in index}
    assert genders[1002] == "female" and genders[1003] == "male"
    levels = {u.metadata["level"] for u in index}
    assert levels == {"low", "medium", "high", "unspecified"}
    assert all(u.metadata["level"] == "unspecified" for u in index
               if u.label == "neutral")


def test_load_corpus_get_folds_and_class_index(synthetic):
    index = load_corpus("crema_d", synthetic.root)
    assert [u.path for u in index] == [u.path for u in synthetic]
    assert [u.label for u in index] == [u.label for u in synthetic]
    folds = get_folds("speaker-5fold", corpus="crema_d", index=index)
    assert folds == get_folds(None, corpus="crema_d", index=index)
    assert folds == CORPUS.folds(index=index)
    assert CORPUS.default_protocol == "speaker-5fold"
    assert list(CORPUS.protocols) == ["speaker-5fold", "emobox-leaky"]
    labels = [class_index(u, index.label_names) for u in index]
    assert sorted(set(labels)) == list(range(6))
    assert class_index(index[0], LABEL_NAMES) == LABEL_NAMES.index("angry")


def test_speaker_5fold_is_disjoint_balanced_and_covers(synthetic):
    folds = CORPUS.folds("speaker-5fold", index=synthetic)
    assert len(folds) == 5
    tested = [s for f in folds for s in f.test]
    assert sorted(tested) == list(synthetic.speakers)
    genders = {u.speaker: u.metadata["gender"] for u in synthetic}
    for k, fold in enumerate(folds):
        assert fold.protocol == "speaker-5fold" and fold.index == k + 1
        splits = [set(fold.train), set(fold.validation), set(fold.test)]
        assert not (splits[0] & splits[1] or splits[0] & splits[2]
                    or splits[1] & splits[2])
        assert set(fold.speakers) == set(synthetic.speakers)
        assert fold.validation == folds[k - 1].test  # validate on group k
        assert sorted(genders[s] for s in fold.test) == ["female", "male"]
        train, val, test = fold.split(synthetic)
        assert len(train) == 72 and len(val) == 24 and len(test) == 24


def test_speaker_5fold_without_demographics_cuts_in_order(tmp_path):
    names = [f"{a}_DFA_ANG_XX.wav" for a in range(1001, 1011)]
    index = index_crema_d(tree(tmp_path, names))
    assert all("gender" not in u.metadata for u in index)
    folds = CORPUS.folds("speaker-5fold", index=index)
    assert [f.test for f in folds] == [
        (1003, 1004), (1005, 1006), (1007, 1008), (1009, 1010), (1001, 1002)
    ]
    assert [f.validation for f in folds][0] == (1001, 1002)


def test_protocol_needs_the_index():
    with pytest.raises(DataError, match="needs the corpus index") as error:
        CORPUS.folds("speaker-5fold")
    assert "\n" not in str(error.value)
    with pytest.raises(DataError, match="unknown fold protocol 'emobox'"):
        CORPUS.folds("emobox")


def test_label_and_level_mapping_for_every_code():
    assert EMOTIONS == {"ANG": "angry", "DIS": "disgust", "FEA": "fearful",
                        "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
    for code, label in EMOTIONS.items():
        fields = parse_filename(f"1050_ITS_{code}_XX.wav")
        assert fields["label"] == label and fields["emotion_code"] == code
    for code, level in LEVELS.items():
        assert parse_filename(f"1091_IEO_HAP_{code}.wav")["level"] == level
    assert LEVELS == {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
    for code in SENTENCES:
        assert parse_filename(f"1001_{code}_SAD_XX.WAV")["sentence_code"] == code
    assert len(SENTENCES) == 12
    assert parse_filename("1001_dfa_ang_xx.wav")["label"] == "angry"
    assert parse_filename("1001_DFA_ANG_XX.wav")["actor"] == 1001


@pytest.mark.parametrize("name, what", [
    ("1001_DFA_ANG.wav", "expected AAAA_SSS_EEE_LL.wav"),
    ("1001_DFA_CON_XX.wav", "emotion CON"),
    ("1001_DFA_ANG_ZZ.wav", "level ZZ"),
    ("1001_XYZ_ANG_XX.wav", "sentence XYZ"),
    ("1092_DFA_ANG_XX.wav", "actor 1092"),
    ("1000_DFA_ANG_XX.wav", "actor 1000"),
    ("1001-DFA-ANG-XX.wav", "not a CREMA-D file name"),
])
def test_bad_names_are_errors(name, what):
    with pytest.raises(DataError, match=what) as error:
        parse_filename(name)
    assert name in str(error.value) and "\n" not in str(error.value)


def test_bad_file_in_tree_errors_or_is_skipped(tmp_path):
    root = tree(tmp_path, ["1001_DFA_ANG_XX.wav", "1001_DFA_SAD_XX.wav",
                           "notes.wav", "readme.txt", ".hidden.wav"])
    with pytest.raises(DataError) as error:
        index_crema_d(root)
    message = str(error.value)
    assert "notes.wav" in message and "AAAA_SSS_EEE_LL.wav" in message
    assert "skip_invalid=True" in message and "\n" not in message
    index, warning = one_warning(lambda: index_crema_d(root, skip_invalid=True))
    assert len(index) == 2 and len(index.skipped) == 1
    assert index.skipped[0].endswith("notes.wav")
    assert "skipped 1 file not named" in warning and "\n" not in warning


def test_missing_empty_and_wrong_roots(tmp_path):
    with pytest.raises(DataError, match="no such folder.*AudioWAV"):
        index_crema_d(tmp_path / "nope")
    with pytest.raises(DataError, match="no AudioWAV/ folder"):
        index_crema_d(tmp_path)
    (tmp_path / "AudioWAV").mkdir()
    with pytest.raises(DataError, match="no CREMA-D clips found") as error:
        index_crema_d(tmp_path)
    assert "\n" not in str(error.value)
    touch(tmp_path / "file")
    with pytest.raises(DataError, match="not a folder"):
        index_crema_d(tmp_path / "file")


def test_demographics(tmp_path):
    names = ["1001_DFA_ANG_XX.wav", "1002_IEO_HAP_HI.wav"]
    root = tree(tmp_path, names, "1001,51,Male,Caucasian,Not Hispanic\n"
                                 "1002,21,Female,African American,Hispanic\n")
    index = index_crema_d(root)
    meta = [u.metadata for u in index]
    assert meta[0]["gender"] == "male" and meta[0]["age"] == 51
    assert meta[1] == dict(meta[1], gender="female", race="African American",
                           ethnicity="Hispanic", level="high")
    assert "gender" not in index_crema_d(root, demographics=False)[0].metadata
    (root / "VideoDemographics.csv").write_text(CSV_HEADER + "1001,51,Male,C,N\n")
    with pytest.raises(DataError, match="actor 1002 is not in"):
        index_crema_d(root)
    (root / "VideoDemographics.csv").write_text("ActorID,Age\n1001,51\n")
    with pytest.raises(DataError, match="no column Sex, Race, Ethnicity"):
        index_crema_d(root)
    (root / "VideoDemographics.csv").write_text(CSV_HEADER + "x,51,Male,C,N\n")
    with pytest.raises(DataError, match="line 2: ActorID and Age"):
        index_crema_d(root)


def test_duplicate_clip_is_an_error(tmp_path):
    root = tree(tmp_path, ["1001_DFA_ANG_XX.wav", "copy/1001_DFA_ANG_XX.wav"])
    with pytest.raises(DataError, match="same clip is also at"):
        index_crema_d(root)


def test_module_imports_no_keras():
    source = open(sys.modules["kser.data.corpora.crema_d"].__file__).read()
    assert "import keras" not in source and "tensorflow" not in source
