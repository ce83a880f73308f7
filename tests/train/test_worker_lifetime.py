"""Parallel fold workers never outlive their parent; folds cut short rerun.

Real `kser cv --jobs 2` runs in subprocesses (a tiny converted preset, a
36-clip synthetic corpus): killed with SIGKILL, the parent takes its
workers along; stopped with SIGTERM or SIGINT, it kills them and exits
non-zero. The runs are stopped as soon as both workers exist and have
armed their guard (a second thread: the parent watchdog), long before any
fold trains, and the three start together to share the wait. A fold folder
left half-written by a killed worker is not finished and is trained again.
"""

import glob
import os
import signal
import subprocess
import sys
import time

import keras
import pytest

from kser.data.folds import get_fold
from kser.data.synthetic import write_corpus
from kser.models import build_backbone
from kser.report.runs import read_result
from kser.train.config import TrainConfig
from kser.train.experiment import Experiment
from tests.models.helpers import TINY_BACKBONE
from tests.models.helpers import fixture_dir

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self"), reason="finds processes through /proc"
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BACKEND = keras.backend.backend()
CLIPS_PER_ACTOR = 6
# Generous: three runs import Keras at once on a shared 2-core machine.
START_TIMEOUT = 240
GONE_TIMEOUT = 5
# More epochs than any test waits for: a run is still training when it is
# stopped, however long the other runs took to start.
EPOCHS = "100000"
# The run starts with SIGINT's usual handler, as from a terminal. A process
# started in the background by a non-interactive shell (`cmd &`) inherits
# SIGINT ignored, and so would every process under it; kser rightly keeps
# an ignored signal ignored, so the SIGINT check would wait in vain.
CHILD = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from kser.cli import main; main()"
)


def _stat(pid):
    """(state, ppid) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return fields[0], int(fields[1])


def _alive(pid):
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")  # zombies are dead


def _children(pid):
    found = []
    for path in glob.glob("/proc/[0-9]*"):
        child = int(os.path.basename(path))
        stat = _stat(child)
        if stat is not None and stat[1] == pid and _alive(child):
            found.append(child)
    return found


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _threads(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _wait_until(condition, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _small_corpus(root):
    """Six actors (paper fold 1), six clips each: little to extract."""
    write_corpus(root, actors=6, clip_seconds=0.3, seed=1)
    for actor in sorted(glob.glob(os.path.join(root, "Actor_*"))):
        for name in sorted(os.listdir(actor))[CLIPS_PER_ACTOR:]:
            os.remove(os.path.join(actor, name))
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from tests.shared import shared_folder

    def build(folder):
        _small_corpus(str(folder / "ravdess"))

    return str(shared_folder(tmp_path_factory, "lifetime", build, across_backends=True) / "ravdess")


class Run:
    """A `kser cv --jobs 2` in a subprocess, its log and its workers."""

    def __init__(self, root, name, corpus, preset):
        self.out = os.path.join(root, name)
        self.log = os.path.join(root, f"{name}.log")
        env = dict(os.environ, KERAS_BACKEND=BACKEND, PYTHONPATH=ROOT)
        command = [
            sys.executable, "-c", CHILD,
            "cv", "--data", corpus, "--preset", preset,
            "--variants", "dense,lstm", "--folds", "1", "--epochs", EPOCHS,
            "--batch-size", "4", "--max-seconds", "1", "--out", self.out,
            "--jobs", "2",
        ]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                env=env, start_new_session=True,
            )
        self.workers = []

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()[-3000:]

    def started_workers(self):
        """The pids of both workers once each has armed its guard."""

        def ready():
            children = _children(self.process.pid)
            workers = [c for c in children if "spawn_main" in _cmdline(c)]
            self.workers = workers
            self.children = children
            return (
                self.process.poll() is not None
                or (len(workers) == 2 and all(_threads(w) >= 2 for w in workers))
            )

        assert _wait_until(ready, START_TIMEOUT, interval=0.1), (
            f"no 2 started workers after {START_TIMEOUT} s:\n{self.output()}"
        )
        assert self.process.poll() is None, f"run ended early:\n{self.output()}"
        return list(self.workers)

    def close(self):
        for pid in [self.process.pid, *self.workers]:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, corpus):
    from kser.convert import convert_checkpoint

    root = str(tmp_path_factory.mktemp("runs"))
    preset = os.path.join(root, "preset")
    convert_checkpoint(fixture_dir("hubert_tiny_base"), preset)
    started = {name: Run(root, name, corpus, preset) for name in ("KILL", "TERM", "INT")}
    yield started
    for run in started.values():
        run.close()


def _no_finished_fold(out):
    folds = glob.glob(os.path.join(out, "*", "fold_*"))
    return all(read_result(fold) is None for fold in folds)


def _kill_and_check(run):
    workers = run.started_workers()
    others = [c for c in run.children if c not in workers]  # resource tracker
    os.kill(run.process.pid, signal.SIGKILL)
    assert run.process.wait(timeout=30) == -signal.SIGKILL
    assert _wait_until(lambda: not any(map(_alive, workers)), GONE_TIMEOUT), (
        f"workers {[w for w in workers if _alive(w)]} outlived their parent"
    )
    assert _wait_until(lambda: not any(map(_alive, others)), 10)
    assert _no_finished_fold(run.out)


def _stop_and_check(run, name, signum, status, last_line):
    workers = run.started_workers()
    os.kill(run.process.pid, signum)
    try:
        code = run.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the parent did not exit after {name}:\n{run.output()}")
    assert code == status, f"{name}:\n{run.output()}"
    assert _wait_until(lambda: not any(map(_alive, workers)), GONE_TIMEOUT), (
        f"{name}: workers {[w for w in workers if _alive(w)]} outlived their "
        "parent"
    )
    output = run.output()
    assert "workers stopped; finished folds are kept" in output, output
    assert last_line in output, output
    assert "Traceback" not in output, output
    assert _no_finished_fold(run.out)


def test_workers_never_outlive_their_parent(runs):
    # One test for the three runs: under xdist, tests that shared the
    # module's `runs` fixture could land on two workers, and each would
    # start all three runs.
    # SIGKILL: the parent cannot act; its workers go by themselves.
    _kill_and_check(runs["KILL"])
    # SIGTERM's default action ends the process by it (128 + 15 in a
    # shell); SIGINT becomes the CLI's "interrupted", status 130. Either
    # way the parent kills its workers and fails.
    _stop_and_check(runs["TERM"], "TERM", signal.SIGTERM, -signal.SIGTERM,
                    "SIGTERM: workers stopped")
    _stop_and_check(runs["INT"], "INT", signal.SIGINT, 130, "kser: interrupted")


def test_watchdog_alone_ends_an_orphaned_worker():
    # The portable guard without Linux's PR_SET_PDEATHSIG: a pool worker
    # whose parent is SIGKILLed leaves through its watchdog thread.
    driver = (
        "import concurrent.futures, functools, multiprocessing, os, time\n"
        "from kser.train.workers import die_with_parent\n"
        "pool = concurrent.futures.ProcessPoolExecutor(1, "
        "mp_context=multiprocessing.get_context('spawn'), "
        "initializer=functools.partial(die_with_parent, prctl=False, "
        "interval=0.2), initargs=(os.getpid(),))\n"
        "print(pool.submit(os.getpid).result(), flush=True)\n"
        "pool.submit(time.sleep, 120)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", driver], stdout=subprocess.PIPE, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT), start_new_session=True,
    )
    try:
        worker = int(parent.stdout.readline())
        assert _alive(worker) and _threads(worker) >= 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        assert _wait_until(lambda: not _alive(worker), GONE_TIMEOUT)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


def test_a_fold_cut_short_is_trained_again(corpus, tmp_path, capsys):
    from kser.data.ravdess import index_ravdess

    keras.utils.set_random_seed(0)
    backbone = build_backbone("hubert", **TINY_BACKBONE, padding_invariant=True)
    index = index_ravdess(corpus)
    experiment = Experiment(index, backbone, str(tmp_path), progress=True)
    config = TrainConfig(variant="dense", epochs=2, batch_size=4,
                         max_seconds=1.0, preset="tiny")
    fold = get_fold("paper", 1)
    # What a worker killed while writing its fold leaves: some files, a
    # temporary one cut short, no result.json.
    fold_dir = experiment.fold_dir(config, fold)
    os.makedirs(fold_dir)
    with open(os.path.join(fold_dir, "history.csv"), "w") as f:
        f.write("epoch,accuracy,loss\n1,0.5,")
    with open(os.path.join(fold_dir, ".result.json.x1y2.tmp"), "w") as f:
        f.write('{"fold": 1, "variant": "dense", "accur')
    assert experiment.finished(config, fold) is None
    summary = experiment.run_cv([config], folds=[1])
    assert [row["fold"] for row in summary["rows"]] == [1]
    result = read_result(fold_dir)
    assert result["fold"] == 1 and result["variant"] == "dense"
    with open(os.path.join(fold_dir, "history.csv")) as f:
        header, row = f.read().splitlines()[:2]
    assert len(row.split(",")) == len(header.split(",")) > 3  # written again
    assert all(row.split(","))
    assert experiment.finished(config, fold) is not None
    # With progress, the fold's Keras epoch lines follow a line naming it.
    lines = capsys.readouterr().out.splitlines()
    header = f"dense fold 1: training ({len(fold.split(index)[0])} clips)"
    assert header in lines, lines
    assert lines.index(header) < lines.index("Epoch 1/2")
