"""A clip-level (not speaker-independent) fold trains like any other and is
marked as such in result.json and the summary."""

import json

import keras

from kser.data.clip_folds import ClipFold
from kser.data.synthetic import write_corpus
from kser.models import build_backbone
from kser.report import write_summary
from kser.train.config import TrainConfig
from kser.train.experiment import Experiment
from tests.models.helpers import TINY_BACKBONE


def test_clip_fold_result_and_summary_say_not_speaker_independent(tmp_path):
    index = write_corpus(tmp_path / "c", actors=2, clip_seconds=0.3, seed=2)
    stems = sorted(f.stem for f in index)
    fold = ClipFold.from_index(1, stems[::4], index, protocol="emobox-leaky")
    assert fold.speaker_independent is False
    keras.utils.set_random_seed(0)
    backbone = build_backbone("hubert", **TINY_BACKBONE, padding_invariant=True)
    experiment = Experiment(index, backbone, str(tmp_path / "run"), progress=False)
    config = TrainConfig(variant="dense", epochs=1, batch_size=16,
                         max_seconds=0.5, preset="tiny")
    result = experiment.run_fold(config, fold)
    assert result["speaker_independent"] is False
    assert result["num_test"] == len(stems[::4]) and result["num_val"] == 0
    saved = json.loads((tmp_path / "run" / "dense" / "fold_01" / "result.json").read_text())
    assert saved["speaker_independent"] is False
    write_summary(str(tmp_path / "run"), ["dense"], [1])
    assert "Not speaker-independent" in (tmp_path / "run" / "cv_summary.md").read_text()
