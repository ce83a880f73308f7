"""Every option an error message (or any other text of kser) names exists,
on the commands that can print it."""

import ast
import pathlib
import re

from click.testing import CliRunner

from kser.cli import main
from kser.data.synthetic import write_corpus

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "kser"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# Flags of other programs that kser passes on (git rev-parse --short).
NOT_KSER = {"--short"}
# Commands that index corpora, and so can print kser.data.corpora's messages.
CORPUS_COMMANDS = ("train", "cv", "describe")


def _options(command):
    names = {"--help"}
    for param in command.params:
        names.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    return names


def _named_flags():
    """flag -> set of source files whose string literals name it."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for flag in FLAG.findall(node.value):
                    found.setdefault(flag, set()).add(path.relative_to(PACKAGE))
    return found


def test_every_named_option_exists():
    every = set().union(*(_options(c) for c in main.commands.values()))
    missing = {
        flag: sorted(map(str, files))
        for flag, files in _named_flags().items()
        if flag not in every and flag not in NOT_KSER
    }
    assert not missing, f"options named in kser's texts that no command has: {missing}"


def test_options_named_by_corpus_messages_exist_where_they_are_printed():
    data_flags = {
        flag for flag, files in _named_flags().items()
        if any(f.parts[:2] == ("data", "corpora") for f in files)
    }
    assert "--skip-invalid" in data_flags  # the check sees the corpus messages
    for name in CORPUS_COMMANDS:
        absent = data_flags - _options(main.commands[name]) - NOT_KSER
        # --corpus, --data and the like are named by data messages too.
        assert not absent, f"kser {name} lacks {sorted(absent)} that corpus errors name"


def test_train_skip_invalid_is_the_option_its_error_names(tmp_path):
    root = tmp_path / "ravdess"
    write_corpus(root, actors=6, clip_seconds=0.2, seed=0)
    stray = root / "Actor_01" / "notes.wav"
    stray.write_bytes(next((root / "Actor_01").iterdir()).read_bytes())
    out = tmp_path / "run"
    args = ["train", "--data", str(root), "--fold", "1", "--preset", "no_such_preset",
            "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "notes.wav" in result.output
    assert "--skip-invalid" in result.output
    # With the option the stray file is skipped: indexing passes and the run
    # stops only at the next check (the unknown preset), before writing.
    result = CliRunner().invoke(main, [*args, "--skip-invalid"])
    assert result.exit_code == 2, result.output
    assert "notes.wav" not in result.output and "unknown preset" in result.output
    assert not out.exists()
