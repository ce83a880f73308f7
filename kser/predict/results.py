"""What scoring returns: per-window and whole-file probabilities, and the
files of a batch that could not be scored."""

import dataclasses

import numpy as np

from kser.text import count_noun  # noqa: F401 (re-exported)

# A clip whose peak (after removing any DC offset) is below this is silent:
# -80 dBFS, about 3 steps of 16-bit audio, below any microphone's noise
# floor. The model normalises each clip to unit variance, so it would score
# the dither or rounding noise of such a clip as if it were speech.
SILENT_PEAK = 1e-4


def peak_level(waveform):
    """float. The largest absolute sample after removing the mean (DC):
    0.0 for an empty, all-zero or constant clip."""
    waveform = np.asarray(waveform, np.float64)
    if waveform.size == 0:
        return 0.0
    return float(np.max(np.abs(waveform - waveform.mean())))


@dataclasses.dataclass
class WindowPrediction:
    """Probabilities for one window of a file.

    Args:
        start: float. Start of the window in seconds.
        end: float. End of the window in seconds.
        probabilities: float32 array of shape `(num_classes,)`.
    """

    start: float
    end: float
    probabilities: np.ndarray


@dataclasses.dataclass
class FilePrediction:
    """Whole-file and per-window probabilities for one audio file.

    Args:
        path: str. The file (or the name given to an in-memory waveform).
        duration: float. Length in seconds at 16 kHz.
        probabilities: float32 array of shape `(num_classes,)`, the mean of
            the windows' probabilities.
        windows: list of `WindowPrediction`, in time order.
        label_names: list of str. Class names in probability order.
        peak: float or None. The clip's peak level at 16 kHz after removing
            DC (`peak_level`); None when not measured.
    """

    path: str
    duration: float
    probabilities: np.ndarray
    windows: list
    label_names: list
    peak: float = None

    @property
    def emotion(self):
        """str. The most probable class of the whole file."""
        return self.label_names[int(np.argmax(self.probabilities))]

    @property
    def silent(self):
        """bool. The clip's peak is below `SILENT_PEAK` (all zeros, or
        nothing but rounding noise): it was scored, but its result means
        little."""
        return self.peak is not None and self.peak < SILENT_PEAK

    def window_emotions(self):
        """list of str. The most probable class of each window."""
        return [
            self.label_names[int(np.argmax(w.probabilities))]
            for w in self.windows
        ]

    def warnings(self):
        """list of str. One-line warnings about this result (`PATH: why`):
        today only silent audio."""
        if not self.silent:
            return []
        return [
            f"{self.path}: silent audio (peak {self.peak:.2g}, below "
            f"{SILENT_PEAK:g} = -80 dBFS); scored anyway, but the result "
            "means little"
        ]


@dataclasses.dataclass
class FileFailure:
    """An input of a batch that could not be scored.

    Args:
        path: str. The file, or the input folder or path given.
        reason: str. Why, in one line, without the path.
    """

    path: str
    reason: str

    @classmethod
    def from_error(cls, path, error):
        """A `FileFailure` from a `KserError` whose message names `path`."""
        message = str(error)
        prefix = f"{path}: "
        reason = message[len(prefix) :] if message.startswith(prefix) else message
        return cls(path=path, reason=reason)

    @property
    def message(self):
        """str. `PATH: reason`, the line the CLI prints after `kser: error: `."""
        return f"{self.path}: {self.reason}"


@dataclasses.dataclass
class PredictionBatch:
    """What `predict_batch` returns: the files scored and those that failed.

    Args:
        results: list of `FilePrediction`, in file order.
        failures: list of `FileFailure`, in input order.
    """

    results: list
    failures: list

    @property
    def ok(self):
        """bool. Every input was scored."""
        return not self.failures
