"""Classification metrics for one evaluation (one fold, one variant).

`classification_metrics` turns true and predicted class ids into a plain,
JSON-serialisable dict: weighted accuracy (WA), unweighted accuracy (UA),
macro F1, per-class precision, recall, F1, support and correct counts, and the
confusion matrix. `write_metrics` saves it as `metrics.json` atomically.
The label names come from the caller; nothing here knows about RAVDESS.
"""

import json
import os

import numpy as np

from kser.errors import KserError
from kser.report.files import atomic_write_json

# Probabilities are clipped to [_PROB_EPS, 1] before the log, as Keras's
# crossentropy does, so a zero probability gives a large finite loss.
_PROB_EPS = 1e-7


def softmax(logits):
    """Probabilities from logits, in float64, over the last axis (numpy)."""
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def _as_class_ids(values, label_names, what):
    """Return a 1-D int array of class ids from ids or label names."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {array.shape}.")
    num_classes = len(label_names)
    if array.dtype.kind in "USO":
        index = {name: i for i, name in enumerate(label_names)}
        unknown = sorted({str(v) for v in array.tolist() if v not in index})
        if unknown:
            raise ValueError(
                f"{what} holds labels not in label_names: {unknown[:5]}; "
                f"label_names is {list(label_names)}."
            )
        return np.array([index[v] for v in array.tolist()], dtype=np.int64)
    if array.size and array.dtype.kind == "f":
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise ValueError(f"{what} must hold integer class ids.")
    elif array.size and array.dtype.kind not in "iub":
        raise ValueError(f"{what} must hold class ids or label names.")
    ids = array.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(
            f"{what} holds class ids outside 0..{num_classes - 1} "
            f"(min {ids.min()}, max {ids.max()})."
        )
    return ids


def _probability_metrics(probabilities, y_true, num_classes):
    """Return mean confidence and log loss from class probabilities."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != (len(y_true), num_classes):
        raise ValueError(
            f"probabilities must have shape ({len(y_true)}, {num_classes}), "
            f"got {probs.shape}."
        )
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError(
            "probabilities must be finite and non-negative; pass softmax "
            "outputs, not logits."
        )
    sums = probs.sum(axis=1)
    # Low-precision outputs (bfloat16) can be off by a few 1e-3; logits are
    # not probabilities at all.
    if np.any(np.abs(sums - 1.0) > 1e-2):
        raise ValueError(
            "probabilities must sum to 1 over classes (got sums from "
            f"{sums.min():.4g} to {sums.max():.4g}); pass softmax outputs, "
            "not logits."
        )
    probs = probs / sums[:, None]
    true_probs = np.clip(probs[np.arange(len(y_true)), y_true], _PROB_EPS, 1.0)
    return {
        "mean_confidence": float(np.mean(probs.max(axis=1))),
        "log_loss": float(-np.mean(np.log(true_probs))),
    }


def classification_metrics(y_true, y_pred, label_names, probabilities=None):
    """Compute WA, UA, macro F1, per-class scores and the confusion matrix.

    Every class in `label_names` is reported, also one that is absent from
    `y_true` or never predicted: its precision, recall and F1 are then 0
    (scikit-learn's `zero_division=0`). Unweighted accuracy (UA) is the mean
    recall over the classes present in `y_true`, and macro F1 the mean F1
    over the classes present in `y_true` or `y_pred` (scikit-learn's
    `balanced_accuracy_score` and `f1_score(average="macro")`), so a class
    missing from a small test set does not count as a zero.

    Args:
        y_true: list of int or list of str. The true class of each sample, as
            an index into `label_names` or as the label name itself.
        y_pred: list of int or list of str. The predicted class of each
            sample, in the same form.
        label_names: list of str. The class names in class-id order; the
            order of the per-class entries and of the confusion matrix.
        probabilities: optional array-like of shape `(num_samples,
            num_classes)`. Class probabilities (softmax outputs). When given,
            `mean_confidence` (mean top probability) and `log_loss` (mean
            negative natural log of the true class's probability, clipped at
            1e-7) are added.

    Returns:
        dict. JSON-serialisable: `num_samples`, `num_correct`, `accuracy`
        (WA), `balanced_accuracy` (UA), `macro_f1`, `label_names`,
        `per_class` (label name -> `precision`, `recall`, `f1`, `support`,
        `correct`, `predicted`) and `confusion_matrix` (`rows`: "true",
        `columns`: "predicted", `labels`, `counts` as a list of rows).
    """
    label_names = [str(name) for name in label_names]
    if not label_names:
        raise ValueError("label_names must not be empty.")
    if len(set(label_names)) != len(label_names):
        raise ValueError(f"label_names has duplicates: {label_names}.")
    y_true = _as_class_ids(y_true, label_names, "y_true")
    y_pred = _as_class_ids(y_pred, label_names, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred differ in length ({len(y_true)} vs "
            f"{len(y_pred)})."
        )
    if len(y_true) == 0:
        raise ValueError("No samples: y_true and y_pred are empty.")

    # Imported here so `import kser.report` stays cheap.
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    counts = sk_confusion_matrix(y_true, y_pred, labels=labels)
    correct = np.diag(counts)
    predicted = counts.sum(axis=0)

    in_true = support > 0
    in_either = in_true | (predicted > 0)
    num_correct = int(correct.sum())
    result = {
        "num_samples": int(len(y_true)),
        "num_correct": num_correct,
        "accuracy": num_correct / len(y_true),
        "balanced_accuracy": float(np.mean(recall[in_true])),
        "macro_f1": float(np.mean(f1[in_either])),
        "label_names": label_names,
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
                "correct": int(correct[i]),
                "predicted": int(predicted[i]),
            }
            for i, name in enumerate(label_names)
        },
        "confusion_matrix": {
            "rows": "true",
            "columns": "predicted",
            "labels": label_names,
            "counts": counts.astype(int).tolist(),
        },
    }
    if probabilities is not None:
        result.update(
            _probability_metrics(probabilities, y_true, len(label_names))
        )
    return result


def write_metrics(path, metrics):
    """Write a metrics dict as JSON, atomically.

    The file is written to a temporary file beside `path` and renamed over
    it, so a reader (or a resumed cross-validation) sees either the old file
    or the complete new one.

    Args:
        path: str or path-like. The file to write, usually
            `RUN_DIR/metrics.json`; missing folders are created.
        metrics: dict. As returned by `classification_metrics` (any
            JSON-serialisable dict is accepted; NaN is refused).

    Returns:
        str. The path written.
    """
    return atomic_write_json(path, metrics)


def read_metrics(path):
    """Read a metrics JSON file written by `write_metrics`.

    Args:
        path: str or path-like. The `metrics.json` file.

    Returns:
        dict. The metrics, with the confusion matrix counts as a list of
        rows.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise KserError(
            f"No metrics file at {path}: run the evaluation first."
        ) from None
    except (OSError, ValueError) as e:
        raise KserError(
            f"Cannot read metrics file {path} ({e}); delete it and rerun the "
            "evaluation."
        ) from e
    if not isinstance(data, dict) or "accuracy" not in data:
        raise KserError(
            f"{path} is not a kser metrics file (no 'accuracy' entry)."
        )
    return data
