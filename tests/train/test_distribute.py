"""Distribution: plan choice, batch-size rule, dataset adaptation, and real
data-parallel training on two virtual CPU devices (jax and tensorflow).

The two-device runs happen in a subprocess (`distribute_worker.py`): the
device count must be fixed before the framework initialises, which the
pytest process has already done. The jax run happens when the suite runs on
jax, the tensorflow run when it runs on tensorflow.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kser.errors import KserError
from kser.train.distribute import DISTRIBUTE_CHOICES
from kser.train.distribute import DistributionPlan
from kser.train.distribute import distribution_scope
from kser.train.distribute import resolve_distribution
from tests.shared import shared_folder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(ROOT, "tests", "train", "distribute_worker.py")
BACKEND = keras.backend.backend()
TWO_CPUS = ("/device:CPU:0", "/device:CPU:1")  # as tf names them


def two_replica_plan(backend):
    return DistributionPlan(
        "data-parallel", backend, "DataParallel", ("cpu:0", "cpu:1")
    )


# --- in-process: choices, batch size, dataset adaptation -------------------


def test_choices_and_unknown_kind():
    assert DISTRIBUTE_CHOICES == ("auto", "none", "data-parallel")
    with pytest.raises(KserError, match="unknown distribution 'mirrored'"):
        resolve_distribution("mirrored")


def test_none_is_single_device_and_a_no_op():
    with distribution_scope("none", batch_size=7) as plan:
        assert plan.kind == "none"
        assert plan.num_replicas == 1
        assert plan.describe() == f"{BACKEND} single device"
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    data = tf.data.Dataset.from_tensor_slices(np.ones((3, 2))).batch(2)
    assert plan.prepare_dataset(data) is data


def test_auto_is_data_parallel_only_with_several_devices():
    # The pytest process usually sees one CPU device: then a single device.
    plan = resolve_distribution("auto")
    if plan.kind == "none":
        assert plan.num_replicas == 1
    else:
        assert plan.num_replicas > 1


def test_global_batch_must_split_over_replicas():
    plan = two_replica_plan("jax")
    assert plan.num_replicas == 2
    assert plan.check_batch_size(8) == 4
    with pytest.raises(KserError, match="batch size 7 does not split over 2"):
        plan.check_batch_size(7)
    with pytest.raises(KserError, match="positive integer"):
        plan.check_batch_size(0)


def test_plan_description_and_config_dict():
    plan = DistributionPlan(
        "data-parallel", "tensorflow", "MirroredStrategy", TWO_CPUS
    )
    assert plan.describe() == "tensorflow MirroredStrategy over 2 cpu devices"
    assert plan.to_dict()["num_replicas"] == 2
    assert str(plan) == plan.describe()


def test_torch_trains_on_one_device(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    plan = resolve_distribution("auto")
    assert plan.kind == "none"
    assert "torch" in plan.describe() and "one device" in plan.describe()
    with pytest.raises(KserError, match="needs the jax or tensorflow backend"):
        resolve_distribution("data-parallel")


def _mask_batches(n, batch):
    x = {
        "features": np.arange(n * 2, dtype="float32").reshape(n, 2),
        "frame_padding_mask": np.ones((n, 3), bool),
    }
    y = np.arange(n, dtype="int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def test_jax_plan_pads_short_batches_with_zero_weights():
    plan = two_replica_plan("jax")
    batches = list(plan.prepare_dataset(_mask_batches(5, 4)))
    (x0, y0, w0), (x1, y1, w1) = batches
    assert x0["features"].shape == (4, 2) and w0.numpy().tolist() == [1, 1, 1, 1]
    # The last batch of 1 becomes 2: one zero row with weight 0.
    assert x1["features"].numpy().tolist() == [[8.0, 9.0], [0.0, 0.0]]
    assert x1["frame_padding_mask"].numpy().tolist() == [[True] * 3, [False] * 3]
    assert y1.numpy().tolist() == [4, 0]
    assert w1.numpy().tolist() == [1.0, 0.0]
    # Existing sample weights are kept; inputs alone (predict) get no weights.
    weighted = _mask_batches(3, 4).map(
        lambda x, y: (x, y, tf.fill([tf.shape(y)[0]], 2.0))
    )
    ((_, _, w),) = list(plan.prepare_dataset(weighted))
    assert w.numpy().tolist() == [2.0, 2.0, 2.0, 0.0]
    inputs_only = _mask_batches(3, 4).map(lambda x, y: x)
    (x,) = list(plan.prepare_dataset(inputs_only))
    assert x["features"].shape == (4, 2)


def test_tensorflow_plan_casts_boolean_masks():
    plan = DistributionPlan(
        "data-parallel", "tensorflow", "MirroredStrategy", TWO_CPUS
    )
    (x, y), _ = list(plan.prepare_dataset(_mask_batches(5, 4)))
    assert x["frame_padding_mask"].dtype == tf.int32
    assert x["features"].dtype == tf.float32
    assert y.dtype == tf.int32


def test_importing_kser_train_does_not_import_keras():
    code = (
        "import sys, kser.train, kser.train.distribute, kser.train.precision\n"
        "heavy = ('keras', 'tensorflow', 'jax', 'torch')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# --- two virtual CPU devices, in a subprocess -------------------------------


@pytest.fixture(scope="module")
def two_devices(tmp_path_factory):
    """Results of `distribute_worker.py` on this suite's backend.

    Run once per test run: when xdist splits this module over both
    workers, the second reads the first one's results (`shared_folder`).
    """
    if BACKEND not in ("jax", "tensorflow"):
        pytest.skip(f"data-parallel training needs jax or tensorflow, not {BACKEND}")

    def build(folder):
        env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="2")
        env.pop("TPU_NAME", None)
        if BACKEND == "jax":
            flags = env.get("XLA_FLAGS", "")
            env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=2".strip()
        result = subprocess.run(
            [sys.executable, WORKER, BACKEND],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        (folder / "results.json").write_text(result.stdout.strip().splitlines()[-1])

    folder = shared_folder(tmp_path_factory, f"two-devices-{BACKEND}", build)
    return json.loads((folder / "results.json").read_text())


ENGINE = {"jax": "jax DataParallel", "tensorflow": "tensorflow MirroredStrategy"}


def test_auto_finds_two_devices(two_devices):
    auto = two_devices["auto"]
    assert auto["kind"] == "data-parallel"
    assert auto["num_replicas"] == 2
    assert auto["description"] == f"{ENGINE[BACKEND]} over 2 cpu devices"


@pytest.mark.parametrize("head", ["dense", "lstm"])
def test_head_matches_single_device_training(two_devices, head):
    run = two_devices[head]
    assert run["replicas"] == 2
    assert run["plan"].startswith(ENGINE[BACKEND])
    assert all(np.isfinite(run["dist_loss"]))
    assert run["weight_change"] > 1e-2  # it trained
    # Same global batch, same gradients: the replicas' partial sums are
    # added in another order, so float32 rounding differs (seen: ~3e-8).
    np.testing.assert_allclose(run["dist_loss"], run["single_loss"], rtol=1e-5)
    assert run["weight_diff"] < 1e-5


def test_short_last_batch(two_devices):
    run = two_devices["short_batch"]
    # Predictions and weighted accuracy are exact.
    assert run["pred_diff"] < 1e-5
    assert run["accuracy"] == pytest.approx(run["expected_accuracy"])
    assert run["expected_accuracy"] == pytest.approx(7 / 15)
    assert all(np.isfinite(run["fit_loss"]))
    if BACKEND == "jax":
        # One zero-weight padding row: 16 rows, the loss of the padded batch
        # is divided by its padded size.
        assert run["pred_rows"] == 16
        expected = run["expected_loss"] * 15 / 16
        assert run["eval_loss"] == pytest.approx(expected, rel=1e-5)
    else:
        # tf.distribute splits a short batch unevenly by itself.
        assert run["pred_rows"] == 15
        assert run["eval_loss"] == pytest.approx(run["expected_loss"], rel=1e-5)


def test_batch_size_error_names_the_fix(two_devices):
    message = two_devices["bad_batch_size"]
    assert message.startswith("batch size 7 does not split over 2 replicas")
    assert "multiple of 2" in message


def test_emotion_classifier_trains_under_the_scope(two_devices):
    run = two_devices["classifier"]
    assert run["plan"].startswith(ENGINE[BACKEND])
    assert all(np.isfinite(run["loss"]))
    assert run["head_change"] > 0
    assert run["backbone_change"] == 0.0  # frozen
    assert run["logits_shape"] == [8, 8]


def test_scope_restores_the_previous_jax_distribution(two_devices):
    if BACKEND != "jax":
        pytest.skip("keras.distribution is a jax feature")
    assert two_devices["distribution_after"] == "None"
