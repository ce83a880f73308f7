"""Tests for kser.report.history: reading history CSVs, the best epoch."""

import math

import pytest

from kser.errors import KserError
from kser.report import best_epoch_index
from kser.report import normalize_history
from kser.report import read_history


def test_read_history_keeps_numeric_extras(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(
        "epoch,accuracy,loss,val_accuracy,val_loss,learning_rate,time\n"
        "1,0.2,1.9,0.3,1.6,0.001,12:00\n"
        "2,0.4,1.5,0.5,1.2,0.0005,12:01\n"
    )
    h = read_history(path)
    assert h == {
        "epoch": [1, 2],
        "accuracy": [0.2, 0.4],
        "loss": [1.9, 1.5],
        "val_accuracy": [0.3, 0.5],
        "val_loss": [1.6, 1.2],
        "learning_rate": [0.001, 0.0005],
    }


def test_read_history_without_epoch_or_validation(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("loss,accuracy\n1.0,0.5\n0.8,\n")
    h = read_history(path)
    assert h["epoch"] == [1, 2]
    assert h["loss"] == [1.0, 0.8]
    assert h["accuracy"][0] == 0.5 and math.isnan(h["accuracy"][1])
    assert "val_accuracy" not in h


def test_read_history_errors(tmp_path):
    with pytest.raises(KserError, match="No history file"):
        read_history(tmp_path / "missing.csv")
    path = tmp_path / "h.csv"
    path.write_text("epoch,val_loss\n1,0.5\n")
    with pytest.raises(KserError, match="lacks the column"):
        read_history(path)
    path.write_text("epoch,accuracy,loss\n1,0.5,0.7\n2,high,0.6\n")
    with pytest.raises(KserError, match="line 3: column accuracy"):
        read_history(path)


def test_normalize_history_forms():
    class FakeHistory:  # what keras.callbacks.History looks like
        history = {"accuracy": [0.1, 0.2], "loss": [2.0, 1.0]}

    h = normalize_history(FakeHistory())
    assert h == {"epoch": [1, 2], "accuracy": [0.1, 0.2], "loss": [2.0, 1.0]}
    rows = [{"epoch": 0, "loss": 2.0}, {"epoch": 1, "loss": 1.0}]
    assert normalize_history(rows) == {"epoch": [0, 1], "loss": [2.0, 1.0]}
    with pytest.raises(ValueError, match="differ in length"):
        normalize_history({"loss": [1.0], "accuracy": [0.1, 0.2]})


def test_best_epoch_index():
    h = {"val_accuracy": [0.3, 0.8, 0.8, float("nan")],
         "val_loss": [1.0, 0.5, 0.7, 0.4]}
    assert best_epoch_index(h) == 1  # ties go to the earliest epoch
    assert best_epoch_index(h, "val_loss") == 3  # loss is minimised
    assert best_epoch_index(h, "val_loss", mode="max") == 0
    assert best_epoch_index({"loss": [1.0]}) is None
    with pytest.raises(ValueError, match="mode"):
        best_epoch_index(h, mode="best")
