"""Build a read-only test input once per test run, not once per worker.

Under `pytest -n 2 --dist worksteal` the tests of one module can land on
both workers, and each worker would build the module's fixtures again: the
same corpus written twice, the same preset converted twice, the same
cross-validation trained twice. `shared_folder` builds such an input once,
in the run's base folder that all workers share, under a file lock; the
other workers wait for it and reuse it. Without xdist it is a plain
folder of this session.

Only for inputs the tests read and never change: a test that changes one
copies it first.

An input that no Keras backend touches (a synthetic corpus: numpy and
soundfile only) can also be shared by the runs of one `.ci/run`, which
runs the suite once per backend: with `across_backends=True` and
`KSER_TEST_SHARED_DIR` set (`.ci/run` sets it to a fresh folder and removes
it at the end), it is built in that folder by the first run that needs it.
"""

import os
import pathlib
import shutil

try:
    import fcntl
except ImportError:  # no file locks: each worker builds its own
    fcntl = None


def shared_folder(tmp_path_factory, name, build, across_backends=False):
    """The folder `name`, built once per test run by `build(path)`.

    Args:
        tmp_path_factory: pytest's `tmp_path_factory` fixture.
        name: str. Names the input; the same name must mean the same
            content for every caller.
        build: callable. Writes the input into the (new, empty) folder it
            is given.
        across_backends: bool. The input does not depend on the Keras
            backend: share it through `KSER_TEST_SHARED_DIR` when set.

    Returns:
        pathlib.Path. The finished folder.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER") and fcntl is not None:
        base = base.parent  # shared by the workers of this run
    root = base / "shared"
    if across_backends and os.environ.get("KSER_TEST_SHARED_DIR") and fcntl:
        root = pathlib.Path(os.environ["KSER_TEST_SHARED_DIR"])
    root.mkdir(exist_ok=True)
    done = root / name
    with open(root / f"{name}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.is_dir():
                partial = root / f"{name}.partial"
                shutil.rmtree(partial, ignore_errors=True)
                partial.mkdir()
                build(partial)
                partial.rename(done)
        finally:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return done


# Tests whose backbone runs on every batch train on every fourth clip of a
# synthetic RAVDESS: 15 of each actor's 60, every emotion.
THIN_EVERY = 4


def thinned(index):
    """Every fourth clip of `index`, as a new `CorpusIndex`."""
    from kser.data.corpora.base import CorpusIndex

    kept = [clip for i, clip in enumerate(index) if i % THIN_EVERY == 0]
    return CorpusIndex(kept, index.label_names, root=index.root, corpus=index.corpus)


def thin_on_disk(index):
    """Delete all but every fourth clip of `index` from disk (for tests that
    hand a folder, not an index, to the code under test)."""
    for i, clip in enumerate(index):
        if i % THIN_EVERY:
            os.remove(clip.path)
