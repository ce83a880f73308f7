"""kser.predict and `kser predict`: windows, resampling, formats, errors."""

import csv
import io
import json
import shutil

import keras
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from kser.cli import main
from kser.data.audio import load_audio
from kser.data.audio import resample
from kser.errors import AudioError
from kser.errors import DataError
from kser.errors import ModelError
from kser.models import EmotionClassifier
from kser.models import HubertBackbone
from kser.predict import find_audio_files
from kser.predict import load_classifier
from kser.predict import predict_files
from kser.predict import predict_waveforms
from kser.predict import window_bounds
from tests.models.helpers import TINY_BACKBONE

RATE = 16000


def tiny_classifier(head="dense", layers="last", seed=0):
    """A small random classifier with peaked outputs.

    The logits kernel is scaled up so probabilities are far from uniform and
    comparisons between two paths mean something.
    """
    keras.utils.set_random_seed(seed)
    backbone = HubertBackbone(**TINY_BACKBONE, padding_invariant=True)
    model = EmotionClassifier(backbone, head=head, layers=layers)
    kernel = model.head.get_layer("logits").kernel
    kernel.assign(kernel * 20.0)
    return model


def signal(seconds, seed=0):
    """Speech-like test audio: a gliding tone with noise and an envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 150 + 60 * np.sin(2 * np.pi * 0.7 * t)
    x = np.sin(2 * np.pi * np.cumsum(f0) / RATE) * (0.6 + 0.4 * np.sin(3 * t))
    return (0.3 * x + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def direct_probabilities(model, waveform):
    """softmax(model(...)) on one unpadded clip, no kser.predict involved."""
    logits = model.predict_on_batch(
        {
            "waveform": waveform[None].astype(np.float32),
            "padding_mask": np.ones((1, len(waveform)), np.int32),
        }
    )
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits))[0]


@pytest.fixture(scope="module")
def model():
    return tiny_classifier()


@pytest.fixture(scope="module")
def model_path(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model.save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory):
    """A 9 s file, a 2 s file and a nested 1.5 s FLAC, plus a non-audio file."""
    root = tmp_path_factory.mktemp("audio")
    soundfile.write(str(root / "long.wav"), signal(9.0, 1), RATE)
    soundfile.write(str(root / "short.wav"), signal(2.0, 2), RATE)
    (root / "sub").mkdir()
    soundfile.write(str(root / "sub" / "clip.flac"), signal(1.5, 3), RATE)
    (root / "notes.txt").write_text("not audio")
    (root / "._long.wav").write_bytes(b"macOS resource fork")
    return root


def _one_line_error(result):
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kser: error: ")
    return lines[0]


def test_window_bounds():
    assert window_bounds(100, 200, 50) == [(0, 100)]
    assert window_bounds(200, 200, 50) == [(0, 200)]
    # Full windows every hop; the last one moved back to end at the end.
    assert window_bounds(330, 200, 100) == [(0, 200), (100, 300), (130, 330)]
    assert window_bounds(400, 200, 100) == [(0, 200), (100, 300), (200, 400)]


def test_public_names_and_light_import():
    import subprocess
    import sys

    import kser.predict

    for name in (
        "AUDIO_EXTENSIONS", "DEFAULT_BATCH_SIZE", "DEFAULT_HOP_SECONDS",
        "DEFAULT_WINDOW_SECONDS", "FORMATS", "FilePrediction", "SAMPLE_RATE",
        "WindowPrediction", "check_audio_files", "find_audio_files",
        "format_csv", "format_results", "format_table", "load_audio",
        "load_classifier", "min_samples", "predict_files", "predict_waveforms",
        "resolve_model_path", "results_to_dict", "window_bounds",
    ):
        assert hasattr(kser.predict, name), name
    code = "import sys, kser.predict, kser.export; print('keras' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_shortest_clip_comes_from_the_backbone(model):
    from kser.predict import min_samples

    assert min_samples(model) == model.backbone.min_samples == 400
    (result,) = predict_waveforms(model, [signal(400 / RATE)])
    assert result.duration == 400 / RATE
    with pytest.raises(AudioError, match="at least 400 needed"):
        predict_waveforms(model, [np.zeros(399, np.float32)])


def test_long_file_gets_windows_and_a_mean_file_result(model, audio_dir):
    path = str(audio_dir / "long.wav")
    (result,) = predict_files(
        model, [path], window_seconds=4.0, hop_seconds=2.0, batch_size=3
    )
    assert result.path == path
    assert result.duration == pytest.approx(9.0)
    spans = [(w.start, w.end) for w in result.windows]
    assert spans == [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0), (5.0, 9.0)]
    window_probs = np.stack([w.probabilities for w in result.windows])
    np.testing.assert_allclose(window_probs.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(result.probabilities.sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(
        result.probabilities, window_probs.mean(0), atol=1e-6
    )
    assert result.emotion == model.label_names[
        int(np.argmax(result.probabilities))
    ]
    # Each window equals the model run on that stretch of audio alone.
    waveform = load_audio(path)
    for window in result.windows:
        segment = waveform[int(window.start * RATE) : int(window.end * RATE)]
        np.testing.assert_allclose(
            window.probabilities,
            direct_probabilities(model, segment),
            atol=1e-5,
        )


def test_default_window_scores_a_short_clip_whole(model, audio_dir):
    (result,) = predict_files(model, [str(audio_dir / "short.wav")])
    assert [(w.start, w.end) for w in result.windows] == [(0.0, 2.0)]
    np.testing.assert_allclose(
        result.probabilities,
        direct_probabilities(model, load_audio(audio_dir / "short.wav")),
        atol=1e-5,
    )


def test_batching_does_not_change_results(model):
    # Clips of several lengths share padded batches at batch size 8 and run
    # alone at batch size 1: the padding mask keeps the results equal.
    waveforms = [signal(s, i) for i, s in enumerate((0.6, 1.1, 1.7, 7.3))]
    batched = predict_waveforms(
        model, waveforms, window_seconds=2.0, hop_seconds=1.0, batch_size=8
    )
    alone = predict_waveforms(
        model, waveforms, window_seconds=2.0, hop_seconds=1.0, batch_size=1
    )
    for a, b in zip(batched, alone):
        assert len(a.windows) == len(b.windows)
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)


def test_stereo_44k_matches_its_mono_16k_version(model, tmp_path):
    mono = signal(3.2, 5)
    other = signal(3.2, 6)[::-1].copy()
    # Channels average back to `mono`: the 16 kHz mono version of the file.
    stereo = np.stack([mono + 0.5 * other, mono - 0.5 * other], axis=1)
    stereo_44k = np.stack(
        [resample(stereo[:, c], RATE, 44100) for c in range(2)], axis=1
    )
    stereo_path = tmp_path / "stereo_44k.wav"
    soundfile.write(str(stereo_path), stereo_44k, 44100, subtype="FLOAT")
    mono_path = tmp_path / "mono_16k.wav"
    soundfile.write(str(mono_path), mono, RATE, subtype="FLOAT")

    (from_stereo,) = predict_files(model, [stereo_path])
    (from_mono,) = predict_files(model, [mono_path])
    # Exactly what load_audio (downmix + resample) gives the model.
    (reference,) = predict_waveforms(model, [load_audio(stereo_path)])
    np.testing.assert_allclose(
        from_stereo.probabilities, reference.probabilities, atol=1e-6
    )
    # And close to the mono 16 kHz original: only resampling differs.
    assert abs(from_stereo.duration - from_mono.duration) < 1e-3
    np.testing.assert_allclose(
        from_stereo.probabilities, from_mono.probabilities, atol=0.02
    )
    assert from_stereo.emotion == from_mono.emotion


def test_find_audio_files(audio_dir):
    files = find_audio_files([audio_dir])
    names = [p.replace(str(audio_dir), "") for p in files]
    # Sorted, recursive, hidden and non-audio files skipped.
    assert names == ["/long.wav", "/short.wav", "/sub/clip.flac"]
    # Named files are kept; duplicates dropped.
    again = find_audio_files([audio_dir / "short.wav", audio_dir])
    assert again[0] == str(audio_dir / "short.wav")
    assert len(again) == 3


def test_library_errors(model, audio_dir, tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        find_audio_files([tmp_path / "missing.wav"])
    with pytest.raises(DataError, match="no audio files found"):
        find_audio_files([tmp_path])
    with pytest.raises(AudioError, match="too short"):
        predict_waveforms(model, [np.zeros(300, np.float32)])
    with pytest.raises(ModelError, match="not a .keras model file"):
        load_classifier(audio_dir / "long.wav")
    with pytest.raises(ModelError, match="no model.keras"):
        load_classifier(tmp_path)


def test_run_folder_is_accepted_as_model(model_path, audio_dir, tmp_path):
    fold = tmp_path / "run" / "lstm" / "fold_01"
    fold.mkdir(parents=True)
    shutil.copy(model_path, fold / "model.keras")
    assert isinstance(load_classifier(fold), EmotionClassifier)
    # A folder with models only deeper down names one instead of guessing.
    with pytest.raises(ModelError, match="fold_01/model.keras"):
        load_classifier(tmp_path / "run")


def test_cli_formats(model_path, audio_dir):
    runner = CliRunner()
    base = ["predict", "--model", model_path, str(audio_dir), "--quiet"]
    labels = load_classifier(model_path).label_names

    result = runner.invoke(main, base + ["--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    columns = ["file", "window", "start", "end", "emotion"] + labels
    assert list(rows[0]) == columns + ["silent"]
    assert {row["silent"] for row in rows} == {"false"}
    per_file = {}
    for row in rows:
        per_file.setdefault(row["file"], []).append(row["window"])
        probs = [float(row[name]) for name in labels]
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        assert row["emotion"] == labels[int(np.argmax(probs))]
    long_path = str(audio_dir / "long.wav")
    # 9 s with 6 s windows every 3 s: (0, 6) and (3, 9).
    assert per_file[long_path] == ["all", "1", "2"]
    assert per_file[str(audio_dir / "short.wav")] == ["all", "1"]
    assert len(per_file) == 3

    result = runner.invoke(main, base + ["--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["label_names"] == labels
    assert data["window_seconds"] == 6.0 and data["hop_seconds"] == 3.0
    assert data["failures"] == []
    assert {f["silent"] for f in data["files"]} == {False}
    (long_entry,) = [f for f in data["files"] if f["path"] == long_path]
    assert [(w["start"], w["end"]) for w in long_entry["windows"]] == [
        (0.0, 6.0),
        (3.0, 9.0),
    ]
    assert sum(long_entry["probabilities"].values()) == pytest.approx(
        1.0, abs=1e-4
    )

    result = runner.invoke(main, base)  # table
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["file", "window", "emotion"] + labels
    # Three file rows plus two window rows for the long file only.
    assert len(lines) == 1 + 3 + 2
    assert lines[2].split()[0] == "0.00-6.00s"
    widths = {len(line) for line in lines[:2]}
    assert len(widths) == 1  # aligned columns


def test_cli_out_file_and_window_options(model_path, audio_dir, tmp_path):
    out = tmp_path / "predictions.json"
    result = CliRunner().invoke(
        main,
        ["predict", "--model", model_path, str(audio_dir / "long.wav"),
         "--format", "json", "--window-seconds", "4", "--hop-seconds", "2",
         "--batch-size", "2", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"wrote predictions for 1 file to {out}\n"
    data = json.loads(out.read_text())
    assert len(data["files"][0]["windows"]) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.json"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "no such file or folder"),
        ("no_audio", "no audio files found"),
        ("corrupt", "cannot decode audio"),
        ("truncated", "truncated WAV file"),
        ("not_model", "not a .keras model file"),
        ("not_classifier", "not a kser EmotionClassifier"),
        ("bad_hop", "hop must be positive"),
        ("bad_format", "'xml' is not one of table, csv, json"),
    ],
)
def test_cli_errors_with_fail_fast(case, message, model_path, audio_dir,
                                   tmp_path):
    # --fail-fast: the first bad input (or a bad run option) is one line,
    # exit 2 and no output. Without it, a bad file among good ones fails
    # alone (tests/test_predict_batch.py); run-level errors are the same.
    model = model_path
    inputs = [str(audio_dir / "short.wav")]
    extra = []
    if case == "missing":
        inputs.append(str(tmp_path / "nowhere.wav"))
    elif case == "no_audio":
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "readme.txt").write_text("x")
        inputs = [str(tmp_path / "empty")]
    elif case == "corrupt":
        bad = tmp_path / "bad.wav"
        bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
        inputs.append(str(bad))
    elif case == "truncated":
        data = (audio_dir / "long.wav").read_bytes()
        (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
        inputs.append(str(tmp_path / "cut.wav"))
    elif case == "not_model":
        model = str(audio_dir / "short.wav")
    elif case == "not_classifier":
        other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model = str(tmp_path / "other.keras")
        other.save(model)
    elif case == "bad_hop":
        extra = ["--window-seconds", "2", "--hop-seconds", "3"]
    out = tmp_path / "out.csv"
    output_format = "xml" if case == "bad_format" else "csv"
    result = CliRunner().invoke(
        main,
        ["predict", "--model", model, *inputs, "--format", output_format,
         "--out", str(out), "--fail-fast", *extra],
    )
    line = _one_line_error(result)
    assert message in line
    assert not out.exists()  # no partial output


def test_saved_classifier_loads_in_a_fresh_process(tmp_path):
    # `kser.models` is lazy: loading must import the backbone families
    # itself, in a process that never built a backbone.
    import subprocess
    import sys

    path = str(tmp_path / "model.keras")
    tiny_classifier().save(path)
    code = (
        "import sys\n"
        "from kser.predict import load_classifier\n"
        "m = load_classifier(sys.argv[1])\n"
        "print(type(m).__name__, type(m.backbone).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, path], capture_output=True, text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["EmotionClassifier", "HubertBackbone"]
