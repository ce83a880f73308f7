"""Run records name package versions without importing the packages."""

import json
import subprocess
import sys
from importlib import metadata

from kser.versions import module_version


def _installed(distribution):
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def test_versions_come_from_metadata_without_importing():
    # A fresh interpreter, in which nothing has imported these packages.
    code = (
        "import json, sys\n"
        "from kser.versions import module_version\n"
        "found = {m: module_version(m) for m in ('torch', 'sklearn', 'keras_hub')}\n"
        "print(json.dumps(found))\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'keras_hub') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    found = json.loads(out[0])
    assert out[1] == "[]"
    assert found["torch"] == _installed("torch")
    assert found["sklearn"] == _installed("scikit-learn")  # another name
    assert found["keras_hub"] == metadata.version("keras-hub")


def test_loaded_module_reports_its_own_version_and_missing_is_none():
    import numpy

    assert module_version("numpy") == numpy.__version__
    assert module_version("kser_no_such_package") is None
