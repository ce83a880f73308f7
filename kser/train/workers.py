"""Parallel fold workers: heads of several folds train at once.

After the parent process has extracted every feature the pending folds
need, worker processes (spawned, one Keras each) train the heads of `jobs`
folds at a time, reading the shared feature cache. Each fold sets its own
seed, so results equal those of one process.

Workers never outlive the run. Each one dies with its parent process (Linux
`PR_SET_PDEATHSIG`, and on every platform a watchdog thread that sees the
parent's end), so killing the parent, even with SIGKILL, ends the workers
too. In the parent, SIGINT, SIGTERM and SIGHUP during the head-training
phase kill the workers at once, then take their usual course (SIGTERM ends
the process by that signal, SIGINT raises `KeyboardInterrupt`). A fold a
worker was training is not finished (its `result.json` is written last,
atomically), so a run started again trains it again and skips the others.
"""

import os
import signal
import sys
import threading

from kser.errors import KserError

_WORKER = {}
# Exit status of a worker that found its parent gone.
PARENT_GONE_EXIT = 70
# The parent signals that stop a parallel run (those present on the system).
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def release_memory():
    """Collect garbage and hand freed heap pages back to the OS (glibc).

    Features pass through memory in many mid-sized arrays; glibc keeps the
    freed pages in its heap, so a process that extracted or trained on a
    fold would keep that fold's size resident while it waits or trains the
    next one.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim


def backend_name():
    import keras

    return keras.backend.backend()


def use_compilation_cache(directory):
    """Share compiled XLA programs between workers, folds and runs (JAX).

    Every fold of a variant compiles the same head train step for the same
    few batch shapes; JAX's persistent cache turns all but the first into
    a disk read (about 1 s saved per shape and fold on a 2-core CPU). Left
    alone where the user configured a cache of their own.
    """
    import jax

    if jax.config.jax_compilation_cache_dir:
        return
    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


# --- workers die with their parent -------------------------------------


def die_with_parent(parent_pid, prctl=True, interval=1.0):
    """End this process as soon as the process `parent_pid` ends.

    Two guards. On Linux (`prctl=True`) the kernel sends SIGKILL when the
    parent dies (`PR_SET_PDEATHSIG`). It fires when the *thread* that
    started this process ends: `ProcessPoolExecutor` (spawn) starts its
    processes from the thread that calls `submit`, which `run_parallel`
    keeps waiting until the pool is done, so in practice it fires when the
    parent process ends. Everywhere, a daemon thread waits on the pipe that
    `multiprocessing` keeps open from the parent (end of file once the
    parent is gone) and checks `os.getppid()` every `interval` seconds,
    then leaves with `os._exit`. A parent already gone before this call
    (the pipe closed, or this process handed to another parent) ends this
    process at once.

    Args:
        parent_pid: int. The pid of the process this one must not outlive.
        prctl: bool. Also ask Linux for SIGKILL on the parent's death.
        interval: float. Seconds between the watchdog's checks.
    """
    if prctl and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl: the watchdog below still applies
    if _parent_gone(parent_pid):
        os._exit(PARENT_GONE_EXIT)
    watchdog = threading.Thread(
        target=_watch_parent,
        args=(parent_pid, interval),
        name="kser-parent-watchdog",
        daemon=True,
    )
    watchdog.start()


def _parent_gone(parent_pid, timeout=0.0):
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is not None:
        # Waits on the parent's pipe: returns at once when it closes.
        parent.join(timeout)
        if not parent.is_alive():
            return True
    elif timeout:
        import time

        time.sleep(timeout)
    return os.getppid() != parent_pid


def _watch_parent(parent_pid, interval):
    while not _parent_gone(parent_pid, interval):
        pass
    os._exit(PARENT_GONE_EXIT)


# --- the parent stops its workers --------------------------------------


def kill_workers(pool, timeout=5.0):
    """SIGKILL every live process of a `ProcessPoolExecutor`; reap them.

    Args:
        pool: `concurrent.futures.ProcessPoolExecutor`.
        timeout: float. Seconds to wait, in all, for them to end.
    """
    import time

    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):
            pass  # already gone or closed
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.join(max(0.0, deadline - time.monotonic()))
        except (OSError, ValueError, AssertionError, AttributeError):
            pass


class _Stopped(BaseException):
    """Raised in the parent by a stop signal (never reaches the caller)."""


class _StopOnSignals:
    """While active (main thread only), a stop signal kills the workers.

    The handler kills the pool's processes and raises `_Stopped` once;
    later signals only kill again, so the clean-up is not interrupted. A
    signal its previous handler ignored stays ignored. `resend` hands the
    signal to the restored previous handler: SIGTERM's default ends the
    process by it (exit status 128 + 15), SIGINT's raises
    `KeyboardInterrupt`.
    """

    def __init__(self, pool):
        self.pool = pool
        self.signum = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may handle signals
        for name in STOP_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN or previous is None:
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame):
        kill_workers(self.pool, timeout=0.0)
        if self.signum is None:
            self.signum = signum
            raise _Stopped(signum)

    def __exit__(self, *exc_info):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        return False

    def resend(self):
        """Deliver the caught signal again, to the previous handler."""
        if self.signum is None:
            return
        signal.raise_signal(self.signum)
        # The previous handler returned: the folds are stopped all the same.
        raise KeyboardInterrupt(f"stopped by {signal.Signals(self.signum).name}")


# --- the parallel run -------------------------------------------------


def run_parallel(experiment, configs, folds, on_fold, save_model, jobs):
    """Train the unfinished `(config, fold)` pairs in `jobs` processes.

    A fold that fails stops the run once the folds already training have
    finished (they are kept). A stop signal or `KeyboardInterrupt` kills
    the workers at once; the folds they were training stay unfinished.
    """
    import concurrent.futures
    import multiprocessing

    for config in configs:
        if config.mode != "cached" or config.distribute != "none":
            raise KserError(
                f"variant {config.name}: jobs > 1 needs mode 'cached' and "
                "no --distribute (they spread one fold over devices)"
            )
    if save_model:
        raise KserError("jobs > 1 cannot save whole models; use jobs=1")
    pending = [
        (config, fold)
        for fold in folds
        for config in configs
        if experiment.finished(config, fold) is None
    ]
    if not pending:
        return
    experiment.prepare_features(pending)
    # The workers read the cache; drop this process's compiled encoders
    # (rebuilt on demand) so it holds little while they train.
    experiment.drop_encoders()
    if backend_name() == "jax":
        import jax

        jax.clear_caches()
    release_memory()
    # The longest heads (LSTM) first, so no worker idles at the end.
    pending.sort(key=lambda cf: cf[0].head != "lstm")
    state = experiment.worker_state()
    state["backend"] = backend_name()
    state["parent_pid"] = os.getpid()
    # Next to the features, so a later run over them reuses it.
    state["compilation_cache"] = os.path.join(experiment.cache_dir, "xla_programs")
    folds_by_index = {fold.index: fold for fold in folds}
    state["folds"] = folds_by_index
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=min(jobs, len(pending)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(state,),
    )
    stop = _StopOnSignals(pool)
    with stop:
        try:
            futures = [
                pool.submit(_worker_run_fold, config.to_dict(), fold.index)
                for config, fold in pending
            ]
            try:
                for future in concurrent.futures.as_completed(futures):
                    _report(experiment, configs, folds, on_fold, future.result())
            except Exception:
                # A fold failed: start no other, keep those already training.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
        except BaseException:
            # Stopped (a signal, Ctrl-C) or failed: no worker outlives this.
            kill_workers(pool)
            pool.shutdown(wait=False, cancel_futures=True)
            if stop.signum is None:
                raise
            if experiment.progress:
                name = signal.Signals(stop.signum).name
                print(
                    f"{name}: workers stopped; finished folds are kept, the "
                    "same command resumes the others",
                    file=sys.stderr,
                    flush=True,
                )
    stop.resend()


def _report(experiment, configs, folds, on_fold, result):
    if experiment.progress:
        print(
            f"{result['variant']} fold {result['fold']}: test "
            f"accuracy {result['accuracy']:.3f} "
            f"({result['wall_seconds']:.0f} s)",
            flush=True,
        )
    if on_fold is not None:
        on_fold(result)
    experiment.write_summary(configs, folds)


def _init_worker(state):
    # First of all, before the slow imports: never outlive the parent.
    die_with_parent(state["parent_pid"])
    # Ctrl-C in a terminal reaches the whole process group: the parent
    # alone decides, and kills the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["KERAS_BACKEND"] = state["backend"]
    from kser.backend import import_keras_quietly

    import_keras_quietly()
    if state["backend"] == "jax" and state.get("compilation_cache"):
        use_compilation_cache(state["compilation_cache"])
    from kser.train.experiment import Experiment

    _WORKER["experiment"] = Experiment.for_worker(state)
    _WORKER["folds"] = state["folds"]


def _worker_run_fold(config, fold_index):
    import keras

    from kser.train.config import TrainConfig

    # A worker trains many folds: drop the previous fold's models, compiled
    # functions and datasets so that its memory stays one fold's worth.
    keras.backend.clear_session()
    release_memory()
    experiment = _WORKER["experiment"]
    return experiment.run_fold(
        TrainConfig.from_dict(config), _WORKER["folds"][fold_index]
    )
