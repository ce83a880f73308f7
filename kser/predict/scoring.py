"""Windowing audio and scoring it with an `EmotionClassifier`.

- A clip no longer than the window (every RAVDESS clip, with the default
  6 s window) is one window: the whole clip, unpadded, as in training.
- A longer file is cut into full-length windows every `hop_seconds`; the
  last window is moved back to end exactly at the file's end, so all of the
  file is covered and every window holds `window_seconds` of real audio.

Each window gets the softmax of the model's logits; the whole-file result
is the plain mean of its windows' probabilities, and its emotion is the
arg-max of that mean.
"""

import numpy as np

from kser.data.audio import SAMPLE_RATE
from kser.data.audio import load_audio
from kser.errors import AudioError
from kser.errors import KserError
from kser.predict.files import check_audio_file
from kser.predict.files import expand_inputs
from kser.predict.loader import load_classifier
from kser.predict.loader import resolve_model_path
from kser.predict.results import FileFailure
from kser.predict.results import FilePrediction
from kser.predict.results import PredictionBatch
from kser.predict.results import WindowPrediction
from kser.predict.results import peak_level
from kser.report.metrics import softmax

# The training pipeline crops clips to 6 s (`Preprocessing.max_seconds`), so
# a 6 s window scores every RAVDESS clip (about 3-5 s) whole, as the model
# saw them in training; long recordings get 6 s windows with 50 % overlap.
DEFAULT_WINDOW_SECONDS = 6.0
DEFAULT_HOP_SECONDS = 3.0
DEFAULT_BATCH_SIZE = 8
# Clips shorter than the window are padded up to a multiple of this many
# samples (0.5 s) so that compiled (jax, tensorflow) shapes repeat.
_PAD_MULTIPLE = SAMPLE_RATE // 2
# Files loaded and scored together: bounds memory on large folders while
# still letting windows of similar length share batches.
_CHUNK_WINDOWS = 256


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
    """int. The shortest clip (in samples) that gives the model's backbone
    a frame (`model.backbone.min_samples`: 400 samples, 25 ms, for HuBERT)."""
    return model.backbone.min_samples


def _check_waveform(name, waveform, shortest):
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
            probabilities[i] = softmax(np.asarray(logits)[row]).astype(
                np.float32
            )
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
        list of `FilePrediction`, one per waveform; `silent` marks a
        waveform whose peak is below `SILENT_PEAK` (scored all the same).

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
    peaks = []
    for name, waveform in zip(names, waveforms):
        waveform = np.asarray(waveform, np.float32)
        _check_waveform(name, waveform, shortest)
        peaks.append(peak_level(waveform))
        bounds = window_bounds(len(waveform), window, hop)
        bounds_per_clip.append((len(waveform), bounds))
        for start, end in bounds:
            segments.append(waveform[start:end])
    scores = _score(model, segments, window, int(batch_size))
    results = []
    cursor = 0
    for name, (length, bounds), peak in zip(names, bounds_per_clip, peaks):
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
                peak=peak,
            )
        )
    return results


def predict_batch(
    model,
    paths,
    window_seconds=DEFAULT_WINDOW_SECONDS,
    hop_seconds=DEFAULT_HOP_SECONDS,
    batch_size=DEFAULT_BATCH_SIZE,
    progress=False,
    fail_fast=False,
):
    """Score audio files and folders, keeping going past bad files.

    Each input that cannot be scored (a missing path, a folder without
    audio, an empty, truncated, corrupt, unreadable or too short file)
    becomes a `FileFailure` and the other files are still scored. Problems
    with the run itself (bad window options, a bad model) raise.

    Args:
        model: `EmotionClassifier`, or a path for `load_classifier`.
        paths: list of str or path-like. Audio files and folders (searched
            recursively, see `find_audio_files`).
        window_seconds: float. Window length.
        hop_seconds: float. Hop between window starts (at most the window).
        batch_size: int. Windows per model call.
        progress: bool. A progress bar on stderr (shown on a terminal).
        fail_fast: bool. Raise at the first bad input instead, before
            anything is returned (`predict_files`).

    Returns:
        `PredictionBatch`: `results` (list of `FilePrediction`, in file
        order) and `failures` (list of `FileFailure`, in input order).

    Raises:
        KserError: bad window options, or no paths at all.
        ModelError: a model path that is not a kser classifier (checked
            before any audio is read; loaded only if a file is left to
            score).
        DataError, AudioError: with `fail_fast`, the first bad input.

    Examples:
    ```python
    from kser.predict import predict_batch

    batch = predict_batch("runs/lstm/fold_06", ["recordings/"])
    for result in batch.results:
        print(result.path, result.emotion, "(silent)" * result.silent)
    for failure in batch.failures:
        print("failed:", failure.path, failure.reason)
    ```
    """
    _check_windowing(window_seconds, hop_seconds, batch_size)
    if not hasattr(model, "predict_on_batch"):
        resolve_model_path(model)  # Fail fast, before any audio is read.
    entries = expand_inputs(paths, fail_fast=fail_fast)
    files = [path for path, error in entries if error is None]
    failures = {
        path: FileFailure.from_error(path, error)
        for path, error in entries
        if error is not None
    }

    def fail(path, error):
        if fail_fast:
            raise error
        failures[path] = FileFailure.from_error(path, error)

    readable = []
    for path in files:
        try:
            check_audio_file(path)
        except AudioError as error:
            fail(path, error)
        else:
            readable.append(path)
    if readable and not hasattr(model, "predict_on_batch"):
        model = load_classifier(model)
    window = int(round(window_seconds * SAMPLE_RATE))
    hop = max(1, int(round(hop_seconds * SAMPLE_RATE)))
    shortest = min_samples(model) if readable else 0

    bar = None
    if progress and len(readable) > 1:
        from tqdm.auto import tqdm

        # disable=None: no bar when stderr is not a terminal (logs, pipes).
        bar = tqdm(
            total=len(readable), desc="predicting", unit="file", disable=None
        )
    results = {}

    def score(names, waveforms):
        scored = predict_waveforms(
            model,
            waveforms,
            names=names,
            window_seconds=window_seconds,
            hop_seconds=hop_seconds,
            batch_size=batch_size,
        )
        results.update((r.path, r) for r in scored)

    try:
        chunk_names, chunk_waves, chunk_windows = [], [], 0
        for i, path in enumerate(readable):
            try:
                waveform = load_audio(path)
                _check_waveform(path, waveform, shortest)
            except AudioError as error:
                fail(path, error)
                if bar is not None:
                    bar.update(1)
            else:
                chunk_names.append(path)
                chunk_waves.append(waveform)
                chunk_windows += len(window_bounds(len(waveform), window, hop))
            if chunk_names and (
                chunk_windows >= _CHUNK_WINDOWS or i == len(readable) - 1
            ):
                score(chunk_names, chunk_waves)
                if bar is not None:
                    bar.update(len(chunk_names))
                chunk_names, chunk_waves, chunk_windows = [], [], 0
    finally:
        if bar is not None:
            bar.close()
    return PredictionBatch(
        results=[results[p] for p in files if p in results],
        failures=[failures[p] for p, _ in entries if p in failures],
    )


def predict_files(
    model,
    paths,
    window_seconds=DEFAULT_WINDOW_SECONDS,
    hop_seconds=DEFAULT_HOP_SECONDS,
    batch_size=DEFAULT_BATCH_SIZE,
    progress=False,
):
    """Score audio files and folders in windows; stop at the first bad one.

    Every file is checked before scoring starts, and any bad input (a
    missing path, a folder without audio, a file that cannot be decoded or
    is too short) raises before anything is returned. `predict_batch`
    scores the good files of a batch and lists the bad ones instead.

    Args:
        model: `EmotionClassifier`, or a path for `load_classifier`.
        paths: list of str or path-like. Audio files and folders (searched
            recursively, see `find_audio_files`).
        window_seconds: float. Window length.
        hop_seconds: float. Hop between window starts (at most the window).
        batch_size: int. Windows per model call.
        progress: bool. A progress bar on stderr (shown on a terminal).

    Returns:
        list of `FilePrediction`, in file order (`silent` marks clips whose
        peak is below `SILENT_PEAK`; they are scored all the same).

    Raises:
        DataError: missing paths, or a folder without audio.
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
    return predict_batch(
        model,
        paths,
        window_seconds=window_seconds,
        hop_seconds=hop_seconds,
        batch_size=batch_size,
        progress=progress,
        fail_fast=True,
    ).results
