"""Two `kser cv` run folders side by side: accuracy per variant and fold.

For each variant and fold finished in both runs: test accuracy (WA) of
each, their difference, the best epoch of each, and the share of test
clips whose predicted class differs, from each fold's `result.json` and
`predictions.csv`. Use it to measure what a setting changes (float16
against float32 cached features, bfloat16, another seed) on the same
folds.

    python recipes/benchmarks/compare_runs.py RUN_A RUN_B [--names A,B]

RUN_A and RUN_B are run folders (the `--out` of `kser cv`, or a recipe's
`OUT/run`). Prints a Markdown table; exit 2 with one line when a folder
is missing or the runs share no finished fold.
"""

import argparse
import csv
import json
import os
import sys


def finished_folds(run_dir):
    """`{(variant, fold): (result, {file: predicted})}` of a run folder."""
    found = {}
    for variant in sorted(os.listdir(run_dir)):
        folder = os.path.join(run_dir, variant)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            result_path = os.path.join(folder, name, "result.json")
            predictions_path = os.path.join(folder, name, "predictions.csv")
            if not (name.startswith("fold_") and os.path.exists(result_path)):
                continue
            with open(result_path) as f:
                result = json.load(f)
            predicted = {}
            if os.path.exists(predictions_path):
                with open(predictions_path, newline="") as f:
                    predicted = {row["file"]: row["predicted"]
                                 for row in csv.DictReader(f)}
            found[(variant, int(result["fold"]))] = (result, predicted)
    return found


def compare(run_a, run_b):
    """Rows `(variant, fold, clips, acc_a, acc_b, epoch_a, epoch_b, differ)`."""
    a, b = finished_folds(run_a), finished_folds(run_b)
    rows = []
    for key in sorted(set(a) & set(b)):
        (result_a, pred_a), (result_b, pred_b) = a[key], b[key]
        shared = sorted(set(pred_a) & set(pred_b))
        differ = (sum(pred_a[f] != pred_b[f] for f in shared) / len(shared)
                  if shared else float("nan"))
        rows.append((key[0], key[1], len(shared), result_a["accuracy"],
                     result_b["accuracy"], result_a.get("best_epoch"),
                     result_b.get("best_epoch"), differ))
    return rows


def format_rows(rows, names):
    a, b = names
    lines = [
        f"| variant | fold | test clips | accuracy {a} | accuracy {b} "
        f"| difference | best epoch {a} / {b} | predictions differ |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant, fold, clips, acc_a, acc_b, ep_a, ep_b, differ in rows:
        lines.append(
            f"| {variant} | {fold} | {clips} | {acc_a:.3f} | {acc_b:.3f} | "
            f"{acc_b - acc_a:+.3f} | {ep_a} / {ep_b} | {100 * differ:.1f}% |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a")
    parser.add_argument("run_b")
    parser.add_argument("--names", default="A,B",
                        help="Column names of the two runs (default A,B).")
    args = parser.parse_args(argv)
    for path in (args.run_a, args.run_b):
        if not os.path.isdir(path):
            print(f"compare_runs: {path}: no such run folder", file=sys.stderr)
            return 2
    names = [n.strip() for n in args.names.split(",")]
    if len(names) != 2:
        print("compare_runs: --names takes two names, e.g. float32,float16",
              file=sys.stderr)
        return 2
    rows = compare(args.run_a, args.run_b)
    if not rows:
        print(f"compare_runs: {args.run_a} and {args.run_b} share no finished "
              "fold", file=sys.stderr)
        return 2
    print(format_rows(rows, names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
