"""`kser predict` on batches with bad and silent files: the good files are
scored, each bad one gets one error line, silent ones a warning, exit 2."""

import csv
import io
import json
import os

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from kser.cli import main
from kser.errors import AudioError
from kser.errors import DataError
from kser.predict import SILENT_PEAK
from kser.predict import count_noun
from kser.predict import peak_level
from kser.predict import predict_batch
from kser.predict import predict_files
from kser.predict import predict_waveforms
from kser.predict.formats import format_table
from tests.test_predict import RATE
from tests.test_predict import model  # noqa: F401 (fixture)
from tests.test_predict import model_path  # noqa: F401 (fixture)
from tests.test_predict import signal


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory):
    """Two good clips, one corrupt file and one silent clip."""
    root = tmp_path_factory.mktemp("batch")
    soundfile.write(str(root / "a_good.wav"), signal(1.0, 1), RATE)
    soundfile.write(str(root / "b_good.flac"), signal(1.5, 2), RATE)
    (root / "c_corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    soundfile.write(
        str(root / "d_silent.wav"), np.zeros(RATE, np.float32), RATE
    )
    return root


@pytest.fixture
def loaded(model, monkeypatch):  # noqa: F811
    """`kser predict` reuses the in-memory copy of model_path's classifier.

    Loading the .keras file (tested in tests/test_predict.py and once
    here) and recompiling the same model for every invocation would make
    most of these tests' time.
    """
    import kser.predict.scoring as scoring

    monkeypatch.setattr(scoring, "load_classifier", lambda path: model)


def _stderr_lines(result, kind):
    return [
        line
        for line in result.stderr.splitlines()
        if line.startswith(f"kser: {kind}: ")
    ]


def _invoke(args):
    return CliRunner().invoke(main, ["predict", "--quiet", *args])


def test_batch_scores_good_and_silent_files_and_reports_the_bad_one(
    model, model_path, batch_dir, tmp_path, monkeypatch  # noqa: F811
):
    corrupt = str(batch_dir / "c_corrupt.wav")
    silent = str(batch_dir / "d_silent.wav")
    scored = [str(batch_dir / n) for n in ("a_good.wav", "b_good.flac")]
    scored.append(silent)

    out = tmp_path / "out.csv"
    result = _invoke(
        ["--model", model_path, str(batch_dir), "--format", "csv",
         "--out", str(out)]
    )
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stdout == ""
    (error,) = _stderr_lines(result, "error")
    assert error.startswith(f"kser: error: {corrupt}: cannot decode audio")
    (warning,) = _stderr_lines(result, "warning")
    assert warning.startswith(f"kser: warning: {silent}: silent audio (peak")
    assert "scored anyway" in warning
    # The last line sums up; it is not another error line.
    assert result.stderr.splitlines()[-1] == (
        f"wrote predictions for 3 files to {out}; 1 failed (errors above)"
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    file_rows = {r["file"]: r for r in rows if r["window"] == "all"}
    assert list(file_rows) == scored  # in file order, the corrupt one left out
    assert [file_rows[p]["silent"] for p in scored] == ["false", "false", "true"]
    assert not [p for p in tmp_path.iterdir() if p.name != "out.csv"]

    # Loaded from the file once above; the same model in memory from here.
    import kser.predict.scoring as scoring

    monkeypatch.setattr(scoring, "load_classifier", lambda path: model)
    # JSON on stdout lists the failure beside the scored files.
    result = _invoke(
        ["--model", model_path, str(batch_dir), "--format", "json"]
    )
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert [f["path"] for f in data["files"]] == scored
    assert [f["silent"] for f in data["files"]] == [False, False, True]
    (failure,) = data["failures"]
    assert failure["path"] == corrupt
    assert failure["error"].startswith("cannot decode audio")
    assert len(_stderr_lines(result, "error")) == 1
    assert result.stderr.splitlines()[-1] == (
        "kser: scored 3 files; 1 failed (errors above)"
    )

    # The table lists the scored files only.
    result = _invoke(["--model", model_path, str(batch_dir)])
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == scored


def test_fail_fast_stops_at_the_corrupt_file_with_nothing_written(
    model_path, batch_dir, tmp_path, loaded  # noqa: F811
):
    for output in ("csv", "json"):
        out = tmp_path / f"out.{output}"
        result = _invoke(
            ["--model", model_path, str(batch_dir), "--format", output,
             "--out", str(out), "--fail-fast"]
        )
        assert result.exit_code == 2, (result.output, result.exception)
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        corrupt = str(batch_dir / "c_corrupt.wav")
        assert line.startswith(f"kser: error: {corrupt}: cannot decode audio")
        assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def _make_bad_input(case, tmp_path, good):
    """A bad input of kind `case`, and the start of its error message."""
    if case == "empty":
        path = tmp_path / "empty.wav"
        path.write_bytes(b"")
        return str(path), "empty file (0 bytes)"
    if case == "truncated":
        data = open(good, "rb").read()
        path = tmp_path / "cut.wav"
        path.write_bytes(data[: len(data) // 2])
        return str(path), "truncated WAV file"
    if case == "not_audio":
        path = tmp_path / "notes.wav"
        path.write_text("these are meeting notes, not audio\n" * 20)
        return str(path), "cannot decode audio"
    if case == "no_samples":
        path = tmp_path / "no_samples.wav"
        soundfile.write(str(path), np.zeros(0, np.float32), RATE)
        return str(path), "contains no audio samples"
    if case == "too_short":
        path = tmp_path / "blip.wav"
        soundfile.write(str(path), signal(0.01), RATE)
        return str(path), "too short to score"
    if case == "missing":
        return str(tmp_path / "nowhere.wav"), "no such file or folder"
    if case == "broken_link":
        path = tmp_path / "link.wav"
        os.symlink(tmp_path / "gone.wav", path)
        return str(path), "no such file or folder"
    if case == "no_audio_folder":
        path = tmp_path / "docs"
        path.mkdir()
        (path / "readme.txt").write_text("x")
        (path / "._hidden.wav").write_bytes(b"macOS resource fork")
        return str(path), "no audio files found in this folder"
    raise AssertionError(case)


BAD_CASES = [
    "empty", "truncated", "not_audio", "no_samples", "too_short", "missing",
    "broken_link", "no_audio_folder",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_each_bad_input_is_one_error_line(
    case, model_path, tmp_path, loaded  # noqa: F811
):
    good = str(tmp_path / "good.wav")
    soundfile.write(good, signal(1.0, 4), RATE)
    bad, message = _make_bad_input(case, tmp_path, good)
    out = tmp_path / "out.json"
    args = ["--model", model_path, good, bad, "--format", "json"]

    result = _invoke(args + ["--out", str(out)])
    assert result.exit_code == 2, (result.output, result.exception)
    (line,) = _stderr_lines(result, "error")
    assert line.startswith(f"kser: error: {bad}: {message}"), line
    data = json.loads(out.read_text())
    assert [f["path"] for f in data["files"]] == [good]
    assert [f["path"] for f in data["failures"]] == [bad]

    out.unlink()
    result = _invoke(args + ["--out", str(out), "--fail-fast"])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"kser: error: {bad}: {message}"), line
    assert not out.exists()


def test_unreadable_file_is_one_error_line(
    model_path, tmp_path, monkeypatch, loaded  # noqa: F811
):
    good = str(tmp_path / "good.wav")
    soundfile.write(good, signal(1.0, 4), RATE)
    locked = tmp_path / "locked.wav"
    soundfile.write(str(locked), signal(1.0, 5), RATE)
    os.chmod(locked, 0)
    if os.geteuid() == 0:  # root reads anything: refuse the open instead.
        import builtins

        import kser.predict.files as files

        def refusing_open(path, *args, **kwargs):
            if os.fspath(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(path))
            return builtins.open(path, *args, **kwargs)

        monkeypatch.setattr(files, "open", refusing_open, raising=False)
    result = _invoke(["--model", model_path, good, str(locked), "--format",
                      "csv"])
    assert result.exit_code == 2, (result.output, result.exception)
    (line,) = _stderr_lines(result, "error")
    assert line == f"kser: error: {locked}: cannot read (Permission denied)"
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["file"] for r in rows} == {good}


def test_all_inputs_bad_writes_nothing(model_path, tmp_path, loaded):  # noqa: F811
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    out = tmp_path / "out.csv"
    result = _invoke(
        ["--model", model_path, str(empty), str(tmp_path / "nowhere.flac"),
         "--format", "csv", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(_stderr_lines(result, "error")) == 2
    assert result.stderr.splitlines()[-1] == (
        "kser: nothing scored; 2 failed (errors above); no output written"
    )
    assert not out.exists()


def test_silent_clip_alone_warns_and_exits_zero(
    model_path, batch_dir, loaded  # noqa: F811
):
    silent = str(batch_dir / "d_silent.wav")
    result = _invoke(["--model", model_path, silent, "--format", "csv"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr.splitlines() == [
        f"kser: warning: {silent}: silent audio (peak 0, below 0.0001 = "
        "-80 dBFS); scored anyway, but the result means little"
    ]
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))[:1]
    assert row["silent"] == "true"


def test_library_batch_and_silence(model, batch_dir):  # noqa: F811
    batch = predict_batch(model, [batch_dir])
    assert not batch.ok
    assert [os.path.basename(r.path) for r in batch.results] == [
        "a_good.wav", "b_good.flac", "d_silent.wav"
    ]
    assert [r.silent for r in batch.results] == [False, False, True]
    (failure,) = batch.failures
    assert failure.path == str(batch_dir / "c_corrupt.wav")
    assert failure.message == f"{failure.path}: {failure.reason}"
    # Failures come in input order, whatever stage found them.
    missing = str(batch_dir / "nowhere.wav")
    for inputs in ([missing, batch_dir], [batch_dir, missing]):
        failed = [f.path for f in predict_batch(model, inputs).failures]
        expected = [failure.path, missing]
        assert failed == (expected if inputs[0] == batch_dir else expected[::-1])
    with pytest.raises(AudioError, match="c_corrupt.wav: cannot decode"):
        predict_files(model, [batch_dir])
    with pytest.raises(AudioError, match="c_corrupt.wav: cannot decode"):
        predict_batch(model, [batch_dir], fail_fast=True)
    with pytest.raises(DataError, match="no audio files given"):
        predict_batch(model, [])

    # Silence: all zeros, a DC offset, rounding noise below the threshold;
    # speech-level audio and a quiet (-60 dBFS) signal are not silent.
    rng = np.random.default_rng(0)
    quiet_noise = (0.3 * SILENT_PEAK * rng.standard_normal(RATE)).clip(
        -0.9 * SILENT_PEAK, 0.9 * SILENT_PEAK
    )
    waves = [
        np.zeros(RATE, np.float32),
        np.full(RATE, 0.25, np.float32),
        quiet_noise.astype(np.float32),
        signal(1.0),
        0.001 * signal(1.0) / np.abs(signal(1.0)).max(),
    ]
    results = predict_waveforms(model, waves)
    assert [r.silent for r in results] == [True, True, True, False, False]
    assert results[0].peak == 0.0 and peak_level(waves[1]) == 0.0
    assert results[4].peak == pytest.approx(0.001, rel=0.05)
    for r in results:  # still scored
        np.testing.assert_allclose(r.probabilities.sum(), 1.0, atol=1e-5)
    assert len(results[0].warnings()) == 1 and results[3].warnings() == []
    assert format_table(results).count("\n") == 1 + len(waves)


def test_count_noun():
    assert count_noun(0, "file") == "0 files"
    assert count_noun(1, "file") == "1 file"
    assert count_noun(2, "file") == "2 files"
    assert count_noun(1, "class", "classes") == "1 class"
    assert count_noun(3, "class", "classes") == "3 classes"
