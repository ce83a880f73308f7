"""Helpers shared by the benchmark scripts: machine, versions, peer model."""

import multiprocessing
import platform


def machine():
    """dict. CPU model, cores, memory (GiB), Python and platform."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = None
    try:
        with open("/proc/meminfo") as f:
            memory = int(f.readline().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": multiprocessing.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def machine_line(m=None):
    """str. `machine()` in one line."""
    m = m or machine()
    return f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}"


def versions(names=("kser", "keras", "keras-hub", "jax", "tensorflow", "numpy")):
    """dict. Installed versions of some distributions (None if absent)."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# kser family -> transformers model_type (the converter registry's key).
MODEL_TYPES = {
    "hubert": "hubert",
    "wav2vec2": "wav2vec2",
    "wavlm": "wavlm",
    "data2vec_audio": "data2vec-audio",
}


def random_transformers_model(preset, seed=0):
    """A transformers model with random weights of a kser preset's
    architecture (any family), in eval mode: the peer the benchmarks
    compare with."""
    import torch
    import transformers

    from kser.convert import get_converter
    from kser.models.loader import preset_family

    family, _ = preset_family(preset)
    model_type = MODEL_TYPES[family]
    kwargs = get_converter(model_type).transformers_config_kwargs(preset)
    hf_config = transformers.AutoConfig.for_model(model_type, **kwargs)
    torch.manual_seed(seed)
    return transformers.AutoModel.from_config(hf_config).eval()


# The name the HuBERT-only benchmarks used.
random_transformers_hubert = random_transformers_model


def reference_gflops(seconds=2.0, size=1024):
    """float. This machine's float32 matmul rate now (GFLOP/s, numpy's BLAS,
    its default threads; the best of repeated `size` x `size` products over
    about `seconds`). Shared VMs run at different rates on different days:
    a run's figures are comparable with another's only beside this."""
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b  # warm-up
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9
