"""Mixed precision for the frozen backbone; the head and loss stay float32.

The backbone is frozen, so no gradient flows through it and bfloat16 needs
no loss scaling: it only makes the forward pass cheaper on hardware with
fast bfloat16 (TPUs, recent GPUs, CPUs with AMX or AVX512_BF16; on
other CPUs bfloat16 is emulated and slower than float32, and
`warn_if_emulated_bfloat16` says so once on stderr). The
backbone's variables stay float32 (`"mixed_bfloat16"` computes in bfloat16),
`FrozenFeatureExtractor` casts the features it hands the head to float32,
and the head is built under the global float32 policy.

Importing this module does not import Keras.
"""

import sys

from kser.errors import KserError

# What users type (`kser train --dtype`) -> the backbone's Keras dtype policy.
DTYPE_CHOICES = ("float32", "bfloat16")
_BACKBONE_POLICIES = {
    "float32": "float32",
    "bfloat16": "mixed_bfloat16",
    "mixed_bfloat16": "mixed_bfloat16",
}


def backbone_dtype(dtype):
    """Map a user dtype to the backbone's Keras dtype policy name.

    Args:
        dtype: str or None. `"float32"` (default when None) or
            `"bfloat16"`; `"mixed_bfloat16"` is accepted as an alias.

    Returns:
        str. `"float32"` or `"mixed_bfloat16"`, for the backbone's `dtype`
        argument (`load_backbone(..., dtype=...)` or a family's
        `from_preset(..., dtype=...)`).

    Examples:
    ```python
    backbone = load_backbone(
        "presets/hubert_base_ls960", dtype=backbone_dtype("bfloat16")
    )
    model = EmotionClassifier(backbone, head="lstm")  # head in float32
    ```
    """
    if dtype is None:
        return "float32"
    try:
        return _BACKBONE_POLICIES[dtype]
    except (KeyError, TypeError):
        raise KserError(
            f"unknown dtype {dtype!r}: choose one of {', '.join(DTYPE_CHOICES)}"
        ) from None


# Each process warns once, however many backbones it loads.
_warned = []


def accelerator_visible(backend=None):
    """Whether the Keras backend sees a GPU or TPU (then the backbone
    does not run on the CPU).

    Args:
        backend: str or None. `"jax"`, `"tensorflow"` or `"torch"`; None
            takes `keras.backend.backend()`.

    Returns:
        bool. False when no accelerator is visible, or when asking failed.
    """
    try:
        if backend is None:
            import keras

            backend = keras.backend.backend()
        if backend == "jax":
            import jax

            return any(d.platform != "cpu" for d in jax.devices())
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(
                tf.config.list_logical_devices("GPU")
                or tf.config.list_logical_devices("TPU")
            )
        if backend == "torch":
            import torch

            return bool(torch.cuda.is_available())
    except Exception:  # informative only: assume the CPU.
        return False
    return False


def emulated_bfloat16_warning(dtype, cpu=None, accelerator=None):
    """The warning for bfloat16 on a CPU that only emulates it, or None.

    Args:
        dtype: str or None. The user's dtype (`"bfloat16"` warns).
        cpu: `kser.cpu.CpuInfo` or None (None reads this machine's).
        accelerator: bool or None. Whether the backend sees a GPU/TPU;
            None asks the current Keras backend.

    Returns:
        str or None. One line, without the `kser: warning: ` prefix; None
        for float32, on a GPU/TPU, on a CPU with AVX512_BF16 or AMX, and
        where the CPU's flags are unknown (not Linux).
    """
    if backbone_dtype(dtype) == "float32":
        return None
    cpu = _cpu_alone(cpu, accelerator)
    if cpu is None or cpu.native_bfloat16 is not False:
        return None
    return (
        f"this CPU ({cpu.model}) has no bfloat16 instructions (AVX512_BF16 "
        "or AMX): bfloat16 is emulated and slower than float32 here"
    )


def _cpu_alone(cpu=None, accelerator=None):
    # The CPU's facts (`kser.cpu.cpu_info()` unless given) when the backend
    # sees no GPU/TPU (asked unless given), else None.
    if accelerator is None:
        accelerator = accelerator_visible()
    if accelerator:
        return None
    if cpu is None:
        from kser.cpu import cpu_info

        cpu = cpu_info()
    return cpu


def bfloat16_backend_note(dtype, backend=None, cpu=None, accelerator=None):
    """A note for bfloat16 on a native-bfloat16 CPU off the torch backend.

    On a CPU with AVX512_BF16 the torch backend's bfloat16 backbone runs at
    about twice the speed of jax's and tensorflow's (HuBERT base, 4 x 4 s:
    torch at transformers' speed, tensorflow 0.57x and jax 0.44x of it;
    XLA's and TensorFlow's CPU bfloat16 paths; BENCHMARKS.md).

    Args:
        dtype: str or None. The user's dtype (`"bfloat16"` may note).
        backend: str or None. The Keras backend; None asks Keras.
        cpu, accelerator: as for `emulated_bfloat16_warning`.

    Returns:
        str or None. One line, without the `kser: note: ` prefix; None for
        float32, on torch, on a GPU/TPU, and on CPUs without native
        bfloat16 or with unknown flags.
    """
    if backbone_dtype(dtype) == "float32":
        return None
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if backend == "torch":
        return None
    cpu = _cpu_alone(cpu, accelerator)
    if cpu is None or cpu.native_bfloat16 is not True:
        return None
    return (
        f"bfloat16 on this CPU ({cpu.model}) runs about twice as fast on the "
        f"torch backend as on {backend} (--backend torch; BENCHMARKS.md)"
    )


def warn_if_emulated_bfloat16(
    dtype, cpu=None, accelerator=None, stream=None, backend=None
):
    """Print `emulated_bfloat16_warning`, or else `bfloat16_backend_note`,
    on stderr, once per process.

    Args:
        dtype, cpu, accelerator: as for `emulated_bfloat16_warning`.
        stream: file or None. Where to write (default `sys.stderr`).
        backend: as for `bfloat16_backend_note`.

    Returns:
        str or None. The line printed now (with its prefix), None if none
        was.
    """
    if _warned:
        return None
    warning = emulated_bfloat16_warning(dtype, cpu=cpu, accelerator=accelerator)
    if warning is not None:
        line = f"kser: warning: {warning}"
    else:
        note = bfloat16_backend_note(
            dtype, backend=backend, cpu=cpu, accelerator=accelerator
        )
        if note is None:
            return None
        line = f"kser: note: {note}"
    _warned.append(line)
    print(line, file=stream or sys.stderr, flush=True)
    return line
