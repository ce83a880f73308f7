import numpy as np
import pytest
import soundfile

from kser.data.audio import content_hash
from kser.data.audio import load_audio
from kser.data.audio import normalize_waveform
from kser.data.audio import resample
from kser.errors import AudioError
from kser.errors import KserError
from tests.data.conftest import write_wav


def sine(freq, rate, seconds=0.5, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(x, rate):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)]


def test_loads_16k_mono_float32(tmp_path):
    path = write_wav(tmp_path / "a.wav", sine(440, 16000), 16000, "FLOAT")
    x = load_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1 and len(x) == 8000
    np.testing.assert_allclose(x, sine(440, 16000), atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 22050, 48000])
def test_resamples_to_16k(tmp_path, rate):
    path = write_wav(tmp_path / "a.wav", sine(440, rate), rate)
    x = load_audio(path)
    assert x.dtype == np.float32
    assert abs(len(x) - 8000) <= 1
    assert abs(peak_frequency(x, 16000) - 440) < 5
    # Amplitude survives (away from the filter's edge effects).
    assert np.max(np.abs(x[1000:-1000])) == pytest.approx(0.5, abs=0.02)


def test_resample_identity_and_other_target():
    x = sine(1000, 16000)
    assert resample(x, 16000, 16000) is not None
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)
    y = resample(x, 16000, 8000)
    assert len(y) == 4000 and abs(peak_frequency(y, 8000) - 1000) < 10


def test_downmixes_to_mono(tmp_path):
    left, right = sine(300, 16000, amp=0.4), sine(300, 16000, amp=0.2)
    stereo = np.stack([left, right], axis=1)
    path = write_wav(tmp_path / "st.wav", stereo, 16000, "FLOAT")
    np.testing.assert_allclose(
        load_audio(path), 0.5 * (left + right), atol=1e-6
    )
    opposite = np.stack([left, -left], axis=1)
    path = write_wav(tmp_path / "op.wav", opposite, 16000, "FLOAT")
    np.testing.assert_allclose(load_audio(path), 0.0, atol=1e-7)


def test_downmix_and_resample_together(tmp_path):
    stereo = np.stack([sine(500, 48000), sine(500, 48000)], axis=1)
    path = write_wav(tmp_path / "st48.wav", stereo, 48000)
    x = load_audio(path)
    assert x.ndim == 1 and abs(len(x) - 8000) <= 1
    assert abs(peak_frequency(x, 16000) - 500) < 5


def test_silent_file_loads_and_normalizes(tmp_path):
    path = write_wav(tmp_path / "silence.wav", np.zeros(4000), 16000)
    x = load_audio(path)
    assert len(x) == 4000 and not np.any(x)
    y = normalize_waveform(x)
    assert np.all(np.isfinite(y)) and not np.any(y)


def test_normalize_waveform():
    x = sine(200, 16000) + 0.3
    y = normalize_waveform(x)
    assert y.dtype == np.float32
    assert abs(float(y.mean())) < 1e-5 and float(y.std()) == pytest.approx(
        1.0, abs=1e-3
    )


def _assert_names(error, path):
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    assert isinstance(error.value, KserError)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file") as error:
        load_audio(tmp_path / "nope.wav")
    _assert_names(error, tmp_path / "nope.wav")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="empty file") as error:
        load_audio(path)
    _assert_names(error, path)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"this is not audio at all" * 40)
    with pytest.raises(AudioError, match="cannot decode audio") as error:
        load_audio(path)
    _assert_names(error, path)


def test_truncated_file(tmp_path):
    path = write_wav(tmp_path / "full.wav", sine(440, 16000), 16000)
    data = path.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated WAV") as error:
        load_audio(cut)
    _assert_names(error, cut)
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(data[:20])
    with pytest.raises(AudioError) as error:
        load_audio(header_only)
    _assert_names(error, header_only)


def test_zero_length_audio(tmp_path):
    path = tmp_path / "nosamples.wav"
    soundfile.write(str(path), np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples") as error:
        load_audio(path)
    _assert_names(error, path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad):
    x = sine(440, 16000)
    x[100] = bad
    path = write_wav(tmp_path / "bad.wav", x, 16000, "FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite") as error:
        load_audio(path)
    _assert_names(error, path)


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(AudioError, match="is a folder"):
        load_audio(tmp_path)


def test_content_hash_tracks_bytes(tmp_path):
    a = write_wav(tmp_path / "a.wav", sine(440, 16000), 16000)
    b = write_wav(tmp_path / "b.wav", sine(440, 16000), 16000)
    c = write_wav(tmp_path / "c.wav", sine(441, 16000), 16000)
    assert content_hash(a) == content_hash(b) != content_hash(c)
    assert len(content_hash(a)) == 64


def test_normalize_waveform_equals_the_old_formula():
    # The numpy normalisation kser.data had before it moved to
    # kser.models.waveform: (x - mean) / sqrt(var + 1e-7), float64 stats.
    import kser.data
    from kser.models import waveform

    def old(w, epsilon=1e-7):
        w = np.asarray(w, np.float32)
        centered = w - w.mean(dtype=np.float64)
        var = np.mean(np.square(centered, dtype=np.float64))
        return (centered / np.sqrt(var + epsilon)).astype(np.float32)

    rng = np.random.default_rng(0)
    for x in (sine(200, 16000) + 0.3, rng.normal(0, 0.1, 4000), np.zeros(500)):
        np.testing.assert_allclose(
            normalize_waveform(x), old(x), rtol=1e-6, atol=1e-6
        )
    assert normalize_waveform is waveform.normalize_waveform
    assert kser.data.normalize_waveform is waveform.normalize_waveform
    assert normalize_waveform(np.zeros(0)).shape == (0,)
