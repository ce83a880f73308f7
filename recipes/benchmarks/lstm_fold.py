"""One Table I LSTM fold, end to end, with each BiLSTM implementation.

`lstm_head.py` times one train step on fixed shapes; this script times what
a user waits for: `kser recipe recipes/table1 --variants lstm --folds K
--jobs 1` on a warm feature cache (datasets, every epoch's train steps and
validation, compilation of each batch shape, test predictions, reports),
once with kser's `Bidirectional` (`lstm_impl="fast"`, the default) and once
with Keras' `Bidirectional(LSTM)` (`"keras"`), alternating, each in a fresh
process, so the two see the same machine.

    python recipes/benchmarks/lstm_fold.py --work /tmp/kser-table1

`--work` is the folder of `table1_cv.py` (its corpus, random-weight preset
and feature cache); run `table1_cv.py --phases cold --folds 1` once first
to fill the cache. Prints each fold's wall time (`run_fold`, from its
result.json), the process's, and the ratio; `--json` also writes them.
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

from _common import machine_line  # noqa: E402
from _common import machine  # noqa: E402
from _common import versions  # noqa: E402

IMPLS = ("keras", "fast")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="kser-table1-benchmark",
                        help="table1_cv.py's working folder.")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1,
                        help="Runs per implementation (alternating).")
    parser.add_argument("--json", help="Also write the figures here.")
    parser.add_argument("--child", choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def child(args):
    """Run the recipe in this process with the head's BiLSTM switched."""
    sys.path.insert(0, ROOT)
    import kser.models.heads as heads

    names = heads.lstm_head.__code__.co_varnames[: heads.lstm_head.__code__.co_argcount]
    assert names[-1] == "lstm_impl", names  # the last keyword is switched
    defaults = list(heads.lstm_head.__defaults__)
    defaults[-1] = args.child
    heads.lstm_head.__defaults__ = tuple(defaults)
    from kser.cli import main

    work = os.path.abspath(args.work)
    main([
        "recipe", os.path.join(ROOT, "recipes", "table1"),
        "--data", os.path.join(work, "corpus"),
        "--preset", os.path.join(work, "hubert_base_ls960_random"),
        "--cache-dir", os.path.join(work, "cache"),
        "--out", args.out, "--folds", str(args.fold), "--variants", "lstm",
        "--jobs", "1",
    ], standalone_mode=True)


def run_once(args, impl, repeat):
    out = os.path.join(os.path.abspath(args.work), f"lstm-fold-{impl}-{repeat}")
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--work", args.work,
         "--fold", str(args.fold), "--child", impl, "--out", out],
        capture_output=True, text=True, cwd=ROOT,
    )
    wall = time.perf_counter() - started
    if proc.returncode:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{impl}: exit {proc.returncode}")
    with open(os.path.join(out, "run", "lstm", f"fold_{args.fold:02d}",
                           "result.json")) as f:
        result = json.load(f)
    return {"impl": impl, "process_seconds": round(wall, 1),
            "fold_seconds": result["wall_seconds"],
            "accuracy": result["accuracy"]}


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child(args)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    runs = [run_once(args, impl, r) for r in range(args.repeats) for impl in IMPLS]
    summary = {
        "machine": machine(), "versions": versions(),
        "backend": os.environ["KERAS_BACKEND"], "fold": args.fold, "runs": runs,
    }
    print(f"machine: {machine_line(summary['machine'])}")
    print("| implementation | fold seconds | process seconds | accuracy |")
    print("| --- | ---: | ---: | ---: |")
    for r in runs:
        print(f"| {r['impl']} | {r['fold_seconds']:.1f} | "
              f"{r['process_seconds']:.1f} | {r['accuracy']:.3f} |")
    mean = {i: sum(r["fold_seconds"] for r in runs if r["impl"] == i)
            / args.repeats for i in IMPLS}
    print(f"fold time keras / fast: {mean['keras'] / mean['fast']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return summary


if __name__ == "__main__":
    main()
