"""What `--dtype bfloat16` does to features and accuracy, against float32.

On a synthetic RAVDESS corpus (`kser.data.synthetic.write_corpus`; 6
actors = the paper's folds 1 and 2), the same backbone (HuBERT base
architecture with seeded random weights by default, or a converted preset
with `--weights preset`) extracts every clip's features once in float32 and
once in bfloat16 (the training path: `padding_invariant`, the feature
cache, separate cache folders). Then the same heads train on the same folds
with the same seed from each set of features. Prints, as Markdown:

- the feature difference over every valid frame of every clip (max and
  mean absolute difference, both relative to the float32 features' RMS,
  and the cosine similarity of bfloat16 and float32 frames);
- test accuracy per fold and variant for both dtypes, and the fraction of
  test clips whose predicted class differs between them.

    python recipes/benchmarks/bfloat16_effect.py --out /tmp/bf16-effect \
        --backend jax --max-seconds 6 --epochs 6

On a CPU without AVX512_BF16 or AMX bfloat16 is emulated: the extraction
times printed say nothing of bfloat16 speed elsewhere. The backend is set
before Keras is imported.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine_line  # noqa: E402

DTYPES = ("float32", "bfloat16")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="work folder (corpus, runs)")
    parser.add_argument("--backend", default="jax",
                        choices=["jax", "tensorflow", "torch"])
    parser.add_argument("--preset", default="hubert_base_ls960",
                        help="architecture name, or a converted preset folder")
    parser.add_argument("--weights", default="random", choices=["random", "preset"],
                        help="random: the architecture with seeded random "
                             "weights; preset: the preset's own weights")
    parser.add_argument("--actors", type=int, default=6)
    parser.add_argument("--folds", default="1,2", help="paper folds")
    parser.add_argument("--variants", default="dense,lstm")
    parser.add_argument("--clip-seconds", type=float, default=None,
                        help="synthetic clip length (default: the corpus's)")
    parser.add_argument("--max-seconds", type=float, default=6.0,
                        help="center crop before the backbone (training's)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results here")
    return parser.parse_args(argv)


def load_backbones(args):
    """`{dtype: backbone}` with identical weights, and `normalize`."""
    import keras

    from kser.models import load_audio_converter
    from kser.models import load_backbone as load_model_backbone
    from kser.train.features import load_backbone
    from kser.train.precision import backbone_dtype
    from kser.train.precision import warn_if_emulated_bfloat16

    if args.weights == "preset":
        loaded = {d: load_backbone(args.preset, d) for d in DTYPES}
        return {d: b for d, (b, _) in loaded.items()}, loaded["float32"][1]
    keras.utils.set_random_seed(args.seed)
    backbones = {}
    for dtype in DTYPES:
        backbones[dtype] = load_model_backbone(
            args.preset, load_weights=False, padding_invariant=True,
            dtype=backbone_dtype(dtype),
        )
    backbones["bfloat16"].set_weights(backbones["float32"].get_weights())
    warn_if_emulated_bfloat16("bfloat16")  # as `load_backbone` would
    return backbones, bool(load_audio_converter(args.preset).do_normalize)


def feature_difference(full, half, num_layers=None):
    """Differences of bfloat16 from float32 features over all frames.

    Args:
        full, half: lists of `[frames, hidden]` float arrays, clip by clip.

    Returns:
        dict of floats.
    """
    import numpy as np

    a = np.concatenate([np.asarray(x, np.float64) for x in full])
    b = np.concatenate([np.asarray(x, np.float64) for x in half])
    diff = np.abs(a - b)
    rms = float(np.sqrt(np.mean(a * a)))
    cos = np.sum(a * b, axis=-1) / np.maximum(
        np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-30
    )
    return {
        "frames": int(a.shape[0]),
        "float32_rms": rms,
        "float32_max_abs": float(np.max(np.abs(a))),
        "max_abs_diff": float(np.max(diff)),
        "mean_abs_diff": float(np.mean(diff)),
        "max_abs_diff_over_rms": float(np.max(diff)) / rms,
        "mean_abs_diff_over_rms": float(np.mean(diff)) / rms,
        "rms_diff_over_rms": float(np.sqrt(np.mean(diff * diff))) / rms,
        "cosine_mean": float(np.mean(cos)),
        "cosine_min": float(np.min(cos)),
    }


def main(argv=None):
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    import keras

    from kser.cpu import cpu_info
    from kser.data import load_corpus
    from kser.data.synthetic import write_corpus
    from kser.report.runs import read_predictions
    from kser.train.config import TrainConfig
    from kser.train.experiment import Experiment

    corpus_dir = os.path.join(args.out, "corpus")
    if not os.path.isdir(corpus_dir):
        extra = {} if args.clip_seconds is None else {"clip_seconds": args.clip_seconds}
        write_corpus(corpus_dir, actors=args.actors, seed=args.seed, **extra)
    index = load_corpus("ravdess", corpus_dir)
    backbones, normalize = load_backbones(args)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    wanted = {int(f) for f in args.folds.split(",") if f.strip()}
    results = {
        "machine": machine_line(),
        "cpu": cpu_info().to_dict(),
        "backend": args.backend,
        "keras": keras.__version__,
        "preset": args.preset,
        "weights": args.weights,
        "settings": {k: getattr(args, k) for k in (
            "actors", "folds", "variants", "clip_seconds", "max_seconds",
            "epochs", "batch_size", "seed")},
        "extraction_seconds": {},
        "folds": [],
    }
    runs = {}
    for dtype in DTYPES:
        out = os.path.join(args.out, f"run-{dtype}")
        experiment = Experiment(
            index, backbones[dtype], out, normalize=normalize,
            cache_dir=os.path.join(out, "feature_cache"), progress=False,
        )
        folds = [f for f in experiment.folds("paper") if f.index in wanted]
        configs = [
            TrainConfig(variant=v, preset=args.preset, epochs=args.epochs,
                        batch_size=args.batch_size, seed=args.seed,
                        max_seconds=args.max_seconds, dtype=dtype)
            for v in variants
        ]
        started = time.perf_counter()
        experiment.prepare_features([(c, f) for c in configs for f in folds])
        results["extraction_seconds"][dtype] = round(time.perf_counter() - started, 1)
        fold_results = {}
        for config in configs:
            for fold in folds:
                result = experiment.run_fold(config, fold)
                rows = read_predictions(
                    os.path.join(experiment.fold_dir(config, fold), "predictions.csv")
                )
                fold_results[(config.name, fold.index)] = (
                    result["accuracy"], {r["file"]: r["predicted"] for r in rows}
                )
        # Every clip's features, read back from this dtype's cache.
        features = experiment.cache(configs[0]).extract(experiment.files)
        runs[dtype] = (fold_results, features)
        print(f"{dtype}: features of {len(features)} clips in "
              f"{results['extraction_seconds'][dtype]} s", flush=True)
    results["features"] = feature_difference(runs["float32"][1], runs["bfloat16"][1])
    for key, (acc32, pred32) in runs["float32"][0].items():
        acc16, pred16 = runs["bfloat16"][0][key]
        differ = sum(pred32[f] != pred16.get(f) for f in pred32)
        results["folds"].append({
            "variant": key[0], "fold": key[1],
            "accuracy_float32": acc32, "accuracy_bfloat16": acc16,
            "test_clips": len(pred32),
            "predictions_differ": differ / max(len(pred32), 1),
        })
    print(format_results(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


def format_results(r):
    s = r["settings"]
    f = r["features"]
    lines = [
        f"machine: {r['machine']}; native bfloat16: {r['cpu']['native_bfloat16']}",
        f"keras {r['keras']} on {r['backend']}; {r['preset']} ({r['weights']} "
        f"weights); {s['actors']} actors, folds {s['folds']}, crop "
        f"{s['max_seconds']:g} s, {s['epochs']} epochs, batch {s['batch_size']}, "
        f"seed {s['seed']}",
        f"extraction seconds: float32 {r['extraction_seconds']['float32']}, "
        f"bfloat16 {r['extraction_seconds']['bfloat16']}",
        "",
        "| frames | max abs diff / RMS | mean abs diff / RMS | RMS diff / RMS "
        "| cosine mean | cosine min |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {f['frames']} | {f['max_abs_diff_over_rms']:.3f} | "
        f"{f['mean_abs_diff_over_rms']:.4f} | {f['rms_diff_over_rms']:.4f} | "
        f"{f['cosine_mean']:.5f} | {f['cosine_min']:.5f} |",
        "",
        "| variant | fold | test clips | accuracy float32 | accuracy bfloat16 "
        "| difference | predictions differ |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in r["folds"]:
        lines.append(
            f"| {row['variant']} | {row['fold']} | {row['test_clips']} | "
            f"{row['accuracy_float32']:.3f} | {row['accuracy_bfloat16']:.3f} | "
            f"{row['accuracy_bfloat16'] - row['accuracy_float32']:+.3f} | "
            f"{row['predictions_differ']:.1%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
