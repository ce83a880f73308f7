"""What the CPU offers for bfloat16: its model and its instruction flags.

bfloat16 is fast on a CPU only with native instructions: AVX512_BF16
(Intel Cooper Lake and later, AMD Zen 4 and later) or AMX (Intel Sapphire
Rapids and later, through oneDNN). Elsewhere the frameworks emulate it in
float32 arithmetic plus conversions, slower than plain float32.

Reads Linux's `/proc/cpuinfo`; on other systems the answer is unknown
(`None`). Imports no Keras and no framework.
"""

import platform

# The /proc/cpuinfo flags of native bfloat16 arithmetic.
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")


class CpuInfo:
    """The CPU's model name and flags, as far as they are known.

    Args:
        model: str. The model name (e.g. `"AMD EPYC 7B13"`), `"unknown"`
            when it could not be read.
        flags: frozenset of str or None. The instruction-set flags, None
            when unknown (not Linux, or `/proc/cpuinfo` unreadable).
    """

    def __init__(self, model, flags):
        self.model = model or "unknown"
        self.flags = None if flags is None else frozenset(flags)

    @property
    def bfloat16_flags(self):
        """tuple of str. The native bfloat16 flags present (empty when
        none or unknown)."""
        if self.flags is None:
            return ()
        return tuple(f for f in BF16_FLAGS if f in self.flags)

    @property
    def native_bfloat16(self):
        """bool or None. Whether the CPU has AVX512_BF16 or AMX; None when
        its flags are unknown."""
        if self.flags is None:
            return None
        return bool(self.bfloat16_flags)

    def to_dict(self):
        """dict. `model`, `native_bfloat16` and `bfloat16_flags`, plain
        data for a run's environment record."""
        return {
            "model": self.model,
            "native_bfloat16": self.native_bfloat16,
            "bfloat16_flags": list(self.bfloat16_flags),
        }

    def __repr__(self):
        return f"CpuInfo(model={self.model!r}, native_bfloat16={self.native_bfloat16})"


def parse_cpuinfo(text):
    """Parse the text of Linux's `/proc/cpuinfo`.

    Args:
        text: str. The file's text (x86 `model name` and `flags` lines;
            ARM's `Features` and `CPU part` lines are read too).

    Returns:
        `CpuInfo`. `flags` is None when the text names none.
    """
    model = None
    flags = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        value = value.strip()
        if key in ("model name", "cpu model", "hardware") and model is None:
            model = value or None
        elif key in ("flags", "features") and flags is None:
            flags = value.lower().split()
        if model is not None and flags is not None:
            break
    return CpuInfo(model, flags)


def cpu_info(path="/proc/cpuinfo"):
    """The CPU this process runs on.

    Args:
        path: str. The cpuinfo file (tests give another).

    Returns:
        `CpuInfo`. On systems without the file (macOS, Windows) the model
        is `platform.processor()` and the flags are unknown (None).
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return CpuInfo(platform.processor() or platform.machine(), None)
    info = parse_cpuinfo(text)
    if info.model == "unknown":
        info.model = platform.processor() or platform.machine() or "unknown"
    return info
