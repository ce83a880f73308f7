"""Backbone forward throughput: kser (a Keras backend) versus transformers.

The same random-weight configuration of any family (HuBERT, wav2vec2,
WavLM, data2vec-audio: `--preset NAME`) runs in transformers (PyTorch)
and, converted through `kser convert`'s code path, in kser on the chosen
Keras backend, on the same inputs in one process. Prints audio-seconds per
wall-second for each and the ratio kser / transformers (the two called in turn, best of
`--repeats` rounds each), plus the largest
difference between the two outputs as a check that both did the same work.

    python recipes/benchmarks/backbone_throughput.py --backend jax \
        --preset hubert_base_ls960 --batch-size 8 --seconds 4

Needs `pip install torch==2.13.0 transformers` for the peer. The backend is
set before Keras is imported.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine_line  # noqa: E402
from _common import random_transformers_model  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="jax",
                        choices=["jax", "tensorflow", "torch"])
    parser.add_argument("--preset", default="hubert_base_ls960")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--dtype", default="float32",
                        choices=["float32", "bfloat16"],
                        help="compute dtype for both (bfloat16: kser "
                             "mixed_bfloat16, torch autocast)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true",
                        help="skip transformers (kser only)")
    parser.add_argument("--json", help="also write the results here")
    return parser.parse_args(argv)


def timed(fns, repeats):
    """Best and all wall times of each function in `fns`, called in turn
    (one call of each per round, `repeats` rounds after one warm-up round
    for compilation and allocation), so that a drift in the machine's speed
    (a shared VM's) falls on all of them alike."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [(min(t), t) for t in times]


def main(argv=None):
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    import keras
    import numpy as np
    import torch
    import transformers

    from kser.convert.transformers import load_transformers_checkpoint

    hf_model = random_transformers_model(args.preset)
    samples = int(args.seconds * 16000)
    rng = np.random.default_rng(0)
    waveform = rng.standard_normal((args.batch_size, samples)).astype("float32")
    mask = np.ones((args.batch_size, samples), "int32")
    audio_seconds = args.batch_size * args.seconds

    with tempfile.TemporaryDirectory() as tmp:
        hf_model.save_pretrained(tmp)
        dtype = "mixed_bfloat16" if args.dtype == "bfloat16" else "float32"
        backbone, _, _ = load_transformers_checkpoint(tmp, dtype=dtype)
    # Only the last hidden state, as transformers returns by default; the
    # compiled graph then skips stacking every layer's output.
    model = keras.Model(backbone.inputs, backbone.outputs[0]
                        if not isinstance(backbone.output, dict)
                        else backbone.output["sequence_output"])
    inputs = {"waveform": waveform, "padding_mask": mask}
    kser_out = {}

    def run_kser():
        kser_out["y"] = model.predict_on_batch(inputs)

    runs = [run_kser]
    if not args.no_peer:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        hf_model.to(device)
        x = torch.from_numpy(waveform).to(device)
        m = torch.from_numpy(mask).to(device)
        hf_out = {}

        def run_hf():
            with torch.inference_mode(), torch.autocast(
                device, dtype=torch.bfloat16, enabled=args.dtype == "bfloat16"
            ):
                y = hf_model(x, attention_mask=m).last_hidden_state
            if device == "cuda":
                torch.cuda.synchronize()
            hf_out["y"] = y.float().cpu().numpy()

        runs.append(run_hf)
    timings = timed(runs, args.repeats)
    kser_best, kser_times = timings[0]
    results = {
        "machine": machine_line(),
        "python": platform.python_version(),
        "versions": {
            "keras": keras.__version__,
            "backend": args.backend,
            "backend_version": _backend_version(args.backend),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "preset": args.preset,
        "batch_size": args.batch_size,
        "seconds": args.seconds,
        "dtype": args.dtype,
        "kser_audio_s_per_s": audio_seconds / kser_best,
        "kser_times_s": kser_times,
    }
    if not args.no_peer:
        hf_best, hf_times = timings[1]
        ours = np.asarray(keras.ops.convert_to_numpy(kser_out["y"]), np.float32)
        results.update(
            {
                "transformers_device": device,
                "transformers_audio_s_per_s": audio_seconds / hf_best,
                "transformers_times_s": hf_times,
                "ratio_kser_over_transformers": hf_best / kser_best,
                "max_abs_diff": float(np.max(np.abs(ours - hf_out["y"]))),
            }
        )
    print(format_results(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


def _backend_version(backend):
    if backend == "jax":
        import jax

        return f"jax {jax.__version__} on {jax.devices()[0].platform}"
    if backend == "tensorflow":
        import tensorflow as tf

        return f"tensorflow {tf.__version__}"
    import torch

    return f"torch {torch.__version__}"


def format_results(r):
    lines = [
        f"machine: {r['machine']}, python {r['python']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        f"{r['preset']}, {r['batch_size']} clips x {r['seconds']:g} s, "
        f"{r['dtype']}",
        f"kser ({r['versions']['backend']}): "
        f"{r['kser_audio_s_per_s']:.1f} audio-s per s",
    ]
    if "transformers_audio_s_per_s" in r:
        lines += [
            f"transformers ({r['transformers_device']}): "
            f"{r['transformers_audio_s_per_s']:.1f} audio-s per s",
            f"ratio kser / transformers: "
            f"{r['ratio_kser_over_transformers']:.2f}x "
            f"(max abs diff of outputs {r['max_abs_diff']:.1e})",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
