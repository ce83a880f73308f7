"""The fit loop of one fold: datasets, compile, fit, keep the best epoch.

Two paths, same numbers for non-augmented variants:
- `train_cached`: only the head trains, on features from the cache.
- `train_online`: the whole `EmotionClassifier` runs every step on
  waveforms; noise, if any, is fresh every epoch.

Both return `(head, best, test_logits, y_test)`, where `best` carries the
kept epoch (`best_epoch`) and the per-epoch history.
"""

import numpy as np

from kser.data.pipeline import Preprocessing
from kser.data.pipeline import feature_dataset
from kser.data.pipeline import load_clips
from kser.data.pipeline import make_dataset
from kser.report.runs import HISTORY_COLUMNS
from kser.train.distribute import distribution_scope
from kser.train.features import noise_augmentation
from kser.train.precision import accelerator_visible

# Cached features are padded to a multiple of this many frames (0.5 s): a
# few distinct shapes, so compiled train steps are reused instead of
# retraced for every batch length. With length-grouped batches, 25 frames
# pad a Table I training clip to 182 frames on average (168 real) against
# 196 with 50, for two or three more shapes to compile.
FRAME_BUCKET = 25
# Online (end-to-end) batches are padded to a multiple of this duration, as
# the feature cache pads its extraction batches.
ONLINE_PAD_SECONDS = 0.5


def announce(experiment, config, fold, num_clips):
    """Print which variant and fold the Keras epoch lines that follow are of.

    One line, `VARIANT fold K: training (N clips)`, when the experiment
    shows progress.

    Args:
        experiment: `Experiment`. Its `progress` says whether to print.
        config: `TrainConfig`. Its variant name is printed.
        fold: `Fold`. Its `index` is printed.
        num_clips: int. The fold's training clips.
    """
    if experiment.progress:
        print(f"{config.name} fold {fold.index}: training ({num_clips} clips)",
              flush=True)


def best_weights_callback():
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


def compile_model(model, config, plan):
    """Adam at the config's rate, cross-entropy on logits, accuracy."""
    import keras

    accuracy = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    # Under data parallelism a short last batch is padded with rows of
    # weight 0 (see `DistributionPlan.prepare_dataset`): accuracy must be a
    # weighted metric to ignore them.
    distributed = plan.kind != "none"
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=None if distributed else accuracy,
        weighted_metrics=accuracy if distributed else None,
    )


def fit_best(model, config, train, val, verbose):
    """Fit for the config's epochs; restore the best epoch's weights."""
    best = best_weights_callback()
    record = model.fit(
        train,
        validation_data=val,
        epochs=config.epochs,
        callbacks=[best],
        verbose=verbose,
        # The datasets shuffle themselves (seeded); saying so keeps Keras
        # from warning, once per fit, that it ignores shuffle=True.
        shuffle=False,
    )
    best.history = {"epoch": list(range(1, config.epochs + 1))}
    for column in HISTORY_COLUMNS[1:]:
        if column in record.history:
            best.history[column] = [float(v) for v in record.history[column]]
    model.set_weights(best.weights)
    return best


def as_head_input(ds, multiple=FRAME_BUCKET):
    """Cache batches -> float32 head inputs, frames padded to `multiple`.

    Features cached as float16 are widened here, a batch at a time: the
    head computes in float32 whatever the cache holds.
    """
    import tensorflow as tf

    def rename(x, y):
        key = "sequence_output" if "sequence_output" in x else "hidden_states"
        features, mask = tf.cast(x[key], tf.float32), x["frame_padding_mask"]
        frames = tf.shape(mask)[1]
        pad = (multiple - frames % multiple) % multiple
        mask = tf.pad(mask, [[0, 0], [0, pad]])
        rank = len(features.shape)
        paddings = [[0, 0]] * (rank - 2) + [[0, pad], [0, 0]]
        features = tf.pad(features, paddings)
        return {"features": features, "frame_padding_mask": mask}, y

    return ds.map(rename)


def cpu_pipeline(ds, accelerator=None):
    """`ds` with tf.data's autotuning off and one private thread, when the
    model trains on the CPU alone; unchanged when a GPU/TPU is visible.

    On a CPU the input pipeline's autotuned thread pool competes for the
    cores the train step's matmuls run on: a Table I LSTM fold training
    alone (2-core CPU, jax) fit in 107.8 s with tf.data's defaults and in
    82.4 s with these options, the same batches in the same order; with
    two folds at once (`--jobs 2`) the difference was within noise
    (BENCHMARKS.md). A head's batches are small; one thread keeps ahead
    of the step.

    Args:
        ds: `tf.data.Dataset`.
        accelerator: bool or None. Whether a GPU/TPU is visible; None asks
            the backend.
    """
    if accelerator is None:
        accelerator = accelerator_visible()
    if accelerator:
        return ds
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    return ds.with_options(options)


def _feed(plan, ds):
    """A batched dataset as `fit`/`predict` reads it: adapted to the
    distribution plan, then to a CPU-only host."""
    return cpu_pipeline(plan.prepare_dataset(ds))


def _prepare(plan, train, val):
    return _feed(plan, train), None if val is None else _feed(plan, val)


def train_cached(experiment, config, splits):
    """Train a head on cached features of `(train, val, test)` clips."""
    train_files, val_files, test_files = splits
    cache = experiment.cache(config)
    noise = noise_augmentation(config, "cached") if config.augment else None
    x_train, y_train = cache.extract_training(
        train_files, noise, labels=experiment.labels(train_files)
    )
    train = as_head_input(
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
        val = as_head_input(
            feature_dataset(
                cache.extract(val_files),
                experiment.labels(val_files),
                config.batch_size,
            )
        )
    y_test = np.array(experiment.labels(test_files))
    test = as_head_input(
        feature_dataset(cache.extract(test_files), y_test, config.batch_size)
    )
    with distribution_scope(config.distribute, config.batch_size) as plan:
        head = experiment.head(config)
        compile_model(head, config, plan)
        best = fit_best(head, config, *_prepare(plan, train, val), experiment.verbose)
        logits = head.predict(_feed(plan, test), verbose=0)
    return head, best, logits[: len(y_test)], y_test


def train_online(experiment, config, splits):
    """Train the whole classifier end to end on waveforms."""
    train_files, val_files, test_files = splits
    preprocessing = Preprocessing(max_seconds=config.max_seconds)
    noise = noise_augmentation(config, "online") if config.augment else None

    def dataset(files, training):
        clips = load_clips(
            files, labels=experiment.labels(files), preprocessing=preprocessing
        )
        # The same clip order and batches as the cached path: grouped by
        # frame count with the same seed, or freely shuffled. Batches are
        # padded to their longest clip, rounded up to the feature cache's
        # multiple (few compiled shapes); without grouping, to max_seconds
        # (one shape).
        return make_dataset(
            clips,
            batch_size=config.batch_size,
            training=training,
            preprocessing=preprocessing,
            noise=noise if training else None,
            seed=config.seed,
            group_by_length=config.group_by_length,
            length_fn=experiment.backbone.num_frames,
            pad_to_max=not config.group_by_length,
            pad_multiple=int(ONLINE_PAD_SECONDS * preprocessing.sample_rate),
        )

    train = dataset(train_files, True)
    val = dataset(val_files, False) if val_files else None
    test = dataset(test_files, False)
    y_test = np.array(experiment.labels(test_files))
    with distribution_scope(config.distribute, config.batch_size) as plan:
        model = experiment.classifier(config)
        compile_model(model, config, plan)
        best = fit_best(model, config, *_prepare(plan, train, val), experiment.verbose)
        logits = model.predict(_feed(plan, test), verbose=0)
    return model.head, best, logits[: len(y_test)], y_test


def predict_logits(experiment, config, head, clips):
    """Logits of a trained head for any clips (cross-corpus evaluation):
    on cached features in cached mode, through the whole classifier on
    waveforms in online mode."""
    labels = np.zeros(len(clips), np.int32)  # unused by predict
    if config.mode == "cached":
        ds = as_head_input(
            feature_dataset(experiment.cache(config).extract(clips), labels,
                            config.batch_size)
        )
        model = head
    else:
        preprocessing = Preprocessing(max_seconds=config.max_seconds)
        loaded = load_clips(clips, labels=list(labels), preprocessing=preprocessing)
        ds = make_dataset(
            loaded,
            batch_size=config.batch_size,
            training=False,
            preprocessing=preprocessing,
            group_by_length=False,
            length_fn=experiment.backbone.num_frames,
            pad_to_max=False,
            pad_multiple=int(ONLINE_PAD_SECONDS * preprocessing.sample_rate),
        )
        model = experiment.classifier(config, head)
    logits = model.predict(ds, verbose=0)
    return logits[: len(clips)]
