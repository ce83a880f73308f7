"""Training and cross-validation: `run_fold` and `run_cv`.

Two paths, same numbers for non-augmented variants:
- `mode="cached"` (default): the frozen backbone runs once per clip (and per
  cached noisy copy); its features go to a `FeatureCache` on disk shared by
  every fold and variant, and only the head trains.
- `mode="online"`: the whole `EmotionClassifier` runs every step on
  waveforms; noise, if any, is fresh every epoch.

Every fold writes into its own folder and marks itself finished by writing
`result.json` last (atomically), so an interrupted `run_cv` started again
skips finished folds and loses nothing.
"""

import csv
import hashlib
import json
import os
import time

import numpy as np

from kser.data.feature_cache import FeatureCache
from kser.data.feature_cache import weights_fingerprint
from kser.data.folds import get_folds
from kser.data.pipeline import NoiseAugmentation
from kser.data.pipeline import Preprocessing
from kser.data.pipeline import feature_dataset
from kser.data.pipeline import load_clips
from kser.data.pipeline import make_dataset
from kser.data.ravdess import EMOTIONS
from kser.errors import KserError
from kser.report import classification_metrics
from kser.report import cv_summary
from kser.report import write_cv_summary
from kser.report import write_fold_plots
from kser.report import write_history_markdown
from kser.report import write_metrics
from kser.report._io import atomic_write_json
from kser.train.config import TrainConfig
from kser.train.config import environment
from kser.train.distribute import distribution_scope
from kser.train.precision import backbone_dtype

RESULT_FILE = "result.json"
HISTORY_COLUMNS = ("epoch", "accuracy", "loss", "val_accuracy", "val_loss")


def load_backbone(preset, dtype="float32"):
    """Load a frozen-use backbone and whether its audio is normalised.

    The backbone is built `padding_invariant`, so a clip's features never
    depend on the padding its batch adds (cache and online paths agree).

    Args:
        preset: str. A preset name or a folder written by `kser convert`.
        dtype: str. `"float32"` or `"bfloat16"` (the backbone then runs
            `mixed_bfloat16`).

    Returns:
        `(backbone, normalize)`.
    """
    from kser.models import HubertAudioConverter
    from kser.models import HubertBackbone
    from kser.models.hubert_presets import find_converted_preset

    backbone = HubertBackbone.from_preset(
        preset, dtype=backbone_dtype(dtype), padding_invariant=True
    )
    folder = preset if os.path.isdir(preset) else find_converted_preset(preset)
    normalize = True
    if folder and os.path.exists(os.path.join(folder, "audio_converter.json")):
        normalize = HubertAudioConverter.from_preset(folder).do_normalize
    return backbone, normalize


def _config_hash(config, extra=None):
    data = {"config": config.to_dict(), "extra": extra or {}}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _best_weights_callback():
    """A callback keeping the best epoch's weights on validation, in memory.

    Best is the highest validation accuracy, ties going to the lower
    validation loss. Built on first use so that importing this module does
    not import Keras.
    """
    import keras

    class BestWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best = None
            self.best_epoch = None
            self.weights = None

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            score = (
                logs.get("val_accuracy", logs.get("accuracy", 0.0)),
                -logs.get("val_loss", logs.get("loss", 0.0)),
            )
            if self.best is None or score > self.best:
                self.best = score
                self.best_epoch = epoch + 1
                self.weights = [np.array(w) for w in self.model.get_weights()]

    return BestWeights()


class Experiment:
    """The shared state of one set of runs: corpus, backbone, feature cache.

    Args:
        index: `RavdessIndex` or list of `RavdessFile`. The corpus.
        backbone: `HubertBackbone`. Frozen; use `load_backbone`.
        out_dir: str. Results go to `out_dir/VARIANT/fold_KK/`.
        normalize: bool. Normalise each clip before the backbone.
        cache_dir: str or None. Feature cache folder; default
            `out_dir/feature_cache`.
        label_names: list of str. Class names (the 8 emotions).
        progress: bool. Progress bars.
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
    ):
        self.index = index
        self.files = list(getattr(index, "files", index))
        if not self.files:
            raise KserError("no RAVDESS files to train on")
        self.backbone = backbone
        self.normalize = normalize
        self.out_dir = os.fspath(out_dir)
        self.cache_dir = cache_dir or os.path.join(self.out_dir, "feature_cache")
        self.label_names = list(label_names or EMOTIONS)
        self.progress = progress
        self._caches = {}
        self._encoders = {}
        self._fingerprint = fingerprint

    # --- features -----------------------------------------------------

    def fingerprint(self):
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.backbone)
        return self._fingerprint

    def _encoder(self, layers):
        """A compiled waveform -> features function for the cache."""
        if layers in self._encoders:
            return self._encoders[layers]
        if isinstance(self.backbone, BackboneShape):
            raise KserError(
                "feature cache miss in a head-training worker: the parent "
                "process extracts every feature first (was the cache changed "
                "during the run?)"
            )
        import keras

        from kser.models.hubert_layers import normalize_waveform

        waveform = keras.Input(shape=(None,), name="waveform")
        mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = normalize_waveform(waveform, mask) if self.normalize else waveform
        out = self.backbone({"waveform": x, "padding_mask": mask}, training=False)
        key = "hidden_states" if layers == "weighted" else "sequence_output"
        model = keras.Model(
            {"waveform": waveform, "padding_mask": mask},
            {
                key: keras.ops.cast(out[key], "float32"),
                "frame_padding_mask": out["frame_padding_mask"],
            },
        )
        self._encoders[layers] = model.predict_on_batch
        return self._encoders[layers]

    def cache(self, config):
        """The `FeatureCache` for a config's layers, crop and dtype."""
        key = (config.layers, config.max_seconds, config.dtype)
        if key not in self._caches:
            layers = config.layers
            self._caches[key] = FeatureCache(
                self.cache_dir,
                # Built on the first miss: a run whose features are all
                # cached never compiles the backbone.
                lambda inputs: self._encoder(layers)(inputs),
                f"{self.fingerprint()}:normalize={self.normalize}:"
                f"dtype={config.dtype}:padding_invariant",
                layers="all" if config.layers == "weighted" else "last",
                preprocessing=Preprocessing(max_seconds=config.max_seconds),
                batch_size=8,
                progress=self.progress,
            )
        return self._caches[key]

    # --- one fold -----------------------------------------------------

    def fold_dir(self, config, fold):
        return os.path.join(self.out_dir, config.name, f"fold_{fold.index:02d}")

    def _config_hash(self, config):
        return _config_hash(config, {"fingerprint": self.fingerprint()})

    def finished(self, config, fold):
        """The saved result if this variant's fold finished with this config."""
        done = _read_result(self.fold_dir(config, fold))
        if done is not None and done.get("config_hash") == self._config_hash(config):
            return done
        return None

    def run_fold(self, config, fold, save_model=False):
        """Train one variant on one fold; evaluate its test actors once.

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
        import keras

        done = self.finished(config, fold)
        if done is not None:
            return done
        fold_dir = self.fold_dir(config, fold)
        config_hash = self._config_hash(config)
        os.makedirs(fold_dir, exist_ok=True)
        started = time.time()
        train_files, val_files, test_files = fold.split(self.files)
        if not train_files or not test_files:
            raise KserError(
                f"{fold.name}: no training or test clips for its actors in "
                "this corpus"
            )
        keras.utils.set_random_seed(config.seed)
        if config.mode == "cached":
            head, best, test_logits, y_test = self._train_cached(
                config, train_files, val_files, test_files
            )
        else:
            head, best, test_logits, y_test = self._train_online(
                config, train_files, val_files, test_files
            )
        history = best.history
        probabilities = _softmax(test_logits)
        y_pred = np.argmax(probabilities, axis=-1)
        metrics = classification_metrics(
            y_test, y_pred, self.label_names, probabilities=probabilities
        )
        metrics["best_epoch"] = best.best_epoch
        write_metrics(os.path.join(fold_dir, "metrics.json"), metrics)
        _write_history(os.path.join(fold_dir, "history.csv"), history)
        write_history_markdown(
            os.path.join(fold_dir, "history.md"),
            history,
            test_accuracy=metrics["accuracy"],
        )
        write_fold_plots(
            metrics,
            fold_dir,
            history=history,
            title=f"{config.name}, fold {fold.index}",
        )
        _write_predictions(
            os.path.join(fold_dir, "predictions.csv"),
            test_files,
            probabilities,
            self.label_names,
        )
        head.save_weights(os.path.join(fold_dir, "head.weights.h5"))
        if save_model:
            self.classifier(config, head).save(os.path.join(fold_dir, "model.keras"))
        result = {
            "fold": fold.index,
            "protocol": config.protocol,
            "variant": config.name,
            "train_actors": sorted(fold.train),
            "val_actors": sorted(fold.validation),
            "test_actors": sorted(fold.test),
            "accuracy": metrics["accuracy"],
            "balanced_accuracy": metrics["balanced_accuracy"],
            "macro_f1": metrics["macro_f1"],
            "best_epoch": best.best_epoch,
            "num_train": len(train_files),
            "num_val": len(val_files),
            "num_test": len(test_files),
            "wall_seconds": round(time.time() - started, 2),
            "config": config.to_dict(),
            "config_hash": config_hash,
            "weights_fingerprint": self.fingerprint(),
            "environment": environment(),
        }
        # Written last: its presence marks the fold finished.
        atomic_write_json(os.path.join(fold_dir, RESULT_FILE), result)
        return result

    def classifier(self, config, head=None):
        """An `EmotionClassifier` for a config, optionally with trained head."""
        from kser.models import EmotionClassifier

        model = EmotionClassifier(
            self.backbone,
            head=config.head,
            layers=config.layers,
            label_names=self.label_names,
            hidden_units=config.hidden_units,
            dropout=config.dropout,
            lstm_units=config.lstm_units,
            normalize=self.normalize,
        )
        if head is not None:
            model.head.set_weights(head.get_weights())
        return model

    def _head(self, config):
        from kser.models import build_head

        return build_head(
            config.head,
            feature_dim=self.backbone.hidden_dim,
            num_classes=len(self.label_names),
            layers=config.layers,
            num_states=self.backbone.num_layers + 1,
            hidden_units=config.hidden_units,
            dropout=config.dropout,
            lstm_units=config.lstm_units,
        )

    def _compile(self, model, config, plan):
        import keras

        accuracy = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        # Under data parallelism a short last batch is padded with rows of
        # weight 0 (see `DistributionPlan.prepare_dataset`): accuracy must
        # be a weighted metric to ignore them.
        distributed = plan.kind != "none"
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=None if distributed else accuracy,
            weighted_metrics=accuracy if distributed else None,
        )

    def _fit(self, model, config, train, val):
        best = _best_weights_callback()
        record = model.fit(
            train,
            validation_data=val,
            epochs=config.epochs,
            callbacks=[best],
            verbose=2 if self.progress else 0,
        )
        best.history = {"epoch": list(range(1, config.epochs + 1))}
        for column in HISTORY_COLUMNS[1:]:
            if column in record.history:
                best.history[column] = [float(v) for v in record.history[column]]
        model.set_weights(best.weights)
        return best

    def _train_cached(self, config, train_files, val_files, test_files):
        cache = self.cache(config)
        noise = None
        if config.augment:
            noise = _noise(config, "cached")
        x_train, y_train = cache.extract_training(train_files, noise)
        train = _as_head_input(
            feature_dataset(
                x_train,
                y_train,
                config.batch_size,
                shuffle=True,
                seed=config.seed,
                group_by_length=config.group_by_length,
            )
        )
        val = None
        if val_files:
            val = _as_head_input(
                feature_dataset(
                    cache.extract(val_files),
                    [f.label for f in val_files],
                    config.batch_size,
                )
            )
        y_test = np.array([f.label for f in test_files])
        test = _as_head_input(
            feature_dataset(cache.extract(test_files), y_test, config.batch_size)
        )
        with distribution_scope(config.distribute, config.batch_size) as plan:
            head = self._head(config)
            self._compile(head, config, plan)
            best = self._fit(head, config, *_prepare(plan, train, val))
            logits = head.predict(plan.prepare_dataset(test), verbose=0)
        return head, best, logits[: len(y_test)], y_test

    def _train_online(self, config, train_files, val_files, test_files):
        preprocessing = Preprocessing(max_seconds=config.max_seconds)
        noise = None
        if config.augment:
            noise = _noise(config, "online")

        def dataset(files, training):
            clips = load_clips(files, preprocessing=preprocessing)
            # The same clip order and batches as the cached path: grouped
            # by frame count with the same seed, or freely shuffled. Batches
            # are padded to their longest clip, rounded up to the feature
            # cache's multiple (few compiled shapes); without grouping,
            # to max_seconds (one shape).
            return make_dataset(
                clips,
                batch_size=config.batch_size,
                training=training,
                preprocessing=preprocessing,
                noise=noise if training else None,
                seed=config.seed,
                group_by_length=config.group_by_length,
                length_fn=self.backbone.num_frames,
                pad_to_max=not config.group_by_length,
                pad_multiple=int(ONLINE_PAD_SECONDS * preprocessing.sample_rate),
            )

        train = dataset(train_files, True)
        val = dataset(val_files, False) if val_files else None
        test = dataset(test_files, False)
        y_test = np.array([f.label for f in test_files])
        with distribution_scope(config.distribute, config.batch_size) as plan:
            model = self.classifier(config)
            self._compile(model, config, plan)
            best = self._fit(model, config, *_prepare(plan, train, val))
            logits = model.predict(plan.prepare_dataset(test), verbose=0)
        return model.head, best, logits[: len(y_test)], y_test

    # --- cross-validation ---------------------------------------------

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
        all_folds = get_folds(protocols.pop())
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
        if jobs > 1:
            self._run_parallel(configs, selected, on_fold, save_model, jobs)
            return self.write_summary(configs, selected)
        for fold in selected:
            for config in configs:
                result = self.run_fold(config, fold, save_model=save_model)
                if on_fold is not None:
                    on_fold(result)
                self.write_summary(configs, selected)
        return self.write_summary(configs, selected)

    def prepare_features(self, pending):
        """Extract (or find cached) every feature some folds will read.

        Args:
            pending: list of `(TrainConfig, Fold)`.
        """
        wanted = {}
        for config, fold in pending:
            if config.mode != "cached":
                continue
            train, val, test = fold.split(self.files)
            entry = wanted.setdefault(
                (config.layers, config.max_seconds, config.dtype),
                {"config": config, "clean": set(), "noisy": {}},
            )
            entry["clean"].update(train + val + test)
            if config.augment:
                noise = _noise(config, "cached")
                key = (noise.snr_db, noise.seed, tuple(noise.copy_indices))
                entry["noisy"].setdefault(key, (noise, set()))[1].update(train)
        for entry in wanted.values():
            cache = self.cache(entry["config"])
            jobs = [(None, (0,), entry["clean"])]
            for noise, files in entry["noisy"].values():
                copies = tuple(c for c in noise.copy_indices if c != 0)
                if copies:
                    jobs.append((noise, copies, files))
            for noise, copies, files in jobs:
                files = sorted(files)
                # In slices, so that the features are not all in memory.
                for start in range(0, len(files), PREPARE_SLICE):
                    cache.extract_copies(
                        files[start : start + PREPARE_SLICE], noise, copies
                    )

    def _run_parallel(self, configs, folds, on_fold, save_model, jobs):
        import concurrent.futures
        import multiprocessing

        for config in configs:
            if config.mode != "cached" or config.distribute != "none":
                raise KserError(
                    f"variant {config.name}: jobs > 1 needs mode 'cached' and "
                    "no --distribute (they spread one fold over devices)"
                )
        if save_model:
            raise KserError("jobs > 1 cannot save whole models; use jobs=1")
        pending = [
            (config, fold)
            for fold in folds
            for config in configs
            if self.finished(config, fold) is None
        ]
        if not pending:
            return
        self.prepare_features(pending)
        # The workers read the cache; drop this process's compiled encoders
        # (rebuilt on demand) so it holds little while they train.
        self._encoders.clear()
        if _backend_name() == "jax":
            import jax

            jax.clear_caches()
        _release_memory()
        # The longest heads (LSTM) first, so no worker idles at the end.
        pending.sort(key=lambda cf: cf[0].head != "lstm")
        state = {
            "backend": _backend_name(),
            "files": self.files,
            "out_dir": self.out_dir,
            "cache_dir": self.cache_dir,
            "normalize": self.normalize,
            "label_names": self.label_names,
            "fingerprint": self.fingerprint(),
            "hidden_dim": int(self.backbone.hidden_dim),
            "num_layers": int(self.backbone.num_layers),
            # Next to the features, so a later run over them reuses it.
            "compilation_cache": os.path.join(self.cache_dir, "xla_programs"),
        }
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=min(jobs, len(pending)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(state,),
        ) as pool:
            futures = [
                pool.submit(_worker_run_fold, config.to_dict(), fold.index)
                for config, fold in pending
            ]
            try:
                for future in concurrent.futures.as_completed(futures):
                    result = future.result()
                    if self.progress:
                        print(
                            f"{result['variant']} fold {result['fold']}: test "
                            f"accuracy {result['accuracy']:.3f} "
                            f"({result['wall_seconds']:.0f} s)",
                            flush=True,
                        )
                    if on_fold is not None:
                        on_fold(result)
                    self.write_summary(configs, folds)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def write_summary(self, configs, folds):
        return write_summary(
            self.out_dir, [c.name for c in configs], [f.index for f in folds]
        )


# Clips per `prepare_features` extraction call: bounds the features held
# in memory at once while keeping length bucketing effective.
PREPARE_SLICE = 256


class BackboneShape:
    """What a head-training worker knows of the backbone: its shape only."""

    def __init__(self, hidden_dim, num_layers):
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers


_WORKER = {}


def _release_memory():
    """Collect garbage and hand freed heap pages back to the OS (glibc).

    Features pass through memory in many mid-sized arrays; glibc keeps the
    freed pages in its heap, so a process that extracted or trained on a
    fold would keep that fold's size resident while it waits or trains the
    next one.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim


def _backend_name():
    import keras

    return keras.backend.backend()


def _use_compilation_cache(directory):
    """Share compiled XLA programs between workers, folds and runs (JAX).

    Every fold of a variant compiles the same head train step for the same
    few batch shapes; JAX's persistent cache turns all but the first into
    a disk read (about 1 s saved per shape and fold on a 2-core CPU). Left
    alone where the user configured a cache of their own.
    """
    import jax

    if jax.config.jax_compilation_cache_dir:
        return
    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _init_worker(state):
    os.environ["KERAS_BACKEND"] = state["backend"]
    from kser.backend import import_keras_quietly

    import_keras_quietly()
    if state["backend"] == "jax" and state.get("compilation_cache"):
        _use_compilation_cache(state["compilation_cache"])
    _WORKER["experiment"] = Experiment(
        state["files"],
        BackboneShape(state["hidden_dim"], state["num_layers"]),
        state["out_dir"],
        normalize=state["normalize"],
        cache_dir=state["cache_dir"],
        label_names=state["label_names"],
        progress=False,
        fingerprint=state["fingerprint"],
    )


def _worker_run_fold(config, fold_index):
    import keras

    # A worker trains many folds: drop the previous fold's models, compiled
    # functions and datasets so that its memory stays one fold's worth.
    keras.backend.clear_session()
    _release_memory()
    experiment = _WORKER["experiment"]
    config = TrainConfig.from_dict(config)
    fold = next(f for f in get_folds(config.protocol) if f.index == fold_index)
    return experiment.run_fold(config, fold)


def write_summary(out_dir, variants=None, folds=None):
    """Rebuild the Table I summary of a run folder from its `result.json`s.

    Args:
        out_dir: str. A run folder (`VARIANT/fold_KK/result.json` inside).
        variants: list of str or None. Columns, first; variants found in
            the folder are added after them. Default: found.
        folds: list of int or None. Rows (unfinished ones show as missing);
            folds found in the folder are added. Default: found.

    Returns:
        dict. The summary, also written as `cv_summary.{md,csv,json}`.
    """
    records = []
    for result in collect_results(out_dir):
        records.append(
            {
                "fold": result["fold"],
                "train_actors": result["train_actors"],
                "val_actors": result["val_actors"],
                "test_actors": result["test_actors"],
                "results": {result["variant"]: result["accuracy"]},
            }
        )
    if not records:
        raise KserError(f"{out_dir}: no finished folds (no */fold_*/result.json)")
    # The summary covers the whole run folder: the folds and variants asked
    # for (unfinished ones show as missing) and any others already there,
    # e.g. when a one-fold recipe reuses a Table I run folder.
    if folds is not None:
        folds = sorted(set(folds) | {r["fold"] for r in records})
    if variants is not None:
        found = sorted({v for r in records for v in r["results"]})
        variants = list(variants) + [v for v in found if v not in variants]
    summary = cv_summary(records, variants=variants, folds=folds)
    write_cv_summary(out_dir, summary)
    return summary


def collect_results(out_dir):
    """Every finished fold's result under a run folder."""
    results = []
    if not os.path.isdir(out_dir):
        raise KserError(f"{out_dir}: no such run folder")
    for variant in sorted(os.listdir(out_dir)):
        variant_dir = os.path.join(out_dir, variant)
        if not os.path.isdir(variant_dir):
            continue
        for name in sorted(os.listdir(variant_dir)):
            result = _read_result(os.path.join(variant_dir, name))
            if result is not None:
                results.append(result)
    return results


def _noise(config, mode):
    """The `NoiseAugmentation` of an augmented variant's config."""
    return NoiseAugmentation(
        snr_db=config.snr_db,
        mode=mode,
        copies=config.noise_copies,
        seed=config.seed,
    )


def _prepare(plan, train, val):
    return (
        plan.prepare_dataset(train),
        None if val is None else plan.prepare_dataset(val),
    )


def _read_result(fold_dir):
    path = os.path.join(fold_dir, RESULT_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError:
        return None  # a damaged marker: the fold runs again


# Cached features are padded to a multiple of this many frames (0.5 s): a
# few distinct shapes, so compiled train steps are reused instead of
# retraced for every batch length. With length-grouped batches, 25 frames
# pad a Table I training clip to 182 frames on average (168 real) against
# 196 with 50, for two or three more shapes to compile.
FRAME_BUCKET = 25
# Online (end-to-end) batches are padded to a multiple of this duration, as
# the feature cache pads its extraction batches.
ONLINE_PAD_SECONDS = 0.5


def _as_head_input(ds, multiple=FRAME_BUCKET):
    import tensorflow as tf

    def rename(x, y):
        key = "sequence_output" if "sequence_output" in x else "hidden_states"
        features, mask = x[key], x["frame_padding_mask"]
        frames = tf.shape(mask)[1]
        pad = (multiple - frames % multiple) % multiple
        mask = tf.pad(mask, [[0, 0], [0, pad]])
        rank = len(features.shape)
        paddings = [[0, 0]] * (rank - 2) + [[0, pad], [0, 0]]
        features = tf.pad(features, paddings)
        return {"features": features, "frame_padding_mask": mask}, y

    return ds.map(rename)


def _softmax(logits):
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def _write_history(path, history):
    from kser.report._io import atomic_write_text

    columns = [c for c in HISTORY_COLUMNS if c in history]
    lines = [",".join(columns)]
    for i in range(len(history["epoch"])):
        lines.append(",".join(str(history[c][i]) for c in columns))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _write_predictions(path, files, probabilities, label_names):
    import io

    from kser.report._io import atomic_write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file", "actor", "label", "predicted", *label_names])
    for f, p in zip(files, probabilities):
        writer.writerow(
            [
                os.path.basename(f.path),
                f.actor,
                label_names[f.label],
                label_names[int(np.argmax(p))],
                *[f"{v:.6f}" for v in p],
            ]
        )
    atomic_write_text(path, buffer.getvalue())


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


def run_training(
    data_dir,
    configs,
    out_dir,
    folds=None,
    cache_dir=None,
    save_model=False,
    progress=True,
    backbone=None,
    normalize=None,
    jobs=1,
):
    """Index a corpus, load the backbone and run folds: `kser train`/`cv`.

    Writes `out_dir/run_config.json` (every config, the data folder, the
    environment) before training, then per-fold results and the summary.

    Args:
        data_dir: str. A RAVDESS folder (`Actor_NN/` or flat).
        configs: list of `TrainConfig`. One per variant, same preset,
            protocol, layers and dtype.
        out_dir: str. The run folder.
        folds: list of int or None. Folds to run; default all.
        cache_dir: str or None. Feature cache (default `out_dir/feature_cache`).
        save_model: bool. Save each fold's full classifier (`model.keras`).
        progress: bool. Progress bars and per-epoch lines.
        backbone: `HubertBackbone` or None. Use this instead of loading
            `configs[0].preset` (the quickstart's random backbone).
        normalize: bool or None. With `backbone`, whether to normalise.
        jobs: int. Folds whose heads train at once in worker processes
            (see `Experiment.run_cv`).

    Returns:
        dict. The cross-validation summary.
    """
    from kser.data.ravdess import index_ravdess

    configs = list(configs)
    shared = {(c.preset, c.protocol, c.dtype) for c in configs}
    if len(shared) != 1:
        raise KserError("variants of one run share preset, protocol and dtype")
    index = index_ravdess(data_dir)
    if backbone is None:
        backbone, normalize = load_backbone(configs[0].preset, configs[0].dtype)
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_json(
        os.path.join(out_dir, "run_config.json"),
        {
            "data": os.path.abspath(data_dir),
            "folds": folds,
            "configs": [c.to_dict() for c in configs],
            "environment": environment(),
        },
    )
    experiment = Experiment(
        index,
        backbone,
        out_dir,
        normalize=True if normalize is None else normalize,
        cache_dir=cache_dir,
        progress=progress,
    )
    return experiment.run_cv(
        configs, folds=folds, save_model=save_model, jobs=jobs
    )


def rebuild_reports(run_dir):
    """Re-draw every fold's plots and rewrite the summary of a run folder.

    Args:
        run_dir: str. A folder written by `kser train` or `kser cv`.

    Returns:
        dict. The cross-validation summary.
    """
    from kser.report import read_history
    from kser.report import read_metrics

    results = collect_results(run_dir)
    if not results:
        raise KserError(f"{run_dir}: no finished folds (no */fold_*/result.json)")
    for result in results:
        fold_dir = os.path.join(run_dir, result["variant"], f"fold_{result['fold']:02d}")
        metrics = read_metrics(os.path.join(fold_dir, "metrics.json"))
        history_path = os.path.join(fold_dir, "history.csv")
        history = read_history(history_path) if os.path.exists(history_path) else None
        write_fold_plots(
            metrics,
            fold_dir,
            history=history,
            title=f"{result['variant']}, fold {result['fold']}",
        )
    return write_summary(run_dir)
