"""ESD: indexing, languages, label mapping, bad files, protocols, registry."""

import os

import pytest

from kser.data.corpora import class_index
from kser.data.corpora import get_corpus
from kser.data.corpora import load_corpus
from kser.data.corpora.esd import EMOBOX_TEST_SPEAKERS
from kser.data.corpora.esd import SPEAKERS
from kser.data.corpora.esd import index_esd
from kser.data.corpora.esd import synthesize
from kser.data.folds import get_folds
from kser.errors import DataError
from tests.data.conftest import touch


@pytest.fixture(scope="module")
def esd(tmp_path_factory):
    root = tmp_path_factory.mktemp("esd") / "ESD"
    return synthesize(root, clip_seconds=0.3)


def test_index_counts_labels_speakers_metadata(esd):
    assert len(esd) == 100
    assert esd.speakers == ("0001", "0002", "0003", "0004", "0005",
                            "0011", "0012", "0013", "0014", "0015")
    assert set(esd.speaker_counts().values()) == {10}
    assert esd.label_names == ("neutral", "happy", "sad", "angry", "surprised")
    assert esd.label_counts() == dict.fromkeys(esd.label_names, 20)
    rel = [os.path.relpath(u.path, esd.root) for u in esd]
    assert rel == sorted(rel)
    first = esd[0]
    assert first.name == "0001_000351.wav" and first.label == "angry"
    assert first.metadata == {"language": "mandarin", "number": 351,
                              "sentence": 1, "emotion_folder": "Angry",
                              "text": "Synthetic sentence 1."}
    english = [u for u in esd if u.speaker == "0011"]
    assert {u.metadata["language"] for u in english} == {"english"}
    assert all("gender" not in u.metadata for u in esd)


def test_languages(esd):
    assert index_esd(esd.root, language="english").speakers == SPEAKERS[10:15]
    assert index_esd(esd.root, language="mandarin").speakers == SPEAKERS[:5]
    with pytest.raises(DataError, match="unknown ESD language 'french'"):
        index_esd(esd.root, language="french")


def test_label_mapping_for_every_folder(tmp_path):
    folders = {"Neutral": (1, "neutral"), "Angry": (351, "angry"),
               "Happy": (701, "happy"), "Sad": (1051, "sad"),
               "surprise": (1401, "surprised")}
    for folder, (number, _) in folders.items():
        touch(tmp_path / "0017" / folder / f"0017_{number + 349:06d}.wav")
    index = index_esd(tmp_path)
    got = {u.metadata["emotion_folder"]: u.label for u in index}
    assert got == {folder: label for folder, (_, label) in folders.items()}
    assert {u.metadata["language"] for u in index} == {"english"}
    assert {u.metadata["sentence"] for u in index} == {350}
    assert all("text" not in u.metadata for u in index)  # no transcript


def test_nested_root_and_split_subfolders(tmp_path):
    touch(tmp_path / "Emotional Speech Dataset (ESD)" / "0003" / "Sad" / "test"
          / "0003_001390.wav")
    index = index_esd(tmp_path)
    assert len(index) == 1 and index[0].metadata["split"] == "test"
    assert index[0].speaker == "0003" and index[0].label == "sad"


@pytest.mark.parametrize("rel, message", [
    ("0002/Angry/take1.wav", "take1.wav: not an ESD file name"),
    ("0002/Angry/0003_000400.wav", "the name says speaker 0003"),
    ("0002/Angry/0002_000001.wav", "Angry files are numbered 000351-000700"),
    ("0002/Bored/0002_000400.wav", "unknown ESD emotion folder 'Bored'"),
])
def test_bad_files_error_or_skip(tmp_path, rel, message):
    touch(tmp_path / "0002" / "Happy" / "0002_000701.wav")
    bad = touch(tmp_path / rel)
    with pytest.raises(DataError, match=message) as error:
        index_esd(tmp_path)
    assert "\n" not in str(error.value) and "skip_invalid" in str(error.value)
    with pytest.warns(UserWarning, match="skipped 1 ESD files") as record:
        index = index_esd(tmp_path, skip_invalid=True)
    assert len(record) == 1
    assert index.skipped == (str(bad),) and len(index) == 1


def test_unknown_speaker_folder(tmp_path):
    touch(tmp_path / "0021" / "Happy" / "0021_000701.wav")
    with pytest.raises(DataError, match="unknown ESD speaker 0021"):
        index_esd(tmp_path)


def test_missing_root_and_layout(tmp_path):
    with pytest.raises(DataError, match="no such folder; expected the ESD layout"):
        index_esd(tmp_path / "nope")
    with pytest.raises(DataError, match="no ESD speaker folders") as error:
        index_esd(tmp_path)
    assert "\n" not in str(error.value)
    (tmp_path / "0001" / "Happy").mkdir(parents=True)
    with pytest.raises(DataError, match="no ESD clips found"):
        index_esd(tmp_path)


def check_folds(folds, protocol, speakers):
    tested = []
    for fold in folds:
        assert fold.protocol == protocol
        parts = [set(fold.train), set(fold.validation), set(fold.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set().union(*parts) == set(speakers)
        tested += fold.test
    assert sorted(tested) == sorted(speakers)


def test_speaker_5fold(esd):
    folds = get_folds(None, corpus="esd", index=esd)
    assert len(folds) == 5
    check_folds(folds, "speaker-5fold", esd.speakers)
    assert folds[0].test == ("0003", "0004")
    assert folds[0].validation == ("0001", "0002")
    english = index_esd(esd.root, language="english")
    folds = get_folds("speaker-5fold", corpus="esd", index=english)
    check_folds(folds, "speaker-5fold", SPEAKERS[10:15])
    with pytest.raises(DataError, match="needs the corpus index"):
        get_folds("speaker-5fold", corpus="esd")
    small = index_esd(esd.root).select(["0001", "0002"])
    with pytest.raises(DataError, match="at least 3 speakers"):
        get_folds("speaker-5fold", corpus="esd", index=small)


def test_emobox(esd):
    folds = get_folds("emobox", corpus="esd")
    assert len(folds) == 5
    check_folds(folds, "emobox", SPEAKERS)
    assert [f.test for f in folds] == [tuple(t) for t in EMOBOX_TEST_SPEAKERS]
    assert folds[0].validation == EMOBOX_TEST_SPEAKERS[4]
    assert all(len(f.train) == 12 for f in folds)
    assert get_folds("emobox", corpus="esd", index=esd) == folds


def test_registry_and_class_index(esd):
    index = load_corpus("esd", esd.root)
    assert [u.path for u in index] == [u.path for u in esd]
    corpus = get_corpus("esd")
    assert corpus.label_names == index.label_names
    assert corpus.default_protocol == "speaker-5fold"
    names = {u.label: class_index(u, corpus.label_names) for u in index}
    assert names == {"neutral": 0, "happy": 1, "sad": 2, "angry": 3,
                     "surprised": 4}


def test_transcript_encodings(tmp_path):
    touch(tmp_path / "0001" / "Neutral" / "0001_000001.wav")
    (tmp_path / "0001" / "0001.txt").write_bytes(
        "0001_000001\t打远一看。\t中立\n".encode("gb18030"))
    assert index_esd(tmp_path)[0].metadata["text"] == "打远一看。"
