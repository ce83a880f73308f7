"""Cross-corpus evaluation: a fold's trained head on another corpus.

A model trained on one corpus is tested on every clip of another corpus
whose label it knows, over the labels both share (labels meet through
their canonical names, `kser.labels`). Classes the other corpus lacks are
masked out of the prediction, so the model chooses among the shared labels
only; metrics, plots and predictions go to `FOLD_DIR/cross_corpus/NAME/`,
and the fold's `result.json` gets a `cross_corpus` entry per corpus.

The whole test corpus is used: its speakers are disjoint from the
training corpus's by construction.
"""

import os

import numpy as np

from kser.data import class_index
from kser.errors import KserError
from kser.report import classification_metrics
from kser.report import write_fold_plots
from kser.report import write_metrics
from kser.report.metrics import softmax
from kser.report.runs import CROSS_DIR
from kser.report.runs import write_predictions


def _label_name(clip):
    name = getattr(clip, "label_name", None)
    return name if name is not None else clip.label


def shared_labels(label_names, index):
    """The trained labels that the other corpus has, in trained order."""
    present = {_label_name(clip) for clip in index}
    return [name for name in label_names if name in present]


def cross_corpus_clips(label_names, index, name):
    """`(clips, shared)`: the clips of `index` with a trained label.

    Raises:
        KserError: one line when the corpora share no label.
    """
    shared = shared_labels(label_names, index)
    if not shared:
        raise KserError(
            f"test corpus {name} shares no label with the training labels "
            f"({', '.join(label_names)})"
        )
    wanted = set(shared)
    clips = [clip for clip in index if _label_name(clip) in wanted]
    return clips, shared


def evaluate(experiment, config, head, fold_dir, name, index, title=None):
    """Evaluate a trained head on another corpus; returns the summary dict.

    Args:
        experiment: `Experiment` (its backbone, caches and label names).
        config: `TrainConfig` of the fold.
        head: the trained head model.
        fold_dir: str. The fold folder; writes `cross_corpus/NAME/`.
        name: str. The test corpus name.
        index: the test corpus index.
        title: str or None. Plot title.
    """
    from kser.train import fit as _fit

    label_names = list(experiment.label_names)
    clips, shared = cross_corpus_clips(label_names, index, name)
    logits = np.asarray(_fit.predict_logits(experiment, config, head, clips))
    columns = [label_names.index(label) for label in shared]
    probabilities = softmax(logits[:, columns])
    y_true = [shared.index(label_names[class_index(c, label_names)]) for c in clips]
    y_pred = np.argmax(probabilities, axis=-1)
    metrics = classification_metrics(
        y_true, y_pred, shared, probabilities=probabilities
    )
    metrics["test_corpus"] = name
    metrics["shared_labels"] = shared
    out = os.path.join(fold_dir, CROSS_DIR, name)
    os.makedirs(out, exist_ok=True)
    write_metrics(os.path.join(out, "metrics.json"), metrics)
    if experiment.plots:
        write_fold_plots(metrics, out, title=title or f"{config.name} on {name}")
    write_predictions(
        os.path.join(out, "predictions.csv"), clips, probabilities, shared,
        y_true,
    )
    return {
        "accuracy": metrics["accuracy"],
        "balanced_accuracy": metrics["balanced_accuracy"],
        "macro_f1": metrics["macro_f1"],
        "shared_labels": shared,
        "num_test": len(clips),
    }
