"""IEMOCAP: indexing, label mapping, bad files, protocols, registry."""

import os

import pytest

from kser.data.corpora import class_index
from kser.data.corpora import get_corpus
from kser.data.corpora import load_corpus
from kser.data.corpora.iemocap import SPEAKERS
from kser.data.corpora.iemocap import index_iemocap
from kser.data.corpora.iemocap import parse_utterance_id
from kser.data.corpora.iemocap import synthesize
from kser.data.folds import get_folds
from kser.errors import DataError
from tests.data.conftest import touch

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


@pytest.fixture(scope="module")
def iemocap(tmp_path_factory):
    root = tmp_path_factory.mktemp("iemocap") / "IEMOCAP_full_release"
    return synthesize(root, clip_seconds=0.3)


def write_session(root, session, entries):
    """A hand-made session: entries are (utterance id, code); empty wavs."""
    lines = {}
    for n, (utt, code) in enumerate(entries):
        dialog = utt.rsplit("_", 1)[0]
        touch(root / f"Session{session}" / "sentences" / "wav" / dialog / f"{utt}.wav")
        lines.setdefault(dialog, []).append(
            f"[{n:.4f} - {n + 1:.4f}]\t{utt}\t{code}\t[2.5000, 3.0000, 3.5000]\n"
            "C-E1:\tNeutral;\t()\n\n"
        )
    for dialog, text in lines.items():
        path = root / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + "".join(text))
    return root


def test_index_counts_labels_speakers_metadata(iemocap):
    assert len(iemocap) == 100
    assert iemocap.speakers == SPEAKERS
    assert set(iemocap.speaker_counts().values()) == {10}
    assert iemocap.label_names == ("neutral", "happy", "sad", "angry")
    assert iemocap.label_counts() == {"neutral": 20, "happy": 40, "sad": 20,
                                      "angry": 20}
    assert sum(iemocap.excluded.values()) == 20
    assert set(iemocap.excluded) == {"fru", "fea", "sur", "dis", "oth", "xxx"}
    assert "left out 20 utterances" in iemocap.report()
    rel = [os.path.relpath(u.path, iemocap.root) for u in iemocap]
    assert rel == sorted(rel)
    first = iemocap[0]
    assert first.speaker == "Ses01F" and first.label == "neutral"
    meta = first.metadata
    assert meta["session"] == 1 and meta["gender"] == "female"
    assert meta["dialog"] == "Ses01F_impro01"
    assert meta["dialog_type"] == "improvised"
    assert meta["emotion_code"] == "neu"
    assert (meta["valence"], meta["activation"], meta["dominance"]) == (2.5, 3.0, 3.5)
    assert meta["end"] > meta["start"]
    assert meta["text"] == "Synthetic line 0."
    male = [u for u in iemocap if u.speaker == "Ses03M"]
    assert {u.metadata["gender"] for u in male} == {"male"}
    assert {u.metadata["dialog_type"] for u in male} == {"improvised", "scripted"}
    codes = {u.metadata["emotion_code"] for u in iemocap if u.label == "happy"}
    assert codes == {"hap", "exc"}


def test_all_classes(iemocap):
    index = index_iemocap(iemocap.root, classes="all")
    assert len(index) == 116 and index.excluded == {"xxx": 4}
    assert index.label_names == ("neutral", "happy", "sad", "angry", "fearful",
                                 "disgust", "surprised", "excited",
                                 "frustrated", "other")
    assert index.label_counts()["excited"] == 20
    assert index.label_counts()["happy"] == 20
    with pytest.raises(DataError, match="unknown IEMOCAP class set"):
        index_iemocap(iemocap.root, classes="6class")


def test_label_mapping_for_every_code(tmp_path):
    codes = ("neu", "hap", "exc", "sad", "ang", "fru", "fea", "sur", "dis",
             "oth", "xxx")
    entries = [(f"Ses02M_script01_1b_{'F' if i % 2 else 'M'}{i:03d}", code)
               for i, code in enumerate(codes)]
    write_session(tmp_path, 2, entries)
    four = {u.metadata["emotion_code"]: u.label for u in index_iemocap(tmp_path)}
    assert four == {"neu": "neutral", "hap": "happy", "exc": "happy",
                    "sad": "sad", "ang": "angry"}
    every = {u.metadata["emotion_code"]: u.label
             for u in index_iemocap(tmp_path, classes="all")}
    assert every == {"neu": "neutral", "hap": "happy", "exc": "excited",
                     "sad": "sad", "ang": "angry", "fru": "frustrated",
                     "fea": "fearful", "sur": "surprised", "dis": "disgust",
                     "oth": "other"}
    index = index_iemocap(tmp_path)
    assert index.speakers == ("Ses02F", "Ses02M")
    assert {u.metadata["dialog_type"] for u in index} == {"scripted"}


def test_parse_utterance_id():
    info = parse_utterance_id("Ses05M_script01_1b_F003.wav")
    assert info["speaker"] == "Ses05F" and info["session"] == 5
    assert info["dialog"] == "Ses05M_script01_1b"
    assert info["dialog_type"] == "scripted"
    assert parse_utterance_id("Ses01F_impro01_M000")["speaker"] == "Ses01M"
    for bad in ("Ses06F_impro01_F000", "Ses01F_impro01_X000", "Ses01F_F000",
                "notes.wav"):
        with pytest.raises(DataError, match="not an IEMOCAP utterance name"):
            parse_utterance_id(bad)


def test_bad_names_error_or_skip(tmp_path):
    write_session(tmp_path, 1, [("Ses01F_impro01_F000", "ang"),
                                ("Ses01F_impro01_M001", "sad")])
    bad = touch(tmp_path / "Session1/sentences/wav/Ses01F_impro01/take2.wav")
    with pytest.raises(DataError, match="take2.wav: not an IEMOCAP") as error:
        index_iemocap(tmp_path)
    assert "\n" not in str(error.value) and "skip_invalid" in str(error.value)
    with pytest.warns(UserWarning, match="skipped 1 IEMOCAP files") as record:
        index = index_iemocap(tmp_path, skip_invalid=True)
    assert len(record) == 1
    assert index.skipped == (str(bad),) and len(index) == 2
    bad.unlink()
    touch(tmp_path / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F009.wav")
    with pytest.raises(DataError, match="no label for Ses01F_impro01_F009"):
        index_iemocap(tmp_path)
    with pytest.warns(UserWarning, match="skipped 1"):
        assert len(index_iemocap(tmp_path, skip_invalid=True)) == 2
    (tmp_path / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F009.wav").unlink()
    touch(tmp_path / "Session1/sentences/wav/Ses01F_impro02/Ses01F_impro01_F000.wav")
    with pytest.raises(DataError, match="belongs in Session1/sentences/wav/Ses01F_impro01/"):
        index_iemocap(tmp_path)


def test_unknown_code_is_an_error(tmp_path):
    write_session(tmp_path, 1, [("Ses01F_impro01_F000", "bor")])
    with pytest.raises(DataError, match=r"Ses01F_impro01.txt:3: unknown IEMOCAP "
                                        r"emotion code 'bor'"):
        index_iemocap(tmp_path)


def test_missing_root_and_layout(tmp_path):
    with pytest.raises(DataError, match="no such folder; expected the IEMOCAP"):
        index_iemocap(tmp_path / "nope")
    with pytest.raises(DataError, match="no Session1..Session5 folders") as error:
        index_iemocap(tmp_path)
    assert "\n" not in str(error.value)
    (tmp_path / "Session1" / "sentences" / "wav").mkdir(parents=True)
    with pytest.raises(DataError, match="EmoEvaluation: no such folder"):
        index_iemocap(tmp_path)
    (tmp_path / "Session1" / "dialog" / "EmoEvaluation").mkdir(parents=True)
    with pytest.raises(DataError, match="no labelled IEMOCAP utterances"):
        index_iemocap(tmp_path)


def check_folds(folds, protocol, speakers):
    tested = []
    for fold in folds:
        assert fold.protocol == protocol
        parts = [set(fold.train), set(fold.validation), set(fold.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set().union(*parts) == set(speakers)
        tested += fold.test
    assert sorted(tested) == sorted(speakers)


def test_protocols(iemocap):
    corpus = get_corpus("iemocap")
    assert corpus.default_protocol == "loso"
    loso = corpus.folds("loso")
    assert len(loso) == 5
    check_folds(loso, "loso", SPEAKERS)
    assert loso[0].test == ("Ses01F", "Ses01M")
    assert loso[0].validation == ("Ses02F", "Ses02M")
    assert loso[4].test == ("Ses05F", "Ses05M")
    assert loso[4].validation == ("Ses01F", "Ses01M")
    for fold in loso:
        train, val, test = fold.split(iemocap)
        assert len(train) == 60 and len(val) == 20 and len(test) == 20
    speaker = corpus.folds("loso-speaker")
    assert len(speaker) == 10
    check_folds(speaker, "loso-speaker", SPEAKERS)
    assert speaker[3].test == ("Ses02M",) and speaker[3].validation == ("Ses02F",)
    assert get_folds(None, corpus="iemocap", index=iemocap) == loso
    assert get_folds("loso-speaker", corpus="iemocap", index=iemocap) == speaker


def test_registry_and_class_index(iemocap):
    index = load_corpus("iemocap", iemocap.root)
    assert [u.path for u in index] == [u.path for u in iemocap]
    corpus = get_corpus("iemocap")
    assert corpus.label_names == index.label_names
    assert [class_index(u, corpus.label_names) for u in index[:5]] == [0, 1, 1, 2, 3]
    assert len(load_corpus("iemocap", iemocap.root, classes="all")) == 116


def test_synthesize_subset(tmp_path):
    index = synthesize(tmp_path / "two", speakers=2, clip_seconds=0.3)
    assert index.speakers == ("Ses01F", "Ses01M")
    with pytest.raises(DataError, match="unknown IEMOCAP speakers"):
        synthesize(tmp_path / "bad", speakers=["Ses09F"])
