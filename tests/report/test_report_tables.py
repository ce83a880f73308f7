"""Tests for kser.report.tables: Table I summaries and history tables."""

import csv
import io
import json
import os

import numpy as np
import pytest

from kser.report import cv_summary
from kser.report import format_actors
from kser.report import format_cv_summary_markdown
from kser.report import format_history_markdown
from kser.report import write_cv_summary
from kser.report import write_history_markdown


def paper_like_records(values_by_variant):
    """Fold k: validation 2k-1, 2k; test the next pair; train the rest."""
    records = []
    for k in range(1, 13):
        val = [2 * k - 1, 2 * k]
        test = [(2 * k) % 24 + 1, (2 * k) % 24 + 2]
        train = [a for a in range(1, 25) if a not in val + test]
        records.append({
            "fold": k,
            "train_actors": train,
            "val_actors": val,
            "test_actors": test,
            "results": {
                v: vals[k - 1] for v, vals in values_by_variant.items()
            },
        })
    return records


@pytest.mark.parametrize(
    "actors, text",
    [
        (range(3, 25), "03-24"),
        ([1] + list(range(4, 25)), "01, 04-24"),
        ([2, 1], "01, 02"),
        ([7], "07"),
        ([1, 2, 3, 5, 6, 9, 10, 11, 12], "01-03, 05, 06, 09-12"),
        ([], "—"),
    ],
)
def test_format_actors(actors, text):
    assert format_actors(actors) == text


def test_table_one_shape_and_known_mean_std():
    rng = np.random.default_rng(0)
    dense = list(rng.uniform(0.5, 0.9, 12))
    lstm = [0.6, 0.7, 0.8] * 4  # mean 0.7, sample std sqrt(0.08/11)
    summary = cv_summary(paper_like_records({
        "dense": dense,
        # metrics dicts are accepted as well as numbers
        "lstm": [{"accuracy": v, "macro_f1": 0.0} for v in lstm],
    }))
    assert summary["variants"] == ["dense", "lstm"]
    assert summary["num_folds"] == 12
    assert [r["fold"] for r in summary["rows"]] == list(range(1, 13))
    assert summary["std_ddof"] == 1
    assert summary["mean"]["lstm"] == pytest.approx(0.7)
    assert summary["std"]["lstm"] == pytest.approx(np.sqrt(0.08 / 11))
    assert summary["mean"]["dense"] == pytest.approx(np.mean(dense))
    assert summary["std"]["dense"] == pytest.approx(np.std(dense, ddof=1))
    assert summary["count"] == {"dense": 12, "lstm": 12}
    assert summary["best"]["lstm"] == {"fold": 3, "value": 0.8}
    assert summary["best"]["dense"]["fold"] == int(np.argmax(dense)) + 1

    text = format_cv_summary_markdown(summary)
    lines = text.splitlines()
    assert lines[0] == ("| Fold | Training actors | Validation actors | "
                        "Test actors | dense | lstm |")
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + 12 + 2  # header, rule, 12 folds, mean, std
    assert table[2] == "| 1 | 05-24 | 01, 02 | 03, 04 | " \
        f"{dense[0]:.3f} | 0.600 |"
    assert table[13].startswith("| 12 | 03-22 | 23, 24 | 01, 02 |")
    assert table[14] == f"| **Mean** |  |  |  | {np.mean(dense):.3f} | 0.700 |"
    assert table[15].startswith("| **Std** |")
    assert "sample standard deviation (ddof=1" in text
    assert "Partial" not in text


def test_two_values_sample_std():
    records = [{"fold": 1, "results": {"x": 0.6}},
               {"fold": 2, "results": {"x": 0.8}}]
    s = cv_summary(records)
    assert s["std"]["x"] == pytest.approx(np.sqrt(0.02))  # not 0.1 (ddof=0)
    assert cv_summary(records[:1])["std"]["x"] is None  # undefined for n=1


def test_partial_cross_validation(tmp_path):
    records = [
        {"fold": 1, "train_actors": [5, 6], "val_actors": [1, 2],
         "test_actors": [3, 4], "results": {"dense": 0.6}},
        # another record for fold 1 (one per variant) is merged
        {"fold": 1, "train_actors": [5, 6], "results": {"lstm": 0.9}},
        {"fold": 2, "results": {"dense": 0.8, "lstm": None}},
        {"fold": 3, "results": {"dense": {"accuracy": float("nan")}}},
    ]
    s = cv_summary(records, variants=["dense", "lstm"], folds=[1, 2, 3, 4])
    assert [r["fold"] for r in s["rows"]] == [1, 2, 3, 4]
    assert s["rows"][0]["values"] == {"dense": 0.6, "lstm": 0.9}
    assert s["rows"][3] == {"fold": 4, "train_actors": [], "val_actors": [],
                            "test_actors": [],
                            "values": {"dense": None, "lstm": None}}
    assert s["count"] == {"dense": 2, "lstm": 1}
    assert s["mean"]["dense"] == pytest.approx(0.7)
    assert s["mean"]["lstm"] == pytest.approx(0.9)
    assert s["std"]["lstm"] is None

    paths = write_cv_summary(tmp_path / "cv", s)
    assert sorted(os.listdir(tmp_path / "cv")) == [
        "cv_summary.csv", "cv_summary.json", "cv_summary.md"]
    md = open(paths["markdown"]).read()
    assert "| 4 | — | — | — | — | — |" in md
    assert "| **Mean** |  |  |  | 0.700 (2/4) | 0.900 (1/4) |" in md
    assert "| **Std** |  |  |  | 0.141 | — |" in md
    assert "dense has 2 of 4 folds; lstm has 1 of 4 folds" in md

    rows = list(csv.reader(io.StringIO(open(paths["csv"]).read())))
    assert rows[0] == ["fold", "train_actors", "val_actors", "test_actors",
                       "dense", "lstm"]
    assert rows[1] == ["1", "05, 06", "01, 02", "03, 04", "0.6", "0.9"]
    assert rows[2] == ["2", "", "", "", "0.8", ""]
    assert rows[4] == ["4", "", "", "", "", ""]
    assert [r[0] for r in rows[5:]] == ["mean", "std", "count"]
    assert float(rows[5][4]) == pytest.approx(0.7)
    assert rows[6][5] == ""
    assert rows[7][4:] == ["2", "1"]

    assert json.load(open(paths["json"])) == s


def test_cv_summary_conflicts_and_metric_choice():
    with pytest.raises(ValueError, match="disagree on test_actors"):
        cv_summary([{"fold": 1, "test_actors": [1, 2]},
                    {"fold": 1, "test_actors": [3, 4]}])
    with pytest.raises(ValueError, match="two different results"):
        cv_summary([{"fold": 1, "results": {"x": 0.5}},
                    {"fold": 1, "results": {"x": 0.6}}])
    with pytest.raises(ValueError, match="not in folds"):
        cv_summary([{"fold": 5, "results": {}}], folds=[1, 2])
    s = cv_summary([{"fold": 1, "results": {"x": {"accuracy": 0.5,
                                                   "macro_f1": 0.4}}}],
                   metric="macro_f1")
    assert s["mean"]["x"] == 0.4
    assert "test macro F1 per fold" in format_cv_summary_markdown(s)


def test_write_cv_summary_from_records(tmp_path):
    records = paper_like_records({"dense": list(np.full(12, 0.7))})
    records[0]["fold"] = np.int64(1)
    paths = write_cv_summary(tmp_path, records, basename="table1")
    assert sorted(os.listdir(tmp_path)) == ["table1.csv", "table1.json",
                                            "table1.md"]
    assert json.load(open(paths["json"]))["mean"]["dense"] == pytest.approx(0.7)


HISTORY = {
    "epoch": [1, 2, 3],
    "accuracy": [0.216, 0.421, 0.553],
    "val_accuracy": [0.324, 0.508, 0.47],
    "loss": [1.975, 1.546, 1.208],
    "val_loss": [1.627, 1.259, 1.3],
}


def test_history_markdown_like_table_two():
    text = format_history_markdown(HISTORY, test_accuracy=0.891,
                                   test_loss=0.459)
    lines = text.splitlines()
    assert lines[0] == ("| Epoch | Train accuracy | Validation accuracy | "
                        "Train loss | Validation loss | Test accuracy | "
                        "Test loss |")
    assert lines[2] == "| 1 | 0.216 | 0.324 | 1.975 | 1.627 |  |  |"
    # epoch 2 is the best on validation accuracy: its weights were tested
    assert lines[3] == (
        "| **2** | 0.421 | 0.508 | 1.546 | 1.259 | 0.891 | 0.459 |"
    )
    assert lines[4] == "| 3 | 0.553 | 0.470 | 1.208 | 1.300 |  |  |"
    assert "epoch 2" in lines[-1]


def test_history_markdown_without_validation_or_test(tmp_path):
    h = {"accuracy": [0.5, 0.6], "loss": [1.0, 0.9]}
    text = format_history_markdown(h, test_accuracy=0.55)
    lines = text.splitlines()
    assert lines[2] == "| 1 | 0.500 | — | 1.000 | — |  |  |"
    assert lines[3] == "| 2 | 0.600 | — | 0.900 | — | 0.550 | — |"
    text = format_history_markdown(h, digits=2)
    assert "Test" not in text
    assert text.splitlines()[0].count("|") == 6
    assert "| 2 | 0.60 | — | 0.90 | — |" in text
    path = write_history_markdown(tmp_path / "history.md", HISTORY,
                                  title="Hubert-LSTM, fold 3")
    assert open(path).read().startswith("## Hubert-LSTM, fold 3\n")
    assert os.listdir(tmp_path) == ["history.md"]


def test_summary_says_when_folds_are_not_speaker_independent(tmp_path):
    import json as _json

    from kser.report import write_summary

    for fold, leaky in ((1, False), (2, True)):
        d = tmp_path / "dense" / f"fold_{fold:02d}"
        d.mkdir(parents=True)
        result = {"fold": fold, "variant": "dense", "accuracy": 0.5,
                  "train_actors": [1, 2], "val_actors": [], "test_actors": [1, 2]}
        if leaky:
            result["speaker_independent"] = False
        (d / "result.json").write_text(_json.dumps(result))
    summary = write_summary(str(tmp_path), ["dense"], [1, 2])
    assert summary["not_speaker_independent"] == [2]
    text = (tmp_path / "cv_summary.md").read_text()
    assert "**Not speaker-independent**: fold(s) 2" in text
    assert _json.loads((tmp_path / "cv_summary.json").read_text())[
        "not_speaker_independent"] == [2]
