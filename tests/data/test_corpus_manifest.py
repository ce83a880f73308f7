"""Manifest corpora: CSV and JSONL, label maps, bad rows, protocols."""

import json
import os

import pytest

from kser.data.corpora import class_index
from kser.data.corpora import get_corpus
from kser.data.corpora import load_corpus
from kser.data.corpora.manifest import find_manifest
from kser.data.corpora.manifest import index_manifest
from kser.data.corpora.manifest import synthesize
from kser.data.folds import get_folds
from kser.errors import DataError
from kser.labels import CANONICAL_LABELS
from tests.data.conftest import touch


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("manifest") / "corpus"
    return synthesize(root, clip_seconds=0.3)


def write_csv(root, lines, name="manifest.csv"):
    root.mkdir(parents=True, exist_ok=True)
    for line in lines[1:]:
        touch(root / line.split(",")[0])
    (root / name).write_text("\n".join(lines) + "\n")
    return root / name


def test_index_counts_labels_speakers_metadata(manifest):
    assert len(manifest) == 48
    assert manifest.speakers == tuple(f"spk{i:02d}" for i in range(1, 7))
    assert set(manifest.speaker_counts().values()) == {8}
    assert manifest.label_names == ("neutral", "happy", "sad", "angry")
    assert manifest.label_counts() == dict.fromkeys(manifest.label_names, 12)
    assert manifest.columns == ("path", "label", "speaker", "gender", "split", "text")
    root = os.path.dirname(manifest.root)
    rel = [os.path.relpath(u.path, root) for u in manifest]
    assert rel == sorted(rel)
    first = manifest[0]
    assert first.name == "spk01_angry_0.wav" and first.speaker == "spk01"
    assert first.metadata == {"gender": "female", "split": "train", "text": "take 0"}
    assert os.path.isabs(first.path) and os.path.isfile(first.path)


def test_root_is_file_or_folder(manifest, tmp_path):
    folder = os.path.dirname(manifest.root)
    assert find_manifest(folder) == manifest.root
    assert [u.path for u in index_manifest(manifest.root)] == [u.path for u in manifest]
    with pytest.raises(DataError, match="no such file or folder"):
        index_manifest(tmp_path / "nope")
    with pytest.raises(DataError, match="no manifest.csv or manifest.jsonl") as error:
        index_manifest(tmp_path)
    assert "\n" not in str(error.value)
    (tmp_path / "manifest.csv").write_text("path,label,speaker\n")
    (tmp_path / "manifest.jsonl").write_text("")
    with pytest.raises(DataError, match="holds both"):
        index_manifest(tmp_path)


def test_jsonl_with_label_map_and_int_speakers(tmp_path):
    rows = [{"path": "a/x1.wav", "label": "ang", "speaker": 3, "age": 30},
            {"path": "a/x2.wav", "label": "neu", "speaker": 1, "split": "dev"},
            {"path": "b/x3.wav", "label": "calm", "speaker": "S9"}]
    for r in rows:
        touch(tmp_path / r["path"])
    path = tmp_path / "list.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    index = index_manifest(path, label_map={"ang": "angry", "neu": "neutral"})
    assert [u.label for u in index] == ["angry", "neutral", "calm"]
    assert index.speakers == (1, 3, "S9")
    assert index.label_names == ("neutral", "calm", "angry")  # canonical order
    assert index[0].metadata == {"age": 30, "original_label": "ang"}
    assert index[1].metadata["split"] == "validation"
    with pytest.raises(DataError, match=r"list.jsonl:1: a/x1.wav: unknown label 'ang'"):
        index_manifest(path)
    with pytest.raises(DataError, match="label_map maps 'ang' to 'furious'"):
        index_manifest(path, label_map={"ang": "furious"})
    path.write_text('{"path": "a/x1.wav"\n')
    with pytest.raises(DataError, match="list.jsonl:1: not a JSON object"):
        index_manifest(path)


def test_every_canonical_label_is_accepted(tmp_path):
    lines = ["path,label,speaker"] + [f"w/{name}.wav,{name},s{i % 3}"
                                      for i, name in enumerate(CANONICAL_LABELS)]
    index = index_manifest(write_csv(tmp_path, lines))
    assert index.label_names == CANONICAL_LABELS
    assert {u.name[:-4]: u.label for u in index} == {n: n for n in CANONICAL_LABELS}


@pytest.mark.parametrize("line, message", [
    ("w/b.wav,furious,s1", r"manifest.csv:3: w/b.wav: unknown label 'furious'"),
    ("w/missing.wav,sad,s1", r"manifest.csv:3: audio file w/missing.wav not found"),
])
def test_bad_rows_error_or_skip(tmp_path, line, message):
    path = write_csv(tmp_path, ["path,label,speaker", "w/a.wav,sad,s1", line])
    (tmp_path / "w" / "missing.wav").unlink(missing_ok=True)
    with pytest.raises(DataError, match=message) as error:
        index_manifest(path)
    assert "\n" not in str(error.value) and "skip_invalid" in str(error.value)
    with pytest.warns(UserWarning, match="skipped 1 manifest rows") as record:
        index = index_manifest(path, skip_invalid=True)
    assert len(record) == 1 and len(index) == 1 and len(index.skipped) == 1


def test_malformed_manifests(tmp_path):
    with pytest.raises(DataError, match="the header lacks speaker"):
        index_manifest(write_csv(tmp_path, ["path,label", "w/a.wav,sad"]))
    with pytest.raises(DataError, match=":2: no speaker"):
        index_manifest(write_csv(tmp_path, ["path,label,speaker", "w/a.wav,sad,"]))
    with pytest.raises(DataError, match="also listed at line 2"):
        index_manifest(write_csv(tmp_path, ["path,label,speaker", "w/a.wav,sad,s",
                                            "w/a.wav,sad,s"]))
    with pytest.raises(DataError, match="unknown split 'holdout'"):
        index_manifest(write_csv(tmp_path, ["path,label,speaker,split",
                                            "w/a.wav,sad,s,holdout"]))
    with pytest.raises(DataError, match="no usable rows"):
        index_manifest(write_csv(tmp_path, ["path,label,speaker"]))


def check_folds(folds, protocol, speakers):
    tested = []
    for fold in folds:
        assert fold.protocol == protocol
        parts = [set(fold.train), set(fold.validation), set(fold.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set().union(*parts) == set(speakers)
        tested += fold.test
    assert sorted(tested) == sorted(speakers)


def test_speaker_5fold_balanced_by_gender(manifest):
    folds = get_folds(None, corpus="manifest", index=manifest)
    assert len(folds) == 5
    check_folds(folds, "speaker-5fold", manifest.speakers)
    # female spk01, spk03, spk05 and male spk02, spk04, spk06 interleaved
    assert folds[0].validation == ("spk01", "spk06")
    assert folds[0].test == ("spk02",)
    with pytest.raises(DataError, match="needs the corpus index"):
        get_folds("speaker-5fold", corpus="manifest")


def test_speaker_kfold_without_gender(tmp_path):
    lines = ["path,label,speaker"] + [f"w/{s}_{n}.wav,sad,{s}"
                                      for s in "abcd" for n in range(2)]
    index = index_manifest(write_csv(tmp_path, lines))
    folds = get_folds("speaker-5fold", corpus="manifest", index=index)
    assert len(folds) == 4  # k = min(5, speakers)
    check_folds(folds, "speaker-5fold", ("a", "b", "c", "d"))
    assert folds[0].test == ("b",) and folds[0].validation == ("a",)
    small = index.select(["a", "b"])
    with pytest.raises(DataError, match="at least 3 speakers"):
        get_folds("speaker-5fold", corpus="manifest", index=small)


def test_split_protocol(manifest, tmp_path):
    (fold,) = get_folds("split", corpus="manifest", index=manifest)
    assert fold.protocol == "split"
    assert fold.train == ("spk01", "spk02", "spk03", "spk04")
    assert fold.validation == ("spk05",) and fold.test == ("spk06",)
    no_split = index_manifest(write_csv(tmp_path / "a", [
        "path,label,speaker", "w/a.wav,sad,s1", "w/b.wav,sad,s2"]))
    with pytest.raises(DataError, match="needs a split column"):
        get_folds("split", corpus="manifest", index=no_split)
    two = index_manifest(write_csv(tmp_path / "b", [
        "path,label,speaker,split", "w/a.wav,sad,s1,train", "w/b.wav,sad,s1,test"]))
    with pytest.raises(DataError, match="speaker s1 is in both train and test"):
        get_folds("split", corpus="manifest", index=two)
    empty = index_manifest(write_csv(tmp_path / "c", [
        "path,label,speaker,split", "w/a.wav,sad,s1,train", "w/b.wav,sad,s2,"]))
    with pytest.raises(DataError, match="b.wav has no split"):
        get_folds("split", corpus="manifest", index=empty)


def test_registry_and_class_index(manifest):
    index = load_corpus("manifest", os.path.dirname(manifest.root))
    assert [u.path for u in index] == [u.path for u in manifest]
    corpus = get_corpus("manifest")
    assert corpus.label_names == CANONICAL_LABELS
    assert corpus.default_protocol == "speaker-5fold"
    assert {u.label: class_index(u, index.label_names) for u in index} == {
        "neutral": 0, "happy": 1, "sad": 2, "angry": 3}
    assert class_index(index[0], corpus.label_names) == CANONICAL_LABELS.index("angry")
