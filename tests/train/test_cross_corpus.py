"""Cross-corpus evaluation: a fold's head tested on another corpus over the
labels both share, cached and online alike, in result.json and the summary."""

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.data.corpora.base import CorpusIndex
from kser.data.corpora.base import Utterance
from kser.data.folds import get_fold
from kser.data.synthetic import write_corpus
from kser.errors import KserError
from kser.models import build_backbone
from kser.train.config import TrainConfig
from kser.train.experiment import Experiment
from tests.models.helpers import TINY_BACKBONE
from tests.shared import thinned


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("cross")
    train = write_corpus(root / "train", actors=6, clip_seconds=0.4, seed=1)
    other = write_corpus(root / "other", actors=2, clip_seconds=0.4, seed=7)
    # The other corpus as a generic index with three of the eight labels,
    # one of them under a speaker name.
    kept = [f for f in other if f.emotion_name in ("angry", "sad", "neutral")]
    utterances = [
        Utterance(f.path, f.emotion_name, f"other{f.actor}") for f in kept
    ]
    test = CorpusIndex(utterances, ("neutral", "sad", "angry"), corpus="other")
    return {"train": train, "test": test, "root": root}


def _backbone():
    keras.utils.set_random_seed(0)
    return build_backbone("hubert", **TINY_BACKBONE, padding_invariant=True)


def test_cross_corpus_cached_equals_online_and_is_reported(corpora, tmp_path):
    fold = get_fold("paper", 1)
    backbone = _backbone()
    train = thinned(corpora["train"])  # online runs the backbone per batch
    results = {}
    for mode in ("cached", "online"):
        experiment = Experiment(
            train, backbone, str(tmp_path / mode), progress=False,
            test_corpora=[("other", corpora["test"])],
        )
        config = TrainConfig(variant="dense", mode=mode, epochs=1, batch_size=8,
                             max_seconds=1.0, preset="tiny")
        results[mode] = experiment.run_fold(config, fold)
    cross = {m: r["cross_corpus"]["other"] for m, r in results.items()}
    assert cross["cached"]["shared_labels"] == ["neutral", "sad", "angry"]
    assert cross["cached"]["num_test"] == len(corpora["test"]) == 40
    assert cross["cached"]["accuracy"] == pytest.approx(cross["online"]["accuracy"])
    out = tmp_path / "cached" / "dense" / "fold_01" / "cross_corpus" / "other"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["label_names"] == ["neutral", "sad", "angry"]
    assert np.asarray(metrics["confusion_matrix"]["counts"]).sum() == 40
    assert (out / "confusion_matrix.png").exists()
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0] == "file,speaker,label,predicted,neutral,sad,angry"
    assert len(rows) == 41
    assert {r.split(",")[3] for r in rows[1:]} <= {"neutral", "sad", "angry"}
    from kser.report import write_summary

    summary = write_summary(str(tmp_path / "cached"), ["dense"], [1])
    assert summary["variants"] == ["dense", "dense on other"]
    assert "dense on other" in (tmp_path / "cached" / "cv_summary.md").read_text()


def test_no_shared_label_is_one_line(corpora, tmp_path):
    from kser.train.cross_corpus import cross_corpus_clips

    odd = CorpusIndex([Utterance("x.wav", "boredom", "s1")], ("boredom",))
    with pytest.raises(KserError, match="shares no label"):
        cross_corpus_clips(["neutral", "angry"], odd, "odd")


def test_cli_cross_corpus_end_to_end_with_jobs(corpora, tmp_path):
    from kser.convert import convert_checkpoint
    from tests.models.helpers import fixture_dir

    preset = str(tmp_path / "preset")
    convert_checkpoint(fixture_dir("hubert_tiny_base"), preset)
    out = tmp_path / "run"
    args = ["cv", "--data", str(corpora["root"] / "train"), "--preset", preset,
            "--variants", "dense", "--folds", "1", "--epochs", "1",
            "--batch-size", "8", "--max-seconds", "1",
            "--test-corpus", "ravdess", "--test-data",
            str(corpora["root"] / "other"), "--out", str(out), "--jobs", "2"]
    result = CliRunner().invoke(main, args + ["--no-plots"])
    assert result.exit_code == 0, result.output
    assert "dense on ravdess" in result.output
    for fold in (1,):
        saved = json.loads((out / "dense" / f"fold_{fold:02d}" / "result.json").read_text())
        assert saved["cross_corpus"]["ravdess"]["num_test"] == 120
    # --no-plots: no PNG anywhere, in the fold or its cross-corpus folder;
    # `kser report` then draws both.
    fold_dir = out / "dense" / "fold_01"
    assert (fold_dir / "metrics.json").exists()
    assert not list(out.rglob("*.png"))
    report = CliRunner().invoke(main, ["report", str(out)])
    assert report.exit_code == 0, report.output
    for folder in (fold_dir, fold_dir / "cross_corpus" / "ravdess"):
        for name in ("confusion_matrix.png", "confusion_matrix_normalized.png",
                     "correct_per_class.png"):
            assert (folder / name).stat().st_size > 0, folder / name
    assert (fold_dir / "training_curves.png").exists()
    config = json.loads((out / "run_config.json").read_text())
    assert config["test_corpora"][0]["corpus"] == "ravdess"
    # Only one of the pair given: one line, nothing written.
    bad = CliRunner().invoke(main, args[:-6] + ["--out", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "go together" in bad.output
    assert not (tmp_path / "bad").exists()
