"""PNG plots for one evaluation: confusion matrix, correct counts, curves.

- `plot_confusion_matrix`: counts (or row-normalised rates) with the label
  names on both axes and the number in each cell (the paper's Figures 5, 8,
  11).
- `plot_correct_counts`: correctly classified test clips per class against
  the class total (Figures 3, 6, 10).
- `plot_training_curves`: train and validation accuracy and loss per epoch,
  with the best-on-validation epoch marked (Figures 4, 7, 9).
- `write_fold_plots`: all of the above for one fold from its metrics dict
  and history.

Each function takes data, not files, writes its PNG atomically and returns
the path. Figures are built with `matplotlib.figure.Figure` and the Agg
renderer, never through `pyplot`: no GUI backend is touched, no global figure
registry grows, and the figure is released when the function returns.
"""

import math
import os

import numpy as np

from kser.report.files import atomic_write
from kser.report.history import best_epoch_index
from kser.report.history import normalize_history
from kser.report.history import read_history  # noqa: F401  (re-exported)

_DPI = 120


def _new_figure(width, height):
    # Imported here so `import kser.report` stays cheap.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path, dpi):
    try:
        return atomic_write(
            path,
            lambda f: fig.savefig(f, format="png", dpi=dpi, facecolor="white"),
            mode="wb",
        )
    finally:
        fig.clear()


def plot_confusion_matrix(
    confusion, label_names, path, normalize=False, title=None, dpi=_DPI
):
    """Plot a confusion matrix as a PNG, with the value in each cell.

    Args:
        confusion: array-like of shape `(num_classes, num_classes)`. Counts,
            rows = true class, columns = predicted class (the `counts` of
            `classification_metrics(...)["confusion_matrix"]`).
        label_names: list of str. The class names in row/column order.
        path: str or path-like. The PNG file to write.
        normalize: bool. If True, each row is divided by its total, so a
            cell is the fraction of that true class predicted as the column
            class (the diagonal is the per-class recall); a row without
            samples shows "-".
        title: optional str. The figure title; defaults to "Confusion
            matrix" (with "row-normalised" when `normalize`).
        dpi: int. Resolution of the PNG.

    Returns:
        str. The path written.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    num_classes = len(label_names)
    if counts.shape != (num_classes, num_classes):
        raise ValueError(
            f"confusion must be {num_classes}x{num_classes} to match "
            f"label_names, got shape {counts.shape}."
        )
    row_totals = counts.sum(axis=1)
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            values = counts / row_totals[:, None]
        vmax = 1.0
    else:
        values = counts
        vmax = max(float(counts.max()), 1.0)
    if title is None:
        title = "Confusion matrix" + (" (row-normalised)" if normalize else "")

    size = max(4.5, 0.65 * num_classes + 2.5)
    fig = _new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(
        np.nan_to_num(values), cmap="Blues", vmin=0.0, vmax=vmax
    )
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = np.arange(num_classes)
    ax.set_xticks(ticks, labels=label_names, rotation=45, ha="right")
    ax.set_yticks(ticks, labels=label_names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title(title)
    fontsize = 10 if num_classes <= 10 else 7
    for i in range(num_classes):
        for j in range(num_classes):
            value = values[i, j]
            if math.isnan(value):
                text = "-"
            elif normalize:
                text = f"{value:.2f}"
            else:
                text = f"{int(value)}"
            dark = not math.isnan(value) and value > 0.5 * vmax
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if dark else "black",
            )
    return _save(fig, path, dpi)


def plot_correct_counts(
    correct, totals, label_names, path, title=None, dpi=_DPI
):
    """Plot correctly classified samples per class against the class totals.

    Each class gets a pale bar for its total and a solid bar for its correct
    count, labelled "correct/total" (the paper's Figures 3, 6 and 10).

    Args:
        correct: list of int. The number of correctly classified samples per
            class (the confusion matrix diagonal).
        totals: list of int. The number of samples per class (the row sums,
            or `support`).
        label_names: list of str. The class names, in the same order.
        path: str or path-like. The PNG file to write.
        title: optional str. The figure title; defaults to "Correctly
            classified test clips per class".
        dpi: int. Resolution of the PNG.

    Returns:
        str. The path written.
    """
    correct = np.asarray(correct, dtype=np.int64)
    totals = np.asarray(totals, dtype=np.int64)
    num_classes = len(label_names)
    if correct.shape != (num_classes,) or totals.shape != (num_classes,):
        raise ValueError(
            f"correct and totals must each have {num_classes} entries to "
            f"match label_names, got {correct.shape} and {totals.shape}."
        )
    if np.any(correct > totals) or np.any(correct < 0):
        raise ValueError("correct counts must lie between 0 and the totals.")
    if title is None:
        title = "Correctly classified test clips per class"

    fig = _new_figure(max(5.0, 0.8 * num_classes + 1.5), 4.0)
    ax = fig.add_subplot()
    x = np.arange(num_classes)
    ax.bar(x, totals, width=0.7, color="#d9d9d9", edgecolor="#808080",
           label="total")
    ax.bar(x, correct, width=0.7, color="#2c7fb8", label="correct")
    top = max(int(totals.max()), 1)
    for i in range(num_classes):
        ax.text(
            x[i],
            totals[i] + 0.02 * top,
            f"{correct[i]}/{totals[i]}",
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_xticks(x, labels=label_names, rotation=30, ha="right")
    ax.set_ylim(0, top * 1.25)
    ax.set_ylabel("Clips")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8, ncols=2)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path, dpi)


def plot_training_curves(
    history,
    path,
    monitor="val_accuracy",
    test_accuracy=None,
    test_loss=None,
    title=None,
    dpi=_DPI,
):
    """Plot train and validation accuracy and loss per epoch.

    Two panels (accuracy, loss), each with the training and (when present)
    validation curve, and a dashed vertical line at the best epoch on
    `monitor`, the epoch whose weights a best-on-validation checkpoint keeps
    (the paper's Figures 4, 7 and 9). Optional test values are drawn as
    dotted horizontal lines.

    Args:
        history: dict of str to list of float. Per-epoch values with keys
            `accuracy`, `loss`, `val_accuracy`, `val_loss` and optionally
            `epoch` (see `read_history`); a `keras.callbacks.History` works
            too. Missing keys are skipped.
        path: str or path-like. The PNG file to write.
        monitor: str. The column whose best value marks the best epoch
            (`"val_accuracy"` maximised, or a `*loss` column minimised).
        test_accuracy: optional float. Test accuracy of the kept weights.
        test_loss: optional float. Test loss of the kept weights.
        title: optional str. The figure title; defaults to "Training curves".
        dpi: int. Resolution of the PNG.

    Returns:
        str. The path written.
    """
    history = normalize_history(history)
    epochs = history["epoch"]
    if not epochs:
        raise ValueError("history is empty: no epochs to plot.")
    best = best_epoch_index(history, monitor=monitor)
    if title is None:
        title = "Training curves"

    from matplotlib.ticker import MaxNLocator

    fig = _new_figure(10.0, 4.0)
    panels = [
        ("accuracy", "Accuracy", test_accuracy),
        ("loss", "Loss", test_loss),
    ]
    for k, (key, name, test_value) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        for column, label, style in (
            (key, "train", "o-"),
            ("val_" + key, "validation", "s--"),
        ):
            if column in history:
                ax.plot(epochs, history[column], style, label=label,
                        markersize=4)
        if test_value is not None:
            ax.axhline(test_value, color="tab:green", linestyle=":",
                       label=f"test ({test_value:.3f})")
        if best is not None:
            ax.axvline(epochs[best], color="tab:red", linestyle="--",
                       linewidth=1,
                       label=f"best {monitor} (epoch {epochs[best]})")
            column = "val_" + key
            if column in history and math.isfinite(history[column][best]):
                ax.plot([epochs[best]], [history[column][best]], "*",
                        color="tab:red", markersize=12)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path, dpi)


def write_fold_plots(metrics, out_dir, history=None, title=None,
                     monitor="val_accuracy", dpi=_DPI):
    """Write every plot for one fold from its metrics and history.

    Files written in `out_dir`: `confusion_matrix.png`,
    `confusion_matrix_normalized.png`, `correct_per_class.png` and, when a
    history is given, `training_curves.png`.

    Args:
        metrics: dict. As returned by `classification_metrics` (or read back
            with `read_metrics`).
        out_dir: str or path-like. The folder to write into; created if
            missing.
        history: optional dict of str to list of float. The per-epoch
            history, as for `plot_training_curves`.
        title: optional str. A prefix for each figure title, such as
            "lstm, fold 3".
        monitor: str. The column that marks the best epoch in the curves.
        dpi: int. Resolution of the PNGs.

    Returns:
        dict. Plot name -> path written.
    """
    out_dir = os.fspath(out_dir)
    names = metrics["label_names"]
    counts = metrics["confusion_matrix"]["counts"]
    per_class = metrics["per_class"]
    def titled(text):
        return f"{title}: {text}" if title else text[0].upper() + text[1:]

    test_loss = metrics.get("log_loss")
    paths = {
        "confusion_matrix": plot_confusion_matrix(
            counts, names, os.path.join(out_dir, "confusion_matrix.png"),
            title=titled("confusion matrix"), dpi=dpi,
        ),
        "confusion_matrix_normalized": plot_confusion_matrix(
            counts, names,
            os.path.join(out_dir, "confusion_matrix_normalized.png"),
            normalize=True, title=titled("confusion matrix (row-normalised)"),
            dpi=dpi,
        ),
        "correct_per_class": plot_correct_counts(
            [per_class[n]["correct"] for n in names],
            [per_class[n]["support"] for n in names],
            names,
            os.path.join(out_dir, "correct_per_class.png"),
            title=titled(
                "correctly classified test clips "
                f"({metrics['num_correct']}/{metrics['num_samples']})"
            ),
            dpi=dpi,
        ),
    }
    if history is not None:
        paths["training_curves"] = plot_training_curves(
            history,
            os.path.join(out_dir, "training_curves.png"),
            monitor=monitor,
            test_accuracy=metrics.get("accuracy"),
            test_loss=test_loss,
            title=titled("training curves"),
            dpi=dpi,
        )
    return paths
