"""Small synthetic corpora shared by the data tests, made at test time."""

import numpy as np
import pytest
import soundfile

from kser.data.synthetic import write_corpus

# Short clips and few actors keep the suite fast.
CORPUS_ACTORS = 4
CORPUS_SECONDS = 0.5
CORPUS_RATE = 16000


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A 4-actor, 240-clip synthetic RAVDESS at 16 kHz, ~0.5 s per clip."""
    root = tmp_path_factory.mktemp("corpus") / "ravdess"
    return write_corpus(
        root,
        actors=CORPUS_ACTORS,
        sample_rate=CORPUS_RATE,
        clip_seconds=CORPUS_SECONDS,
    )


@pytest.fixture(scope="session")
def clips(corpus):
    from kser.data.pipeline import load_clips

    return load_clips(corpus)


def write_wav(path, samples, rate=16000, subtype="PCM_16"):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.asarray(samples), rate, subtype=subtype)
    return path


def touch(path):
    """An empty file: indexing reads names only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path
