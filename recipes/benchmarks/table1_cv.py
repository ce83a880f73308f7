"""Table I in full: `kser cv` wall time and peak memory, cold and warm cache.

Runs the Table I recipe (`recipes/table1`: 12 paper folds x `dense`,
`dense-aug`, `lstm`, the hyperparameters of its `config.json`) in full mode
on a RAVDESS-sized synthetic corpus (24 actors x 60 clips of 3.70 s on
average, as real RAVDESS, written by `kser synth`'s generator) with a HuBERT base backbone holding
**random** weights (no checkpoint can be downloaded here; the compute is
the same as with real weights, the accuracies are not). Two runs, each a
fresh process, each timed and its peak resident memory taken from the
kernel (the summed PSS of the run and its workers, sampled, and the
largest resident size of one of them from `wait4`):

- cold: an empty feature cache, so the frozen backbone runs once per clip
  and per cached noisy copy, then every head trains;
- warm: a new run folder over the cache the cold run filled: only the heads
  train.

    python recipes/benchmarks/table1_cv.py --work /tmp/kser-table1

Prints the machine, versions and a table; `--json` also writes the figures.
Before and after each run it measures the machine's float32 matmul rate
(`reference_gflops`): a shared VM's rate moves between days, and runs on
different days compare only beside it.
The cold run's RESULTS.md (Table I beside the paper's numbers, statistics,
environment) is at WORK/cold/RESULTS.md. The backend is Keras's
(`KERAS_BACKEND`, default jax).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from _common import machine  # noqa: E402
from _common import machine_line  # noqa: E402
from _common import reference_gflops  # noqa: E402
from _common import versions  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="kser-table1-benchmark",
                        help="Working folder (corpus, preset, runs, cache).")
    parser.add_argument("--actors", type=int, default=24)
    parser.add_argument("--clip-seconds", type=float, default=3.5)
    parser.add_argument("--preset", default="hubert_base_ls960",
                        help="Architecture built with random weights.")
    parser.add_argument("--folds", help="Subset of folds, e.g. 1,2 "
                        "(default: all 12).")
    parser.add_argument("--variants", help="Subset of variants, e.g. "
                        "dense-aug (default: all three).")
    parser.add_argument("--phases", default="cold,warm",
                        help="Which runs, comma-separated: cold, warm or "
                        "cold,warm (default).")
    parser.add_argument("--jobs", type=int, default=2,
                        help="Heads trained at once (the recipe's --jobs); "
                        "default 2, the cores of the reference machine.")
    parser.add_argument("--set", dest="overrides", action="append",
                        default=[], metavar="KEY=VALUE",
                        help="Passed to `kser recipe --set`, e.g. "
                        'train.cache_dtype="float16" (repeatable).')
    parser.add_argument("--tag", default="",
                        help="Suffix of the run folders (WORK/cold-TAG, "
                        "WORK/warm-TAG), to keep runs with other settings.")
    parser.add_argument("--json", help="Also write the figures here.")
    return parser.parse_args(argv)


def ensure_corpus(path, actors, clip_seconds):
    """Write the synthetic corpus unless a complete one is there."""
    from kser.data.ravdess import index_ravdess
    from kser.data.synthetic import GENERATOR_VERSION
    from kser.data.synthetic import MANIFEST
    from kser.data.synthetic import write_corpus
    from kser.errors import DataError

    try:
        index = index_ravdess(path)
        with open(os.path.join(path, MANIFEST)) as f:
            version = json.load(f).get("generator_version")
        if len(index.files) == actors * 60 and version == GENERATOR_VERSION:
            return 0.0
    except (DataError, OSError, ValueError):
        pass
    started = time.perf_counter()
    write_corpus(path, actors=actors, clip_seconds=clip_seconds, seed=0,
                 overwrite=True)
    return time.perf_counter() - started


def ensure_preset(path, name):
    """A preset folder with random weights of a named architecture."""
    if os.path.exists(os.path.join(path, "config.json")):
        return
    code = (
        "import keras, sys\n"
        "from kser.models import HubertBackbone\n"
        "keras.utils.set_random_seed(0)\n"
        "b = HubertBackbone.from_preset(sys.argv[1], load_weights=False)\n"
        "b.save_to_preset(sys.argv[2])\n"
    )
    tmp = path + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run([sys.executable, "-c", code, name, tmp], check=True, cwd=ROOT)
    os.replace(tmp, path)


def _memory(pid, page):
    """Proportional set size (shared pages split between their users) of a
    process, or its resident size where the kernel has no smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * page
    except (OSError, IndexError, ValueError):
        return 0


def _tree_memory(root_pid):
    """Memory of a process and all its descendants (Linux /proc).

    Summed as PSS, so libraries that every worker maps (TensorFlow, jaxlib)
    count once, not once per process as summed RSS would.
    """
    return sum(_tree_memory_by_process(root_pid).values())


def _tree_memory_by_process(root_pid):
    """`{pid: memory}` of a process and all its descendants (PSS)."""
    children = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    memory, stack = {}, [root_pid]
    while stack:
        pid = stack.pop()
        memory[pid] = _memory(pid, page)
        stack.extend(children.get(pid, []))
    return memory


# Reading smaps_rollup of processes holding several GB walks their page
# tables: sampled every 0.2 s it kept about 30 % of a core busy (measured
# with top during a run), time taken from the run being measured.
SAMPLE_SECONDS = 2.0


def timed_run(argv, log_path):
    """Run a command; return wall seconds and peak resident memory (GiB).

    The peak is the larger of the largest resident size of one process
    (`wait4`: the run, or a worker it waited for) and the peak of the
    summed PSS of the run and its worker processes, sampled every
    SAMPLE_SECONDS.
    """
    import threading

    peak = {"tree": 0, "main": 0, "worker": 0}
    started = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=ROOT)
        stop = threading.Event()

        def sample():
            while not stop.wait(SAMPLE_SECONDS):
                memory = _tree_memory_by_process(process.pid)
                peak["tree"] = max(peak["tree"], sum(memory.values()))
                peak["main"] = max(peak["main"], memory.pop(process.pid, 0))
                peak["worker"] = max([peak["worker"], *memory.values()])
                if memory and "workers_from" not in peak:
                    # Workers start once every feature is extracted.
                    peak["workers_from"] = time.perf_counter() - started

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        stop.set()
        sampler.join()
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {code}); see {log_path}")
    # ru_maxrss is in KiB on Linux. For a process waited for with wait4 it
    # is the largest resident size of that process *or* of any descendant
    # it waited for (its workers), so it is reported on its own, not as
    # the main process's.
    detail = {
        "peak_main_gib": round(peak["main"] / 2**30, 2),
        "peak_one_worker_gib": round(peak["worker"] / 2**30, 2),
        "peak_rss_largest_process_gib": round(usage.ru_maxrss * 1024 / 2**30, 2),
        "workers_started_after_seconds": round(peak.get("workers_from", wall), 1),
    }
    return wall, max(usage.ru_maxrss * 1024, peak["tree"]) / 2**30, detail


def per_variant_seconds(run_dir):
    totals = {}
    for variant in sorted(os.listdir(run_dir)):
        vdir = os.path.join(run_dir, variant)
        if not os.path.isdir(vdir) or variant == "feature_cache":
            continue
        for fold in sorted(os.listdir(vdir)):
            path = os.path.join(vdir, fold, "result.json")
            if os.path.exists(path):
                with open(path) as f:
                    totals[variant] = totals.get(variant, 0.0) + json.load(f)[
                        "wall_seconds"
                    ]
    return totals


def main(argv=None):
    args = parse_args(argv)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    for phase in phases:
        if phase not in ("cold", "warm"):
            raise SystemExit(f"unknown phase {phase!r}: choose cold, warm "
                             "or cold,warm")
    sys.path.insert(0, ROOT)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    backend = os.environ.setdefault("KERAS_BACKEND", "jax")
    corpus = os.path.join(work, "corpus")
    preset = os.path.join(work, f"{args.preset}_random")
    cache = os.path.join(work, "cache")

    synth_seconds = ensure_corpus(corpus, args.actors, args.clip_seconds)
    ensure_preset(preset, args.preset)
    results = {
        "machine": machine(),
        "versions": versions(),
        "backend": backend,
        "corpus": {"actors": args.actors, "clips": args.actors * 60,
                   "clip_seconds": args.clip_seconds,
                   "synth_seconds": round(synth_seconds, 1)},
        "preset": f"{args.preset} (random weights)",
        "jobs": args.jobs,
        "overrides": args.overrides,
        "folds": args.folds or "all",
        "variants": args.variants or "all",
        "runs": {},
    }
    recipe = [sys.executable, "-m", "kser.cli", "recipe",
              os.path.join(ROOT, "recipes", "table1"), "--data", corpus, "--preset", preset, "--cache-dir", cache,
              "--jobs", str(args.jobs)]
    if args.folds:
        recipe += ["--folds", args.folds]
    if args.variants:
        recipe += ["--variants", args.variants]
    for item in args.overrides:
        recipe += ["--set", item]
    for phase in phases:
        out = os.path.join(work, f"{phase}-{args.tag}" if args.tag else phase)
        shutil.rmtree(out, ignore_errors=True)
        if phase == "cold":
            shutil.rmtree(cache, ignore_errors=True)
        print(f"{phase}: running Table I (log: {out}.log)", flush=True)
        before = reference_gflops()
        wall, peak, detail = timed_run(recipe + ["--out", out], out + ".log")
        after = reference_gflops()
        results["runs"][phase] = {
            "wall_seconds": round(wall, 1),
            "reference_gflops_before_after": [round(before, 1), round(after, 1)],
            "peak_memory_gib": round(peak, 2),
            **detail,
            "fold_seconds_by_variant": {
                k: round(v, 1)
                for k, v in per_variant_seconds(os.path.join(out, "run")).items()
            },
            "results_md": os.path.join(out, "RESULTS.md"),
        }
        print(f"{phase}: {wall / 60:.1f} min, peak memory {peak:.2f} GiB; "
              f"matmul reference {before:.0f} / {after:.0f} GFLOP/s before / "
              "after", flush=True)

    print(format_results(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


def format_results(r):
    lines = [
        f"machine: {machine_line(r['machine'])}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        f"backend: {r['backend']}; backbone: {r['preset']}; corpus: "
        f"{r['corpus']['clips']} synthetic clips of ~{r['corpus']['clip_seconds']} s; "
        f"--jobs {r['jobs']}; folds {r.get('folds', 'all')}, variants "
        f"{r.get('variants', 'all')}"
        + "".join(f" --set {item}" for item in r.get("overrides", [])),
        "",
        "| run | wall time (min) | workers start (min) | peak memory (GiB) "
        "| peak PSS main / one worker (GiB) | largest RSS of one process "
        "(GiB) | fold seconds by variant (summed over workers) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    reference = []
    for phase, run in r["runs"].items():
        by = ", ".join(f"{k} {v / 60:.1f} min"
                       for k, v in run["fold_seconds_by_variant"].items())
        lines.append(f"| {phase} | {run['wall_seconds'] / 60:.1f} | "
                     f"{run['workers_started_after_seconds'] / 60:.1f} | "
                     f"{run['peak_memory_gib']:.2f} | {run['peak_main_gib']:.2f} / "
                     f"{run['peak_one_worker_gib']:.2f} | "
                     f"{run.get('peak_rss_largest_process_gib', float('nan')):.2f} "
                     f"| {by} |")
        ref = run.get("reference_gflops_before_after")
        if ref:
            reference.append(f"{phase} {ref[0]:.0f} / {ref[1]:.0f}")
    if reference:
        lines += ["", ("float32 matmul reference before / after each run "
                       "(GFLOP/s, numpy, 1024^3): " + "; ".join(reference))]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
