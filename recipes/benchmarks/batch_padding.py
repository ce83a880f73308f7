"""Padding of training batches: shuffled versus length-grouped batches.

The BiLSTM head's cost grows with the frames of its batches, padding
included (masked, so results are exact, but computed). This counts, for
the training clips of one paper fold, the frames per clip that the head
runs over when batches are freely shuffled and when they are grouped by
length (`kser.data.pipeline.length_grouped_order`, what `kser train` and
`kser cv` use), each batch padded to its longest clip rounded up to a
multiple of frames. No model runs; it reads clip lengths only.

    python recipes/benchmarks/batch_padding.py --data /tmp/kser-table1/corpus

`--data` is a RAVDESS-layout folder (`kser synth` writes one); the default
writes a 1440-clip synthetic corpus to `--work` first.
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import machine_line  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="RAVDESS-layout corpus (default: synthesize one).")
    parser.add_argument("--work", default="kser-padding-benchmark")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)

    import soundfile

    from kser.data.folds import get_fold
    from kser.data.pipeline import length_grouped_order
    from kser.data.ravdess import index_ravdess
    from kser.models.waveform import conv_output_length

    data = args.data
    if data is None:
        from kser.data.synthetic import write_corpus

        data = os.path.join(args.work, "corpus")
        if not os.path.isdir(data):
            write_corpus(data, actors=24, clip_seconds=3.5, seed=0)
    train, _, _ = get_fold("paper", args.fold).split(index_ravdess(data).files)
    max_samples = int(args.max_seconds * 16000)
    samples = []
    for f in train:
        info = soundfile.info(f.path)
        samples.append(min(int(round(info.frames * 16000 / info.samplerate)), max_samples))
    frames = conv_output_length(
        np.asarray(samples), [10, 3, 3, 3, 3, 2, 2], [5, 2, 2, 2, 2, 2, 2]
    )

    def padded_per_clip(order, multiple):
        total = 0
        for start in range(0, len(order), args.batch_size):
            batch = frames[order[start : start + args.batch_size]]
            total += -(-int(batch.max()) // multiple) * multiple * len(batch)
        return total / len(order)

    rng = np.random.default_rng(0)
    print(f"machine: {machine_line()}")
    print(f"fold {args.fold}: {len(frames)} training clips, real frames per clip "
          f"{frames.mean():.1f} (min {frames.min()}, max {frames.max()}); batch "
          f"{args.batch_size}; mean over {args.epochs} epochs")
    print()
    print("| padded to a multiple of | shuffled batches | length-grouped batches | cut |")
    print("| ---: | ---: | ---: | ---: |")
    for multiple in (1, 25, 50):
        shuffled = np.mean([padded_per_clip(rng.permutation(len(frames)), multiple)
                            for _ in range(args.epochs)])
        grouped = np.mean([
            padded_per_clip(length_grouped_order(frames, args.batch_size, 0, e), multiple)
            for e in range(args.epochs)
        ])
        print(f"| {multiple} frames | {shuffled:.1f} | {grouped:.1f} | "
              f"{100 * (1 - grouped / shuffled):.0f} % |")


if __name__ == "__main__":
    main()
