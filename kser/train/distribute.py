"""Data-parallel training over local devices, with each backend's own engine.

One call picks the engine and gives a context manager; build, compile and fit
the model inside it:

```python
from kser.train.distribute import distribution_scope

with distribution_scope("auto", batch_size=32) as dist:
    print(dist)  # e.g. "jax DataParallel over 8 gpu devices"
    model = build_head("lstm", feature_dim=768)
    model.compile(...)
    model.fit(dist.prepare_dataset(train_ds), epochs=6)
```

`kind` (the CLI's `--distribute`) is one of `DISTRIBUTE_CHOICES`:

- `"auto"`: data parallel when more than one local device (or a TPU) is
  found, else one device.
- `"none"`: one device, whatever is present.
- `"data-parallel"`: data parallel over every local device, even one.

Engines: on JAX, `keras.distribution.DataParallel` over
`keras.distribution.list_devices()` (GPUs or TPU cores when present, else
CPUs), set with `keras.distribution.set_distribution` and restored on exit.
On TensorFlow, `tf.distribute.TPUStrategy` when a TPU is found, else
`tf.distribute.MirroredStrategy` over the local GPUs, or over the logical CPU
devices when the CPU was split and there is no GPU. On torch, one device:
Keras' distribution API supports JAX only, so `"data-parallel"` is an error
there.

The batch size is the global batch: every step takes `batch_size` examples
and splits them evenly over `num_replicas` devices, so the same global batch
gives the same gradients as one device. It must be divisible by the number of
replicas (`DistributionPlan.check_batch_size`). On JAX every batch, the last
short one of an epoch included, must divide evenly: `prepare_dataset` pads a
short batch with zero-weight rows (or use `drop_remainder=True` for
training).

Pass every dataset a model built in the scope sees (`fit`, `validation_data`,
`evaluate`, `predict`) through `plan.prepare_dataset`: a TensorFlow model
keeps its strategy after the `with` block, and Keras' `fit` and `evaluate`
under a strategy fail on boolean inputs such as the frame padding mask.
See docs/distribution.md.

Importing this module does not import Keras or TensorFlow.
"""

import contextlib
import dataclasses
import functools
import glob
import importlib.util
import os

from kser.errors import KserError

DISTRIBUTE_CHOICES = ("auto", "none", "data-parallel")

# Environment variables through which tf's TPUClusterResolver finds a TPU by
# name (Cloud TPU nodes, GKE, Colab).
_TPU_NAME_VARIABLES = ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_CONFIG")


@dataclasses.dataclass(frozen=True)
class DistributionPlan:
    """What `distribution_scope` chose: engine, devices and replica count.

    Args:
        kind: str. `"none"` (one device) or `"data-parallel"`.
        backend: str. The Keras backend.
        engine: str. `"single device"`, `"DataParallel"` (JAX),
            `"MirroredStrategy"` or `"TPUStrategy"` (TensorFlow).
        devices: tuple of str. The devices that hold a replica.
        note: str. Why this choice, when it is not the obvious one.
        strategy: the `tf.distribute.Strategy` on TensorFlow, else None.
    """

    kind: str
    backend: str
    engine: str
    devices: tuple = ()
    note: str = ""
    strategy: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def num_replicas(self):
        """int. Replicas that each take an equal slice of every batch."""
        if self.strategy is not None:
            return int(self.strategy.num_replicas_in_sync)
        return max(len(self.devices), 1)

    def describe(self):
        """One line for logs and configs: "jax DataParallel over 2 cpu devices"."""
        if self.kind == "none":
            text = f"{self.backend} single device"
            if self.devices:
                text += f" ({self.devices[0]})"
        else:
            text = f"{self.backend} {self.engine} over {self.num_replicas} "
            types = sorted({_device_type(d) for d in self.devices})
            if len(types) == 1 and self.engine != "TPUStrategy":
                text += f"{types[0]} "
            text += "device" if self.num_replicas == 1 else "devices"
        if self.note:
            text += f"; {self.note}"
        return text

    def __str__(self):
        return self.describe()

    def to_dict(self):
        """Plain data for a run config: kind, backend, engine, devices, replicas."""
        return {
            "kind": self.kind,
            "backend": self.backend,
            "engine": self.engine,
            "num_replicas": self.num_replicas,
            "devices": list(self.devices),
            "description": self.describe(),
        }

    def check_batch_size(self, batch_size):
        """Check that a global batch splits evenly over the replicas.

        Args:
            batch_size: int. The global batch size (all replicas together).

        Returns:
            int. The per-replica batch size.

        Raises:
            KserError: when `batch_size` is not a positive multiple of
                `num_replicas`.
        """
        replicas = self.num_replicas
        if int(batch_size) != batch_size or batch_size < 1:
            raise KserError(
                f"batch size must be a positive integer, got {batch_size!r}"
            )
        if batch_size % replicas:
            lower = max(replicas, batch_size // replicas * replicas)
            raise KserError(
                f"batch size {batch_size} does not split over {replicas} "
                f"replicas ({self.describe()}): the batch size is the global "
                f"batch, so use a multiple of {replicas} (e.g. {lower} or "
                f"{lower + replicas}) or --distribute none"
            )
        return int(batch_size) // replicas

    def prepare_dataset(self, dataset):
        """Adapt a batched `tf.data.Dataset` to this plan's engine.

        One device: unchanged. TensorFlow strategies: boolean tensors (the
        frame padding mask of cached features) become int32, because Keras'
        `fit` under a `tf.distribute` strategy averages a first batch across
        replicas to build the model and cannot average booleans; the heads
        cast the mask back. JAX `DataParallel`: a batch whose size does not
        divide by `num_replicas` (the last, short one) is padded with zero
        rows and a sample weight of 0 for them, so accuracy and the other
        weighted metrics stay exact; the loss of that one batch is divided
        by the padded size (use `drop_remainder=True` for training to avoid
        it). `predict` on a padded dataset returns the padding rows after
        the real ones: keep the first `num_examples` rows.

        Args:
            dataset: `tf.data.Dataset` of batches, `x`, `(x, y)` or
                `(x, y, sample_weight)`.

        Returns:
            A `tf.data.Dataset`.
        """
        if self.kind == "none":
            return dataset
        import tensorflow as tf

        if not isinstance(dataset, tf.data.Dataset):
            raise TypeError(
                f"prepare_dataset needs a batched tf.data.Dataset, got "
                f"{type(dataset).__name__}"
            )
        if self.backend == "tensorflow":
            return dataset.map(
                lambda *batch: _untuple(tf.nest.map_structure(_bool_to_int32, batch)),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        if self.backend == "jax" and self.num_replicas > 1:
            pad = functools.partial(_pad_batch, multiple=self.num_replicas)
            return dataset.map(pad, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset


def distribution_scope(kind="auto", batch_size=None):
    """Pick a multi-device engine and return a context manager for it.

    Build, compile and fit (and evaluate or predict) models inside the
    `with` block; it yields the `DistributionPlan`. On JAX the previous
    global `keras.distribution` setting comes back on exit.

    Args:
        kind: str. One of `DISTRIBUTE_CHOICES`: `"auto"`, `"none"` or
            `"data-parallel"`.
        batch_size: int or None. The global batch size to check against the
            replica count (a `KserError` when it does not divide).

    Returns:
        A context manager that yields a `DistributionPlan`.

    Examples:
    ```python
    with distribution_scope("data-parallel", batch_size=32) as dist:
        model = EmotionClassifier(backbone, head="lstm")
        model.compile()
        model.fit(dist.prepare_dataset(train_ds), epochs=6)
    ```
    """
    plan = resolve_distribution(kind)
    if batch_size is not None:
        plan.check_batch_size(batch_size)
    return _enter(plan)


def resolve_distribution(kind="auto"):
    """Decide the engine and devices for `kind`, without entering a scope.

    On TensorFlow this creates the strategy (and initialises a TPU when one
    is found); each distinct strategy is created once per process and
    reused.

    Args:
        kind: str. One of `DISTRIBUTE_CHOICES`.

    Returns:
        A `DistributionPlan`.
    """
    if kind not in DISTRIBUTE_CHOICES:
        raise KserError(
            f"unknown distribution {kind!r}: choose one of "
            f"{', '.join(DISTRIBUTE_CHOICES)}"
        )
    import keras

    backend = keras.backend.backend()
    if kind == "none":
        return DistributionPlan("none", backend, "single device")
    if backend == "jax":
        return _resolve_jax(kind)
    if backend == "tensorflow":
        return _resolve_tensorflow(kind)
    if kind == "data-parallel":
        raise KserError(
            f"data-parallel training needs the jax or tensorflow backend, not "
            f"{backend}; use --backend jax or --backend tensorflow, or "
            f"--distribute none"
        )
    return DistributionPlan(
        "none",
        backend,
        "single device",
        note=f"the {backend} backend trains on one device in kser",
    )


@contextlib.contextmanager
def _enter(plan):
    if plan.kind == "none":
        yield plan
    elif plan.backend == "jax":
        import keras

        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=list(plan.devices))
        )
        try:
            yield plan
        finally:
            keras.distribution.set_distribution(previous)
    else:
        with plan.strategy.scope():
            yield plan


def _resolve_jax(kind):
    import keras

    devices = tuple(keras.distribution.list_devices())
    if kind == "auto" and len(devices) < 2:
        return DistributionPlan("none", "jax", "single device", devices[:1])
    return DistributionPlan("data-parallel", "jax", "DataParallel", devices)


def _resolve_tensorflow(kind):
    import tensorflow as tf

    resolver = _find_tpu()
    if resolver is not None:
        strategy = _tpu_strategy(resolver)
        devices = tuple(d.name for d in strategy.extended.worker_devices)
        return DistributionPlan(
            "data-parallel", "tensorflow", "TPUStrategy", devices, strategy=strategy
        )
    gpus = tf.config.list_logical_devices("GPU")
    local = gpus or tf.config.list_logical_devices("CPU")
    devices = tuple(d.name for d in local)
    if kind == "auto" and len(devices) < 2:
        return DistributionPlan("none", "tensorflow", "single device", devices[:1])
    strategy = _mirrored_strategy(devices)
    return DistributionPlan(
        "data-parallel", "tensorflow", "MirroredStrategy", devices, strategy=strategy
    )


# One strategy per device set and process: a second MirroredStrategy over
# the same devices reuses the first one's collective keys, and its first
# all-reduce then fails with "Shape mismatch in the collective instance"
# (seen with tf 2.21 on CPU when one process trains several folds). A TPU
# must be initialised only once per process.
@functools.lru_cache(maxsize=None)
def _mirrored_strategy(devices):
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices=list(devices))


@functools.lru_cache(maxsize=None)
def _tpu_strategy(resolver):
    import tensorflow as tf

    try:
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except Exception as error:  # tf raises several unrelated types here
        raise KserError(f"found a TPU but could not initialise it: {error}") from error


_TPU_RESOLVER = []


def _find_tpu():
    """The TPU cluster resolver when a TPU is named or attached, else None."""
    if _TPU_RESOLVER:
        return _TPU_RESOLVER[0]
    import tensorflow as tf

    resolver_cls = tf.distribute.cluster_resolver.TPUClusterResolver
    resolver = None
    if any(os.environ.get(name) for name in _TPU_NAME_VARIABLES):
        # A TPU named by the environment (Cloud TPU node, GKE, Colab):
        # failing to reach it is the user's to fix, not a silent fallback.
        try:
            resolver = resolver_cls()
        except Exception as error:
            raise KserError(
                f"a TPU is named in the environment but: {error}"
            ) from error
    elif _local_tpu_attached():
        # A TPU VM: the chips are local devices.
        try:
            resolver = resolver_cls(tpu="local")
        except Exception:
            resolver = None
    _TPU_RESOLVER.append(resolver)
    return resolver


def _local_tpu_attached():
    # TPU VMs expose the chips as /dev/accel* (v2-v4) or /dev/vfio/N (v5e
    # and later) and ship libtpu; a GPU host with vfio has no libtpu.
    chips = glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*")
    return bool(chips) and importlib.util.find_spec("libtpu") is not None


def _device_type(name):
    # "cpu:0" (keras.distribution) or "/job:localhost/.../device:CPU:0" (tf).
    return name.split("/")[-1].split(":")[-2].lower()


def _untuple(batch):
    return batch[0] if len(batch) == 1 else batch


def _bool_to_int32(tensor):
    import tensorflow as tf

    return tf.cast(tensor, tf.int32) if tensor.dtype == tf.bool else tensor


def _pad_batch(*batch, multiple):
    import tensorflow as tf

    x = batch[0]
    y = batch[1] if len(batch) > 1 else None
    weight = batch[2] if len(batch) > 2 else None
    size = tf.shape(tf.nest.flatten(x)[0])[0]
    extra = (multiple - size % multiple) % multiple

    def pad(tensor):
        paddings = tf.concat(
            [[[0, extra]], tf.zeros([tf.rank(tensor) - 1, 2], tf.int32)], axis=0
        )
        return tf.pad(tensor, paddings)

    x = tf.nest.map_structure(pad, x)
    if y is None:
        return x
    if weight is None:
        weight = tf.ones([size], tf.float32)
    weight = tf.concat([tf.cast(weight, tf.float32), tf.zeros([extra], tf.float32)], 0)
    return x, tf.nest.map_structure(pad, y), weight
