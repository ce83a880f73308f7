"""A fold's validation and test speakers must be in the corpus.

With `Actor_07/` deleted, `kser train --fold 3` used to exit 0, test on
actor 08 alone and still print "Test actors 07, 08".
"""

import json
import shutil

import pytest
from click.testing import CliRunner

from kser.data.corpora.base import CorpusIndex
from kser.data.corpora.base import Utterance
from kser.data.folds import Fold
from kser.data.folds import check_fold_speakers
from kser.data.folds import fold_missing_speakers
from kser.data.folds import fold_speaker_report
from kser.data.folds import get_folds
from kser.data.pipeline import fold_datasets
from kser.errors import DataError


def _index(speakers, per_speaker=2, root="/data/corpus"):
    return CorpusIndex(
        [Utterance(f"/{s}_{i}.wav", "neutral", s)
         for s in speakers for i in range(per_speaker)],
        label_names=("neutral",), root=root, corpus="custom",
    )


def test_missing_validation_and_test_speakers_are_named():
    folds = get_folds("paper", corpus="ravdess")
    index = _index([a for a in range(1, 25) if a != 7])
    assert fold_missing_speakers(folds[2], index) == {"test": (7,)}
    assert fold_missing_speakers(folds[3], index) == {"validation": (7,)}
    assert fold_missing_speakers(folds[0], index) == {}
    with pytest.raises(DataError) as error:
        check_fold_speakers(folds[2], index)
    message = str(error.value)
    assert "\n" not in message
    assert "paper-3: no test clips of actor 07" in message
    assert "/data/corpus" in message and "--allow-missing-speakers" in message
    with pytest.raises(DataError, match="paper-3: no test clips of actor 07; "
                       "paper-4: no validation clips of actor 07"):
        check_fold_speakers(folds, index)
    assert check_fold_speakers(folds, index, allow_missing=True) == (7,)
    assert check_fold_speakers([folds[0], folds[5]], index) == ()


def test_missing_training_speakers_are_allowed():
    # A few actors for a quick run: fold 1 trains on 05-24, only 05 here.
    index = _index(range(1, 6))
    assert check_fold_speakers(get_folds("paper")[0], index) == ()


def test_string_speakers_and_clip_lists():
    fold = Fold(1, train=("a", "b"), validation=("c",), test=("d", "e"))
    index = _index(["a", "b", "c", "d"])
    with pytest.raises(DataError, match="no test clips of speaker e"):
        check_fold_speakers(fold, list(index))
    assert check_fold_speakers(fold, index, allow_missing=True) == ("e",)


def test_clip_level_folds_are_not_checked():
    from kser.data.clip_folds import ClipFold

    # Its speakers are those of its clips; "b" is not in this index.
    fold = ClipFold(1, train=("a",), validation=(), test=("b",),
                    protocol="leaky", test_clips={"b_0"})
    assert fold_missing_speakers(fold, _index(["a"])) == {}
    assert check_fold_speakers(fold, _index(["a"])) == ()


def test_speaker_report_counts_each_split():
    folds = get_folds("paper")
    index = _index([a for a in range(1, 25) if a != 7], per_speaker=3)
    report = fold_speaker_report(folds[2], index)
    assert report == (
        "paper-3: train 60 clips from 20 of 20 speakers (3 to 3 each); "
        "validation 6 clips (actor 05: 3, actor 06: 3); "
        "test 3 clips (actor 07: absent, actor 08: 3)"
    )
    assert len(fold_speaker_report(folds, index).splitlines()) == 12
    many = Fold(1, train=tuple(range(1, 4)), validation=(),
                test=tuple(range(4, 24)))
    assert "test 57 clips from 19 of 20 speakers (3 to 3 each); absent: actor 07" in (
        fold_speaker_report(many, index, max_listed=12)
    )


def test_fold_datasets_refuses_a_missing_test_speaker(corpus):
    # The 4-actor corpus of conftest: actors 01-04.
    fold = Fold(1, train=(1, 2), validation=(3,), test=(4, 5))
    with pytest.raises(DataError, match="no test clips of actor 05"):
        fold_datasets(corpus, fold, batch_size=64)
    _, _, test = fold_datasets(corpus, fold, batch_size=64,
                               allow_missing_speakers=True)
    assert sum(int(y.shape[0]) for _, y in test) == 60


@pytest.fixture(scope="module")
def corpus_without_07(tmp_path_factory):
    from kser.data.synthetic import write_corpus
    from tests.shared import shared_folder

    def build(folder):
        write_corpus(folder / "ravdess", actors="3-8", clip_seconds=0.2, seed=2)
        shutil.rmtree(folder / "ravdess" / "Actor_07")

    return shared_folder(tmp_path_factory, "without-07", build, across_backends=True) / "ravdess"


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    from kser.convert import convert_checkpoint
    from tests.models.helpers import fixture_dir
    from tests.shared import shared_folder

    def build(folder):
        convert_checkpoint(fixture_dir("hubert_tiny_base"), str(folder / "tiny"))

    return str(shared_folder(tmp_path_factory, "hubert-tiny-preset", build) / "tiny")


def _train(root, preset, out, *extra):
    from kser.cli import main

    return CliRunner().invoke(
        main,
        ["train", "--data", str(root), "--preset", preset, "--variant",
         "dense", "--fold", "3", "--epochs", "1", "--batch-size", "16",
         "--max-seconds", "1", "--out", str(out), *extra],
    )


def test_cli_train_stops_on_a_missing_test_actor(corpus_without_07, tiny_preset,
                                                  tmp_path):
    out = tmp_path / "run"
    result = _train(corpus_without_07, tiny_preset, out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kser: error:"), result.output
    assert "no test clips of actor 07" in lines[0]
    assert not out.exists()


def test_cli_train_allows_missing_actors_and_says_so(corpus_without_07,
                                                     tiny_preset, tmp_path):
    out = tmp_path / "run"
    result = _train(corpus_without_07, tiny_preset, out,
                    "--allow-missing-speakers")
    assert result.exit_code == 0, result.output
    # The per-speaker report before training, the note after the table.
    assert "test 60 clips (actor 07: absent, actor 08: 60)" in result.output
    assert "**Missing speakers**: fold 3: 07" in result.output
    saved = json.loads((out / "dense" / "fold_03" / "result.json").read_text())
    assert saved["missing_speakers"] == [7] and saved["num_test"] == 60
    summary = json.loads((out / "cv_summary.json").read_text())
    assert summary["missing_speakers"] == {"3": [7]}
