"""The run folder of one `kser train`/`kser cv` invocation: lock and record.

`run_folder` holds the folder's lock (`kser.report.lock.RunLock`) for the
run's life, and `RunFolder.record` adds the invocation to `run_config.json`
(`kser.report.runs.write_run_config`). A run that fails before it finished
a fold leaves the folder as it found it: `run_config.json` restored (or
removed), and the folder itself removed if the run created it and nothing
else was written there.
"""

import contextlib
import os

from kser.report.lock import RunLock
from kser.report.runs import restore_run_config
from kser.report.runs import write_run_config


class RunFolder:
    """A locked run folder (see `run_folder`).

    Args:
        path: str. The run folder.
    """

    def __init__(self, path):
        self.path = path

    @contextlib.contextmanager
    def record(self, data, experiment):
        """Add an invocation to `run_config.json` while it runs.

        Args:
            data: dict. The invocation (see `write_run_config`).
            experiment: `Experiment`. Its `trained` list tells whether the
                run finished any fold; if it fails before one, the previous
                `run_config.json` is put back.
        """
        previous = write_run_config(self.path, data)
        try:
            yield
        except BaseException:
            if not experiment.trained:
                restore_run_config(self.path, previous)
            raise


@contextlib.contextmanager
def run_folder(out_dir):
    """Create (if needed) and lock a run folder for one run.

    Args:
        out_dir: str. The run folder.

    Yields:
        `RunFolder`.

    Raises:
        KserError: another live run holds the folder (nothing is written).
    """
    out_dir = os.fspath(out_dir)
    created = not os.path.isdir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    lock = RunLock(out_dir)
    try:
        lock.acquire()
    except BaseException:
        if created:
            _remove_if_empty(out_dir)
        raise
    failed = False
    try:
        yield RunFolder(out_dir)
    except BaseException:
        failed = True
        raise
    finally:
        lock.release()
        if failed and created:
            _remove_if_empty(out_dir)


def _remove_if_empty(folder):
    try:
        os.rmdir(folder)
    except OSError:
        pass  # something was written there: kept


def run_header(invocation):
    """The line a run starts with: backend, device, dtype, preset, corpus.

    Args:
        invocation: dict. What `run_training` records for this invocation
            (`configs`, `corpus`, `environment`).
    """
    environment = invocation["environment"]
    config = invocation["configs"][0]
    variants = ", ".join(c["variant"] for c in invocation["configs"])
    return (
        f"kser: backend {environment['backend']} on {environment['device']}, "
        f"backbone {config['preset']} ({config['dtype']}), corpus "
        f"{invocation['corpus']}, protocol {config['protocol']}, variants {variants}"
    )
