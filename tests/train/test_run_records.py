"""Run-folder records: checksums in result.json, the run lock, run_config.json,
nothing left by failed runs, stale feature-cache temporaries, history.md."""

import json
import os
import shutil
import subprocess
import sys
import time

import keras
import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.data.synthetic import write_corpus
from kser.errors import KserError
from kser.models import HubertBackbone
from kser.train.config import TrainConfig
from kser.train.training import run_training
from tests.models.helpers import TINY_BACKBONE
from tests.shared import shared_folder

# Six actors: paper folds 1 and 2 (test actors 3-4 and 5-6); fold 3 tests
# actors 7-8, whom this corpus lacks.
ACTORS = 6


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    def build(folder):
        root = folder / "ravdess"
        write_corpus(root, actors=ACTORS, clip_seconds=0.3, seed=1)
        # A quarter of the clips (statement 1, repetition 1: 15 per actor,
        # every emotion) keeps each fold's training to a second or two.
        for actor in os.listdir(root):
            folder = root / actor
            if not folder.is_dir():
                continue
            for name in os.listdir(folder):
                parts = name[:-4].split("-")
                if parts[4] != "01" or parts[5] != "01":
                    os.remove(folder / name)

    return str(shared_folder(tmp_path_factory, "records", build, across_backends=True) / "ravdess")


def _backbone():
    keras.utils.set_random_seed(0)
    return HubertBackbone(**TINY_BACKBONE, padding_invariant=True)


def _config(**kwargs):
    defaults = dict(epochs=1, batch_size=8, max_seconds=1.0, preset="tiny")
    defaults.update(kwargs)
    return TrainConfig(**defaults)


def _train(corpus, out, variants=("dense",), folds=(1, 2), cache=None, **kwargs):
    kwargs.setdefault("plots", False)  # `kser report` draws them where needed
    return run_training(
        corpus,
        [_config(variant=v) for v in variants],
        str(out),
        folds=list(folds),
        cache_dir=cache,
        progress=False,
        backbone=_backbone(),
        normalize=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def finished_run(corpus, tmp_path_factory):
    """A run folder with dense folds 1 and 2, and its feature cache."""

    def build(base):
        _train(corpus, base / "run", cache=str(base / "cache"))

    return shared_folder(tmp_path_factory, "finished", build)


@pytest.fixture
def run_copy(finished_run, tmp_path):
    """A copy of the finished run and of its cache, for a test to change."""
    out = tmp_path / "run"
    shutil.copytree(finished_run / "run", out)
    cache = tmp_path / "cache"
    shutil.copytree(finished_run / "cache", cache)
    return out, str(cache)


def _stamps(out):
    return {
        fold: (out / "dense" / f"fold_{fold:02d}" / "result.json").stat().st_mtime_ns
        for fold in (1, 2)
    }


def _one_line_error(result):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kser: error:"), result.output
    return lines[0]


def test_result_lists_checksums_of_the_fold_files(run_copy):
    out, _ = run_copy
    fold_dir = out / "dense" / "fold_01"
    files = json.loads((fold_dir / "result.json").read_text())["files"]
    assert set(files) == {
        "metrics.json", "history.csv", "history.md", "predictions.csv",
        "head.weights.h5",
    }
    import hashlib

    data = (fold_dir / "predictions.csv").read_bytes()
    assert files["predictions.csv"] == {
        "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)
    }


def test_report_stops_on_a_corrupt_result_or_a_changed_file(run_copy):
    out, _ = run_copy
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    # A file whose checksum does not match: one line naming it.
    predictions = out / "dense" / "fold_02" / "predictions.csv"
    text = predictions.read_text()
    predictions.write_text(text.replace("0.", "1.", 1))
    line = _one_line_error(CliRunner().invoke(main, ["report", str(out)]))
    assert str(predictions) in line and "damaged" in line
    predictions.write_text(text)
    # A corrupt result.json: one line naming it, exit 2.
    marker = out / "dense" / "fold_01" / "result.json"
    marker.write_text(marker.read_text()[:40])
    line = _one_line_error(CliRunner().invoke(main, ["report", str(out)]))
    assert str(marker) in line


def test_report_accepts_results_written_before_checksums(run_copy):
    out, _ = run_copy
    for fold in (1, 2):
        marker = out / "dense" / f"fold_{fold:02d}" / "result.json"
        result = json.loads(marker.read_text())
        del result["files"]
        marker.write_text(json.dumps(result))
    # Without recorded checksums there is nothing to check.
    (out / "dense" / "fold_01" / "predictions.csv").write_text("file\n")
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert "| 1 |" in result.output and "| 2 |" in result.output


def test_resume_trains_damaged_folds_again(corpus, run_copy, capfd):
    out, cache = run_copy
    before = _stamps(out)
    predictions = out / "dense" / "fold_01" / "predictions.csv"
    predictions.write_bytes(predictions.read_bytes()[:100])  # truncated
    # A writer killed mid-write left its temporary file; retraining clears it.
    stale = out / "dense" / "fold_01" / ".confusion_matrix.png.x1y2.tmp"
    stale.write_bytes(b"half a plot")
    _train(corpus, out, cache=cache)
    assert not stale.exists()
    err = capfd.readouterr().err
    assert "dense fold 1: predictions.csv is damaged (" in err
    assert "training it again" in err and "fold 2" not in err
    after = _stamps(out)
    assert after[1] != before[1] and after[2] == before[2]
    assert len(predictions.read_text().splitlines()) == 31  # 30 test clips

    os.remove(out / "dense" / "fold_02" / "head.weights.h5")
    _train(corpus, out, cache=cache)
    err = capfd.readouterr().err
    assert "dense fold 2: head.weights.h5 is damaged (missing)" in err
    assert "fold 1" not in err
    again = _stamps(out)
    assert again[1] == after[1] and again[2] != after[2]
    assert (out / "dense" / "fold_02" / "head.weights.h5").exists()

    # A corrupt result.json of a fold about to train: trained, no error.
    marker = out / "dense" / "fold_01" / "result.json"
    marker.write_text("{")
    summary = _train(corpus, out, cache=cache)
    assert "dense fold 1: result.json is damaged" in capfd.readouterr().err
    assert [row["fold"] for row in summary["rows"]] == [1, 2]
    assert json.loads(marker.read_text())["files"]


_HOLDER = """
import sys
from kser.report.lock import RunLock
RunLock(sys.argv[1], command="kser cv --out somewhere").acquire()
print("locked", flush=True)
sys.stdin.read()
"""


def _hold_lock(folder):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    from kser.convert.transformers import convert_checkpoint
    from tests.models.helpers import fixture_dir

    path = str(tmp_path_factory.mktemp("preset") / "preset")
    convert_checkpoint(fixture_dir("hubert_tiny_base"), path)
    return path


def test_a_locked_run_folder_stops_a_second_run(corpus, preset, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = _hold_lock(out)
    try:
        listing = sorted(os.listdir(out))
        result = CliRunner().invoke(
            main,
            ["train", "--data", corpus, "--preset", preset, "--variant", "dense",
             "--fold", "1", "--epochs", "1", "--max-seconds", "1",
             "--out", str(out)],
        )
        line = _one_line_error(result)
        assert f"pid {holder.pid}" in line and "started" in line
        assert "kser cv --out somewhere" in line
        assert sorted(os.listdir(out)) == listing == [".kser.lock"]
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_file_does_not_block(corpus, run_copy):
    out, cache = run_copy
    holder = _hold_lock(out)
    holder.kill()  # killed: the kernel drops its flock, the file stays
    holder.wait()
    assert (out / ".kser.lock").exists()
    summary = _train(corpus, out, cache=cache)
    assert [row["fold"] for row in summary["rows"]] == [1, 2]
    assert not (out / ".kser.lock").exists()  # released at the end


def test_run_config_keeps_every_variant(corpus, run_copy):
    out, cache = run_copy
    _train(corpus, out, variants=("dense-aug",), folds=(1,), cache=cache)
    config = json.loads((out / "run_config.json").read_text())
    assert config["configs"][0]["variant"] == "dense-aug"  # the latest
    assert [r["configs"][0]["variant"] for r in config["runs"]] == [
        "dense", "dense-aug"
    ]
    assert config["runs"][0]["folds"] == [1, 2]
    assert sorted(config["variants"]) == ["dense", "dense-aug"]
    assert config["variants"]["dense-aug"]["augment"] is True


def test_failing_runs_leave_nothing(corpus, run_copy, tmp_path, monkeypatch):
    # An unknown fold in a new folder: no folder at all.
    fresh = tmp_path / "fresh"
    with pytest.raises(KserError, match="no fold 13"):
        _train(corpus, fresh, folds=(13,))
    assert not fresh.exists()

    # A fold without test clips (fold 3: actors 7-8) in a used folder:
    # nothing trained, run_config.json unchanged, no fold folder.
    out, cache = run_copy
    config = (out / "run_config.json").read_bytes()
    with pytest.raises(KserError, match="paper-3: no test clips of actor 07, actor 08"):
        _train(corpus, out, variants=("dense-aug",), folds=(1, 3), cache=cache)
    assert (out / "run_config.json").read_bytes() == config
    assert not (out / "dense-aug").exists()

    # A fold that fails half-way leaves no half-written fold folder.
    import kser.train.experiment as experiment

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(experiment, "write_predictions", broken)
    with pytest.raises(OSError, match="disk full"):
        _train(corpus, out, variants=("dense-aug",), folds=(1,), cache=cache)
    assert not (out / "dense-aug").exists()
    assert (out / "run_config.json").read_bytes() == config
    assert not (out / ".kser.lock").exists()


def test_history_md_shows_the_test_loss(run_copy):
    out, _ = run_copy
    metrics = json.loads((out / "dense" / "fold_01" / "metrics.json").read_text())
    text = (out / "dense" / "fold_01" / "history.md").read_text()
    header, _, *rows = [line for line in text.splitlines() if line.startswith("|")]
    column = [c.strip() for c in header.strip("|").split("|")].index("Test loss")
    tested = [r for r in rows if [c.strip() for c in r.strip("|").split("|")][column]]
    assert len(tested) == 1
    value = [c.strip() for c in tested[0].strip("|").split("|")][column]
    assert value == f"{metrics['log_loss']:.3f}"


def test_stale_cache_temporaries_are_removed(tmp_path):
    import fcntl

    from kser.data.feature_cache import FeatureCache

    shard = tmp_path / "cache" / "v1" / "ab"
    shard.mkdir(parents=True)
    now = time.time()
    files = {}
    for name, age in [("old", 7200), ("unlocked", 300), ("fresh", 5), ("locked", 300)]:
        path = shard / f".tmp-{name}.npz"
        path.write_bytes(b"partial")
        os.utime(path, (now - age, now - age))
        files[name] = path
    entry = shard / ("ab" + "0" * 62 + ".npz")
    entry.write_bytes(b"entry")
    os.utime(entry, (now - 7200, now - 7200))
    with open(files["locked"], "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # a live writer
        FeatureCache(
            tmp_path / "cache", lambda batch: batch, "fp", num_frames=lambda n: n
        )
    assert not files["old"].exists() and not files["unlocked"].exists()
    assert files["fresh"].exists() and files["locked"].exists()
    assert entry.exists()


def test_remove_stale_temporaries_leaves_other_files(tmp_path):
    from kser.report.files import remove_stale_temporaries

    (tmp_path / "cross_corpus" / "emodb").mkdir(parents=True)
    (tmp_path / ".metrics.json.ab12.tmp").write_text("{")
    (tmp_path / "cross_corpus" / "emodb" / ".predictions.csv.cd34.tmp").write_text("")
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "notes.tmp").write_text("not a temporary of ours")
    assert remove_stale_temporaries(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "metrics.json", "notes.tmp"]
    assert remove_stale_temporaries(tmp_path / "missing") == 0


def test_run_training_keeps_its_old_import_path():
    from kser.train import experiment
    from kser.train.experiment import run_training as old

    assert old is run_training
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        experiment.no_such_name
