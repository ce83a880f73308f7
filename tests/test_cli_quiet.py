"""The installed `kser` command: user mistakes are exactly one line."""

import os
import shutil
import subprocess
import sys

import pytest

KSER = shutil.which("kser") or os.path.join(os.path.dirname(sys.executable), "kser")


@pytest.mark.skipif(not os.path.exists(KSER), reason="kser console script not installed")
def test_error_after_keras_import_is_one_line(tmp_path):
    """TensorFlow's import-time log lines must not bury the error."""
    result = subprocess.run(
        [KSER, "train", "--data", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("kser: error:"), result.stderr
    assert "missing" in lines[0]
