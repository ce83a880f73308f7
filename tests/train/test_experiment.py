"""Training and cross-validation: cached == online, resume, reports, CLI."""

import json
import os

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.data.synthetic import write_corpus
from kser.models import HubertBackbone
from kser.train.config import TrainConfig
from kser.train.experiment import Experiment
from kser.train.experiment import rebuild_reports
from tests.models.helpers import TINY_BACKBONE
from tests.shared import shared_folder
from tests.shared import thinned

# Six actors are enough for paper folds 1 and 2 (validation 01-02 / 03-04,
# test 03-04 / 05-06, the rest train).
ACTORS = 6


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    def build(folder):
        write_corpus(folder / "ravdess", actors=ACTORS, clip_seconds=0.4, seed=1)

    return str(shared_folder(tmp_path_factory, "train", build, across_backends=True) / "ravdess")


@pytest.fixture(scope="module")
def index(corpus):
    from kser.data.ravdess import index_ravdess

    return index_ravdess(corpus)


@pytest.fixture(scope="module")
def small_index(index):
    """The online path runs the backbone on every batch of every epoch."""
    return thinned(index)


# Tests that check no PNG pass plots=False (about 2 s a fold); the fold
# outputs, resume and quickstart tests draw them.


def _backbone():
    keras.utils.set_random_seed(0)
    return HubertBackbone(**TINY_BACKBONE, padding_invariant=True)


def _config(**kwargs):
    defaults = dict(epochs=2, batch_size=8, max_seconds=1.0, preset="tiny")
    defaults.update(kwargs)
    return TrainConfig(**defaults)


def _history(path):
    with open(path) as f:
        rows = [line.split(",") for line in f.read().strip().splitlines()]
    return rows[0], np.array(rows[1:], dtype=float)


# Length grouping is a property of the datasets, not of the head: the dense
# head takes it, and the LSTM (whose masking meets the most padding) takes
# batches padded to their longest clip.
@pytest.mark.parametrize(
    "variant,group_by_length", [("dense", True), ("lstm", False)]
)
def test_cached_and_online_paths_give_the_same_numbers(
    small_index, tmp_path, variant, group_by_length
):
    from kser.data.folds import get_fold

    fold = get_fold("paper", 1)
    backbone = _backbone()
    results = {}
    for mode in ("cached", "online"):
        experiment = Experiment(
            small_index, backbone, str(tmp_path / mode), progress=False, plots=False
        )
        config = _config(variant=variant, mode=mode, group_by_length=group_by_length)
        results[mode] = experiment.run_fold(config, fold)
    cached, online = results["cached"], results["online"]
    assert cached["accuracy"] == online["accuracy"]
    assert cached["best_epoch"] == online["best_epoch"]
    head_c, hist_c = _history(tmp_path / "cached" / variant / "fold_01" / "history.csv")
    head_o, hist_o = _history(tmp_path / "online" / variant / "fold_01" / "history.csv")
    assert head_c == head_o
    np.testing.assert_allclose(hist_c, hist_o, rtol=1e-4, atol=1e-5)
    with open(tmp_path / "cached" / variant / "fold_01" / "predictions.csv") as f:
        cached_rows = f.read()
    with open(tmp_path / "online" / variant / "fold_01" / "predictions.csv") as f:
        online_rows = f.read()
    labels_c = [r.split(",")[3] for r in cached_rows.splitlines()[1:]]
    labels_o = [r.split(",")[3] for r in online_rows.splitlines()[1:]]
    assert labels_c == labels_o


def test_fold_outputs_and_speaker_independence(index, tmp_path):
    from kser.data.folds import get_fold

    fold = get_fold("paper", 2)
    result = Experiment(index, _backbone(), str(tmp_path), progress=False).run_fold(
        _config(variant="dense-aug"), fold
    )
    fold_dir = tmp_path / "dense-aug" / "fold_02"
    for name in ("result.json", "metrics.json", "history.csv", "history.md",
                 "predictions.csv", "head.weights.h5", "confusion_matrix.png",
                 "correct_per_class.png", "training_curves.png"):
        assert (fold_dir / name).exists(), name
    assert result["test_actors"] == [5, 6] and result["val_actors"] == [3, 4]
    assert set(result["train_actors"]).isdisjoint({3, 4, 5, 6})
    # Augmentation doubles the training clips (clean + 1 noisy copy) in the
    # cache, never the test set: 60 clips per test actor.
    assert result["num_test"] == 120 and result["num_train"] == 120
    metrics = json.loads((fold_dir / "metrics.json").read_text())
    assert np.asarray(metrics["confusion_matrix"]["counts"]).sum() == 120
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["config"]["augment"] is True
    assert result["environment"]["backend"] == keras.backend.backend()


def test_cv_resumes_after_interruption(index, tmp_path):
    backbone = _backbone()
    configs = [_config(variant="dense")]
    calls = []

    class Interrupt(Exception):
        pass

    def stop_after_first(result):
        calls.append(result["fold"])
        raise Interrupt()

    experiment = Experiment(index, backbone, str(tmp_path), progress=False)
    with pytest.raises(Interrupt):
        experiment.run_cv(configs, folds=[1, 2], on_fold=stop_after_first)
    first = tmp_path / "dense" / "fold_01" / "result.json"
    assert first.exists() and not (tmp_path / "dense" / "fold_02").exists()
    stamp = first.stat().st_mtime_ns

    experiment = Experiment(index, backbone, str(tmp_path), progress=False)
    summary = experiment.run_cv(configs, folds=[1, 2], on_fold=lambda r: calls.append(r["fold"]))
    assert first.stat().st_mtime_ns == stamp  # fold 1 was not redone
    assert (tmp_path / "dense" / "fold_02" / "result.json").exists()
    assert [row["fold"] for row in summary["rows"]] == [1, 2]
    for name in ("cv_summary.md", "cv_summary.csv", "cv_summary.json"):
        assert (tmp_path / name).exists()
    # The feature cache made the second run extract nothing new.
    cache = experiment.cache(configs[0])
    assert cache.stats["hits"] > 0
    assert cache.stats["misses"] == 0 and cache.stats["written"] == 0

    # `kser report` rebuilds plots and tables from saved results.
    os.remove(tmp_path / "dense" / "fold_01" / "confusion_matrix.png")
    os.remove(tmp_path / "cv_summary.md")
    rebuild_reports(str(tmp_path))
    assert (tmp_path / "dense" / "fold_01" / "confusion_matrix.png").exists()
    assert (tmp_path / "cv_summary.md").exists()


def _fold_outputs(run_dir, variant, fold):
    fold_dir = run_dir / variant / f"fold_{fold:02d}"
    result = json.loads((fold_dir / "result.json").read_text())
    _, history = _history(fold_dir / "history.csv")
    rows = (fold_dir / "predictions.csv").read_text().splitlines()[1:]
    probabilities = np.array([r.split(",")[4:] for r in rows], dtype=float)
    return result, history, probabilities


def test_parallel_heads_give_the_sequential_numbers(index, tmp_path, monkeypatch):
    # The workers must set up kser's own compilation cache, not the test
    # run's (tests/conftest.py).
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    # jobs=2 extracts every feature up front (into an empty cache: a
    # worker that missed one would fail), then trains heads in two worker
    # processes; each fold must come out as in the one-process run, which
    # then reads the same cache. One variant over two folds keeps both
    # workers busy; dense-aug also reads the noisy copies from the cache.
    backbone = _backbone()
    configs = [_config(variant="dense-aug")]
    for jobs in (2, 1):
        experiment = Experiment(
            index,
            backbone,
            str(tmp_path / f"jobs{jobs}"),
            cache_dir=str(tmp_path / "cache"),
            progress=False,
            plots=False,
        )
        summary = experiment.run_cv(configs, folds=[1, 2], jobs=jobs)
        assert [row["fold"] for row in summary["rows"]] == [1, 2]
    if keras.backend.backend() == "jax":
        # The workers shared compiled programs through the cache folder.
        assert os.listdir(tmp_path / "cache" / "xla_programs")
    for fold in (1, 2):
        par = _fold_outputs(tmp_path / "jobs2", "dense-aug", fold)
        seq = _fold_outputs(tmp_path / "jobs1", "dense-aug", fold)
        assert par[0]["accuracy"] == seq[0]["accuracy"]
        assert par[0]["best_epoch"] == seq[0]["best_epoch"]
        assert par[0]["config_hash"] == seq[0]["config_hash"]
        np.testing.assert_allclose(par[1], seq[1], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(par[2], seq[2], atol=1e-5)
    # Started again, the parallel run finds every fold finished.
    experiment = Experiment(
        index, backbone, str(tmp_path / "jobs2"),
        cache_dir=str(tmp_path / "cache"), progress=False,
    )
    result = tmp_path / "jobs2" / "dense-aug" / "fold_01" / "result.json"
    stamp = result.stat().st_mtime_ns
    experiment.run_cv(configs, folds=[1, 2], jobs=2)
    assert result.stat().st_mtime_ns == stamp


def test_parallel_heads_need_the_cached_mode(index, tmp_path):
    from kser.errors import KserError

    experiment = Experiment(index, _backbone(), str(tmp_path), progress=False)
    with pytest.raises(KserError, match="jobs > 1 needs mode 'cached'"):
        experiment.run_cv([_config(mode="online")], folds=[1], jobs=2)
    with pytest.raises(KserError, match="jobs must be at least 1"):
        experiment.run_cv([_config()], folds=[1], jobs=0)


def test_changed_config_reruns_a_finished_fold(index, tmp_path):
    from kser.data.folds import get_fold

    fold = get_fold("paper", 1)
    experiment = Experiment(index, _backbone(), str(tmp_path), progress=False,
                            plots=False)
    first = experiment.run_fold(_config(variant="dense", epochs=1), fold)
    again = experiment.run_fold(_config(variant="dense", epochs=1), fold)
    assert again == first
    changed = experiment.run_fold(_config(variant="dense", epochs=2), fold)
    assert changed["config"]["epochs"] == 2


@pytest.mark.parametrize(
    "mode, augment", [("cached", False), ("cached", True), ("online", True)]
)
def test_a_trained_fold_leaves_no_tf_functions_behind(small_index, tmp_path,
                                                      mode, augment):
    # tf.numpy_function keeps its Python function (and the features or
    # waveforms in its closure) on the process-wide graph: a fold must take
    # its own away, or fold after fold piles up in one process.
    from tensorflow.python.framework import ops

    from kser.data.folds import get_fold

    experiment = Experiment(small_index, _backbone(), str(tmp_path),
                            progress=False, plots=False)
    graph = ops.get_default_graph()
    before = list(getattr(graph, "_py_funcs_used_in_graph", []))
    result = experiment.run_fold(
        _config(variant="dense", epochs=1, mode=mode, augment=augment),
        get_fold("paper", 1),
    )
    assert result["num_train"] > 0
    assert ops.get_default_graph() is graph
    assert list(getattr(graph, "_py_funcs_used_in_graph", [])) == before


def _one_line_error(result):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kser: error:"), result.output
    return lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--data", "/nonexistent/ravdess"], "/nonexistent/ravdess"),
        (["train", "--data", "{empty}"], "RAVDESS"),
        (["train", "--data", "{corpus}", "--variant", "gru"], "unknown variant 'gru'"),
        (["cv", "--data", "{corpus}", "--variants", "dense,transformer"], "unknown variant"),
        # Fold 1: the six actors hold its test speakers (fold 3 would stop
        # at the missing-speaker check before the preset is looked up).
        (["train", "--data", "{corpus}", "--fold", "1", "--preset", "hubert_xxl"],
         "unknown preset"),
        (["train", "--data", "{corpus}", "--fold", "1", "--preset",
          "hubert_base_ls960"], "kser convert"),
        (["train", "--data", "{corpus}"], "no test clips of actor 07, actor 08"),
        (["train", "--data", "{corpus}", "--backend", "mxnet"], "--backend"),
        (["cv", "--data", "{corpus}", "--folds", "1,x"], "--folds"),
        (["cv", "--data", "{corpus}", "--jobs", "0"], "--jobs"),
        (["train", "--data", "{corpus}", "--bogus"], "--bogus"),
        (["train", "--data", "{corpus}", "--corpus", "nope"], "unknown corpus 'nope'"),
        (["train", "--data", "{corpus}", "--learning-rate", "-1"],
         "learning_rate must be greater than 0"),
        (["train", "--data", "{corpus}", "--learning-rate", "nan"],
         "learning_rate must be a finite number"),
        (["cv", "--data", "{corpus}", "--snr-db", "inf"],
         "snr_db must be a finite number"),
        (["train", "--data", "{corpus}", "--max-seconds", "-2"],
         "max_seconds must be greater than 0"),
        (["cv", "--data", "{corpus}", "--protocol", "leave-one-out"],
         "unknown protocol 'leave-one-out' for corpus ravdess"),
    ],
)
def test_cli_user_mistakes_are_one_line(corpus, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("KSER_HOME", str(tmp_path / "home"))
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "run"
    args = [a.format(corpus=corpus, empty=empty) for a in args]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    line = _one_line_error(result)
    assert message in line
    assert not out.exists()  # no half-written output


def test_cli_train_end_to_end_with_converted_preset(corpus, tmp_path):
    from kser.convert.transformers import convert_checkpoint
    from tests.models.helpers import fixture_dir

    preset = str(tmp_path / "preset")
    convert_checkpoint(fixture_dir("hubert_tiny_base"), preset)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        ["train", "--data", corpus, "--preset", preset, "--variant", "lstm",
         "--fold", "1", "--epochs", "1", "--batch-size", "8",
         "--max-seconds", "1", "--no-group-by-length", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "| 1 |" in result.output
    run_config = json.loads((out / "run_config.json").read_text())
    assert run_config["configs"][0]["variant"] == "lstm"
    assert run_config["configs"][0]["group_by_length"] is False
    assert "git_revision" in run_config["environment"]
    model_path = out / "lstm" / "fold_01" / "model.keras"
    assert model_path.exists()
    import kser.models  # noqa: F401  registers the classes

    model = keras.saving.load_model(str(model_path))
    waveform = np.zeros((1, 8000), "float32")
    logits = model.predict(
        {"waveform": waveform, "padding_mask": np.ones((1, 8000), "int32")},
        verbose=0,
    )
    assert logits.shape == (1, 8)


@pytest.fixture(scope="module")
def quickstart_dir(tmp_path_factory):
    """A fresh quickstart folder whose `corpus` is the one the quickstart
    would write (seed 0, 0.3 s clips), built once for the run: the
    quickstart finds it complete and reads it instead of writing 1440
    clips again."""

    def build(folder):
        write_corpus(folder / "corpus", clip_seconds=0.3, seed=0)

    corpus = shared_folder(
        tmp_path_factory, "quickstart-corpus", build, across_backends=True
    ) / "corpus"

    def make(path):
        path.mkdir()
        os.symlink(corpus, path / "corpus")
        return str(path)

    return make


def test_quickstart_library_runs_small(tmp_path, quickstart_dir):
    from kser.quickstart import run_quickstart

    summary = run_quickstart(
        quickstart_dir(tmp_path / "qs"), epochs=1, seconds=0.3,
        variants=("dense",), progress=False,
    )
    assert summary["rows"][0]["fold"] == 3
    assert (tmp_path / "qs" / "run" / "dense" / "fold_03" / "confusion_matrix.png").exists()


def test_summary_of_a_subset_keeps_the_rest_of_the_run_folder(tmp_path):
    # A one-fold recipe (Tables II-IV, figures) may reuse a Table I run
    # folder: its summary must not fail on, or drop, the other folds.
    from kser.data.folds import get_fold
    from kser.train.experiment import write_summary

    for variant, fold, accuracy in [("dense", 1, 0.5), ("dense", 3, 0.75), ("lstm", 3, 0.8)]:
        f = get_fold("paper", fold)
        fold_dir = tmp_path / variant / f"fold_{fold:02d}"
        fold_dir.mkdir(parents=True)
        (fold_dir / "result.json").write_text(json.dumps({
            "fold": fold, "variant": variant, "accuracy": accuracy,
            "train_actors": sorted(f.train), "val_actors": sorted(f.validation),
            "test_actors": sorted(f.test),
        }))
    summary = write_summary(str(tmp_path), ["lstm"], [3])
    assert [row["fold"] for row in summary["rows"]] == [1, 3]
    assert summary["variants"][:2] == ["lstm", "dense"]
    text = (tmp_path / "cv_summary.md").read_text()
    assert "0.500" in text and "0.800" in text


def test_quickstart_with_a_converted_preset(tmp_path, monkeypatch, quickstart_dir):
    from kser.convert import convert_checkpoint
    from kser.quickstart import run_quickstart
    from tests.models.helpers import fixture_dir

    preset = str(tmp_path / "preset")
    convert_checkpoint(fixture_dir("hubert_tiny_base"), preset)
    summary = run_quickstart(
        quickstart_dir(tmp_path / "qs"), epochs=1, seconds=0.3,
        variants=("dense",), progress=False, preset=preset,
    )
    assert summary["rows"][0]["fold"] == 3
    config = json.loads((tmp_path / "qs" / "run" / "run_config.json").read_text())
    assert config["configs"][0]["preset"] == preset
    # A bad preset fails before anything is written.
    monkeypatch.setenv("KSER_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(
        main, ["quickstart", "--preset", "nope", "--out", str(tmp_path / "q2")]
    )
    assert result.exit_code != 0 and "unknown preset 'nope'" in result.output
    assert not (tmp_path / "q2").exists()


def test_float16_cache_trains_on_features_rounded_from_float32(index, tmp_path):
    from kser.data.folds import get_fold
    from kser.data.pipeline import feature_dataset
    from kser.train.fit import as_head_input

    fold = get_fold("paper", 1)
    backbone = _backbone()
    cache_dir = str(tmp_path / "cache")
    wide = Experiment(index, backbone, str(tmp_path / "f32"),
                      cache_dir=cache_dir, progress=False, plots=False)
    wide.run_fold(_config(variant="dense"), fold)
    half = Experiment(index, backbone, str(tmp_path / "f16"),
                      cache_dir=cache_dir, progress=False, plots=False)
    config = _config(variant="dense", cache_dtype="float16")
    result = half.run_fold(config, fold)
    # Every float16 entry came from a float32 one: the backbone never ran.
    cache = half.cache(config)
    assert cache.stats["derived"] == len(index.files)
    assert cache.stats["misses"] == 0 and not half._encoders
    saved = json.loads(
        (tmp_path / "f16" / "dense" / "fold_01" / "result.json").read_text()
    )
    assert saved["config"]["cache_dtype"] == "float16"
    assert 0.0 <= result["accuracy"] <= 1.0
    # The head is fed float32 whatever the cache holds.
    train, _, _ = fold.split(index.files)
    features = cache.extract(train[:4])
    assert features[0].dtype == np.float16
    x, _ = next(iter(as_head_input(feature_dataset(features, [0, 1, 2, 3], 4))))
    assert x["features"].dtype.name == "float32"
