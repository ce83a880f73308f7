"""Reports: metrics.json, PNG plots and cross-validation tables.

This package turns predictions and histories into files, and owns the run
folder's layout (`runs`: result.json, predictions.csv, summaries, rebuild)
and the recipes' RESULTS.md (`recipe_results`, beside the paper's numbers
in `paper`). It never imports
Keras, so it works the same on every backend (and in `kser report`, which
only reads saved results). Matplotlib is imported on the first plot, with
the Agg renderer. See docs/reports.md for every file and field.
"""

from kser.report.files import atomic_write
from kser.report.files import atomic_write_json
from kser.report.files import atomic_write_text
from kser.report.history import best_epoch_index
from kser.report.history import normalize_history
from kser.report.history import read_history
from kser.report.metrics import classification_metrics
from kser.report.metrics import read_metrics
from kser.report.metrics import softmax
from kser.report.metrics import write_metrics
from kser.report.plots import plot_confusion_matrix
from kser.report.plots import plot_correct_counts
from kser.report.plots import plot_training_curves
from kser.report.plots import write_fold_plots
from kser.report.tables import cv_summary
from kser.report.tables import format_actors
from kser.report.tables import format_cv_summary_csv
from kser.report.tables import format_cv_summary_markdown
from kser.report.tables import format_history_markdown
from kser.report.tables import write_cv_summary
from kser.report.tables import write_history_markdown
from kser.report.runs import collect_results
from kser.report.runs import read_predictions
from kser.report.runs import read_result
from kser.report.runs import rebuild_reports
from kser.report.runs import write_summary

__all__ = [
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "collect_results",
    "read_predictions",
    "read_result",
    "rebuild_reports",
    "softmax",
    "write_summary",
    "best_epoch_index",
    "classification_metrics",
    "cv_summary",
    "format_actors",
    "format_cv_summary_csv",
    "format_cv_summary_markdown",
    "format_history_markdown",
    "normalize_history",
    "plot_confusion_matrix",
    "plot_correct_counts",
    "plot_training_curves",
    "read_history",
    "read_metrics",
    "write_cv_summary",
    "write_fold_plots",
    "write_history_markdown",
    "write_metrics",
]
