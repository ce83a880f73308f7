"""Experiment configuration: plain data, saved beside every result.

The paper leaves optimiser, learning rate, batch size, clip length, noise
level and pooling unstated; the defaults here are kser's documented choices
(see docs/training.md) and every one is a config value.
"""

import dataclasses
import datetime
import hashlib
import json
import os
import platform
import subprocess

from kser import __version__
from kser.errors import KserError
from kser.versions import module_version

# The paper's three models, by name.
VARIANTS = {
    "dense": {"head": "dense", "augment": False, "paper_name": "Hubert"},
    "dense-aug": {"head": "dense", "augment": True, "paper_name": "Hubert-aug"},
    "lstm": {"head": "lstm", "augment": False, "paper_name": "Hubert-LSTM"},
}
MODES = ("cached", "online")
DTYPES = ("float32", "bfloat16")
CACHE_DTYPES = ("float32", "float16")


def _check_number(name, value, low=None, high=None, open_low=False,
                  open_high=False):
    """A finite number within its range, or a one-line KserError."""
    import math

    try:
        number = float(value)
    except (TypeError, ValueError):
        raise KserError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise KserError(f"{name} must be a finite number, got {value}")
    if low is not None and (number <= low if open_low else number < low):
        bound = "greater than" if open_low else "at least"
        raise KserError(f"{name} must be {bound} {low:g}, got {value}")
    if high is not None and (number >= high if open_high else number > high):
        bound = "less than" if open_high else "at most"
        raise KserError(f"{name} must be {bound} {high:g}, got {value}")


@dataclasses.dataclass
class TrainConfig:
    """Every setting of one training run (one variant, any folds).

    Args:
        variant: str. `dense`, `dense-aug` or `lstm` (the paper's Hubert,
            Hubert-aug and Hubert-LSTM).
        augment: bool or None. Gaussian-noise augmentation; None takes the
            variant's (True for `dense-aug` only).
        layers: str. `"last"` hidden state (the paper) or `"weighted"` sum of
            all hidden states (SUPERB).
        preset: str. Backbone preset name or converted folder.
        protocol: str. One of the corpus's fold protocols; for RAVDESS
            `paper` (12 folds, Table I) or `emobox` (6 folds). None takes
            the corpus's default (RAVDESS: `paper`).
        epochs: int. Training epochs; the best epoch on validation is kept.
        batch_size: int. Clips per batch (global, across devices).
        learning_rate: float. Adam learning rate of the head.
        seed: int. Seeds head initialisation, shuffling and noise.
        max_seconds: float. Longer clips are center-cropped to this.
        dtype: str. Backbone compute dtype, `float32` or `bfloat16`; the head
            and loss stay float32.
        snr_db: float. Noise level of augmentation, dB below each clip's RMS.
        noise_copies: int. Noisy copies of each training clip per epoch
            (beside the clean clip).
        hidden_units: int. Dense head hidden width.
        dropout: float. Dropout before the output layer.
        lstm_units: int. LSTM units per direction.
        mode: str. `cached` (backbone features computed once, on disk) or
            `online` (backbone in every step, fresh noise every epoch).
        distribute: str. `auto`, `none` or `data-parallel`.
        group_by_length: bool. Batch training clips of nearly equal length
            together (a fresh shuffle every epoch, then sorted pools of 50
            batches, batch order shuffled), so a batch is padded little;
            the same batches in cached and online mode. False shuffles
            clips freely (every batch padded to its longest clip).
        corpus: str. The corpus name (`kser.data.corpora.CORPORA`).
        cache_dtype: str. How cached features are stored and held while a
            head trains: `float32` (default) or `float16` (half the disk
            and memory; the head still computes in float32). Cached mode
            only. A float16 entry is rounded from the float32 one when the
            cache has it, without running the backbone again.
    """

    variant: str = "lstm"
    augment: bool = None
    layers: str = "last"
    preset: str = "hubert_base_ls960"
    protocol: str = None
    epochs: int = 6
    batch_size: int = 16
    learning_rate: float = 1e-3
    seed: int = 0
    max_seconds: float = 6.0
    dtype: str = "float32"
    snr_db: float = 20.0
    noise_copies: int = 1
    hidden_units: int = 256
    dropout: float = 0.2
    lstm_units: int = 256
    mode: str = "cached"
    distribute: str = "none"
    group_by_length: bool = True
    corpus: str = "ravdess"
    cache_dtype: str = "float32"

    def __post_init__(self):
        self._check_types()
        if self.variant not in VARIANTS:
            raise KserError(
                f"unknown variant {self.variant!r}: choose one of "
                f"{', '.join(VARIANTS)}"
            )
        if self.augment is None:
            self.augment = VARIANTS[self.variant]["augment"]
        if self.mode not in MODES:
            raise KserError(f"unknown mode {self.mode!r}: choose cached or online")
        if self.dtype not in DTYPES:
            raise KserError(f"unknown dtype {self.dtype!r}: choose float32 or bfloat16")
        if self.cache_dtype not in CACHE_DTYPES:
            raise KserError(
                f"unknown cache_dtype {self.cache_dtype!r}: choose float32 or float16"
            )
        if self.cache_dtype != "float32" and self.mode != "cached":
            raise KserError(
                f"cache_dtype {self.cache_dtype} needs mode cached: online "
                "training keeps no features"
            )
        if self.layers not in ("last", "weighted"):
            raise KserError(f"unknown layers {self.layers!r}: choose last or weighted")
        from kser.data.corpora import get_corpus

        corpus = get_corpus(self.corpus)
        protocols = list(corpus.protocols)
        if self.protocol is None:
            self.protocol = corpus.default_protocol
        if self.protocol not in protocols:
            raise KserError(
                f"unknown protocol {self.protocol!r} for corpus {self.corpus}: "
                f"choose {' or '.join(protocols)}"
            )
        for name in ("epochs", "batch_size", "noise_copies"):
            if int(getattr(self, name)) < 1:
                raise KserError(f"{name} must be at least 1")
        _check_number("learning_rate", self.learning_rate, low=0.0, open_low=True)
        _check_number("snr_db", self.snr_db)
        _check_number("dropout", self.dropout, low=0.0, high=1.0, open_high=True)
        if self.max_seconds is not None:
            _check_number("max_seconds", self.max_seconds, low=0.0, open_low=True)

    def _check_types(self):
        """Each value of its field's type, or a one-line KserError.

        Config files give values as text, numbers and booleans; a value of
        the wrong kind (`epochs: six`, `augment: 3`, `batch_size: 16.5`)
        is named here instead of failing deep inside training. Whole
        numbers written as floats (`epochs: 6.0`) and numbers for float
        fields are accepted.
        """
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kind = _FIELD_KINDS.get(field.name)
            if value is None and field.name in _MAY_BE_NONE:
                continue
            if kind is bool:
                if not isinstance(value, bool):
                    raise KserError(
                        f"{field.name} must be true or false, got {value!r}"
                    )
            elif kind is int:
                whole = isinstance(value, float) and value.is_integer()
                if isinstance(value, bool) or not (isinstance(value, int) or whole):
                    raise KserError(
                        f"{field.name} must be a whole number, got {value!r}"
                    )
                if whole:
                    setattr(self, field.name, int(value))
            elif kind is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise KserError(f"{field.name} must be a number, got {value!r}")
            elif not isinstance(value, str):
                raise KserError(f"{field.name} must be text, got {value!r}")

    @property
    def cache_settings(self):
        """What picks a feature cache: layers, crop, backbone and cache dtype."""
        return (self.layers, self.max_seconds, self.dtype, self.cache_dtype)

    @property
    def head(self):
        return VARIANTS[self.variant]["head"]

    @property
    def name(self):
        """The variant name as results are filed: `dense-aug`, `lstm-aug`..."""
        if self.augment == VARIANTS[self.variant]["augment"]:
            return self.variant
        return f"{self.head}-aug" if self.augment else f"{self.head}-clean"

    def head_args(self):
        """The head's own arguments (see `kser.models.heads.HEADS`)."""
        if self.head == "lstm":
            return {"lstm_units": self.lstm_units, "dropout": self.dropout}
        return {"hidden_units": self.hidden_units, "dropout": self.dropout}

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise KserError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def load(cls, path):
        """Read a JSON (or YAML, if PyYAML is installed) config file."""
        if not os.path.exists(path):
            raise KserError(f"{path}: no such config file")
        with open(path) as f:
            text = f.read()
        if path.endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError:
                raise KserError(f"{path}: reading YAML needs `pip install pyyaml`")
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as error:
                where = getattr(error, "problem_mark", None)
                line = f" at line {where.line + 1}" if where is not None else ""
                problem = getattr(error, "problem", None) or "invalid YAML"
                raise KserError(f"{path}: not valid YAML{line} ({problem})") from None
        else:
            try:
                data = json.loads(text)
            except ValueError as error:
                raise KserError(
                    f"{path}: not valid JSON at line {error.lineno} ({error.msg})"
                ) from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise KserError(
                f"{path}: a config file holds keys and values (a mapping), "
                f"not a {type(data).__name__}"
            )
        try:
            return cls.from_dict(data)
        except KserError as error:
            raise KserError(f"{path}: {error}") from None


# The type of each field, for values read from config files.
_FIELD_KINDS = {
    "augment": bool, "group_by_length": bool,
    "epochs": int, "batch_size": int, "seed": int, "noise_copies": int,
    "hidden_units": int, "lstm_units": int,
    "learning_rate": float, "max_seconds": float, "snr_db": float,
    "dropout": float,
}
# Fields whose None means "the default" (or "no crop").
_MAY_BE_NONE = {"augment", "protocol", "max_seconds"}


# Keys added after runs were first filed, at the value those runs had: left
# out of the hash, so that folds finished before them still count as done.
_HASH_DEFAULTS = {"corpus": "ravdess", "cache_dtype": "float32"}


def config_hash(config, extra=None):
    """A short hash of a config (and extra data) that names a fold's inputs."""
    values = {
        k: v for k, v in config.to_dict().items()
        if not (k in _HASH_DEFAULTS and v == _HASH_DEFAULTS[k])
    }
    data = {"config": values, "extra": extra or {}}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_revision():
    """The git revision of the kser checkout, or None outside one."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment():
    """Date, versions, backend, device, CPU and git revision, as plain data.

    `cpu` is the model and whether it has native bfloat16 (AVX512_BF16 or
    AMX; None where the flags are unknown): `--dtype bfloat16` speed on a
    CPU depends on it.
    """
    import keras

    from kser.cpu import cpu_info

    versions = {"kser": __version__, "keras": keras.__version__}
    for module in ("keras_hub", "tensorflow", "jax", "torch", "numpy"):
        version = module_version(module)
        if version:  # not installed: not recorded
            versions[module] = version
    backend = keras.backend.backend()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "backend": backend,
        "device": device_description(backend),
        "cpu": cpu_info().to_dict(),
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def device_description(backend):
    """A short description of the compute devices the backend sees."""
    try:
        if backend == "jax":
            import jax

            devices = jax.devices()
            return f"{len(devices)} x {devices[0].device_kind} ({devices[0].platform})"
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_logical_devices("GPU")
            return f"{len(gpus)} x GPU" if gpus else "CPU"
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
        return "CPU"
    except Exception:  # the description is informative only.
        return "unknown"
