"""MSP-Podcast: labels CSV, codes, unknown speakers, official split."""

import os

import pytest

from kser.data.corpora import class_index
from kser.data.corpora import get_corpus
from kser.data.corpora import load_corpus
from kser.data.corpora.msp_podcast import index_msp_podcast
from kser.data.corpora.msp_podcast import synthesize
from kser.data.folds import get_folds
from kser.errors import DataError
from tests.data.conftest import touch

HEADER = "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"


@pytest.fixture(scope="module")
def msp(tmp_path_factory):
    root = tmp_path_factory.mktemp("msp") / "MSP-Podcast"
    return synthesize(root, clip_seconds=0.3)


def write_corpus(root, rows, header=HEADER, audio=True):
    """A hand-made corpus: rows are CSV lines; empty wavs for each."""
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    (root / "Audios").mkdir(parents=True, exist_ok=True)
    (root / "Labels" / "labels_consensus.csv").write_text(
        header + "".join(r + "\n" for r in rows))
    if audio:
        for row in rows:
            touch(root / "Audios" / row.split(",")[0])
    return root


def row(n, code, speaker="7", split="Train", gender="Female"):
    return f"MSP-PODCAST_0001_{n:04d}.wav,{code},4.2,3.1,4.0,{speaker},{gender},{split}"


def test_index_counts_labels_speakers_metadata(msp):
    assert len(msp) == 64
    assert msp.label_names == ("neutral", "happy", "sad", "angry", "fearful",
                               "disgust", "surprised", "contempt")
    counts = msp.label_counts()
    assert counts["neutral"] == counts["happy"] == counts["angry"] == 12
    assert msp.excluded == {"O": 4, "X": 4}
    assert "left out 8 rows by code" in msp.report()
    assert msp.speakers == tuple(str(s) for s in range(101, 111)) + (
        "Unknown-Test1", "Unknown-Train")
    assert msp.speaker_counts()["101"] == 5  # its sixth row is O, left out
    rel = [os.path.relpath(u.path, msp.root) for u in msp]
    assert rel == sorted(rel)
    meta = msp[0].metadata
    assert meta == {"split": "Train", "emotion_code": "N", "speaker_id": "101",
                    "speaker_known": True, "gender": "female",
                    "activation": 4.0, "valence": 3.5, "dominance": 4.5}
    unknown = [u for u in msp if u.speaker == "Unknown-Train"]
    assert unknown and all(not u.metadata["speaker_known"] for u in unknown)
    assert {u.metadata["speaker_id"] for u in unknown} == {"Unknown"}


def test_label_mapping_for_every_code(tmp_path):
    codes = "ASHUFDCNOX"
    write_corpus(tmp_path, [row(i, c) for i, c in enumerate(codes)])
    got = {u.metadata["emotion_code"]: u.label for u in index_msp_podcast(tmp_path)}
    assert got == {"A": "angry", "S": "sad", "H": "happy", "U": "surprised",
                   "F": "fearful", "D": "disgust", "C": "contempt",
                   "N": "neutral"}
    index = index_msp_podcast(tmp_path, keep_other=True)
    assert {u.metadata["emotion_code"]: u.label for u in index}["O"] == "other"
    assert index.label_names[-1] == "other" and index.excluded == {"X": 1}


def test_unknown_code_split_and_columns(tmp_path):
    write_corpus(tmp_path, [row(1, "N"), row(2, "Z")])
    with pytest.raises(DataError, match=r"labels_consensus.csv:3: "
                                        r"MSP-PODCAST_0001_0002.wav: unknown EmoClass 'Z'"):
        index_msp_podcast(tmp_path)
    write_corpus(tmp_path, [row(1, "N", split="Test4")])
    with pytest.raises(DataError, match="unknown Split_Set 'Test4'"):
        index_msp_podcast(tmp_path)
    write_corpus(tmp_path, ["MSP-PODCAST_0001_0001.wav,N"], header="FileName,EmoClass\n")
    with pytest.raises(DataError, match="missing column.*SpkrID, Split_Set"):
        index_msp_podcast(tmp_path)
    write_corpus(tmp_path, [row(1, "N"), row(1, "S")])
    with pytest.raises(DataError, match="listed twice"):
        index_msp_podcast(tmp_path)


def test_missing_audio_error_or_skip(tmp_path):
    write_corpus(tmp_path, [row(1, "N"), row(2, "S")])
    missing = tmp_path / "Audios" / "MSP-PODCAST_0001_0002.wav"
    missing.unlink()
    with pytest.raises(DataError, match=r"csv:3: audio file Audios/"
                                        r"MSP-PODCAST_0001_0002.wav not found") as error:
        index_msp_podcast(tmp_path)
    assert "\n" not in str(error.value)
    with pytest.warns(UserWarning, match="skipped 1 MSP-Podcast") as record:
        index = index_msp_podcast(tmp_path, skip_invalid=True)
    assert len(record) == 1 and len(index) == 1
    assert index.skipped == (str(missing),)


def test_bad_wav_names_and_unlabelled(tmp_path):
    write_corpus(tmp_path, [row(1, "N")])
    touch(tmp_path / "Audios" / "MSP-PODCAST_0009_0009.wav")
    assert index_msp_podcast(tmp_path).unlabelled == 1
    bad = touch(tmp_path / "Audios" / "clip.wav")
    with pytest.raises(DataError, match="clip.wav: not an MSP-Podcast file name"):
        index_msp_podcast(tmp_path)
    with pytest.warns(UserWarning, match="skipped 1"):
        index = index_msp_podcast(tmp_path, skip_invalid=True)
    assert index.skipped == (str(bad),)


def test_missing_root_and_layout(tmp_path):
    with pytest.raises(DataError, match="no such folder; expected the MSP-Podcast"):
        index_msp_podcast(tmp_path / "nope")
    with pytest.raises(DataError, match="no Audios/ folder") as error:
        index_msp_podcast(tmp_path)
    assert "\n" not in str(error.value)
    (tmp_path / "Audios").mkdir()
    with pytest.raises(DataError, match="labels_consensus.csv; expected"):
        index_msp_podcast(tmp_path)
    write_corpus(tmp_path, [row(1, "X")])
    with pytest.raises(DataError, match="no labelled MSP-Podcast clips"):
        index_msp_podcast(tmp_path)


def test_official_protocols(msp):
    corpus = get_corpus("msp_podcast")
    assert corpus.default_protocol == "official"
    (fold,) = get_folds(None, corpus="msp_podcast", index=msp)
    assert fold.protocol == "official"
    assert fold.train == ("101", "102", "105", "107", "Unknown-Train")
    assert fold.validation == ("103", "109")
    assert fold.test == ("104", "108", "Unknown-Test1")
    train, val, test = fold.split(msp)
    assert {u.metadata["split"] for u in train} == {"Train"}
    assert {u.metadata["split"] for u in val} == {"Development"}
    assert {u.metadata["split"] for u in test} == {"Test1"}
    (fold2,) = get_folds("official-test2", corpus="msp_podcast", index=msp)
    assert fold2.test == ("106",) and fold2.train == fold.train
    (fold3,) = get_folds("official-test3", corpus="msp_podcast", index=msp)
    assert fold3.test == ("110",)
    for f in (fold, fold2, fold3):
        assert not (set(f.train) & set(f.validation) or set(f.train) & set(f.test)
                    or set(f.validation) & set(f.test))
    with pytest.raises(DataError, match="needs the corpus index"):
        get_folds("official", corpus="msp_podcast")


def test_official_rejects_a_speaker_in_two_sets(tmp_path):
    write_corpus(tmp_path, [row(1, "N", "7", "Train"), row(2, "N", "8", "Test1"),
                            row(3, "S", "7", "Development")])
    index = index_msp_podcast(tmp_path)
    with pytest.raises(DataError, match=r"speaker\(s\) in two Split_Set values: "
                                        r"7 \(Train, Development\)"):
        get_folds("official", corpus="msp_podcast", index=index)
    write_corpus(tmp_path, [row(1, "N", "7", "Train"), row(2, "N", "8", "Test1")])
    index = index_msp_podcast(tmp_path)
    with pytest.raises(DataError, match="no Test2 clips"):
        get_folds("official-test2", corpus="msp_podcast", index=index)


def test_registry_and_class_index(msp):
    index = load_corpus("msp_podcast", msp.root)
    assert [u.path for u in index] == [u.path for u in msp]
    corpus = get_corpus("msp_podcast")
    assert corpus.label_names == index.label_names
    for clip in index:
        assert corpus.label_names[class_index(clip, corpus.label_names)] == clip.label
    with pytest.raises(DataError, match="at least 4 speakers"):
        synthesize(msp.root.rstrip("/") + "-small", speakers=3)
