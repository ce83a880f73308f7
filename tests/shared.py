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
"""

import os
import shutil

try:
    import fcntl
except ImportError:  # no file locks: each worker builds its own
    fcntl = None


def shared_folder(tmp_path_factory, name, build):
    """The folder `name`, built once per test run by `build(path)`.

    Args:
        tmp_path_factory: pytest's `tmp_path_factory` fixture.
        name: str. Names the input; the same name must mean the same
            content for every caller.
        build: callable. Writes the input into the (new, empty) folder it
            is given.

    Returns:
        pathlib.Path. The finished folder.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER") and fcntl is not None:
        base = base.parent  # shared by the workers of this run
    root = base / "shared"
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
