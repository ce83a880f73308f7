"""Loading audio: decode with soundfile, downmix to mono, resample to 16 kHz.

Every problem with a file (missing, corrupt, truncated, empty, NaN or Inf
samples) raises `AudioError` naming the file. Silent files load: they are
valid recordings, and `normalize_waveform` keeps them finite.

`normalize_waveform` (and `NORMALIZE_EPSILON`) are re-exported from
`kser.models.waveform`, the one implementation shared with the models.
"""

import hashlib
import io
import os
import struct

import numpy as np

from kser.errors import AudioError
from kser.models.waveform import NORMALIZE_EPSILON  # noqa: F401
from kser.models.waveform import normalize_waveform  # noqa: F401

# HuBERT's input rate.
SAMPLE_RATE = 16000
# The resampy filter; part of the feature cache key.
RESAMPLE_FILTER = "kaiser_best"


def content_hash(data):
    """str. The SHA-256 hex digest of a file's bytes (or of `bytes`)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        data = read_bytes(data)
    return hashlib.sha256(data).hexdigest()


def read_bytes(path):
    """bytes. A file's contents; `AudioError` if it cannot be read."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioError(f"{path}: is a folder, not an audio file") from None
    except OSError as error:
        raise AudioError(f"{path}: cannot read ({error.strerror})") from None


def _check_wav_truncation(data, name):
    # libsndfile quietly reads a truncated WAV up to where the bytes stop,
    # so compare the `data` chunk's declared size with what is there.
    if (
        len(data) < 12
        or data[:4] not in (b"RIFF", b"RIFX")
        or data[8:12] != b"WAVE"
    ):
        return
    endian = "<" if data[:4] == b"RIFF" else ">"
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack(endian + "I", data[pos + 4 : pos + 8])
        body = pos + 8
        if chunk_id == b"data":
            # 0 and 0xFFFFFFFF mark sizes unknown when the file was written
            # (streamed output); nothing to compare against then.
            if size not in (0, 0xFFFFFFFF) and body + size > len(data):
                raise AudioError(
                    f"{name}: truncated WAV file ({len(data) - body} of "
                    f"{size} audio bytes); re-download or re-extract it"
                )
            return
        pos = body + size + (size & 1)
    raise AudioError(f"{name}: WAV file without audio data; re-download it")


def to_mono(samples):
    """Average the channels of a `(frames, channels)` array into `(frames,)`."""
    samples = np.asarray(samples)
    if samples.ndim == 1:
        return samples
    return samples.mean(axis=1)


def resample(
    waveform, orig_rate, target_rate=SAMPLE_RATE, filter=RESAMPLE_FILTER
):
    """Resample a mono waveform with resampy.

    Args:
        waveform: 1D float array.
        orig_rate: int. Its sample rate.
        target_rate: int. The wanted sample rate.
        filter: str. resampy's filter, `"kaiser_best"` or `"kaiser_fast"`.

    Returns:
        A float32 array at `target_rate`.
    """
    waveform = np.asarray(waveform, np.float32)
    if int(orig_rate) == int(target_rate):
        return waveform
    import resampy

    return resampy.resample(
        waveform, int(orig_rate), int(target_rate), filter=filter, axis=-1
    ).astype(np.float32)


def decode_audio(data, name, sample_rate=SAMPLE_RATE, filter=RESAMPLE_FILTER):
    """Decode audio bytes into a mono float32 waveform at `sample_rate`.

    Args:
        data: bytes. An encoded audio file (WAV, FLAC, OGG, ...).
        name: str. The file's name, for error messages.
        sample_rate: int. The output rate.
        filter: str. resampy's filter.

    Returns:
        A 1D float32 array.

    Raises:
        AudioError: corrupt, truncated, zero-length or non-finite audio.
    """
    import soundfile

    if not data:
        raise AudioError(f"{name}: empty file (0 bytes); re-download it")
    _check_wav_truncation(data, name)
    try:
        samples, orig_rate = soundfile.read(
            io.BytesIO(data), dtype="float32", always_2d=True
        )
    except (RuntimeError, soundfile.SoundFileError, ValueError) as error:
        reason = (
            str(error).splitlines()[0] if str(error) else type(error).__name__
        )
        raise AudioError(
            f"{name}: cannot decode audio ({reason}); re-download or "
            "re-extract it"
        ) from None
    if samples.shape[0] == 0:
        raise AudioError(
            f"{name}: contains no audio samples; re-record or remove it"
        )
    if not np.all(np.isfinite(samples)):
        raise AudioError(
            f"{name}: contains NaN or infinite samples; re-export or remove it"
        )
    waveform = to_mono(samples)
    waveform = resample(waveform, orig_rate, sample_rate, filter=filter)
    if not np.all(np.isfinite(waveform)):
        raise AudioError(
            f"{name}: samples overflow when resampled; re-export it"
        )
    return waveform


def load_audio(path, sample_rate=SAMPLE_RATE, filter=RESAMPLE_FILTER):
    """Load an audio file as a mono float32 waveform at `sample_rate` (16 kHz).

    Multi-channel audio is averaged to mono; other rates are resampled with
    resampy.

    Args:
        path: str or path-like. The audio file.
        sample_rate: int. The output rate, 16000 for HuBERT.
        filter: str. resampy's filter, `"kaiser_best"` (default) or
            `"kaiser_fast"`.

    Returns:
        A 1D float32 numpy array.

    Raises:
        AudioError: a missing, corrupt, truncated, zero-length or
            non-finite file; the message names it.

    Examples:
    ```python
    waveform = load_audio("Actor_01/03-01-01-01-01-01-01.wav")
    waveform.shape  # (samples,), 16 kHz
    ```
    """
    path = os.fspath(path)
    return decode_audio(read_bytes(path), path, sample_rate, filter=filter)


def header_seconds(path):
    """float or None. An audio file's duration from its header, without
    decoding it; None when the header cannot be read (a missing or corrupt
    file: decoding it later raises the error that names it)."""
    import soundfile

    try:
        info = soundfile.info(os.fspath(path))
    except Exception:  # any unreadable header: the decoder reports it.
        return None
    if not info.samplerate:
        return None
    return info.frames / info.samplerate


def rms(waveform):
    """float. Root mean square of a waveform (0.0 for an empty one)."""
    waveform = np.asarray(waveform, np.float64)
    if waveform.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(waveform))))
