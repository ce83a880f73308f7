"""`kser quickstart`: the whole pipeline on an embedded default, no downloads.

Synthesises a small RAVDESS-format corpus, builds a small HuBERT with
random weights, runs each of the paper's variants on one paper fold for a
few epochs, and writes the per-fold reports and the Table I summary. The
backbone is untrained, so the numbers show that the pipeline works, not how
well HuBERT recognises emotion; for that, convert a real checkpoint
(`kser convert`) and run `kser cv` on RAVDESS.
"""

import os

from kser.data import load_corpus
from kser.data.synthetic import write_corpus
from kser.errors import DataError

# A small HuBERT: the real conv frame rate (320 samples per frame), narrow.
QUICKSTART_BACKBONE = dict(
    hidden_dim=64,
    num_layers=2,
    num_heads=4,
    intermediate_dim=128,
    conv_dims=[64] * 7,
    pos_conv_kernel_size=16,
    pos_conv_groups=4,
)
QUICKSTART_VARIANTS = ("dense", "dense-aug", "lstm")


def _corpus(path, seconds, seed, progress):
    try:
        return load_corpus("ravdess", path, require_complete=True)
    except DataError:
        pass  # missing or incomplete: write it afresh
    return write_corpus(
        path, clip_seconds=seconds, seed=seed, overwrite=True, progress=progress
    )


def run_quickstart(
    out_dir="kser-quickstart",
    epochs=4,
    fold=3,
    seconds=1.5,
    seed=0,
    variants=QUICKSTART_VARIANTS,
    progress=True,
    preset=None,
):
    """Run the quickstart; returns the cross-validation summary.

    Args:
        out_dir: str. Corpus in `out_dir/corpus`, results in `out_dir/run`.
        epochs: int. Epochs per variant.
        fold: int. The paper fold (3: the paper's best, actors 07 and 08).
        seconds: float. Typical clip length of the synthetic corpus.
        seed: int. Seeds the corpus, the backbone and training.
        variants: list of str. Which variants to run.
        progress: bool. Progress bars and per-epoch lines.
        preset: str or None. A backbone preset (any family: a name, a
            folder from `kser convert`) instead of the small random HuBERT.
    """
    import keras

    from kser.models import build_backbone
    from kser.train.config import TrainConfig
    from kser.train.training import run_training
    from kser.train.features import load_backbone

    keras.utils.set_random_seed(seed)
    if preset is None:
        backbone = build_backbone(
            "hubert", **QUICKSTART_BACKBONE, padding_invariant=True
        )
        normalize = True
    else:
        # Load (and fail on a bad preset) before writing the corpus.
        backbone, normalize = load_backbone(preset)
    corpus = os.path.join(out_dir, "corpus")
    _corpus(corpus, seconds, seed, progress)
    configs = [
        TrainConfig(
            variant=variant,
            preset="quickstart-random" if preset is None else preset,
            epochs=epochs,
            batch_size=16,
            seed=seed,
            max_seconds=max(2.0, 2 * seconds),
        )
        for variant in variants
    ]
    return run_training(
        corpus,
        configs,
        os.path.join(out_dir, "run"),
        folds=[fold],
        progress=progress,
        backbone=backbone,
        normalize=normalize,
    )
