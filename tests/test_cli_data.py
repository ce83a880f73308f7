"""`kser synth --corpus`, `kser describe` and `kser train --corpus` on a
non-RAVDESS corpus, from the command line."""

import json

import pytest
from click.testing import CliRunner

from kser.cli import main
from kser.data.corpora import corpus_names


@pytest.mark.parametrize("name", [n for n in corpus_names() if n != "ravdess"])
def test_synth_and_describe_every_layout(name, tmp_path):
    out = tmp_path / name
    runner = CliRunner()
    result = runner.invoke(
        main, ["synth", "--corpus", name, str(out), "--seconds", "0.2"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main, ["describe", "--corpus", name, "--data", str(out), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["corpus"] == name and info["clips"] > 0 and info["speakers"] >= 2
    assert sum(info["per_label"].values()) == info["clips"]
    assert sum(sum(v.values()) for v in info["per_speaker"].values()) == info["clips"]
    table = runner.invoke(main, ["describe", "--corpus", name, "--data", str(out)])
    assert table.exit_code == 0 and table.output.splitlines()[-1].startswith("total")


def test_describe_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(
        main, ["describe", "--corpus", "emodb", "--data", str(tmp_path / "none")]
    )
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("kser: error:")
    # A file that does not follow EmoDB's naming: named, not mislabelled.
    root = tmp_path / "emodb"
    CliRunner().invoke(main, ["synth", "--corpus", "emodb", str(root), "--seconds", "0.2"])
    (root / "wav" / "notes.wav").write_bytes((root / "wav").iterdir().__next__().read_bytes())
    result = CliRunner().invoke(main, ["describe", "--corpus", "emodb", "--data", str(root)])
    assert result.exit_code != 0 and "notes.wav" in result.output
    result = CliRunner().invoke(
        main, ["describe", "--corpus", "emodb", "--data", str(root), "--skip-invalid"]
    )
    assert result.exit_code == 0 and "1 file skipped" in result.output


def test_train_on_emodb_end_to_end(tmp_path):
    from kser.convert import convert_checkpoint
    from tests.models.helpers import fixture_dir

    root = tmp_path / "emodb"
    assert CliRunner().invoke(
        main, ["synth", "--corpus", "emodb", str(root), "--seconds", "0.3"]
    ).exit_code == 0
    preset = str(tmp_path / "preset")
    convert_checkpoint(fixture_dir("hubert_tiny_base"), preset)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        ["train", "--corpus", "emodb", "--data", str(root), "--preset", preset,
         "--variant", "dense", "--fold", "1", "--epochs", "1",
         "--batch-size", "8", "--max-seconds", "1", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "dense" / "fold_01" / "result.json").read_text())
    assert saved["protocol"] == "loso" and saved["config"]["corpus"] == "emodb"
    assert set(saved["test_actors"]).isdisjoint(saved["train_actors"])
    metrics = json.loads((out / "dense" / "fold_01" / "metrics.json").read_text())
    assert "boredom" in metrics["label_names"]
