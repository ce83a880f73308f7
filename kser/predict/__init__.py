"""Scoring unlabeled audio with a trained `EmotionClassifier`.

Audio of any sample rate, channel count and length is loaded with
`load_audio` (mono downmix, resampled to 16 kHz) and scored in windows
(see `kser.predict.scoring`); each file's result is the mean of its
windows' softmax probabilities.

- `loader`: `resolve_model_path`, `load_classifier` (`--model PATH`).
- `files`: `find_audio_files`, `expand_inputs`, `check_audio_file(s)`.
- `scoring`: `window_bounds`, `predict_waveforms`, `predict_files` (stops
  at the first bad file), `predict_batch` (scores the good files and lists
  the bad ones).
- `results`: `FilePrediction`, `WindowPrediction`, `FileFailure`,
  `PredictionBatch`, `SILENT_PEAK`, `peak_level`, `count_noun`.
- `formats`: `format_table`, `format_csv`, `results_to_dict`,
  `format_results`.

Importing this package does not import Keras; `load_classifier` does.
"""

from kser.data.audio import SAMPLE_RATE
from kser.data.audio import load_audio
from kser.predict.files import AUDIO_EXTENSIONS
from kser.predict.files import check_audio_file
from kser.predict.files import check_audio_files
from kser.predict.files import expand_inputs
from kser.predict.files import find_audio_files
from kser.predict.formats import FORMATS
from kser.predict.formats import format_csv
from kser.predict.formats import format_results
from kser.predict.formats import format_table
from kser.predict.formats import results_to_dict
from kser.predict.loader import load_classifier
from kser.predict.loader import resolve_model_path
from kser.predict.results import SILENT_PEAK
from kser.predict.results import FileFailure
from kser.predict.results import FilePrediction
from kser.predict.results import PredictionBatch
from kser.predict.results import WindowPrediction
from kser.predict.results import count_noun
from kser.predict.results import peak_level
from kser.predict.scoring import DEFAULT_BATCH_SIZE
from kser.predict.scoring import DEFAULT_HOP_SECONDS
from kser.predict.scoring import DEFAULT_WINDOW_SECONDS
from kser.predict.scoring import min_samples
from kser.predict.scoring import predict_batch
from kser.predict.scoring import predict_files
from kser.predict.scoring import predict_waveforms
from kser.predict.scoring import window_bounds

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_HOP_SECONDS",
    "DEFAULT_WINDOW_SECONDS",
    "FORMATS",
    "FileFailure",
    "FilePrediction",
    "PredictionBatch",
    "SAMPLE_RATE",
    "SILENT_PEAK",
    "WindowPrediction",
    "check_audio_file",
    "check_audio_files",
    "count_noun",
    "expand_inputs",
    "find_audio_files",
    "format_csv",
    "format_results",
    "format_table",
    "load_audio",
    "load_classifier",
    "min_samples",
    "peak_level",
    "predict_batch",
    "predict_files",
    "predict_waveforms",
    "resolve_model_path",
    "results_to_dict",
    "window_bounds",
]
