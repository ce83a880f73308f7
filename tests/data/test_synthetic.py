import collections
import os

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from kser.cli import main
from kser.data import synthetic
from kser.data.ravdess import EMOTIONS
from kser.data.ravdess import index_ravdess
from kser.data.synthetic import clip_prosody
from kser.data.synthetic import make_clip
from kser.data.synthetic import parse_actors
from kser.data.synthetic import synthesize_clip
from kser.data.synthetic import write_corpus
from kser.errors import DataError
from tests.data.conftest import CORPUS_RATE
from tests.data.conftest import CORPUS_SECONDS


def test_synth_cli_writes_complete_speech_set(tmp_path):
    out = tmp_path / "synthetic"
    result = CliRunner().invoke(
        main,
        [
            "synth",
            str(out),
            "--seconds",
            "0.2",
            "--sample-rate",
            "8000",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "complete speech set: 24 actors x 60 clips = 1440" in result.output
    index = index_ravdess(out, require_complete=True)
    assert len(index) == 1440 and index.layout == "actor-folders"
    assert index.actor_counts() == {a: 60 for a in range(1, 25)}
    assert sorted(os.listdir(out)) == [
        f"Actor_{a:02d}" for a in range(1, 25)
    ] + ["kser-synth.json"]
    info = soundfile.info(index[0].path)
    assert (
        info.samplerate == 8000
        and info.channels == 1
        and info.subtype == "PCM_16"
    )


def test_corpus_counts_per_actor(corpus):
    assert len(corpus) == 240 and corpus.actors == (1, 2, 3, 4)
    for actor in corpus.actors:
        files = [f for f in corpus if f.actor == actor]
        assert collections.Counter(f.emotion_name for f in files) == {
            e: (4 if e == "neutral" else 8) for e in EMOTIONS
        }
        assert collections.Counter(f.intensity for f in files) == {1: 32, 2: 28}
        assert collections.Counter(f.statement for f in files) == {1: 30, 2: 30}
        assert collections.Counter(f.repetition for f in files) == {
            1: 30,
            2: 30,
        }


def test_deterministic_and_independent_of_actor_choice(tmp_path, corpus):
    small = write_corpus(
        tmp_path / "two",
        actors="2",
        sample_rate=CORPUS_RATE,
        clip_seconds=CORPUS_SECONDS,
    )
    assert small.actors == (2,)
    reference = {f.name: f.path for f in corpus}
    for f in list(small)[::7]:
        assert open(f.path, "rb").read() == open(reference[f.name], "rb").read()
    clip = make_clip(5, 3, 2, 1, 2)
    np.testing.assert_array_equal(
        synthesize_clip(clip, 8000, 0.5), synthesize_clip(clip, 8000, 0.5)
    )
    assert not np.array_equal(
        synthesize_clip(clip, 8000, 0.5),
        synthesize_clip(clip, 8000, 0.5, seed=1),
    )


def test_audio_is_speech_like(corpus):
    x, rate = soundfile.read(corpus[0].path)
    assert rate == CORPUS_RATE and x.ndim == 1
    assert 0.3 < len(x) / rate < 0.9
    assert np.max(np.abs(x)) < 1.0 and np.std(x) > 1e-3
    # Leading silence, then speech.
    assert np.std(x[: int(0.05 * rate)]) < 0.1 * np.std(x)


def _pitch(x, rate):
    frame = int(0.04 * rate)
    hops = range(0, len(x) - frame, frame // 2)
    frames = np.stack([x[i : i + frame] for i in hops])
    energy = (frames**2).mean(1)
    frames = frames[energy > 0.1 * energy.max()]
    ac = np.fft.irfft(
        np.abs(np.fft.rfft(frames, 2 * frame, axis=1)) ** 2, axis=1
    )
    lo, hi = int(rate / 500), int(rate / 60)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    return float(np.median(rate / lag))


def test_odd_actors_male_even_female():
    male = [
        _pitch(synthesize_clip(make_clip(a, 1), 16000, 1.0), 16000)
        for a in (1, 3, 5, 7)
    ]
    female = [
        _pitch(synthesize_clip(make_clip(a, 1), 16000, 1.0), 16000)
        for a in (2, 4, 6, 8)
    ]
    assert max(male) < 160 < min(female)


def test_strong_intensity_exaggerates():
    # Averaged over actors, strong anger is louder and higher than normal.
    normal = [clip_prosody(make_clip(a, 5, 1)) for a in range(1, 25)]
    strong = [clip_prosody(make_clip(a, 5, 2)) for a in range(1, 25)]
    assert (
        np.mean([p["loud"] for p in strong])
        > np.mean([p["loud"] for p in normal]) + 1.5
    )
    assert np.mean([p["pitch"] for p in strong]) > np.mean(
        [p["pitch"] for p in normal]
    )


def _features(x, rate):
    """Per-clip pitch and energy statistics, as a simple SER baseline uses."""
    frame, hop = int(0.032 * rate), int(0.010 * rate)
    n = 1 + (len(x) - frame) // hop
    frames = x[
        np.arange(frame)[None] + hop * np.arange(n)[:, None]
    ] * np.hanning(frame)
    energy = 10 * np.log10((frames**2).mean(1) + 1e-10)
    speech = energy > energy.max() - 30
    fs = frames[speech]
    e = energy[speech]
    ac = np.fft.irfft(np.abs(np.fft.rfft(fs, 2 * frame, axis=1)) ** 2, axis=1)[
        :, :frame
    ]
    lo, hi = int(rate / 500), int(rate / 70)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    voiced = ac[np.arange(len(ac)), lag] > 0.5 * ac[:, 0]
    f0 = (
        12 * np.log2(rate / lag[voiced] / 100.0)
        if voiced.any()
        else np.zeros(1)
    )
    spectrum = np.abs(np.fft.rfft(fs, axis=1))
    centroid = (spectrum * np.fft.rfftfreq(frame, 1 / rate)).sum(1) / (
        spectrum.sum(1) + 1e-9
    )
    return [
        e.mean(),
        e.std(),
        np.percentile(e, 90),
        speech.mean(),
        voiced.mean(),
        np.median(f0),
        f0.std(),
        np.percentile(f0, 90) - np.percentile(f0, 10),
        centroid.mean(),
        centroid.std(),
        len(x) / rate,
    ]


def test_learnable_but_not_trivial(tmp_path):
    """Logistic regression on pitch/energy statistics, speaker-disjoint.

    Unseen actors must be recognised clearly above chance (1/8) and
    clearly below 100 %.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    index = write_corpus(
        tmp_path / "c", actors=8, sample_rate=8000, clip_seconds=1.0
    )
    X, y, actor = [], [], []
    for f in index:
        x, rate = soundfile.read(f.path, dtype="float32")
        X.append(_features(x, rate))
        y.append(f.label)
        actor.append(f.actor)
    X, y, actor = np.array(X), np.array(y), np.array(actor)
    accuracies = []
    for test_actors in ((1, 2, 3, 4), (5, 6, 7, 8)):
        test = np.isin(actor, test_actors)
        model = make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000)
        )
        model.fit(X[~test], y[~test])
        accuracies.append(model.score(X[test], y[test]))
    print(f"speaker-disjoint accuracies: {accuracies}")
    for accuracy in accuracies:
        assert 0.25 < accuracy < 0.85
    assert np.mean(accuracies) > 0.3


def test_write_corpus_refuses_to_clobber(tmp_path):
    out = tmp_path / "c"
    write_corpus(out, actors=1, sample_rate=8000, clip_seconds=0.2)
    with pytest.raises(DataError, match="already exists"):
        write_corpus(out, actors=1, sample_rate=8000, clip_seconds=0.2)
    index = write_corpus(
        out, actors="2", sample_rate=8000, clip_seconds=0.2, overwrite=True
    )
    assert index.actors == (2,) and not (out / "Actor_01").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        len(write_corpus(empty, actors=1, sample_rate=8000, clip_seconds=0.2))
        == 60
    )
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".kser-synth")]


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    real = synthetic.synthesize_clip

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 30:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(synthetic, "synthesize_clip", failing)
    with pytest.raises(KeyboardInterrupt):
        write_corpus(
            tmp_path / "c", actors=1, sample_rate=8000, clip_seconds=0.2
        )
    assert os.listdir(tmp_path) == []


def test_synth_cli_errors(tmp_path):
    runner = CliRunner()
    out = tmp_path / "c"
    out.mkdir()
    (out / "something").write_text("x")
    result = runner.invoke(main, ["synth", str(out), "--quiet"])
    assert result.exit_code == 2
    assert result.output.strip().startswith("kser: error: ")
    assert (
        str(out) in result.output
        and len(result.output.strip().splitlines()) == 1
    )
    for args, fragment in (
        (["--actors", "30"], "bad actor count 30"),
        (["--actors", "1-x"], "bad actor list"),
        (["--sample-rate", "4000"], "8000 to 48000"),
        (["--seconds", "0.05"], "at least 0.2"),
    ):
        result = runner.invoke(
            main, ["synth", str(tmp_path / "new")] + args + ["--quiet"]
        )
        assert (
            result.exit_code == 2 and fragment in result.output
        ), result.output
    assert not (tmp_path / "new").exists()


def test_parse_actors():
    assert parse_actors(None) == tuple(range(1, 25))
    assert parse_actors(3) == (1, 2, 3)
    assert parse_actors("1-3,7, 9") == (1, 2, 3, 7, 9)
    assert parse_actors([4, 2]) == (2, 4)
    with pytest.raises(DataError):
        parse_actors("0-2")


def test_clip_lengths_follow_real_ravdess():
    """Real RAVDESS speech clips: mean 3.70 s, median 3.67 s, max 5.27 s
    (EmoBox's metadata), none over the 6 s crop. Four actors' 240 clips
    at the default length, read without writing files."""
    from kser.data.synthetic import make_clip
    from kser.data.synthetic import synthesize_clip

    lengths = np.array([
        len(synthesize_clip(make_clip(actor, emotion, intensity, statement, rep),
                            sample_rate=8000)) / 8000
        for actor in (1, 2, 13, 14)
        for emotion in range(1, 9)
        for intensity in ((1,) if emotion == 1 else (1, 2))
        for statement in (1, 2)
        for rep in (1, 2)
    ])
    assert len(lengths) == 240
    assert 3.55 < lengths.mean() < 3.85, lengths.mean()
    assert 3.5 < np.median(lengths) < 3.85, np.median(lengths)
    assert lengths.max() < 5.6 and lengths.min() > 2.0
