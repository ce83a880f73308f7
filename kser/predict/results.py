"""What scoring returns: per-window and whole-file probabilities."""

import dataclasses

import numpy as np


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
    """

    path: str
    duration: float
    probabilities: np.ndarray
    windows: list
    label_names: list

    @property
    def emotion(self):
        """str. The most probable class of the whole file."""
        return self.label_names[int(np.argmax(self.probabilities))]

    def window_emotions(self):
        """list of str. The most probable class of each window."""
        return [
            self.label_names[int(np.argmax(w.probabilities))]
            for w in self.windows
        ]
