"""Backbone throughput matrix: architectures x backends x batch sizes x dtypes.

Runs `backbone_throughput.py` once per combination, each in a fresh process
(the Keras backend is fixed per process), and prints one Markdown table:
kser and transformers audio-seconds per wall-second from the same process,
their ratio and the largest output difference.

    python recipes/benchmarks/throughput_matrix.py \
        --presets hubert_base_ls960,hubert_large_ll60k \
        --backends jax,tensorflow --batch-sizes 1,8 --dtypes float32,bfloat16

Needs `pip install torch==2.13.0 transformers` for the peer.
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _list(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default="hubert_base_ls960,hubert_large_ll60k")
    parser.add_argument("--backends", default="jax,tensorflow")
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write every result here")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rows = []
    combos = itertools.product(
        _list(args.presets), _list(args.dtypes),
        [int(b) for b in _list(args.batch_sizes)], _list(args.backends),
    )
    for preset, dtype, batch, backend in combos:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "r.json")
            cmd = [
                sys.executable, os.path.join(HERE, "backbone_throughput.py"),
                "--backend", backend, "--preset", preset,
                "--batch-size", str(batch), "--seconds", str(args.seconds),
                "--dtype", dtype, "--repeats", str(args.repeats), "--json", out,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
                print(f"{preset} {backend} {dtype} b{batch}: failed: {tail}",
                      file=sys.stderr, flush=True)
                continue
            with open(out) as f:
                result = json.load(f)
        rows.append(result)
        print(_row(result), flush=True)
    if rows:
        print()
        print(f"machine: {rows[0]['machine']}, python {rows[0]['python']}")
        versions = {k: v for k, v in rows[0]["versions"].items() if k != "backend"}
        print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
        print()
        print(HEADER)
        for r in rows:
            print(_row(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return rows


HEADER = (
    "| architecture | dtype | clips x s | kser backend | kser audio-s/s | "
    "transformers audio-s/s | ratio | max abs diff |\n"
    "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |"
)


def _row(r):
    return (
        f"| {r['preset']} | {r['dtype']} | {r['batch_size']} x {r['seconds']:g} "
        f"| {r['versions']['backend_version']} | {r['kser_audio_s_per_s']:.1f} | "
        f"{r.get('transformers_audio_s_per_s', float('nan')):.1f} | "
        f"{r.get('ratio_kser_over_transformers', float('nan')):.2f}x | "
        f"{r.get('max_abs_diff', float('nan')):.1e} |"
    )


if __name__ == "__main__":
    main()
