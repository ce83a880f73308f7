"""Reports: metrics.json, PNG plots and cross-validation tables.

This package turns predictions and histories into files; it never imports
Keras, so it works the same on every backend (and in `kser report`, which
only reads saved results). Matplotlib is imported on the first plot, with
the Agg renderer. See docs/reports.md for every file and field.
"""

from kser.report.history import best_epoch_index
from kser.report.history import normalize_history
from kser.report.history import read_history
from kser.report.metrics import classification_metrics
from kser.report.metrics import read_metrics
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

__all__ = [
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
