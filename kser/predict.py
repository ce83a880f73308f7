"""Scoring unlabeled audio with a trained `EmotionClassifier`.

Audio of any sample rate, channel count and length is loaded with
`load_audio` (mono downmix, resampled to 16 kHz) and scored in windows:

- A clip no longer than the window (every RAVDESS clip, with the default
  6 s window) is one window: the whole clip, unpadded, as in training.
- A longer file is cut into full-length windows every `hop_seconds`; the
  last window is moved back to end exactly at the file's end, so all of the
  file is covered and every window holds `window_seconds` of real audio.

Each window gets the softmax of the model's logits; the whole-file result
is the plain mean of its windows' probabilities, and its emotion is the
arg-max of that mean.

Importing this module does not import Keras; `load_classifier` does.
"""

import csv
import dataclasses
import io
import json
import os
import zipfile

import numpy as np

from kser.data.audio import SAMPLE_RATE
from kser.data.audio import load_audio
from kser.errors import AudioError
from kser.errors import DataError
from kser.errors import KserError
from kser.errors import ModelError

# The training pipeline crops clips to 6 s (`Preprocessing.max_seconds`), so
# a 6 s window scores every RAVDESS clip (about 3-5 s) whole, as the model
# saw them in training; long recordings get 6 s windows with 50 % overlap.
DEFAULT_WINDOW_SECONDS = 6.0
DEFAULT_HOP_SECONDS = 3.0
DEFAULT_BATCH_SIZE = 8
# Extensions looked for inside folders (libsndfile reads all of them).
# Files named explicitly are tried whatever their extension.
AUDIO_EXTENSIONS = (
    ".wav",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".aiff",
    ".aif",
    ".aifc",
    ".au",
    ".caf",
    ".w64",
    ".rf64",
)
FORMATS = ("table", "csv", "json")
# Clips shorter than the window are padded up to a multiple of this many
# samples (0.5 s) so that compiled (jax, tensorflow) shapes repeat.
_PAD_MULTIPLE = SAMPLE_RATE // 2
# Files loaded and scored together: bounds memory on large folders while
# still letting windows of similar length share batches.
_CHUNK_WINDOWS = 256


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


def resolve_model_path(path):
    """The `.keras` file a `--model` path names, checked without Keras.

    Args:
        path: str or path-like. A `.keras` file, or a folder holding
            `model.keras` (a fold folder written by `kser train`).

    Returns:
        str. The `.keras` file.

    Raises:
        ModelError: a missing path, a folder without `model.keras`, or a
            file that is not a `.keras` archive.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        candidate = os.path.join(path, "model.keras")
        if not os.path.isfile(candidate):
            # A cross-validation run holds one model per fold: name them
            # rather than guess which one the user meant.
            nested = sorted(
                os.path.join(root, "model.keras")
                for root, _, names in os.walk(path)
                if "model.keras" in names
            )
            if nested:
                hint = (
                    f"; it holds {len(nested)} in subfolders, pick one, "
                    f"e.g. --model {nested[0]}"
                )
            else:
                hint = (
                    "; pass a .keras file or a fold folder holding "
                    "model.keras"
                )
            raise ModelError(f"{path}: no model.keras in this folder{hint}")
        path = candidate
    elif not os.path.exists(path):
        raise ModelError(f"{path}: no such model file")
    # A `.keras` file is a zip archive; saying so here is clearer than
    # Keras' error, and needs no Keras import.
    if not zipfile.is_zipfile(path):
        raise ModelError(
            f"{path}: not a .keras model file; pass a file saved by "
            "`kser train --save-model` or `EmotionClassifier.save`"
        )
    return path


def load_classifier(path):
    """Load a saved `EmotionClassifier` from a `.keras` file or a run folder.

    Args:
        path: str or path-like. A `.keras` file, or a folder holding
            `model.keras` (a fold folder written by `kser train`).

    Returns:
        The `EmotionClassifier`, uncompiled.

    Raises:
        ModelError: a missing path, a folder without `model.keras`, a file
            Keras cannot load, or a model that is not an `EmotionClassifier`.
    """
    path = resolve_model_path(path)

    import keras

    # Registers kser's classes with Keras' deserialisation.
    from kser.models import EmotionClassifier

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for bad files.
        reason = str(error).strip().splitlines()
        reason = reason[0] if reason else type(error).__name__
        if len(reason) > 160:
            reason = reason[:157] + "..."
        raise ModelError(
            f"{path}: cannot load it as a Keras model ({reason}); pass a "
            "file saved by `kser train --save-model` or "
            "`EmotionClassifier.save`"
        ) from None
    if not isinstance(model, EmotionClassifier):
        raise ModelError(
            f"{path}: holds a {type(model).__name__}, not a kser "
            "EmotionClassifier"
        )
    return model


def find_audio_files(paths, extensions=AUDIO_EXTENSIONS):
    """Expand files and folders into a list of audio files.

    Folders are searched recursively for `extensions` (case-insensitive),
    skipping hidden files and folders (such as macOS `._name.wav`
    resource forks); files named directly are kept whatever their
    extension. Order: as given, folder contents sorted; duplicates dropped.

    Args:
        paths: list of str or path-like. Files and folders.
        extensions: tuple of str. Lower-case extensions with the dot.

    Returns:
        list of str.

    Raises:
        DataError: a missing path, or no audio file found at all.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    files = []
    seen = set()

    def add(path):
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(path)

    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if not name.startswith(".") and name.lower().endswith(
                        tuple(extensions)
                    ):
                        add(os.path.join(root, name))
        elif os.path.exists(path):
            add(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    if not files:
        shown = ", ".join(os.fspath(p) for p in paths) or "(no paths given)"
        raise DataError(
            f"no audio files found in {shown} (looked for "
            f"{', '.join(e[1:] for e in extensions)})"
        )
    return files


def check_audio_files(files):
    """Read each file's header, so bad files stop a run before any scoring.

    Catches missing, empty and non-audio files quickly; truncated data and
    non-finite samples are caught when the audio is loaded.

    Args:
        files: list of str.

    Raises:
        AudioError: naming the first bad file.
    """
    import soundfile

    for path in files:
        try:
            info = soundfile.info(path)
        except FileNotFoundError:
            raise AudioError(f"{path}: no such file") from None
        except (
            RuntimeError, soundfile.SoundFileError, ValueError, OSError
        ) as e:
            if os.path.isfile(path) and os.path.getsize(path) == 0:
                raise AudioError(f"{path}: empty file (0 bytes)") from None
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise AudioError(
                f"{path}: cannot decode audio ({reason}); is it an audio file?"
            ) from None
        if info.frames == 0:
            raise AudioError(f"{path}: contains no audio samples")


def window_bounds(num_samples, window, hop):
    """Sample ranges of the windows of a clip.

    A clip of at most `window` samples is one window. A longer one gets
    windows of exactly `window` samples starting every `hop` samples, the
    last one moved back to end at the clip's end.

    Args:
        num_samples: int. Length of the clip.
        window: int. Window length in samples.
        hop: int. Hop in samples.

    Returns:
        list of `(start, end)` int pairs.
    """
    if num_samples <= window:
        return [(0, num_samples)]
    bounds = [(s, s + window) for s in range(0, num_samples - window + 1, hop)]
    if bounds[-1][1] < num_samples:
        bounds.append((num_samples - window, num_samples))
    return bounds


def min_samples(model):
    """int. The shortest clip (in samples) that gives the backbone a frame."""
    backbone = model.backbone
    # The conv stack's receptive field: 400 samples (25 ms) for HuBERT.
    length = 1
    for kernel, stride in reversed(
        list(zip(backbone.conv_kernel_sizes, backbone.conv_strides))
    ):
        length = (length - 1) * stride + kernel
    return length


def _check_windowing(window_seconds, hop_seconds, batch_size):
    if not window_seconds > 0:
        raise KserError(f"window must be positive, got {window_seconds} s")
    if not 0 < hop_seconds <= window_seconds:
        raise KserError(
            f"hop must be positive and at most the window ({window_seconds} "
            f"s), got {hop_seconds} s"
        )
    if int(batch_size) < 1:
        raise KserError(f"batch size must be at least 1, got {batch_size}")


def _softmax(logits):
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def _round_up(value, multiple):
    return -(-value // multiple) * multiple


def _batch_rows(count, batch_size):
    # Round the batch up to a power of two (capped at batch_size), so a
    # handful of batch shapes covers every run: fewer recompilations.
    rows = 1
    while rows < count:
        rows *= 2
    return min(rows, batch_size) if count <= batch_size else batch_size


def _score(model, segments, window, batch_size):
    """Probabilities for a list of 1D waveforms, batched by length."""
    order = sorted(range(len(segments)), key=lambda i: -len(segments[i]))
    probabilities = [None] * len(segments)
    for begin in range(0, len(order), batch_size):
        index = order[begin : begin + batch_size]
        longest = len(segments[index[0]])
        # Full windows share one length; shorter clips are padded (the
        # padding mask keeps padding out of the model's result).
        width = min(window, _round_up(longest, _PAD_MULTIPLE))
        rows = _batch_rows(len(index), batch_size)
        waveform = np.zeros((rows, width), np.float32)
        mask = np.zeros((rows, width), np.int32)
        for row, i in enumerate(index):
            waveform[row, : len(segments[i])] = segments[i]
            mask[row, : len(segments[i])] = 1
        # Spare rows repeat the first clip: an all-padding row is wasted
        # work with nothing valid to pool over.
        waveform[len(index) :] = waveform[0]
        mask[len(index) :] = mask[0]
        logits = model.predict_on_batch(
            {"waveform": waveform, "padding_mask": mask}
        )
        for row, i in enumerate(index):
            probabilities[i] = _softmax(np.asarray(logits)[row])
    return probabilities


def predict_waveforms(
    model,
    waveforms,
    names=None,
    window_seconds=DEFAULT_WINDOW_SECONDS,
    hop_seconds=DEFAULT_HOP_SECONDS,
    batch_size=DEFAULT_BATCH_SIZE,
):
    """Score mono 16 kHz waveforms in windows.

    Args:
        model: `EmotionClassifier`.
        waveforms: list of 1D float arrays, mono, 16 kHz.
        names: list of str. A name per waveform for the results (default
            `"0"`, `"1"`, ...).
        window_seconds: float. Window length.
        hop_seconds: float. Hop between window starts (at most the window).
        batch_size: int. Windows per model call.

    Returns:
        list of `FilePrediction`, one per waveform.

    Raises:
        AudioError: a waveform shorter than the backbone's receptive field.
    """
    _check_windowing(window_seconds, hop_seconds, batch_size)
    names = list(names) if names is not None else [
        str(i) for i in range(len(waveforms))
    ]
    window = int(round(window_seconds * SAMPLE_RATE))
    hop = max(1, int(round(hop_seconds * SAMPLE_RATE)))
    shortest = min_samples(model)
    if window < shortest:
        raise KserError(
            f"window of {window_seconds} s is shorter than the model's "
            f"receptive field ({shortest / SAMPLE_RATE * 1000:.0f} ms)"
        )
    segments = []
    bounds_per_clip = []
    for name, waveform in zip(names, waveforms):
        waveform = np.asarray(waveform, np.float32)
        if waveform.ndim != 1:
            raise AudioError(
                f"{name}: expected a mono waveform, got shape {waveform.shape}"
            )
        if len(waveform) < shortest:
            raise AudioError(
                f"{name}: too short to score ({len(waveform)} samples at "
                f"16 kHz; at least {shortest} needed, "
                f"{shortest / SAMPLE_RATE * 1000:.0f} ms)"
            )
        bounds = window_bounds(len(waveform), window, hop)
        bounds_per_clip.append((len(waveform), bounds))
        for start, end in bounds:
            segments.append(waveform[start:end])
    scores = _score(model, segments, window, int(batch_size))
    results = []
    cursor = 0
    for name, (length, bounds) in zip(names, bounds_per_clip):
        windows = [
            WindowPrediction(
                start=start / SAMPLE_RATE,
                end=end / SAMPLE_RATE,
                probabilities=scores[cursor + j],
            )
            for j, (start, end) in enumerate(bounds)
        ]
        cursor += len(bounds)
        mean = np.mean([w.probabilities for w in windows], axis=0)
        results.append(
            FilePrediction(
                path=name,
                duration=length / SAMPLE_RATE,
                probabilities=mean.astype(np.float32),
                windows=windows,
                label_names=list(model.label_names),
            )
        )
    return results


def predict_files(
    model,
    paths,
    window_seconds=DEFAULT_WINDOW_SECONDS,
    hop_seconds=DEFAULT_HOP_SECONDS,
    batch_size=DEFAULT_BATCH_SIZE,
    progress=False,
):
    """Score audio files and folders in windows.

    Every file is checked before scoring starts, and any bad file raises
    before anything is returned.

    Args:
        model: `EmotionClassifier`, or a path for `load_classifier`.
        paths: list of str or path-like. Audio files and folders (searched
            recursively, see `find_audio_files`).
        window_seconds: float. Window length.
        hop_seconds: float. Hop between window starts (at most the window).
        batch_size: int. Windows per model call.
        progress: bool. A progress bar on stderr (shown on a terminal).

    Returns:
        list of `FilePrediction`, in file order.

    Raises:
        DataError: missing paths, or no audio found.
        AudioError: a file that cannot be decoded or is too short.
        ModelError: a model path that is not a kser classifier.

    Examples:
    ```python
    from kser.predict import load_classifier, predict_files

    model = load_classifier("runs/lstm/fold_06/model.keras")
    for result in predict_files(model, ["recordings/"]):
        print(result.path, result.emotion, result.probabilities.max())
    ```
    """
    _check_windowing(window_seconds, hop_seconds, batch_size)
    files = find_audio_files(paths)
    if not hasattr(model, "predict_on_batch"):
        resolve_model_path(model)  # Fail fast, before any audio is read.
    check_audio_files(files)
    if not hasattr(model, "predict_on_batch"):
        model = load_classifier(model)
    window = int(round(window_seconds * SAMPLE_RATE))
    hop = max(1, int(round(hop_seconds * SAMPLE_RATE)))

    bar = None
    if progress and len(files) > 1:
        from tqdm.auto import tqdm

        # disable=None: no bar when stderr is not a terminal (logs, pipes).
        bar = tqdm(
            total=len(files), desc="predicting", unit="file", disable=None
        )
    results = []
    try:
        chunk_names, chunk_waves, chunk_windows = [], [], 0
        for i, path in enumerate(files):
            waveform = load_audio(path)
            chunk_names.append(path)
            chunk_waves.append(waveform)
            chunk_windows += len(window_bounds(len(waveform), window, hop))
            if chunk_windows >= _CHUNK_WINDOWS or i == len(files) - 1:
                results += predict_waveforms(
                    model,
                    chunk_waves,
                    names=chunk_names,
                    window_seconds=window_seconds,
                    hop_seconds=hop_seconds,
                    batch_size=batch_size,
                )
                if bar is not None:
                    bar.update(len(chunk_names))
                chunk_names, chunk_waves, chunk_windows = [], [], 0
    finally:
        if bar is not None:
            bar.close()
    return results


def _window_label(window):
    return f"{window.start:.2f}-{window.end:.2f}s"


def format_table(results, show_single_windows=False):
    """Aligned text: one row per file, then one per window.

    A file scored as a single window covering all of it gets no window row
    (it would repeat the file row) unless `show_single_windows`.

    Args:
        results: list of `FilePrediction`.
        show_single_windows: bool. Always list window rows.

    Returns:
        str.
    """
    if not results:
        return ""
    labels = results[0].label_names
    header = ["file", "window", "emotion"] + list(labels)
    rows = []
    for result in results:
        rows.append(
            [result.path, "all", result.emotion]
            + [f"{p:.3f}" for p in result.probabilities]
        )
        if len(result.windows) > 1 or show_single_windows:
            for window, emotion in zip(
                result.windows, result.window_emotions()
            ):
                rows.append(
                    ["", _window_label(window), emotion]
                    + [f"{p:.3f}" for p in window.probabilities]
                )
    widths = [
        max(len(row[c]) for row in [header] + rows) for c in range(len(header))
    ]
    lines = []
    for row in [header] + rows:
        cells = [
            cell.ljust(width) if c < 3 else cell.rjust(width)
            for c, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def format_csv(results):
    """CSV: a header, then per file one `all` row and one row per window.

    Columns: `file`, `window` (`all` for the whole file, else the window's
    1-based index), `start`, `end` (seconds), `emotion`, then one
    probability column per label name.

    Args:
        results: list of `FilePrediction`.

    Returns:
        str.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    labels = results[0].label_names if results else []
    header = ["file", "window", "start", "end", "emotion"] + list(labels)
    writer.writerow(header)
    for result in results:
        writer.writerow(
            [result.path, "all", "0.000", f"{result.duration:.3f}"]
            + [result.emotion]
            + [f"{p:.6f}" for p in result.probabilities]
        )
        for j, (window, emotion) in enumerate(
            zip(result.windows, result.window_emotions())
        ):
            writer.writerow(
                [
                    result.path,
                    str(j + 1),
                    f"{window.start:.3f}",
                    f"{window.end:.3f}",
                    emotion,
                ]
                + [f"{p:.6f}" for p in window.probabilities]
            )
    return out.getvalue()


def results_to_dict(
    results,
    window_seconds=DEFAULT_WINDOW_SECONDS,
    hop_seconds=DEFAULT_HOP_SECONDS,
    model=None,
):
    """A JSON-ready dict of results (the `--format json` output).

    Args:
        results: list of `FilePrediction`.
        window_seconds: float. Recorded in the output.
        hop_seconds: float. Recorded in the output.
        model: str or None. The model path, recorded in the output.

    Returns:
        dict with `label_names`, `sample_rate`, `window_seconds`,
        `hop_seconds`, `model` and `files`: per file `path`, `duration`,
        `emotion`, `probabilities` (label -> float) and `windows` (each
        `start`, `end`, `emotion`, `probabilities`).
    """

    def probs(p):
        return {name: round(float(v), 6) for name, v in zip(labels, p)}

    labels = results[0].label_names if results else []
    files = []
    for result in results:
        files.append(
            {
                "path": result.path,
                "duration": round(result.duration, 4),
                "emotion": result.emotion,
                "probabilities": probs(result.probabilities),
                "windows": [
                    {
                        "start": round(w.start, 4),
                        "end": round(w.end, 4),
                        "emotion": emotion,
                        "probabilities": probs(w.probabilities),
                    }
                    for w, emotion in zip(
                        result.windows, result.window_emotions()
                    )
                ],
            }
        )
    return {
        "model": model,
        "label_names": list(labels),
        "sample_rate": SAMPLE_RATE,
        "window_seconds": window_seconds,
        "hop_seconds": hop_seconds,
        "files": files,
    }


def format_results(results, format="table", **json_kwargs):
    """Results as text in one of `FORMATS`.

    Args:
        results: list of `FilePrediction`.
        format: str. `"table"`, `"csv"` or `"json"`.
        **json_kwargs: passed to `results_to_dict` for `"json"`.

    Returns:
        str, ending with a newline.
    """
    if format == "table":
        return format_table(results)
    if format == "csv":
        return format_csv(results)
    if format == "json":
        return (
            json.dumps(results_to_dict(results, **json_kwargs), indent=2) + "\n"
        )
    raise KserError(
        f"unknown format {format!r}: choose one of {', '.join(FORMATS)}"
    )
