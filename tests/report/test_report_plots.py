"""Tests for kser.report.plots: each plot writes a readable PNG."""

import os
import struct

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from kser.report import classification_metrics  # noqa: E402
from kser.report import plot_confusion_matrix  # noqa: E402
from kser.report import plot_correct_counts  # noqa: E402
from kser.report import plot_training_curves  # noqa: E402
from kser.report import read_history  # noqa: E402
from kser.report import write_fold_plots  # noqa: E402

EMOTIONS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
            "surprised"]
HISTORY = {
    "accuracy": [0.216, 0.421, 0.553, 0.642, 0.723, 0.805],
    "loss": [1.975, 1.546, 1.208, 0.970, 0.779, 0.580],
    "val_accuracy": [0.324, 0.508, 0.570, 0.675, 0.763, 0.824],
    "val_loss": [1.627, 1.259, 1.038, 0.840, 0.688, 0.689],
}


def png_size(path):
    """Return (width, height) of a PNG, checking its signature."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert data[-8:-4] == b"IEND"
    return struct.unpack(">II", data[16:24])


def assert_sensible_png(path, min_width=400, min_height=300):
    assert os.path.getsize(path) > 5000
    width, height = png_size(path)
    assert min_width <= width <= 4000
    assert min_height <= height <= 4000
    # Nothing left behind: no temporary files, no pyplot figures.
    assert not [f for f in os.listdir(os.path.dirname(path))
                if f.endswith(".tmp")]
    assert plt.get_fignums() == []


def fold_metrics():
    correct = [4, 15, 15, 12, 16, 16, 16, 14]
    totals = [8] + [16] * 7
    y_true, y_pred = [], []
    for c, (k, n) in enumerate(zip(correct, totals)):
        y_true += [c] * n
        y_pred += [c] * k + [(c + 1) % 8] * (n - k)
    return classification_metrics(y_true, y_pred, EMOTIONS)


@pytest.mark.parametrize("normalize", [False, True])
def test_confusion_matrix_png(tmp_path, normalize):
    counts = fold_metrics()["confusion_matrix"]["counts"]
    counts[2] = [0] * 8  # a class without samples: "-" when normalised
    path = tmp_path / "cm.png"
    assert plot_confusion_matrix(counts, EMOTIONS, path,
                                 normalize=normalize) == str(path)
    assert_sensible_png(path)


def test_confusion_matrix_shape_mismatch(tmp_path):
    with pytest.raises(ValueError, match="8x8"):
        plot_confusion_matrix([[1, 0], [0, 1]], EMOTIONS, tmp_path / "x.png")
    assert not os.listdir(tmp_path)


def test_correct_counts_png(tmp_path):
    path = tmp_path / "sub" / "correct.png"
    plot_correct_counts([4, 15, 15, 12, 16, 16, 16, 14], [8] + [16] * 7,
                        EMOTIONS, path)
    assert_sensible_png(path)
    with pytest.raises(ValueError, match="between 0 and the totals"):
        plot_correct_counts([9], [8], ["neutral"], tmp_path / "bad.png")


def test_training_curves_from_csv(tmp_path):
    csv_path = tmp_path / "history.csv"
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss,lr"]
    for i in range(6):
        lines.append(",".join(str(x) for x in (
            i + 1, HISTORY["accuracy"][i], HISTORY["loss"][i],
            HISTORY["val_accuracy"][i], HISTORY["val_loss"][i], 1e-3)))
    csv_path.write_text("\n".join(lines) + "\n")
    path = tmp_path / "curves.png"
    plot_training_curves(read_history(csv_path), path, test_accuracy=0.891,
                         test_loss=0.459)
    assert_sensible_png(path, min_width=800)


def test_training_curves_without_validation(tmp_path):
    path = tmp_path / "curves.png"
    plot_training_curves({"accuracy": [0.5], "loss": [1.0]}, path)
    assert_sensible_png(path)
    with pytest.raises(ValueError, match="empty"):
        plot_training_curves({"accuracy": [], "loss": []}, tmp_path / "e.png")


def test_write_fold_plots(tmp_path):
    paths = write_fold_plots(fold_metrics(), tmp_path / "fold_03",
                             history=HISTORY, title="lstm, fold 3")
    assert sorted(paths) == ["confusion_matrix", "confusion_matrix_normalized",
                             "correct_per_class", "training_curves"]
    for path in paths.values():
        assert_sensible_png(path)
    assert sorted(os.listdir(tmp_path / "fold_03")) == sorted(
        os.path.basename(p) for p in paths.values())
    assert "training_curves" not in write_fold_plots(fold_metrics(),
                                                     tmp_path / "no_history")
