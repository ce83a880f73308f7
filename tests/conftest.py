"""Settings for the whole test run.

On JAX every new Keras model compiles its programs again, even when an
identical model compiled the same program a test earlier, and every worker
or subprocess a test starts compiles from nothing. A persistent compilation
cache shared by the run (the pytest process, its xdist workers and the
subprocesses the tests start, through the environment) turns those repeats
into disk reads. The cache lives in a fresh folder per run and is removed at
the end, so a run never reuses programs from an earlier one. A cache the
user set up (`JAX_COMPILATION_CACHE_DIR`) is left alone. JAX reads these
variables when it is imported, which no test module does before this hook.
"""

import os
import shutil
import tempfile

_OWN_CACHE = None


def pytest_configure(config):
    global _OWN_CACHE
    if hasattr(config, "workerinput") or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return  # xdist workers inherit the controller's environment
    _OWN_CACHE = tempfile.mkdtemp(prefix="kser-test-xla-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"


def pytest_unconfigure(config):
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
