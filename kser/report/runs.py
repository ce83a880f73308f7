"""Run folders: the files a fold writes, and reading a run back.

A run folder holds `VARIANT/fold_KK/` per finished fold. A fold marks
itself finished by writing `result.json` last (atomically), so readers
treat a fold without a readable `result.json` as not run. This module is
the one place that knows those file names; training writes through it and
`kser report`, the recipes and resume read through it. Keras-free.
"""

import csv
import io
import json
import os

import numpy as np

from kser.errors import KserError
from kser.report.files import atomic_write_json
from kser.report.files import atomic_write_text
from kser.report.history import read_history
from kser.report.metrics import read_metrics
from kser.report.plots import write_fold_plots
from kser.report.tables import cv_summary
from kser.report.tables import write_cv_summary

RESULT_FILE = "result.json"
RUN_CONFIG_FILE = "run_config.json"
HISTORY_COLUMNS = ("epoch", "accuracy", "loss", "val_accuracy", "val_loss")


def fold_dir(run_dir, variant, fold):
    """The folder of one variant's fold: `RUN_DIR/VARIANT/fold_KK`."""
    return os.path.join(os.fspath(run_dir), variant, f"fold_{int(fold):02d}")


def read_result(fold_dir):
    """A fold's `result.json`, or None if it is missing or damaged."""
    path = os.path.join(fold_dir, RESULT_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError:
        return None  # a damaged marker: the fold runs again


def write_result(fold_dir, result):
    """Write `result.json`, the marker of a finished fold (write it last)."""
    return atomic_write_json(os.path.join(fold_dir, RESULT_FILE), result)


def write_run_config(run_dir, data):
    """Write the run's `run_config.json`."""
    return atomic_write_json(os.path.join(run_dir, RUN_CONFIG_FILE), data)


def write_history_csv(path, history):
    """Per-epoch history as CSV (`epoch, accuracy, loss, val_*`)."""
    columns = [c for c in HISTORY_COLUMNS if c in history]
    lines = [",".join(columns)]
    for i in range(len(history["epoch"])):
        lines.append(",".join(str(history[c][i]) for c in columns))
    return atomic_write_text(path, "\n".join(lines) + "\n")


def write_predictions(path, clips, probabilities, label_names, labels):
    """Per-clip test predictions as CSV.

    Args:
        path: str. The CSV to write.
        clips: list of clips with `.path` and `.speaker`.
        probabilities: array `(clips, classes)`.
        label_names: list of str. Class names in output order.
        labels: list of int. The true class of each clip.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file", "speaker", "label", "predicted", *label_names])
    for clip, label, p in zip(clips, labels, probabilities):
        writer.writerow(
            [
                os.path.basename(clip.path),
                clip.speaker,
                label_names[int(label)],
                label_names[int(np.argmax(p))],
                *[f"{v:.6f}" for v in p],
            ]
        )
    return atomic_write_text(path, buffer.getvalue())


def read_predictions(path):
    """Rows of a `predictions.csv` as dicts (`speaker` also as `actor`)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        # Runs written before corpora other than RAVDESS called it "actor".
        row.setdefault("speaker", row.get("actor"))
        row.setdefault("actor", row["speaker"])
    return rows


def collect_results(run_dir):
    """Every finished fold's result under a run folder."""
    results = []
    if not os.path.isdir(run_dir):
        raise KserError(f"{run_dir}: no such run folder")
    for variant in sorted(os.listdir(run_dir)):
        variant_dir = os.path.join(run_dir, variant)
        if not os.path.isdir(variant_dir):
            continue
        for name in sorted(os.listdir(variant_dir)):
            result = read_result(os.path.join(variant_dir, name))
            if result is not None:
                results.append(result)
    return results


CROSS_SEPARATOR = " on "


def cross_corpus_column(variant, corpus):
    """str. The summary column of a variant tested on another corpus,
    e.g. `lstm on emodb`."""
    return f"{variant}{CROSS_SEPARATOR}{corpus}"


def write_summary(run_dir, variants=None, folds=None):
    """Rebuild the Table I summary of a run folder from its `result.json`s.

    Args:
        run_dir: str. A run folder (`VARIANT/fold_KK/result.json` inside).
        variants: list of str or None. Columns, first; variants found in
            the folder are added after them. Default: found.
        folds: list of int or None. Rows (unfinished ones show as missing);
            folds found in the folder are added. Default: found.

    Cross-corpus results (`result.json`'s `cross_corpus`) become columns
    `VARIANT on CORPUS` beside the in-corpus ones.

    Returns:
        dict. The summary, also written as `cv_summary.{md,csv,json}`.
    """
    records = []
    cross_columns = []
    leaky = set()
    for result in collect_results(run_dir):
        if result.get("speaker_independent") is False:
            leaky.add(result["fold"])
        values = {result["variant"]: result["accuracy"]}
        # Cross-corpus tests sit beside the in-corpus column they come from.
        for name, cross in sorted(result.get("cross_corpus", {}).items()):
            column = cross_corpus_column(result["variant"], name)
            values[column] = cross["accuracy"]
            if column not in cross_columns:
                cross_columns.append(column)
        records.append(
            {
                "fold": result["fold"],
                "train_actors": result["train_actors"],
                "val_actors": result["val_actors"],
                "test_actors": result["test_actors"],
                "results": values,
            }
        )
    if not records:
        raise KserError(f"{run_dir}: no finished folds (no */fold_*/result.json)")
    # The summary covers the whole run folder: the folds and variants asked
    # for (unfinished ones show as missing) and any others already there,
    # e.g. when a one-fold recipe reuses a Table I run folder.
    if folds is not None:
        folds = sorted(set(folds) | {r["fold"] for r in records})
    if variants is not None:
        found = sorted({v for r in records for v in r["results"]})
        base = list(variants) + [
            v for v in found if v not in variants and v not in cross_columns
        ]
        # Each variant's cross-corpus columns right after it.
        variants = []
        for variant in base:
            variants.append(variant)
            variants += [
                c for c in cross_columns
                if c.split(CROSS_SEPARATOR)[0] == variant
            ]
        variants += [c for c in cross_columns if c not in variants]
    summary = cv_summary(records, variants=variants, folds=folds)
    if leaky:
        summary["not_speaker_independent"] = sorted(leaky)
    write_cv_summary(run_dir, summary)
    return summary


def rebuild_reports(run_dir):
    """Re-draw every fold's plots and rewrite the summary of a run folder.

    Args:
        run_dir: str. A folder written by `kser train` or `kser cv`.

    Returns:
        dict. The cross-validation summary.
    """
    results = collect_results(run_dir)
    if not results:
        raise KserError(f"{run_dir}: no finished folds (no */fold_*/result.json)")
    for result in results:
        folder = fold_dir(run_dir, result["variant"], result["fold"])
        metrics = read_metrics(os.path.join(folder, "metrics.json"))
        history_path = os.path.join(folder, "history.csv")
        history = read_history(history_path) if os.path.exists(history_path) else None
        write_fold_plots(
            metrics,
            folder,
            history=history,
            title=f"{result['variant']}, fold {result['fold']}",
        )
    return write_summary(run_dir)
