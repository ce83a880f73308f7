"""The README's "In your own scripts" code runs as written.

The code block under that heading is taken from README.md itself (edit the
README, and this test runs the new code). One documented substitution
makes it run here: the two assignments `DATA = ...` and `PRESET = ...` get
a small synthetic RAVDESS (actors 03-08, 15 clips each: fold 3 validates
on 05-06, tests on 07-08) and a converted tiny random HuBERT. It runs in a subprocess on
the current Keras backend (the suite runs once per backend).
"""

import os
import re
import subprocess
import sys

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(__file__)), "README.md")
HEADING = "## In your own scripts"


def readme_snippet(path=README, heading=HEADING):
    """The Python code blocks of one README section, joined."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.index(heading + "\n") + len(heading) + 1
    end = text.find("\n## ", start)
    section = text[start:] if end < 0 else text[start:end]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, f"no python block under {heading!r} in README.md"
    return "\n".join(blocks)


def substitute(code, **values):
    """`code` with each `NAME = ...` line set to `NAME = repr(value)`."""
    for name, value in values.items():
        pattern = re.compile(rf"^{name} = .*$", re.M)
        assert len(pattern.findall(code)) == 1, f"README snippet: no single {name} = line"
        code = pattern.sub(lambda _: f"{name} = {value!r}", code)
    return code


def test_snippet_is_found_and_substituted():
    code = readme_snippet()
    assert "fold_datasets(" in code and "model.fit(" in code
    new = substitute(code, DATA="/x", PRESET="/y")
    assert "DATA = '/x'" in new and "PRESET = '/y'" in new
    with pytest.raises(AssertionError):
        substitute(code, MISSING="/z")


def test_readme_script_runs(tmp_path):
    import keras

    from kser.convert import convert_checkpoint
    from kser.data.synthetic import write_corpus
    from tests.models.helpers import fixture_dir
    from tests.shared import thin_on_disk

    data = tmp_path / "ravdess"
    thin_on_disk(write_corpus(data, actors="3-8", clip_seconds=0.2, seed=3))
    preset = tmp_path / "preset"
    convert_checkpoint(fixture_dir("hubert_tiny_base"), str(preset))
    script = tmp_path / "script.py"
    script.write_text(
        substitute(readme_snippet(), DATA=str(data), PRESET=str(preset))
    )
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, env.get("PYTHONPATH")) if p
    )
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    found = re.findall(r"^test accuracy: ([0-9.]+)$", run.stdout, re.M)
    assert len(found) == 1 and 0.0 <= float(found[0]) <= 1.0, run.stdout[-2000:]
    assert (tmp_path / "lstm.keras").stat().st_size > 0
