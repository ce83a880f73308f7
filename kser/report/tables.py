"""Tables: the cross-validation summary (Table I) and per-epoch histories.

`cv_summary` gathers per-fold results into the shape of the paper's Table I:
one row per fold with its training, validation and test actors and one
accuracy column per variant, then the mean and the standard deviation over
folds. The standard deviation is the sample one (ddof=1, the n-1 divisor).
A partially finished cross-validation is fine: a missing result shows as
"—" and is left out of the mean, and the number of folds averaged is stated.
`write_cv_summary` writes it as Markdown, CSV and JSON.

`format_history_markdown` writes a per-epoch history like the paper's Tables
II-IV (epoch, train and validation accuracy and loss) with the test result.
"""

import csv
import io
import math
import numbers
import os

import numpy as np

from kser.report.files import atomic_write_json
from kser.report.files import atomic_write_text
from kser.report.history import best_epoch_index
from kser.report.history import normalize_history

#: The sample standard deviation is reported: the folds are a sample of
#: speaker splits, and the n-1 divisor is what numpy calls ddof=1.
STD_DDOF = 1
MISSING = "—"

_METRIC_NAMES = {
    "accuracy": "accuracy (WA)",
    "balanced_accuracy": "balanced accuracy (UA)",
    "macro_f1": "macro F1",
}


def format_actors(actors, width=2):
    """Format actor ids compactly, with runs of three or more as ranges.

    Args:
        actors: list of int (or of str for named speakers, listed as
            they are). Ids in any order; duplicates are ignored.
        width: int. Digits to zero-pad each id to (RAVDESS uses two).

    Returns:
        str. E.g. `[3, 4, ..., 24]` -> "03-24", `[1, 4, 5, ..., 24]` ->
        "01, 04-24", `[1, 2]` -> "01, 02"; "—" for no actors.
    """
    if any(isinstance(a, str) and not a.isdigit() for a in actors):
        # Named speakers (e.g. IEMOCAP's Ses01F): listed as they are.
        return ", ".join(sorted({str(a) for a in actors})) or MISSING
    ids = sorted({int(a) for a in actors})
    if not ids:
        return MISSING
    parts = []
    start = prev = ids[0]
    for a in ids[1:] + [None]:
        if a is not None and a == prev + 1:
            prev = a
            continue
        if prev - start >= 2:
            parts.append(f"{start:0{width}d}-{prev:0{width}d}")
        else:
            parts.extend(f"{x:0{width}d}" for x in range(start, prev + 1))
        if a is not None:
            start = prev = a
    return ", ".join(parts)


def _speaker_id(speaker):
    """An int for numbered speakers (numpy ints too), else the name."""
    if isinstance(speaker, str) and not speaker.isdigit():
        return speaker
    return int(speaker)


def _speaker_order(speaker):
    # Numbered speakers first, in number order, then named ones.
    if isinstance(speaker, str):
        return (1, 0, speaker)
    return (0, speaker, "")


def _fold_key(fold):
    try:
        return (0, int(fold), "")
    except (TypeError, ValueError):
        return (1, 0, str(fold))


def _value(result, metric):
    """Return a float from a metrics dict or a number; None when missing."""
    if result is None:
        return None
    if isinstance(result, dict):
        if metric not in result:
            raise ValueError(
                f"A fold result has no {metric!r} entry (keys: "
                f"{sorted(result)[:8]})."
            )
        result = result[metric]
        if result is None:
            return None
    value = float(result)
    return None if math.isnan(value) else value


def cv_summary(fold_records, variants=None, folds=None, metric="accuracy"):
    """Summarise per-fold results in the shape of the paper's Table I.

    Several records for one fold (one per variant, say) are merged; their
    actor lists must agree.

    Args:
        fold_records: list of dict. One per fold (or per fold and variant),
            with `fold` (int or str, the fold id), `train_actors`,
            `val_actors`, `test_actors` (list of int; optional) and
            `results`: a dict of variant name -> metrics dict (as from
            `classification_metrics`) or a number. A variant that is absent
            or None has no result for that fold yet.
        variants: optional list of str. The variant columns, in order;
            defaults to the variants found, in order of first appearance.
        folds: optional list of int or str. The folds expected (e.g.
            1..12); a fold with no record gets an empty row. Defaults to the
            folds found, sorted.
        metric: str. The entry of a metrics dict to tabulate
            (`"accuracy"`, `"balanced_accuracy"` or `"macro_f1"`); a plain
            number is taken to be this metric.

    Returns:
        dict. JSON-serialisable: `metric`, `std_ddof` (1), `variants`,
        `rows` (one per fold: `fold`, the three actor lists and `values`,
        variant -> float or None), and per variant `mean`, `std` (None with
        fewer than two results), `count` (folds averaged), `best`
        (`{"fold", "value"}` or None), plus `num_folds`.
    """
    merged = {}
    found_variants = []
    for record in fold_records:
        if "fold" not in record:
            raise ValueError(f"A fold record has no 'fold' entry: {record}.")
        fold = record["fold"]
        if isinstance(fold, numbers.Integral):
            fold = int(fold)  # numpy ints are not JSON-serialisable
        row = merged.setdefault(
            fold,
            {"fold": fold, "train_actors": None, "val_actors": None,
             "test_actors": None, "values": {}},
        )
        for key in ("train_actors", "val_actors", "test_actors"):
            if record.get(key) is None:
                continue
            actors = sorted((_speaker_id(a) for a in record[key]),
                            key=_speaker_order)
            if row[key] is not None and row[key] != actors:
                raise ValueError(
                    f"Fold {fold}: records disagree on {key} ({row[key]} vs "
                    f"{actors})."
                )
            row[key] = actors
        for variant, result in (record.get("results") or {}).items():
            if variant not in found_variants:
                found_variants.append(variant)
            value = _value(result, metric)
            if value is None:
                continue
            old = row["values"].get(variant)
            if old is not None and old != value:
                raise ValueError(
                    f"Fold {fold}: two different results for variant "
                    f"{variant!r} ({old} and {value})."
                )
            row["values"][variant] = value

    variants = list(variants) if variants is not None else found_variants
    if folds is None:
        folds = sorted(merged, key=_fold_key)
    else:
        folds = list(folds)
        unexpected = [f for f in merged if f not in folds]
        if unexpected:
            raise ValueError(
                f"Records for folds {unexpected} not in folds={folds}."
            )

    rows = []
    for fold in folds:
        row = merged.get(fold, {"fold": fold, "values": {}})
        rows.append({
            "fold": fold,
            "train_actors": row.get("train_actors") or [],
            "val_actors": row.get("val_actors") or [],
            "test_actors": row.get("test_actors") or [],
            "values": {v: row["values"].get(v) for v in variants},
        })

    summary = {
        "metric": metric,
        "std_ddof": STD_DDOF,
        "variants": variants,
        "num_folds": len(rows),
        "rows": rows,
        "mean": {},
        "std": {},
        "count": {},
        "best": {},
    }
    for variant in variants:
        pairs = [(r["fold"], r["values"][variant]) for r in rows
                 if r["values"][variant] is not None]
        values = np.array([v for _, v in pairs], dtype=np.float64)
        summary["count"][variant] = len(pairs)
        summary["mean"][variant] = float(values.mean()) if len(pairs) else None
        summary["std"][variant] = (
            float(values.std(ddof=STD_DDOF)) if len(pairs) > STD_DDOF else None
        )
        if pairs:
            # First fold with the highest value.
            best_fold, best_value = max(pairs, key=lambda p: p[1])
            summary["best"][variant] = {"fold": best_fold, "value": best_value}
        else:
            summary["best"][variant] = None
    return summary


def _fmt(value, digits):
    return MISSING if value is None else f"{value:.{digits}f}"


def _md_row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def format_cv_summary_markdown(summary, digits=3, title=None):
    """Format a cross-validation summary as a Markdown table with footnotes.

    Args:
        summary: dict. As returned by `cv_summary`.
        digits: int. Decimal places for the values (the paper uses 3).
        title: optional str. A heading line above the table.

    Returns:
        str. The Markdown text, ending with a newline.
    """
    variants = summary["variants"]
    n = summary["num_folds"]
    lines = []
    if title:
        lines += [f"## {title}", ""]
    lines.append(_md_row(
        ["Fold", "Training actors", "Validation actors", "Test actors"]
        + variants
    ))
    lines.append(
        _md_row(["---:", "---", "---", "---"] + ["---:"] * len(variants))
    )
    for row in summary["rows"]:
        lines.append(_md_row(
            [row["fold"],
             format_actors(row["train_actors"]),
             format_actors(row["val_actors"]),
             format_actors(row["test_actors"])]
            + [_fmt(row["values"][v], digits) for v in variants]
        ))
    mean_cells, std_cells = [], []
    for v in variants:
        count = summary["count"][v]
        note = "" if count == n else f" ({count}/{n})"
        mean_cells.append(_fmt(summary["mean"][v], digits) + note)
        std_cells.append(_fmt(summary["std"][v], digits))
    lines.append(_md_row(["**Mean**", "", "", ""] + mean_cells))
    lines.append(_md_row(["**Std**", "", "", ""] + std_cells))
    lines.append("")

    metric = _METRIC_NAMES.get(summary["metric"], summary["metric"])
    lines.append(
        f"Values: test {metric} per fold. Mean and Std are over the folds "
        "with a result; Std is the sample standard deviation (ddof=1, "
        f"divisor n-1). {MISSING}: no result yet (or, for Std, fewer than "
        "two results)."
    )
    partial = [v for v in variants if summary["count"][v] != n]
    if partial:
        lines.append("")
        lines.append(
            "Partial: "
            + "; ".join(f"{v} has {summary['count'][v]} of {n} folds"
                        for v in partial)
            + ", so its mean is over those folds only."
        )
    best = [
        f"{v} fold {summary['best'][v]['fold']} "
        f"({_fmt(summary['best'][v]['value'], digits)})"
        for v in variants if summary["best"][v] is not None
    ]
    if best:
        lines.append("")
        lines.append("Best fold: " + "; ".join(best) + ".")
    leaky = summary.get("not_speaker_independent")
    if leaky:
        lines.append("")
        lines.append(
            "**Not speaker-independent**: fold(s) "
            + ", ".join(str(f) for f in leaky)
            + " share speakers between training and test (a clip-level "
            "protocol, offered only for comparison with published numbers); "
            "their accuracy overstates what a model does on unseen speakers."
        )
    missing = summary.get("missing_speakers")
    if missing:
        lines.append("")
        lines.append(
            "**Missing speakers**: "
            + "; ".join(f"fold {f}: {format_actors(s)}" for f, s in missing.items())
            + " had no clips in the corpus (--allow-missing-speakers): those "
            "folds validate or test on fewer speakers than listed above."
        )
    return "\n".join(lines) + "\n"


def format_cv_summary_csv(summary):
    """Format a cross-validation summary as CSV text.

    One row per fold (fold, train_actors, val_actors, test_actors, one
    column per variant, values at full precision, empty when missing), then
    rows `mean`, `std` (ddof=1) and `count` in the fold column.

    Args:
        summary: dict. As returned by `cv_summary`.

    Returns:
        str. The CSV text with a header row.
    """
    variants = summary["variants"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["fold", "train_actors", "val_actors", "test_actors"]
                    + variants)

    def cell(value):
        return "" if value is None else repr(float(value))

    for row in summary["rows"]:
        actors = [
            format_actors(row[k]) if row[k] else ""
            for k in ("train_actors", "val_actors", "test_actors")
        ]
        writer.writerow([row["fold"]] + actors
                        + [cell(row["values"][v]) for v in variants])
    writer.writerow(["mean", "", "", ""]
                    + [cell(summary["mean"][v]) for v in variants])
    writer.writerow(["std", "", "", ""]
                    + [cell(summary["std"][v]) for v in variants])
    writer.writerow(["count", "", "", ""]
                    + [summary["count"][v] for v in variants])
    return buffer.getvalue()


def write_cv_summary(out_dir, summary, basename="cv_summary", digits=3,
                     title=None):
    """Write a cross-validation summary as Markdown, CSV and JSON, atomically.

    Args:
        out_dir: str or path-like. The folder to write into; created if
            missing.
        summary: dict or list of dict. As returned by `cv_summary`, or the
            fold records to pass to it (with its defaults).
        basename: str. File name stem: `<basename>.md`, `.csv`, `.json`.
        digits: int. Decimal places in the Markdown table.
        title: optional str. A heading line above the Markdown table.

    Returns:
        dict. `"markdown"`, `"csv"`, `"json"` -> path written.
    """
    if not isinstance(summary, dict):
        summary = cv_summary(summary)
    out_dir = os.fspath(out_dir)
    stem = os.path.join(out_dir, basename)
    return {
        "markdown": atomic_write_text(
            stem + ".md",
            format_cv_summary_markdown(summary, digits=digits, title=title),
        ),
        "csv": atomic_write_text(stem + ".csv", format_cv_summary_csv(summary)),
        "json": atomic_write_json(stem + ".json", summary),
    }


def format_history_markdown(history, test_accuracy=None, test_loss=None,
                            monitor="val_accuracy", digits=3, title=None):
    """Format a per-epoch history as a Markdown table like Tables II-IV.

    Columns: epoch, train accuracy, validation accuracy, train loss,
    validation loss (the paper's order), and test accuracy and loss when
    given. The best epoch on `monitor` is bold; the test values sit on its
    row, since those are the weights a best-on-validation checkpoint keeps
    and the test actors are evaluated once, with them. (The paper prints the
    test values on the first row.)

    Args:
        history: dict of str to list of float. Per-epoch `accuracy`, `loss`,
            `val_accuracy`, `val_loss` and optionally `epoch` (see
            `read_history`); a missing column shows as "—".
        test_accuracy: optional float. Test accuracy of the kept weights.
        test_loss: optional float. Test loss of the kept weights.
        monitor: str or None. The column that chose the kept weights; None,
            or a history without it, puts the test values on the last epoch.
        digits: int. Decimal places.
        title: optional str. A heading line above the table.

    Returns:
        str. The Markdown text, ending with a newline.
    """
    history = normalize_history(history)
    epochs = history["epoch"]
    best = best_epoch_index(history, monitor) if monitor else None
    tested = best if best is not None else len(epochs) - 1
    with_test = test_accuracy is not None or test_loss is not None

    def fmt(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        return f"{value:.{digits}f}"

    columns = [
        ("Train accuracy", "accuracy"),
        ("Validation accuracy", "val_accuracy"),
        ("Train loss", "loss"),
        ("Validation loss", "val_loss"),
    ]
    header = ["Epoch"] + [name for name, _ in columns]
    if with_test:
        header += ["Test accuracy", "Test loss"]
    lines = []
    if title:
        lines += [f"## {title}", ""]
    lines.append(_md_row(header))
    lines.append(_md_row(["---:"] * len(header)))
    for i, epoch in enumerate(epochs):
        cells = [f"**{epoch}**" if i == best else str(epoch)]
        cells += [fmt(history[key][i]) if key in history else MISSING
                  for _, key in columns]
        if with_test:
            if i == tested:
                cells += [fmt(test_accuracy), fmt(test_loss)]
            else:
                cells += ["", ""]
        lines.append(_md_row(cells))
    lines.append("")
    notes = []
    if best is not None:
        notes.append(
            f"Bold: the best epoch on {monitor} (epoch {epochs[best]})."
        )
    if with_test and epochs:
        notes.append(
            f"Test values: the weights of epoch {epochs[tested]}, evaluated "
            "once on the test actors after training."
        )
    if notes:
        lines.append(" ".join(notes))
    return "\n".join(lines) + "\n"


def write_history_markdown(path, history, **kwargs):
    """Write `format_history_markdown(history, **kwargs)` to a file atomically.

    Args:
        path: str or path-like. The Markdown file to write.
        history: dict of str to list of float. The per-epoch history.
        **kwargs: Passed to `format_history_markdown` (`test_accuracy`,
            `test_loss`, `monitor`, `digits`, `title`).

    Returns:
        str. The path written.
    """
    return atomic_write_text(path, format_history_markdown(history, **kwargs))
