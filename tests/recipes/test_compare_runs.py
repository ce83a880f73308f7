"""`recipes/benchmarks/compare_runs.py`: two run folders, fold by fold."""

import importlib.util
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _module():
    path = os.path.join(ROOT, "recipes", "benchmarks", "compare_runs.py")
    spec = importlib.util.spec_from_file_location("compare_runs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fold(run, variant, fold, accuracy, epoch, predicted):
    folder = run / variant / f"fold_{fold:02d}"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(
        {"fold": fold, "variant": variant, "accuracy": accuracy,
         "best_epoch": epoch}))
    rows = ["file,speaker,label,predicted"]
    rows += [f"{name},1,sad,{label}" for name, label in predicted.items()]
    (folder / "predictions.csv").write_text("\n".join(rows) + "\n")


def test_compares_the_folds_both_runs_finished(tmp_path, capsys):
    compare_runs = _module()
    a, b = tmp_path / "a", tmp_path / "b"
    _fold(a, "lstm", 1, 0.5, 3, {"x.wav": "sad", "y.wav": "calm"})
    _fold(b, "lstm", 1, 0.25, 4, {"x.wav": "sad", "y.wav": "angry"})
    _fold(a, "dense", 2, 0.4, 2, {"x.wav": "sad"})  # only in run a
    (b / "lstm" / "fold_02").mkdir()  # unfinished: no result.json
    rows = compare_runs.compare(str(a), str(b))
    assert rows == [("lstm", 1, 2, 0.5, 0.25, 3, 4, 0.5)]
    assert compare_runs.main([str(a), str(b), "--names", "f32,f16"]) == 0
    table = capsys.readouterr().out
    assert "accuracy f32" in table and "| lstm | 1 | 2 | 0.500 | 0.250 | -0.250 | 3 / 4 | 50.0% |" in table


def test_missing_folder_or_nothing_shared_is_one_line(tmp_path, capsys):
    compare_runs = _module()
    assert compare_runs.main([str(tmp_path / "none"), str(tmp_path)]) == 2
    assert "no such run folder" in capsys.readouterr().err
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "share no finished fold" in capsys.readouterr().err
