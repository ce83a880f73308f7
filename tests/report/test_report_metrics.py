"""Tests for kser.report.metrics: hand-computed values and metrics.json."""

import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score
from sklearn.metrics import f1_score

from kser.errors import KserError
from kser.report import classification_metrics
from kser.report import read_metrics
from kser.report import write_metrics
from kser.report import atomic_write

EMOTIONS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
            "surprised"]

# Five classes: "c" is in y_true but never predicted, "d" is predicted but
# absent from y_true, "e" appears nowhere.
LABELS = ["a", "b", "c", "d", "e"]
Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2]
Y_PRED = [0, 0, 1, 1, 0, 0, 3, 1]


def test_hand_computed_example():
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS)
    assert m["num_samples"] == 8
    assert m["num_correct"] == 3
    assert m["accuracy"] == pytest.approx(3 / 8)
    # UA: mean recall over a, b, c (the classes in y_true).
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    # Macro F1 over a, b, c, d (in y_true or y_pred): (4/7 + 2/5 + 0 + 0) / 4.
    assert m["macro_f1"] == pytest.approx(17 / 70)
    assert m["label_names"] == LABELS
    assert m["confusion_matrix"] == {
        "rows": "true",
        "columns": "predicted",
        "labels": LABELS,
        "counts": [
            [2, 1, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [1, 1, 0, 1, 0],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0],
        ],
    }
    expected = {
        "a": (1 / 2, 2 / 3, 4 / 7, 3, 2, 4),
        "b": (1 / 3, 1 / 2, 2 / 5, 2, 1, 3),
        "c": (0.0, 0.0, 0.0, 3, 0, 0),  # never predicted: zero_division=0
        "d": (0.0, 0.0, 0.0, 0, 0, 1),  # absent from y_true
        "e": (0.0, 0.0, 0.0, 0, 0, 0),
    }
    assert list(m["per_class"]) == LABELS
    for name, (p, r, f, support, correct, predicted) in expected.items():
        entry = m["per_class"][name]
        assert entry["precision"] == pytest.approx(p)
        assert entry["recall"] == pytest.approx(r)
        assert entry["f1"] == pytest.approx(f)
        assert entry["support"] == support
        assert entry["correct"] == correct
        assert entry["predicted"] == predicted
    assert "log_loss" not in m


def test_agrees_with_sklearn_averages():
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ua = balanced_accuracy_score(Y_TRUE, Y_PRED)
    assert m["balanced_accuracy"] == pytest.approx(ua)
    assert m["macro_f1"] == pytest.approx(
        f1_score(Y_TRUE, Y_PRED, average="macro", zero_division=0)
    )


def test_label_names_as_input_and_perfect_predictions():
    y = ["calm", "sad", "sad", "neutral"]
    m = classification_metrics(y, y, EMOTIONS)
    assert m["accuracy"] == 1.0
    assert m["balanced_accuracy"] == 1.0
    assert m["macro_f1"] == 1.0
    assert m["per_class"]["sad"]["correct"] == 2
    assert m["per_class"]["angry"]["support"] == 0
    assert m["confusion_matrix"]["counts"][3][3] == 2


def test_probabilities_add_confidence_and_log_loss():
    probs = [[0.5, 0.25, 0.25], [0.25, 0.25, 0.5]]
    m = classification_metrics([0, 1], [0, 2], ["x", "y", "z"], probs)
    assert m["mean_confidence"] == pytest.approx(0.5)
    assert m["log_loss"] == pytest.approx(-(math.log(0.5) + math.log(0.25)) / 2)
    # A zero probability is clipped, not infinite.
    m = classification_metrics([1], [0], ["x", "y"], [[1.0, 0.0]])
    assert m["log_loss"] == pytest.approx(-math.log(1e-7))


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        ([0, 1], [0], "differ in length"),
        ([0, 5], [0, 1], "outside 0..2"),
        ([0, -1], [0, 1], "outside 0..2"),
        ([], [], "No samples"),
        (["x", "w"], [0, 1], "not in label_names"),
        ([0.5, 1], [0, 1], "integer class ids"),
    ],
)
def test_bad_inputs(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        classification_metrics(y_true, y_pred, ["x", "y", "z"])


def test_logits_are_refused():
    with pytest.raises(ValueError, match="logits"):
        classification_metrics([0], [0], ["x", "y"], [[2.0, -1.0]])


def test_json_round_trip(tmp_path):
    probs = np.full((len(Y_TRUE), len(LABELS)), 0.2)
    m = classification_metrics(np.array(Y_TRUE), np.array(Y_PRED), LABELS,
                               probabilities=probs)
    path = tmp_path / "run" / "metrics.json"
    assert write_metrics(path, m) == str(path)
    assert json.loads(path.read_text()) == m
    assert read_metrics(path) == m
    assert os.listdir(path.parent) == ["metrics.json"]
    # Overwriting leaves one file and no temporary files.
    m2 = classification_metrics([0], [0], LABELS)
    write_metrics(path, m2)
    assert read_metrics(path) == m2
    assert os.listdir(path.parent) == ["metrics.json"]


def test_write_refuses_nan_and_keeps_old_file(tmp_path):
    path = tmp_path / "metrics.json"
    write_metrics(path, {"accuracy": 0.5})
    with pytest.raises(ValueError):
        write_metrics(path, {"accuracy": float("nan")})
    assert read_metrics(path) == {"accuracy": 0.5}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def fail_midway(f):
        f.write("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail_midway)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_read_metrics_errors(tmp_path):
    with pytest.raises(KserError, match="No metrics file"):
        read_metrics(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(KserError, match="Cannot read"):
        read_metrics(bad)
    other = tmp_path / "other.json"
    other.write_text("[1, 2]")
    with pytest.raises(KserError, match="not a kser metrics file"):
        read_metrics(other)


def test_report_package_does_not_import_keras():
    code = (
        "import sys, kser.report; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch', "
        "'matplotlib', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"
