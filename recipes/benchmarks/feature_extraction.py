"""Feature extraction end to end: decode, resample, normalise, backbone, cache write.

Extracts the last hidden state of a random-weight HuBERT for every clip of a
RAVDESS-sized synthetic corpus (24 actors x 60 clips of 3.70 s on average,
as real RAVDESS, at 48 kHz like RAVDESS, so resampling to 16 kHz is part of the work) into an
empty `FeatureCache`, timing each stage, and does the same work with
transformers (`Wav2Vec2FeatureExtractor` for normalisation and padding,
`HubertModel` under `torch.inference_mode`, one `.npy` per clip) over the
same decoded audio, same weights, same length-sorted batches, in one run.

    python recipes/benchmarks/feature_extraction.py --work /tmp/kser-extract

Stages (kser): decode + resample (`load_clips`, threaded), backbone
(normalisation is inside the compiled graph, so it is counted here), cache
write (hash + atomic `.npz`), and the rest (batching, hashing the audio,
bookkeeping). Needs `pip install torch==2.13.0 transformers` for the peer.
The backend is Keras's (`KERAS_BACKEND`, default jax).
"""

import argparse
import collections
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="kser-extract-benchmark")
    parser.add_argument("--actors", type=int, default=24)
    parser.add_argument("--clip-seconds", type=float, default=3.5)
    parser.add_argument("--sample-rate", type=int, default=48000)
    parser.add_argument("--clips", type=int, default=None,
                        help="Only every k-th clip, about this many (default all).")
    parser.add_argument("--preset", default="hubert_base_ls960")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", default="float32",
                        choices=["float32", "bfloat16"])
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--json", help="Also write the figures here.")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, ROOT)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    sys.path.insert(0, HERE)
    from _common import machine
    from _common import random_transformers_hubert
    from _common import versions

    import keras
    import numpy as np

    import kser.data.feature_cache as fc
    from kser.convert.transformers import convert_backbone_config
    from kser.convert.transformers import convert_weights
    from kser.convert.transformers import load_checkpoint_weights
    from kser.convert.transformers import load_hf_config
    from kser.data.pipeline import Preprocessing
    from kser.data.pipeline import load_clips
    from kser.data.ravdess import index_ravdess
    from kser.data.synthetic import write_corpus
    from kser.errors import DataError
    from kser.models import HubertBackbone
    from kser.models.waveform import normalize_waveform

    work = os.path.abspath(args.work)
    corpus = os.path.join(work, f"corpus_{args.sample_rate}")
    try:
        index = index_ravdess(corpus)
    except DataError:
        index = write_corpus(corpus, actors=args.actors, sample_rate=args.sample_rate,
                             clip_seconds=args.clip_seconds, seed=0, overwrite=True)
    files = list(index.files)
    if args.clips and args.clips < len(files):
        step = len(files) / args.clips
        files = [files[int(i * step)] for i in range(args.clips)]

    import torch
    import transformers

    hf_model = random_transformers_hubert(args.preset)
    with tempfile.TemporaryDirectory() as tmp:
        hf_model.save_pretrained(tmp)
        dtype = "mixed_bfloat16" if args.dtype == "bfloat16" else "float32"
        # As `kser cv` builds it: padding-invariant, so a clip's features
        # do not depend on its batch.
        backbone = HubertBackbone(
            **convert_backbone_config(load_hf_config(tmp)),
            dtype=dtype,
            padding_invariant=True,
        )
        convert_weights(backbone, load_checkpoint_weights(tmp))

    # --- kser: an empty FeatureCache, every stage timed -----------------
    timers = collections.Counter()
    original_load = fc.load_clips
    loaded = []  # the clips the cache decoded, for the audio duration

    def timed_load(*a, **k):
        start = time.perf_counter()
        out = original_load(*a, **k)
        timers["decode + resample"] += time.perf_counter() - start
        loaded.extend(out)
        return out

    fc.load_clips = timed_load

    class TimedCache(fc.FeatureCache):
        def _write(self, *a, **k):
            start = time.perf_counter()
            super()._write(*a, **k)
            timers["cache write"] += time.perf_counter() - start

    waveform = keras.Input(shape=(None,), name="waveform")
    mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
    out = backbone({"waveform": normalize_waveform(waveform, mask, xp=keras.ops),
                    "padding_mask": mask}, training=False)
    encoder = keras.Model(
        {"waveform": waveform, "padding_mask": mask},
        {"sequence_output": keras.ops.cast(out["sequence_output"], "float32"),
         "frame_padding_mask": out["frame_padding_mask"]},
    )

    shapes = set()

    def encode(inputs):
        start = time.perf_counter()
        result = encoder.predict_on_batch(inputs)
        result = {k: keras.ops.convert_to_numpy(v) for k, v in result.items()}
        shape = inputs["waveform"].shape
        # The first batch of each padded length also compiles the graph.
        stage = ("backbone, first batch per length (compiles)"
                 if shape not in shapes else "backbone (incl. normalise)")
        shapes.add(shape)
        timers[stage] += time.perf_counter() - start
        timers["backbone calls"] += 1
        return result

    # resampy compiles its kernel (numba) on first use: do it outside the
    # timings, which both pipelines then share.
    load_clips(files[:1], preprocessing=Preprocessing())
    cache_dir = os.path.join(work, "cache")
    shutil.rmtree(cache_dir, ignore_errors=True)
    preprocessing = Preprocessing()
    cache = TimedCache(cache_dir, encode, "benchmark", preprocessing=preprocessing,
                       batch_size=args.batch_size, progress=False,
                       num_frames=backbone.num_frames)
    start = time.perf_counter()
    cache.extract(files)
    kser_total = time.perf_counter() - start
    fc.load_clips = original_load
    audio_seconds = sum(
        min(len(c.waveform), preprocessing.max_samples) for c in loaded
    ) / preprocessing.sample_rate
    kser_stages = {k: round(v, 1) for k, v in timers.items() if k != "backbone calls"}
    kser_stages["other (hashing, batching, bookkeeping)"] = round(
        kser_total - sum(v for k, v in timers.items() if k != "backbone calls"), 1
    )
    results = {
        "machine": machine(),
        "versions": {**versions(), "torch": torch.__version__,
                     "transformers": transformers.__version__},
        "backend": keras.backend.backend(),
        "preset": f"{args.preset} (random weights)",
        "dtype": args.dtype,
        "clips": len(files),
        "corpus_sample_rate": args.sample_rate,
        "audio_seconds": round(audio_seconds, 1),
        "batch_size": args.batch_size,
        "kser": {
            "wall_seconds": round(kser_total, 1),
            "audio_s_per_s": round(audio_seconds / kser_total, 2),
            "stages_seconds": kser_stages,
            "backbone_calls": int(timers["backbone calls"]),
            "padded_lengths": len(shapes),
        },
    }

    # --- transformers: same audio, same weights, same batches -----------
    if not args.no_peer:
        extractor = transformers.Wav2Vec2FeatureExtractor(
            feature_size=1, sampling_rate=16000, padding_value=0.0,
            do_normalize=True, return_attention_mask=True,
        )
        out_dir = os.path.join(work, "transformers_features")
        shutil.rmtree(out_dir, ignore_errors=True)
        os.makedirs(out_dir)
        peer = collections.Counter()
        start = time.perf_counter()
        decoded = load_clips(files, preprocessing=preprocessing)
        peer["decode + resample"] = time.perf_counter() - start
        order = sorted(range(len(decoded)), key=lambda i: len(decoded[i].waveform))
        for b in range(0, len(order), args.batch_size):
            rows = order[b:b + args.batch_size]
            t0 = time.perf_counter()
            audio = [decoded[i].waveform[: preprocessing.max_samples] for i in rows]
            inputs = extractor(audio, sampling_rate=16000, padding=True,
                               return_tensors="pt")
            t1 = time.perf_counter()
            with torch.inference_mode(), torch.autocast(
                "cpu", dtype=torch.bfloat16, enabled=args.dtype == "bfloat16"
            ):
                hidden = hf_model(inputs.input_values,
                                  attention_mask=inputs.attention_mask).last_hidden_state
            hidden = hidden.float().numpy()
            t2 = time.perf_counter()
            frames = hf_model._get_feat_extract_output_lengths(
                inputs.attention_mask.sum(-1)).tolist()
            for row, i in enumerate(rows):
                np.save(os.path.join(out_dir, f"{i:05d}.npy"),
                        hidden[row, : int(frames[row])])
            t3 = time.perf_counter()
            peer["normalise + pad"] += t1 - t0
            peer["backbone"] += t2 - t1
            peer["write .npy"] += t3 - t2
        peer_total = time.perf_counter() - start
        results["transformers"] = {
            "wall_seconds": round(peer_total, 1),
            "audio_s_per_s": round(audio_seconds / peer_total, 2),
            "stages_seconds": {k: round(v, 1) for k, v in peer.items()},
        }
        results["ratio_kser_over_transformers"] = round(peer_total / kser_total, 2)

    print(format_results(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


def format_results(r):
    from _common import machine_line

    lines = [
        f"machine: {machine_line(r['machine'])}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        f"{r['clips']} clips ({r['audio_seconds']} audio-s after the crop) at "
        f"{r['corpus_sample_rate']} Hz; {r['preset']}, {r['dtype']}, batch "
        f"{r['batch_size']}, kser backend {r['backend']}",
        "",
        "| pipeline | wall (s) | audio-s per s | stages (s) |",
        "| --- | ---: | ---: | --- |",
    ]
    for name in ("kser", "transformers"):
        if name in r:
            run = r[name]
            stages = ", ".join(f"{k} {v}" for k, v in run["stages_seconds"].items())
            lines.append(f"| {name} | {run['wall_seconds']} | "
                         f"{run['audio_s_per_s']} | {stages} |")
    if "ratio_kser_over_transformers" in r:
        lines.append("")
        lines.append(f"ratio kser / transformers: {r['ratio_kser_over_transformers']}x")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
