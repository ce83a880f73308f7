"""Training and cross-validation: `Experiment`, `run_fold`, `run_cv`.

An `Experiment` is the shared state of one set of runs: the corpus, the
frozen backbone and the feature cache. `run_fold` trains one variant on one
fold (the fit loop is `kser.train.fit`; features come from
`kser.train.features`); `run_cv` runs a protocol's folds, with `jobs > 1`
through worker processes (`kser.train.workers`). Run-folder files are
written and read by `kser.report.runs`.

Every fold writes into its own folder and marks itself finished by writing
`result.json` last (atomically), with the SHA-256 and size of its other
files, so an interrupted `run_cv` started again skips finished folds, loses
nothing, and trains again a fold whose files were lost or damaged.
`kser.train.training.run_training` (`kser train`/`cv`) indexes the corpus
and runs an `Experiment` under the run folder's lock.
"""

import os
import shutil
import sys
import time

import numpy as np

from kser.data import class_index
from kser.data.corpora.base import speaker_key
from kser.data.folds import fold_missing_speakers
from kser.data.folds import get_folds
from kser.data.tf_release import py_functions_released
from kser.errors import KserError
from kser.labels import PAPER_EMOTIONS
from kser.report import classification_metrics
from kser.report import write_fold_plots
from kser.report import write_history_markdown
from kser.report import write_metrics
from kser.report.metrics import softmax
from kser.report.files import remove_stale_temporaries
from kser.report.runs import CROSS_FILES
from kser.report.runs import check_files
from kser.report.runs import file_records
from kser.report.runs import FOLD_FILES
from kser.report.runs import RESULT_FILE  # noqa: F401  (re-exported)
from kser.report.runs import collect_results  # noqa: F401  (re-exported)
from kser.report.runs import fold_dir as run_fold_dir
from kser.report.runs import inspect_fold
from kser.report.runs import rebuild_reports  # noqa: F401  (re-exported)
from kser.report.runs import write_history_csv
from kser.report.runs import write_predictions
from kser.report.runs import write_result
from kser.report.runs import write_summary
from kser.train import cross_corpus as _cross
from kser.train import features as _features
from kser.train import fit as _fit
from kser.train import workers as _workers
from kser.train.config import TrainConfig  # noqa: F401  (re-exported)
from kser.train.config import config_hash
from kser.train.config import environment
from kser.train.features import BackboneShape
from kser.train.features import load_backbone  # noqa: F401  (re-exported)


class Experiment:
    """The shared state of one set of runs: corpus, backbone, feature cache.

    Args:
        index: a corpus index (`kser.data.load_corpus`, `index_ravdess`) or
            a list of its clips (with `.path`, `.label`, `.speaker`).
        backbone: a frozen backbone (`load_backbone`).
        out_dir: str. Results go to `out_dir/VARIANT/fold_KK/`.
        normalize: bool. Normalise each clip before the backbone.
        cache_dir: str or None. Feature cache folder; default
            `out_dir/feature_cache`.
        label_names: list of str or None. Class names in output order;
            default the index's (`index.label_names`), else the paper's 8.
        progress: bool. Progress bars.
        corpus: str. The corpus name, whose protocols give the folds.
        test_corpora: list of `(name, index)` or None. Corpora every
            trained fold is also tested on.
        plots: bool. Draw each fold's PNG plots (about 2 s a fold on a
            2-core CPU); when False, `rebuild_reports` draws them later.
    """

    def __init__(
        self,
        index,
        backbone,
        out_dir,
        normalize=True,
        cache_dir=None,
        label_names=None,
        progress=True,
        fingerprint=None,
        corpus="ravdess",
        test_corpora=None,
        plots=True,
    ):
        self.index = index
        self.plots = bool(plots)
        # Cross-corpus tests: [(name, index)], evaluated after every fold.
        self.test_corpora = [(str(n), i) for n, i in (test_corpora or [])]
        self.files = list(getattr(index, "files", index))
        if not self.files:
            raise KserError("no clips to train on")
        self.backbone = backbone
        self.normalize = normalize
        self.out_dir = os.fspath(out_dir)
        self.cache_dir = _features.cache_folder(self.out_dir, cache_dir)
        self.label_names = list(
            label_names or getattr(index, "label_names", None) or PAPER_EMOTIONS
        )
        self.progress = progress
        self.verbose = 2 if progress else 0
        self.corpus = corpus
        self._caches = {}
        self._encoders = {}
        self._fingerprint = fingerprint
        # Whether `finished` says when a damaged fold is trained again
        # (the parent does; its workers do not repeat it).
        self.report_damage = True
        self._damage_reported = set()
        # (variant, fold) of every fold this object saw trained.
        self.trained = []

    @classmethod
    def for_worker(cls, state):
        """The experiment of a head-training worker (no backbone weights)."""
        experiment = cls(
            state["files"],
            BackboneShape(**state["backbone_shape"]),
            state["out_dir"],
            normalize=state["normalize"],
            cache_dir=state["cache_dir"],
            label_names=state["label_names"],
            progress=False,
            fingerprint=state["fingerprint"],
            corpus=state["corpus"],
            test_corpora=state["test_corpora"],
            plots=state.get("plots", True),
        )
        experiment.report_damage = False
        return experiment

    def worker_state(self):
        """What `for_worker` needs, as picklable data."""
        return {
            "files": self.files,
            "out_dir": self.out_dir,
            "cache_dir": self.cache_dir,
            "normalize": self.normalize,
            "label_names": self.label_names,
            "fingerprint": self.fingerprint(),
            "backbone_shape": BackboneShape.of(self.backbone).to_dict(),
            "corpus": self.corpus,
            "test_corpora": self.test_corpora,
            "plots": self.plots,
        }

    def labels(self, clips):
        """The class index of each clip, in `label_names` order."""
        return [class_index(clip, self.label_names) for clip in clips]

    # --- features -----------------------------------------------------

    def fingerprint(self):
        """The backbone's weights fingerprint, prefixed by its family for
        families other than HuBERT (features of two families never share
        cache entries; HuBERT's keep the keys of earlier versions)."""
        if self._fingerprint is None:
            from kser.models import family_of
            from kser.models import weights_fingerprint

            fingerprint = weights_fingerprint(self.backbone)
            family = family_of(self.backbone)
            if family != "hubert":
                fingerprint = f"{family}:{fingerprint}"
            self._fingerprint = fingerprint
        return self._fingerprint

    def _encoder(self, layers):
        if layers not in self._encoders:
            self._encoders[layers] = _features.build_encoder(
                self.backbone, layers, self.normalize
            )
        return self._encoders[layers]

    def drop_encoders(self):
        """Forget compiled encoders (rebuilt on demand)."""
        self._encoders.clear()

    def cache(self, config):
        """The `FeatureCache` for a config's layers, crop and dtypes."""
        key = config.cache_settings
        if key not in self._caches:
            layers = config.layers
            self._caches[key] = _features.make_cache(
                self.cache_dir,
                config,
                lambda: self._encoder(layers),
                self.fingerprint(),
                self.normalize,
                self.progress,
                num_frames=self.backbone.num_frames,
            )
        return self._caches[key]

    def prepare_features(self, pending):
        """Extract (or find cached) every feature some folds will read."""
        _features.prepare_features(self, pending)

    # --- models -------------------------------------------------------

    def classifier(self, config, head=None):
        """An `EmotionClassifier` for a config, optionally with trained head."""
        from kser.models import EmotionClassifier

        model = EmotionClassifier(
            self.backbone,
            head=config.head,
            layers=config.layers,
            label_names=self.label_names,
            head_args=config.head_args(),
            normalize=self.normalize,
        )
        if head is not None:
            model.head.set_weights(head.get_weights())
        return model

    def head(self, config):
        """A fresh head for a config, over this backbone's features."""
        from kser.models import build_head

        return build_head(
            config.head,
            feature_dim=self.backbone.hidden_dim,
            num_classes=len(self.label_names),
            layers=config.layers,
            num_states=self.backbone.num_layers + 1,
            **config.head_args(),
        )

    # --- one fold -----------------------------------------------------

    def fold_dir(self, config, fold):
        return run_fold_dir(self.out_dir, config.name, fold.index)

    def _config_hash(self, config):
        extra = {"fingerprint": self.fingerprint()}
        if self.test_corpora:
            # A fold finished without these tests is run again with them.
            extra["test_corpora"] = [name for name, _ in self.test_corpora]
        return config_hash(config, extra)

    def finished(self, config, fold):
        """The saved result if this variant's fold finished with this config.

        A fold whose `result.json` does not parse, or whose files differ
        from the checksums it lists, is not finished: it is trained again,
        and (once per fold) a line on stderr says so.
        """
        fold_dir = self.fold_dir(config, fold)
        done, damage = inspect_fold(fold_dir, verify=False)
        if done is not None:
            if done.get("config_hash") != self._config_hash(config):
                return None
            damage = check_files(fold_dir, done)
        if damage is None:
            return done
        key = (config.name, fold.index)
        if self.report_damage and key not in self._damage_reported:
            self._damage_reported.add(key)
            name, reason = damage
            print(
                f"{config.name} fold {fold.index}: {name} is damaged ({reason}); "
                "training it again",
                file=sys.stderr,
                flush=True,
            )
        return None

    def run_fold(self, config, fold, save_model=False):
        """Train one variant on one fold; evaluate its test speakers once.

        Skips the fold (returning the saved result) if it already finished
        with the same config.

        Args:
            config: `TrainConfig`.
            fold: `Fold`.
            save_model: bool. Also write the whole classifier as
                `model.keras` (backbone included: large for real presets).

        Returns:
            dict. The fold's result (as written to `result.json`).
        """
        done = self.finished(config, fold)
        if done is not None:
            return done
        fold_dir = self.fold_dir(config, fold)
        started = time.time()
        splits = self._splits(fold)
        remove_stale_temporaries(fold_dir)  # left by a run killed mid-write
        # The folder appears with its first file (atomic writes create it);
        # a fold that fails before `result.json` leaves no folder it made.
        created = [
            d for d in (fold_dir, os.path.dirname(fold_dir)) if not os.path.isdir(d)
        ]
        try:
            # The fold's datasets die with it; so must what TensorFlow keeps
            # of them (its features), or a process training fold after fold
            # holds every fold's features.
            with py_functions_released():
                result = self._train_fold(config, fold, splits, fold_dir, save_model)
            result["wall_seconds"] = round(time.time() - started, 2)
            files = [*FOLD_FILES, *(["model.keras"] if save_model else [])]
            for name in result.get("cross_corpus", {}):
                files += [f"{_cross.CROSS_DIR}/{name}/{f}" for f in CROSS_FILES]
            result["files"] = file_records(fold_dir, files)
            # Written last: its presence marks the fold finished.
            write_result(fold_dir, result)
        except BaseException:
            if fold_dir in created:
                shutil.rmtree(fold_dir, ignore_errors=True)
            for folder in created[1:]:
                try:
                    os.rmdir(folder)
                except OSError:
                    pass  # not empty: another fold wrote there
            raise
        self.trained.append((config.name, fold.index))
        return result

    def _splits(self, fold):
        """A fold's (train, validation, test) clips; an error if it has none
        to train or test on."""
        splits = fold.split(self.files)
        if not splits[0] or not splits[2]:
            raise KserError(
                f"{fold.name}: no training or test clips for its speakers in "
                "this corpus"
            )
        return splits

    def _train_fold(self, config, fold, splits, fold_dir, save_model):
        import keras

        train_files, val_files, test_files = splits
        _fit.announce(self, config, fold, len(train_files))
        keras.utils.set_random_seed(config.seed)
        train = _fit.train_cached if config.mode == "cached" else _fit.train_online
        head, best, test_logits, y_test = train(self, config, splits)
        history = best.history
        probabilities = softmax(test_logits)
        y_pred = np.argmax(probabilities, axis=-1)
        metrics = classification_metrics(
            y_test, y_pred, self.label_names, probabilities=probabilities
        )
        metrics["best_epoch"] = best.best_epoch
        write_metrics(os.path.join(fold_dir, "metrics.json"), metrics)
        write_history_csv(os.path.join(fold_dir, "history.csv"), history)
        write_history_markdown(
            os.path.join(fold_dir, "history.md"),
            history,
            test_accuracy=metrics["accuracy"],
            test_loss=metrics.get("log_loss"),
        )
        if self.plots:
            write_fold_plots(metrics, fold_dir, history=history,
                             title=f"{config.name}, fold {fold.index}")
        write_predictions(
            os.path.join(fold_dir, "predictions.csv"),
            test_files,
            probabilities,
            self.label_names,
            y_test,
        )
        cross = {
            name: _cross.evaluate(
                self, config, head, fold_dir, name, index,
                title=f"{config.name}, fold {fold.index}, on {name}",
            )
            for name, index in self.test_corpora
        }
        head.save_weights(os.path.join(fold_dir, "head.weights.h5"))
        if save_model:
            self.classifier(config, head).save(os.path.join(fold_dir, "model.keras"))
        result = {
            "fold": fold.index,
            "protocol": config.protocol,
            "variant": config.name,
            "train_actors": list(fold.train),
            "val_actors": list(fold.validation),
            "test_actors": list(fold.test),
            "accuracy": metrics["accuracy"],
            "balanced_accuracy": metrics["balanced_accuracy"],
            "macro_f1": metrics["macro_f1"],
            "best_epoch": best.best_epoch,
            "num_train": len(train_files),
            "num_val": len(val_files),
            "num_test": len(test_files),
            "wall_seconds": None,
            "config": config.to_dict(),
            "config_hash": self._config_hash(config),
            "weights_fingerprint": self.fingerprint(),
            "environment": environment(),
        }
        if cross:
            result["cross_corpus"] = cross
        if not getattr(fold, "speaker_independent", True):
            # A clip-level protocol (e.g. EmoBox's CREMA-D split): said in
            # the result and in every summary.
            result["speaker_independent"] = False
        missing = fold_missing_speakers(fold, self.files)
        if missing:  # allowed by run_training(allow_missing_speakers=True)
            result["missing_speakers"] = sorted(
                {s for split in missing.values() for s in split}, key=speaker_key
            )
        return result

    # --- cross-validation ---------------------------------------------

    def folds(self, protocol):
        """Every fold of one of the corpus's protocols."""
        return get_folds(protocol, corpus=self.corpus, index=self.index)

    def run_cv(self, configs, folds=None, on_fold=None, save_model=False, jobs=1):
        """Run every fold of a protocol for one or more variants.

        Finished folds (same config) are skipped, so an interrupted run
        resumes where it stopped. The Table I summary (Markdown, CSV, JSON)
        is rewritten after every fold.

        With `jobs > 1` (cached mode only) this process first extracts every
        feature the pending folds need (the backbone runs once per clip and
        noisy copy), then trains the heads of `jobs` folds at a time in
        worker processes. Each fold sets its own seed and reads the same
        cached features, so the results equal those of `jobs=1`. On a CPU a
        head's train step keeps about one core busy, so `jobs` up to the
        number of cores cuts the wall time; each worker holds one fold's
        features in memory.

        Args:
            configs: list of `TrainConfig`. One per variant; all share the
                protocol.
            folds: list of int or None. Fold numbers to run (default all).
            on_fold: callable or None. Called with each fold's result.
            save_model: bool. Also save each fold's whole classifier.
            jobs: int. Folds whose heads train at once (worker processes).

        Returns:
            dict. The cross-validation summary (see `kser.report.cv_summary`).
        """
        configs = list(configs)
        protocols = {c.protocol for c in configs}
        if len(protocols) != 1:
            raise KserError("all variants of one cross-validation share a protocol")
        all_folds = self.folds(protocols.pop())
        wanted = set(folds or [f.index for f in all_folds])
        unknown = wanted - {f.index for f in all_folds}
        if unknown:
            raise KserError(
                f"no fold {sorted(unknown)[0]} in this protocol "
                f"(folds 1-{len(all_folds)})"
            )
        selected = [f for f in all_folds if f.index in wanted]
        jobs = int(jobs)
        if jobs < 1:
            raise KserError(f"jobs must be at least 1, got {jobs}")
        for fold in selected:
            self._splits(fold)  # a fold without clips fails before training
        if jobs > 1:

            def trained(result):
                # The workers train only unfinished folds.
                self.trained.append((result["variant"], result["fold"]))
                if on_fold is not None:
                    on_fold(result)

            _workers.run_parallel(self, configs, selected, trained, save_model, jobs)
            return self.write_summary(configs, selected)
        for fold in selected:
            for config in configs:
                result = self.run_fold(config, fold, save_model=save_model)
                if on_fold is not None:
                    on_fold(result)
                self.write_summary(configs, selected)
        return self.write_summary(configs, selected)

    def write_summary(self, configs, folds):
        return write_summary(
            self.out_dir, [c.name for c in configs], [f.index for f in folds]
        )


def run_fold(config, index, fold, backbone, out_dir, normalize=True, **kwargs):
    """Train and evaluate one variant on one fold (see `Experiment`)."""
    return Experiment(index, backbone, out_dir, normalize=normalize, **kwargs).run_fold(
        config, fold
    )


def run_cv(configs, index, backbone, out_dir, folds=None, normalize=True, **kwargs):
    """Cross-validate variants over a protocol's folds (see `Experiment`)."""
    return Experiment(index, backbone, out_dir, normalize=normalize, **kwargs).run_cv(
        configs, folds=folds
    )


def __getattr__(name):
    # `run_training` moved to `kser.train.training`; the old import works.
    if name == "run_training":
        from kser.train.training import run_training

        return run_training
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
