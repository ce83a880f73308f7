"""`run_training`: what `kser train` and `kser cv` run.

Indexes the corpus (and any cross-corpus test corpora), checks the folds'
speakers, loads the backbone, and runs the folds through an `Experiment`
while holding the run folder's lock (`kser.report.lock`) and recording the
invocation in `run_config.json` (`kser.train.records`).
"""

import os
import sys

from kser.data.folds import check_fold_speakers
from kser.data.folds import fold_speaker_report
from kser.data.folds import get_folds
from kser.errors import KserError
from kser.labels import PAPER_EMOTIONS
from kser.train import cross_corpus as _cross
from kser.train import records as _records
from kser.train.config import environment
from kser.train.experiment import Experiment
from kser.train.features import load_backbone


def run_training(
    data_dir,
    configs,
    out_dir,
    folds=None,
    cache_dir=None,
    save_model=False,
    progress=True,
    backbone=None,
    normalize=None,
    jobs=1,
    test_corpora=None,
    allow_missing_speakers=False,
    skip_invalid=False,
    plots=True,
):
    """Index a corpus, load the backbone and run folds: `kser train`/`cv`.

    Holds the run folder's lock (`out_dir/.kser.lock`; a second run into
    the same folder stops with an error naming the holder), adds this
    invocation to `out_dir/run_config.json` (every config, the data folder,
    the environment; earlier invocations are kept), then writes per-fold
    results and the summary. A run that fails before it finishes a fold
    leaves no `run_config.json` entry and no fold folder.

    Args:
        data_dir: str. The corpus root (for RAVDESS `Actor_NN/` or flat).
        configs: list of `TrainConfig`. One per variant, same corpus,
            preset, protocol and dtype.
        out_dir: str. The run folder.
        folds: list of int or None. Folds to run; default all.
        cache_dir: str or None. Feature cache (default `out_dir/feature_cache`).
        save_model: bool. Save each fold's full classifier (`model.keras`).
        progress: bool. Progress bars and per-epoch lines.
        backbone: a backbone or None. Use this instead of loading
            `configs[0].preset` (the quickstart's random backbone).
        normalize: bool or None. With `backbone`, whether to normalise.
        jobs: int. Folds whose heads train at once in worker processes
            (see `Experiment.run_cv`).
        test_corpora: list of `(corpus_name, data_dir)` or None. Corpora
            every trained fold is also tested on (cross-corpus, over the
            labels both share; see `kser.train.cross_corpus`).
        allow_missing_speakers: bool. Run folds whose validation or test
            speakers have no clips (each result lists them under
            `missing_speakers`) instead of stopping with an error.
        skip_invalid: bool. Skip (and count) audio files whose names do
            not follow the corpus, instead of stopping at the first.
        plots: bool. Draw each fold's PNG plots; when False,
            `kser report OUT_DIR` (`rebuild_reports`) draws them later.

    Returns:
        dict. The cross-validation summary.
    """
    from kser.data import load_corpus

    configs = list(configs)
    shared = {(c.corpus, c.preset, c.protocol, c.dtype) for c in configs}
    if len(shared) != 1:
        raise KserError("variants of one run share corpus, preset, protocol and dtype")
    corpus = configs[0].corpus
    corpus_options = {"skip_invalid": True} if skip_invalid else {}
    index = load_corpus(corpus, data_dir, **corpus_options)
    tests = [(name, load_corpus(name, root, **corpus_options))
             for name, root in (test_corpora or [])]
    for name, test_index in tests:
        _cross.cross_corpus_clips(
            list(getattr(index, "label_names", None) or PAPER_EMOTIONS),
            test_index, name,
        )  # No shared label: fail before training.
    chosen = [f for f in get_folds(configs[0].protocol, corpus=corpus, index=index)
              if not folds or f.index in folds]
    check_fold_speakers(chosen, index, allow_missing=allow_missing_speakers)
    with _records.run_folder(out_dir) as run:
        if backbone is None:
            backbone, normalize = load_backbone(configs[0].preset, configs[0].dtype)
        experiment = Experiment(
            index,
            backbone,
            out_dir,
            normalize=True if normalize is None else normalize,
            cache_dir=cache_dir,
            progress=progress,
            corpus=corpus,
            test_corpora=tests,
            plots=plots,
        )
        invocation = {
            "data": os.path.abspath(data_dir),
            "corpus": corpus,
            "folds": folds,
            "test_corpora": [
                {"corpus": name, "data": os.path.abspath(root)}
                for name, root in (test_corpora or [])
            ],
            "configs": [c.to_dict() for c in configs],
            "environment": environment(),
        }
        if progress:  # once every check passed: errors stay one line
            print(_records.run_header(invocation), file=sys.stderr, flush=True)
            if chosen:
                print(fold_speaker_report(chosen, index), flush=True)
        with run.record(invocation, experiment):
            return experiment.run_cv(
                configs, folds=folds, save_model=save_model, jobs=jobs
            )
