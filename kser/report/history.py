"""Per-epoch training history: reading the CSV and finding the best epoch.

A history holds, per epoch, the training and validation accuracy and loss
(the paper's Tables II-IV). In memory it is a dict of equal-length lists,
`{"epoch": [...], "accuracy": [...], "loss": [...], "val_accuracy": [...],
"val_loss": [...]}`, the shape of Keras's `History.history` plus an epoch
column. On disk it is a CSV with those columns; extra columns are kept.
"""

import csv
import math
import os

from kser.errors import KserError

#: The columns a history CSV is expected to have; only accuracy and loss are
#: required (a run without validation data has no val_ columns).
HISTORY_COLUMNS = ("epoch", "accuracy", "loss", "val_accuracy", "val_loss")
_REQUIRED_COLUMNS = ("accuracy", "loss")


def _to_float(value):
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return math.nan
    return float(value)


def normalize_history(history):
    """Return a history as a dict of equal-length lists with an epoch column.

    Args:
        history: dict of str to list of float, a `keras.callbacks.History`
            (its `.history` dict is used) or list of dict (one dict per
            epoch). Without an `epoch` entry, epochs are numbered from 1.

    Returns:
        dict. `"epoch"` -> list of int, every other key -> list of float
        (NaN for a missing value).
    """
    if hasattr(history, "history") and not isinstance(history, dict):
        history = history.history
    if isinstance(history, (list, tuple)):
        keys = []
        for row in history:
            keys.extend(k for k in row if k not in keys)
        history = {k: [row.get(k) for row in history] for k in keys}
    if not isinstance(history, dict):
        raise TypeError(
            "history must be a dict of lists, a keras History or a list of "
            f"dicts, got {type(history).__name__}."
        )
    lengths = {k: len(v) for k, v in history.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"history columns differ in length: {lengths}.")
    num_epochs = next(iter(lengths.values()), 0)
    result = {}
    if "epoch" in history:
        result["epoch"] = [int(e) for e in history["epoch"]]
    else:
        result["epoch"] = list(range(1, num_epochs + 1))
    for key, values in history.items():
        if key != "epoch":
            result[key] = [_to_float(v) for v in values]
    return result


def read_history(path):
    """Read a per-epoch history CSV.

    The CSV has a header row; `accuracy` and `loss` are required, `epoch`,
    `val_accuracy` and `val_loss` are expected, and extra columns are kept
    when numeric (a non-numeric extra column, such as a timestamp, is
    dropped). Empty cells read as NaN.

    Args:
        path: str or path-like. The CSV file, e.g. `RUN_DIR/history.csv`.

    Returns:
        dict. `"epoch"` -> list of int (numbered from 1 if the file has no
        epoch column), every other column -> list of float.
    """
    path = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = [
                {(k or "").strip(): v for k, v in row.items()} for row in reader
            ]
    except FileNotFoundError:
        raise KserError(
            f"No history file at {path}: train the fold first."
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise KserError(f"Cannot read history file {path}: {e}.") from e
    missing = [c for c in _REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise KserError(
            f"History file {path} lacks the column(s) {', '.join(missing)}; "
            f"expected a header with {', '.join(HISTORY_COLUMNS)}."
        )
    history = {}
    for column in columns:
        strict = column in HISTORY_COLUMNS
        values = []
        for line, row in enumerate(rows, start=2):
            try:
                value = _to_float(row.get(column))
                if column == "epoch":
                    value = int(value)
            except (TypeError, ValueError):
                if strict:
                    raise KserError(
                        f"History file {path}, line {line}: column {column} "
                        f"is not a number ({row.get(column)!r})."
                    ) from None
                values = None
                break
            values.append(value)
        if values is not None:
            history[column] = values
    return normalize_history(history)


def best_epoch_index(history, monitor="val_accuracy", mode="auto"):
    """Return the index of the best epoch on a monitored quantity.

    Ties go to the earliest epoch, as with Keras's `EarlyStopping(
    restore_best_weights=True)`, which only replaces its best weights on a
    strict improvement. NaN values are skipped.

    Args:
        history: dict of str to list of float. A history (see
            `normalize_history` for the accepted forms).
        monitor: str. The column to rank epochs by.
        mode: str. `"max"`, `"min"`, or `"auto"` (`"min"` when the name
            contains "loss", else `"max"`).

    Returns:
        int or None. The 0-based row index of the best epoch, or None when
        the history has no finite value for `monitor`.
    """
    history = normalize_history(history)
    if mode == "auto":
        mode = "min" if "loss" in monitor else "max"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}.")
    best = None
    for i, value in enumerate(history.get(monitor, [])):
        if not math.isfinite(value):
            continue
        if best is None or (
            value > history[monitor][best]
            if mode == "max"
            else value < history[monitor][best]
        ):
            best = i
    return best
