"""Parallel fold workers: heads of several folds train at once.

After the parent process has extracted every feature the pending folds
need, worker processes (spawned, one Keras each) train the heads of `jobs`
folds at a time, reading the shared feature cache. Each fold sets its own
seed, so results equal those of one process.
"""

import os

from kser.errors import KserError

_WORKER = {}


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


def run_parallel(experiment, configs, folds, on_fold, save_model, jobs):
    """Train the unfinished `(config, fold)` pairs in `jobs` processes."""
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
    # Next to the features, so a later run over them reuses it.
    state["compilation_cache"] = os.path.join(experiment.cache_dir, "xla_programs")
    folds_by_index = {fold.index: fold for fold in folds}
    state["folds"] = folds_by_index
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(jobs, len(pending)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(state,),
    ) as pool:
        futures = [
            pool.submit(_worker_run_fold, config.to_dict(), fold.index)
            for config, fold in pending
        ]
        try:
            for future in concurrent.futures.as_completed(futures):
                result = future.result()
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
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _init_worker(state):
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
