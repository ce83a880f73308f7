"""Prediction results as text: an aligned table, CSV or JSON."""

import csv
import io
import json

from kser.data.audio import SAMPLE_RATE
from kser.errors import KserError
from kser.predict.scoring import DEFAULT_HOP_SECONDS
from kser.predict.scoring import DEFAULT_WINDOW_SECONDS


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
    1-based index), `start`, `end` (seconds), `emotion`, one probability
    column per label name, then `silent` (`true` on every row of a file
    whose peak is below `SILENT_PEAK`, else `false`). Files that failed
    are not listed (`kser predict` names them on stderr).

    Args:
        results: list of `FilePrediction`.

    Returns:
        str.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    labels = results[0].label_names if results else []
    header = ["file", "window", "start", "end", "emotion"] + list(labels)
    writer.writerow(header + ["silent"])
    for result in results:
        silent = "true" if result.silent else "false"
        writer.writerow(
            [result.path, "all", "0.000", f"{result.duration:.3f}"]
            + [result.emotion]
            + [f"{p:.6f}" for p in result.probabilities]
            + [silent]
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
                + [silent]
            )
    return out.getvalue()


def results_to_dict(
    results,
    window_seconds=DEFAULT_WINDOW_SECONDS,
    hop_seconds=DEFAULT_HOP_SECONDS,
    model=None,
    failures=(),
):
    """A JSON-ready dict of results (the `--format json` output).

    Args:
        results: list of `FilePrediction`.
        window_seconds: float. Recorded in the output.
        hop_seconds: float. Recorded in the output.
        model: str or None. The model path, recorded in the output.
        failures: list of `FileFailure`. The inputs that could not be
            scored.

    Returns:
        dict with `label_names`, `sample_rate`, `window_seconds`,
        `hop_seconds`, `model`, `files` (per file `path`, `duration`,
        `emotion`, `probabilities` (label -> float), `silent` (bool, peak
        below `SILENT_PEAK`) and `windows` (each `start`, `end`, `emotion`,
        `probabilities`)) and `failures` (per failed input `path` and
        `error`; empty when all were scored).
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
                "silent": bool(result.silent),
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
        "failures": [
            {"path": failure.path, "error": failure.reason}
            for failure in failures
        ],
    }


def format_json(results, **json_kwargs):
    """Results as an indented JSON document (see `results_to_dict`)."""
    return json.dumps(results_to_dict(results, **json_kwargs), indent=2) + "\n"


# Output format name -> formatter `fn(results, **kwargs) -> str`; one line
# per format. Only "json" uses the run details (window, hop, model,
# failures).
FORMATS = {
    "table": format_table,
    "csv": format_csv,
    "json": format_json,
}
_TAKES_DETAILS = ("json",)


def format_results(results, format="table", **json_kwargs):
    """Results as text in one of `FORMATS`.

    Args:
        results: list of `FilePrediction`.
        format: str. A name in `FORMATS` (`"table"`, `"csv"`, `"json"`).
        **json_kwargs: run details passed to `results_to_dict` for
            `"json"` (`window_seconds`, `hop_seconds`, `model`,
            `failures`); the other formats ignore them.

    Returns:
        str, ending with a newline.
    """
    if format not in FORMATS:
        raise KserError(
            f"unknown format {format!r}: choose one of {', '.join(FORMATS)}"
        )
    if format in _TAKES_DETAILS:
        return FORMATS[format](results, **json_kwargs)
    return FORMATS[format](results)
