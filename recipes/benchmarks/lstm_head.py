"""BiLSTM head step time: kser's Bidirectional versus Keras' Bidirectional(LSTM).

Builds the `lstm` head twice with `kser.models.build_head` and the same
seed, once with kser's layer (`lstm_impl="fast"`, the default) and once
with Keras' own (`lstm_impl="keras"`), on the same random features and
valid lengths (one clip of every batch full length, one of a single
frame, the rest uniform), in one process. It times a train step (forward,
backward and the Adam update: `model.train_on_batch`) and an inference
step (`model.predict_on_batch`), warm, the two heads interleaved repeat by
repeat so that a noisy machine slows both alike, and reports the medians
and the median of the per-repeat ratios Keras / kser. Both heads start
from the same weights, so it also prints the largest difference of their
logits and of their losses over the timed train steps (both train alike).

    python recipes/benchmarks/lstm_head.py --backend jax --json lstm.json

The backend is set before Keras is imported.
"""

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine_line  # noqa: E402
from _common import versions  # noqa: E402

IMPLS = ("keras", "fast")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="jax",
                        choices=["jax", "tensorflow", "torch"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=182)
    parser.add_argument("--features", type=int, default=768)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", help="also write the results here")
    return parser.parse_args(argv)


def _median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def main(argv=None):
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    import keras
    import numpy as np

    from kser.models.heads import build_head

    rng = np.random.default_rng(0)
    b, t = args.batch_size, args.frames
    features = rng.standard_normal((b, t, args.features)).astype("float32")
    lengths = rng.integers(1, t + 1, b)
    lengths[0], lengths[-1] = t, 1
    inputs = {"features": features,
              "frame_padding_mask": np.arange(t)[None] < lengths[:, None]}
    labels = rng.integers(0, args.classes, b)

    heads = {}
    for impl in IMPLS:
        keras.utils.set_random_seed(0)
        head = build_head("lstm", feature_dim=args.features,
                          num_classes=args.classes, lstm_units=args.units,
                          dropout=0.0, lstm_impl=impl)
        head.compile(
            optimizer=keras.optimizers.Adam(1e-4),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        heads[impl] = head
    logits = {k: np.asarray(keras.ops.convert_to_numpy(h.predict_on_batch(inputs)))
              for k, h in heads.items()}

    steps = {
        "train": lambda h: float(np.asarray(h.train_on_batch(inputs, labels))),
        "inference": lambda h: h.predict_on_batch(inputs),
    }
    times = {s: {k: [] for k in IMPLS} for s in steps}
    losses = {k: [] for k in IMPLS}
    for step, fn in steps.items():
        for head in heads.values():
            for _ in range(args.warmup):
                fn(head)
        for _ in range(args.repeats):
            for impl, head in heads.items():
                start = time.perf_counter()
                out = fn(head)
                times[step][impl].append(time.perf_counter() - start)
                if step == "train":
                    losses[impl].append(out)

    results = {
        "machine": machine_line(),
        "python": platform.python_version(),
        "versions": versions(("kser", "keras", "jax", "tensorflow", "torch", "numpy")),
        "backend": args.backend,
        "shape": {"batch": b, "frames": t, "features": args.features,
                  "units": args.units, "classes": args.classes},
        "mean_valid_frames": float(lengths.mean()),
        "repeats": args.repeats,
        "max_abs_diff_logits": float(np.max(np.abs(logits["fast"] - logits["keras"]))),
        "max_abs_diff_train_loss": float(np.max(np.abs(
            np.asarray(losses["fast"]) - np.asarray(losses["keras"])))),
    }
    for step in steps:
        keras_t, fast_t = times[step]["keras"], times[step]["fast"]
        results[step] = {
            "keras_median_s": _median(keras_t),
            "kser_median_s": _median(fast_t),
            "speedup_median_of_ratios": _median(
                [k / f for k, f in zip(keras_t, fast_t)]),
            "keras_times_s": keras_t,
            "kser_times_s": fast_t,
        }
    print(format_results(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


def format_results(r):
    s = r["shape"]
    lines = [
        f"machine: {r['machine']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items() if v),
        f"backend {r['backend']}; batch {s['batch']} x {s['frames']} frames x "
        f"{s['features']} features (mean valid {r['mean_valid_frames']:.1f}), "
        f"BiLSTM({s['units']}), {s['classes']} classes; median of "
        f"{r['repeats']} interleaved repeats",
        "",
        "| step | Keras Bidirectional(LSTM) | kser Bidirectional | speedup |",
        "| --- | ---: | ---: | ---: |",
    ]
    for step in ("train", "inference"):
        x = r[step]
        lines.append(
            f"| {step} | {1000 * x['keras_median_s']:.1f} ms | "
            f"{1000 * x['kser_median_s']:.1f} ms | "
            f"{x['speedup_median_of_ratios']:.2f}x |"
        )
    lines += [
        "",
        f"max abs diff: logits {r['max_abs_diff_logits']:.1e}, train losses "
        f"{r['max_abs_diff_train_loss']:.1e}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
