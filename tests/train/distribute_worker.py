"""Data-parallel training on two virtual CPU devices, in a fresh process.

Run as `python tests/train/distribute_worker.py BACKEND` from the repository
root. The device count must be fixed before the framework starts: for jax
the parent sets `XLA_FLAGS=--xla_force_host_platform_device_count=2`; for
tensorflow this script splits the CPU into two logical devices before
anything else touches TensorFlow. Prints one JSON line of results last.
"""

import json
import os
import sys
import time

BACKEND = sys.argv[1]
os.environ["KERAS_BACKEND"] = BACKEND
sys.path.insert(0, os.getcwd())

if BACKEND == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kser.errors import KserError  # noqa: E402
from kser.models import EmotionClassifier  # noqa: E402
from kser.models import HubertBackbone  # noqa: E402
from kser.models.heads import build_head  # noqa: E402
from kser.train.distribute import distribution_scope  # noqa: E402
from kser.train.distribute import resolve_distribution  # noqa: E402
from tests.models.helpers import TINY_BACKBONE  # noqa: E402

FEATURE_DIM = 16
FRAMES = 6
BATCH = 8


def features(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FRAMES, FEATURE_DIM)).astype("float32")
    mask = np.ones((n, FRAMES), bool)
    mask[::2, 4:] = False  # padded frames, as in a batch of unequal clips
    y = rng.integers(0, 8, n).astype("int32")
    return {"features": x, "frame_padding_mask": mask}, y


def dataset(n, seed=0, labels=None):
    x, y = features(n, seed)
    y = y if labels is None else labels
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)


def head(kind):
    # No dropout: each replica would draw its own dropout mask, and the
    # comparison with one device is about the gradient arithmetic.
    return build_head(
        kind, feature_dim=FEATURE_DIM, hidden_units=8, lstm_units=4, dropout=0.0
    )


def compile_head(model):
    # Plain SGD: the update is the gradient itself, so weight differences
    # measure gradient differences (Adam would rescale tiny ones).
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def max_diff(a, b):
    return max(
        float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(a, b)
    )


def train_head(kind, initial=None, distribute="none", epochs=2, n=16):
    keras.utils.set_random_seed(0)
    with distribution_scope(distribute, batch_size=BATCH) as plan:
        model = head(kind)
        if initial is not None:
            model.set_weights(initial)
        start = model.get_weights()
        compile_head(model)
        history = model.fit(
            plan.prepare_dataset(dataset(n)), epochs=epochs, verbose=0
        )
    return model, start, history.history["loss"], plan


def compare_heads(kind):
    started = time.time()
    single, start, single_loss, _ = train_head(kind)
    dist, _, dist_loss, plan = train_head(
        kind, initial=start, distribute="data-parallel"
    )
    return {
        "plan": plan.describe(),
        "replicas": plan.num_replicas,
        "single_loss": single_loss,
        "dist_loss": dist_loss,
        "weight_change": max_diff(dist.get_weights(), start),
        "weight_diff": max_diff(dist.get_weights(), single.get_weights()),
        "seconds": round(time.time() - started, 1),
    }


def short_last_batch():
    """15 examples in batches of 8: the last batch of 7 does not split in 2."""
    n = 15
    keras.utils.set_random_seed(1)
    single = head("dense")
    compile_head(single)
    start = single.get_weights()
    expected_pred = single.predict(dataset(n), verbose=0)
    # Every other example labelled as predicted: accuracy 7/15, which a
    # padding row counted as an example would change.
    guess = np.argmax(expected_pred, axis=-1)
    labels = np.where(np.arange(n) % 2, guess, (guess + 1) % 8).astype("int32")
    expected_eval = single.evaluate(
        dataset(n, labels=labels), verbose=0, return_dict=True
    )
    with distribution_scope("data-parallel", batch_size=BATCH) as plan:
        model = head("dense")
        model.set_weights(start)
        compile_head(model)
        data = plan.prepare_dataset(dataset(n, labels=labels))
        got_eval = model.evaluate(data, verbose=0, return_dict=True)
        got_pred = model.predict(data, verbose=0)
        loss = model.fit(data, epochs=1, verbose=0).history["loss"]
    return {
        "expected_accuracy": expected_eval["accuracy"],
        "accuracy": got_eval["accuracy"],
        "expected_loss": expected_eval["loss"],
        "eval_loss": got_eval["loss"],
        "pred_rows": int(got_pred.shape[0]),
        "pred_diff": float(np.max(np.abs(got_pred[:n] - expected_pred))),
        "fit_loss": loss,
    }


def bad_batch_size():
    try:
        with distribution_scope("data-parallel", batch_size=7):
            pass
    except KserError as error:
        return str(error)
    return None


def emotion_classifier():
    """A full tiny EmotionClassifier, waveform in, under the scope."""
    started = time.time()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    samples = 1600
    waveform = rng.normal(size=(8, samples)).astype("float32")
    mask = np.ones((8, samples), "int32")
    mask[::2, 1200:] = 0
    waveform *= mask
    labels = rng.integers(0, 8, 8).astype("int32")
    data = tf.data.Dataset.from_tensor_slices(
        ({"waveform": waveform, "padding_mask": mask}, labels)
    ).batch(4)
    with distribution_scope("data-parallel", batch_size=4) as plan:
        backbone = HubertBackbone(**TINY_BACKBONE)
        model = EmotionClassifier(backbone, head="dense", hidden_units=8)
        backbone_start = backbone.get_weights()
        head_start = model.head.get_weights()
        model.compile(learning_rate=1e-2)
        history = model.fit(plan.prepare_dataset(data), epochs=2, verbose=0)
        logits = model.predict(plan.prepare_dataset(data), verbose=0)
    return {
        "plan": plan.describe(),
        "loss": history.history["loss"],
        "head_change": max_diff(model.head.get_weights(), head_start),
        "backbone_change": max_diff(backbone.get_weights(), backbone_start),
        "logits_shape": list(logits.shape),
        "seconds": round(time.time() - started, 1),
    }


def main():
    started = time.time()
    auto = resolve_distribution("auto")
    result = {
        "backend": keras.backend.backend(),
        "auto": auto.to_dict(),
        "dense": compare_heads("dense"),
        "lstm": compare_heads("lstm"),
        "short_batch": short_last_batch(),
        "bad_batch_size": bad_batch_size(),
        "classifier": emotion_classifier(),
        "distribution_after": (
            repr(keras.distribution.distribution()) if BACKEND == "jax" else None
        ),
    }
    result["seconds"] = round(time.time() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
