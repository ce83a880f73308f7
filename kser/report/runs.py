"""Run folders: the files a fold writes, and reading a run back.

A run folder holds `VARIANT/fold_KK/` per finished fold. A fold marks
itself finished by writing `result.json` last (atomically), so readers
treat a fold without a readable `result.json` as not run. `result.json`
lists the fold's other files with their SHA-256 and size (`"files"`), so a
fold whose predictions or weights were lost or cut short is found: resume
trains it again, `kser report` stops with the file's name. This module is
the one place that knows those file names; training writes through it and
`kser report`, the recipes and resume read through it. Keras-free.
"""

import csv
import hashlib
import io
import json
import os
import time

import numpy as np

from kser.errors import KserError
from kser.report.files import atomic_write
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
# The files of a fold that its `result.json` records checksums of (with
# `model.keras` when saved, and CROSS_FILES under `cross_corpus/NAME/`).
# Plots are left out: `kser report` re-draws them.
FOLD_FILES = (
    "metrics.json", "history.csv", "history.md", "predictions.csv",
    "head.weights.h5",
)
CROSS_FILES = ("metrics.json", "predictions.csv")
# A fold's results on another corpus: FOLD_DIR/CROSS_DIR/NAME/.
CROSS_DIR = "cross_corpus"


def fold_dir(run_dir, variant, fold):
    """The folder of one variant's fold: `RUN_DIR/VARIANT/fold_KK`."""
    return os.path.join(os.fspath(run_dir), variant, f"fold_{int(fold):02d}")


def _load_result(path):
    """(result or None, reason or None) of one `result.json` path."""
    try:
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return None, f"unreadable JSON: {str(e).splitlines()[0]}"
    if not isinstance(result, dict) or "fold" not in result or "variant" not in result:
        return None, "not a fold result (no fold and variant)"
    return result, None


def read_result(fold_dir):
    """A fold's `result.json`, or None if it is missing or damaged."""
    result, _ = _load_result(os.path.join(fold_dir, RESULT_FILE))
    return result


def file_record(path):
    """dict. A file's `sha256` (hex) and size in `bytes`."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "bytes": size}


def file_records(fold_dir, names):
    """dict. `file_record` of each named file of a fold that exists.

    Args:
        fold_dir: str. The fold folder.
        names: list of str. Files relative to it, `/`-separated.
    """
    records = {}
    for name in names:
        path = os.path.join(fold_dir, *name.split("/"))
        if os.path.isfile(path):
            records[name] = file_record(path)
    return records


def check_files(fold_dir, result):
    """The first damaged file a fold's `result.json` lists, or None.

    Args:
        fold_dir: str. The fold folder.
        result: dict. Its `result.json`; one without `"files"` (written
            before checksums were recorded) has nothing to check.

    Returns:
        tuple `(name, reason)` or None. `name` is relative to the fold
        folder, `reason` says what is wrong (missing, size, checksum).
    """
    files = result.get("files") or {}
    for name in sorted(files):
        expected = files[name]
        path = os.path.join(fold_dir, *name.split("/"))
        if not os.path.isfile(path):
            return name, "missing"
        size = os.path.getsize(path)
        if size != expected.get("bytes"):
            return name, f"{size} bytes, {expected.get('bytes')} recorded"
        if file_record(path)["sha256"] != expected.get("sha256"):
            return name, "its checksum differs from the recorded one"
    return None


def inspect_fold(fold_dir, verify=True):
    """A fold folder's state: its result and what, if anything, is damaged.

    Args:
        fold_dir: str. The fold folder.
        verify: bool. Also check the files `result.json` lists.

    Returns:
        tuple `(result, damage)`. `(None, None)`: not finished (no
        `result.json`). `(None, ("result.json", reason))`: a damaged
        `result.json`. `(result, (name, reason))`: a listed file is
        missing or changed. `(result, None)`: a finished, intact fold.
    """
    result, reason = _load_result(os.path.join(fold_dir, RESULT_FILE))
    if reason is not None:
        return None, (RESULT_FILE, reason)
    if result is None or not verify:
        return result, None
    return result, check_files(fold_dir, result)


def write_result(fold_dir, result, files=None):
    """Write `result.json`, the marker of a finished fold (write it last).

    Args:
        fold_dir: str. The fold folder.
        result: dict. The fold's result.
        files: list of str or None. The fold's files (relative to
            `fold_dir`, `/`-separated) to record under `"files"` with their
            SHA-256 and size; missing ones are left out.

    Returns:
        str. The path written.
    """
    if files is not None:
        result = {**result, "files": file_records(fold_dir, files)}
    return atomic_write_json(os.path.join(fold_dir, RESULT_FILE), result)


def _read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_run_config(run_dir, data):
    """Add one invocation to the run's `run_config.json`; nothing is lost.

    The top level holds the latest invocation's entries (`data`, `corpus`,
    `folds`, `configs`, `environment`, ...), `"runs"` every invocation in
    order (with its start time) and `"variants"` the latest config of every
    variant the folder has run, so a folder that several `kser train`/`cv`
    invocations filled keeps the configuration of each. A file written
    before `"runs"` existed becomes the first entry.

    Args:
        run_dir: str. The run folder.
        data: dict. This invocation (`configs`: list of config dicts).

    Returns:
        bytes or None. The file's previous content (None if there was
        none), for `restore_run_config`.
    """
    path = os.path.join(run_dir, RUN_CONFIG_FILE)
    previous = _read_bytes(path)
    old = {}
    if previous is not None:
        try:
            old = json.loads(previous.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            old = {}
        if not isinstance(old, dict):
            old = {}
    runs = old.get("runs")
    if not isinstance(runs, list):
        runs = [{k: v for k, v in old.items() if k != "variants"}] if old else []
    variants = dict(old.get("variants") or {})
    for run in runs:
        for config in run.get("configs", []) if isinstance(run, dict) else []:
            variants.setdefault(config.get("variant"), config)
    entry = {**data, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    for config in data.get("configs", []):
        variants[config.get("variant")] = config
    variants.pop(None, None)
    atomic_write_json(
        path, {**entry, "runs": [*runs, entry], "variants": variants}
    )
    return previous


def restore_run_config(run_dir, previous):
    """Put back `run_config.json` as `write_run_config` found it."""
    path = os.path.join(run_dir, RUN_CONFIG_FILE)
    if previous is None:
        if os.path.exists(path):
            os.remove(path)
    else:
        atomic_write(path, lambda f: f.write(previous), mode="wb")


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


def collect_results(run_dir, verify=False):
    """Every finished fold's result under a run folder.

    Args:
        run_dir: str. The run folder.
        verify: bool. False (during a run): a damaged `result.json` counts
            as not finished and listed files are not checked. True (`kser
            report`): a damaged `result.json`, or a listed file that is
            missing or fails its checksum, is a `KserError` naming it.

    Returns:
        list of dict. The results, by variant and fold folder.
    """
    results = []
    if not os.path.isdir(run_dir):
        raise KserError(f"{run_dir}: no such run folder")
    for variant in sorted(os.listdir(run_dir)):
        variant_dir = os.path.join(run_dir, variant)
        if not os.path.isdir(variant_dir) or variant.startswith("."):
            continue
        for name in sorted(os.listdir(variant_dir)):
            folder = os.path.join(variant_dir, name)
            if not os.path.isdir(folder):
                continue
            result, damage = inspect_fold(folder, verify=verify)
            if damage is not None and verify:
                file, reason = damage
                path = os.path.join(folder, *file.split("/"))
                raise KserError(
                    f"{path} is damaged ({reason}); train the fold again "
                    "(kser train/cv with the same --out) or remove its folder"
                )
            if result is not None:
                results.append(result)
    return results


CROSS_SEPARATOR = " on "


def cross_corpus_column(variant, corpus):
    """str. The summary column of a variant tested on another corpus,
    e.g. `lstm on emodb`."""
    return f"{variant}{CROSS_SEPARATOR}{corpus}"


def write_summary(run_dir, variants=None, folds=None, verify=False, results=None):
    """Rebuild the Table I summary of a run folder from its `result.json`s.

    Args:
        run_dir: str. A run folder (`VARIANT/fold_KK/result.json` inside).
        variants: list of str or None. Columns, first; variants found in
            the folder are added after them. Default: found.
        folds: list of int or None. Rows (unfinished ones show as missing);
            folds found in the folder are added. Default: found.

        verify: bool. Check every fold's files first (see
            `collect_results`): a damaged one is a `KserError`.
        results: list of dict or None. The folds' results, if already
            collected.

    Cross-corpus results (`result.json`'s `cross_corpus`) become columns
    `VARIANT on CORPUS` beside the in-corpus ones.

    Returns:
        dict. The summary, also written as `cv_summary.{md,csv,json}`.
    """
    records = []
    cross_columns = []
    leaky = set()
    missing = {}
    if results is None:
        results = collect_results(run_dir, verify=verify)
    for result in results:
        if result.get("speaker_independent") is False:
            leaky.add(result["fold"])
        if result.get("missing_speakers"):
            missing[result["fold"]] = list(result["missing_speakers"])
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
    if missing:  # run with --allow-missing-speakers
        summary["missing_speakers"] = {str(f): missing[f] for f in sorted(missing)}
    write_cv_summary(run_dir, summary)
    return summary


def rebuild_reports(run_dir, verify=True):
    """Re-draw every fold's plots and rewrite the summary of a run folder.

    Cross-corpus plots (`FOLD/cross_corpus/NAME/`) are drawn again too; a
    run trained with `plots=False` (`--no-plots`) gets all of its plots.

    Args:
        run_dir: str. A folder written by `kser train` or `kser cv`.
        verify: bool. First check every fold's `result.json` and the files
            it lists (SHA-256 and size): a damaged one is a `KserError`
            naming it, and nothing is rewritten.

    Returns:
        dict. The cross-validation summary.
    """
    results = collect_results(run_dir, verify=verify)
    if not results:
        raise KserError(f"{run_dir}: no finished folds (no */fold_*/result.json)")
    for result in results:
        folder = fold_dir(run_dir, result["variant"], result["fold"])
        metrics = read_metrics(os.path.join(folder, "metrics.json"))
        history_path = os.path.join(folder, "history.csv")
        history = read_history(history_path) if os.path.exists(history_path) else None
        title = f"{result['variant']}, fold {result['fold']}"
        write_fold_plots(metrics, folder, history=history, title=title)
        for name in sorted(result.get("cross_corpus", {})):
            cross = os.path.join(folder, CROSS_DIR, name)
            write_fold_plots(
                read_metrics(os.path.join(cross, "metrics.json")), cross,
                title=f"{title}, on {name}",
            )
    return write_summary(run_dir, results=results)
