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


# Scheduling only: under `-n 2 --dist worksteal` a worker that runs out of
# tests takes pending ones from the other, but never the one it is running,
# so a long test near the end of the run leaves the other worker idle. The
# run collects in path order, which puts tests/train, the slowest folder,
# last. These modules (the slowest, by measured test time on jax plus
# tensorflow, 2-core CPU) go first, slowest first; every other module keeps
# its place after them, and tests keep their order inside a module. Every
# worker sorts the same way, as xdist requires.
SLOWEST_MODULES = (
    "tests/train/test_experiment.py",
    "tests/recipes/test_recipes.py",
    "tests/test_families_downstream.py",
    "tests/models/test_emotion_classifier.py",
    "tests/train/test_cross_corpus.py",
    "tests/models/test_wavlm.py",
    "tests/test_export_formats.py",
    "tests/test_export.py",
    "tests/train/test_run_records.py",
    "tests/models/test_data2vec_audio.py",
    "tests/test_predict.py",
    "tests/models/test_hubert_live.py",
    "tests/test_readme.py",
    "tests/models/test_wav2vec2.py",
    "tests/models/test_hubert_backbone.py",
    "tests/train/test_distribute.py",
    "tests/train/test_worker_lifetime.py",
    "tests/test_cli_quiet.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: i for i, path in enumerate(SLOWEST_MODULES)}
    last = len(SLOWEST_MODULES)
    root = str(config.rootpath)

    def key(item):
        path = os.path.relpath(str(item.path), root).replace(os.sep, "/")
        return rank.get(path, last)

    items.sort(key=key)  # stable: the rest keep their collected order
