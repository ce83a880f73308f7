"""Finding the audio files to score and checking them before scoring."""

import os

from kser.errors import AudioError
from kser.errors import DataError

# Extensions looked for inside folders (libsndfile reads all of them).
# Files named explicitly are tried whatever their extension.
AUDIO_EXTENSIONS = (
    ".wav",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".aiff",
    ".aif",
    ".aifc",
    ".au",
    ".caf",
    ".w64",
    ".rf64",
)


def _folder_audio_files(folder, extensions):
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith(".") and name.lower().endswith(
                tuple(extensions)
            ):
                found.append(os.path.join(root, name))
    return found


def _looked_for(extensions):
    return ", ".join(e[1:] for e in extensions)


def expand_inputs(paths, extensions=AUDIO_EXTENSIONS, fail_fast=False):
    """Expand files and folders into audio files, one failure per bad input.

    As `find_audio_files`, but a missing path or a folder without audio is
    a failure of that input only: the other inputs are still expanded.

    Args:
        paths: list of str or path-like. Files and folders.
        extensions: tuple of str. Lower-case extensions with the dot.
        fail_fast: bool. Raise at the first bad input instead.

    Returns:
        list of `(path, error)` pairs in input order (folder contents
        sorted, duplicates dropped): `error` is None for an audio file to
        score, else the `DataError` of a bad input.

    Raises:
        DataError: no paths at all; with `fail_fast`, the first bad input.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise DataError("no audio files given (no paths)")
    entries = []
    seen = set()
    for path in paths:
        if os.path.isdir(path):
            found = _folder_audio_files(path, extensions)
            error = None if found else DataError(
                f"{path}: no audio files found in this folder (looked for "
                f"{_looked_for(extensions)})"
            )
        elif os.path.exists(path):
            found, error = [path], None
        else:
            found, error = [], DataError(f"{path}: no such file or folder")
        if error is not None:
            if fail_fast:
                raise error
            entries.append((path, error))
        for file in found:
            key = os.path.realpath(file)
            if key not in seen:
                seen.add(key)
                entries.append((file, None))
    return entries


def find_audio_files(paths, extensions=AUDIO_EXTENSIONS):
    """Expand files and folders into a list of audio files.

    Folders are searched recursively for `extensions` (case-insensitive),
    skipping hidden files and folders (such as macOS `._name.wav`
    resource forks); files named directly are kept whatever their
    extension. Order: as given, folder contents sorted; duplicates dropped.

    Args:
        paths: list of str or path-like. Files and folders.
        extensions: tuple of str. Lower-case extensions with the dot.

    Returns:
        list of str.

    Raises:
        DataError: a missing path, or no audio file found at all.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    for path in paths:
        if not os.path.exists(path):
            raise DataError(f"{path}: no such file or folder")
    files = [
        path for path, error in (expand_inputs(paths, extensions) if paths else [])
        if error is None
    ]
    if not files:
        shown = ", ".join(paths) or "(no paths given)"
        raise DataError(
            f"no audio files found in {shown} (looked for "
            f"{_looked_for(extensions)})"
        )
    return files


def check_audio_file(path):
    """Read a file's header, so a bad file is caught before any scoring.

    Catches missing, unreadable, empty and non-audio files quickly;
    truncated data and non-finite samples are caught when the audio is
    loaded.

    Args:
        path: str.

    Raises:
        AudioError: naming the file.
    """
    import soundfile

    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioError(f"{path}: is a folder, not an audio file") from None
    except OSError as e:
        raise AudioError(
            f"{path}: cannot read ({e.strerror or type(e).__name__})"
        ) from None
    try:
        info = soundfile.info(path)
    except (RuntimeError, soundfile.SoundFileError, ValueError, OSError) as e:
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            raise AudioError(f"{path}: empty file (0 bytes)") from None
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioError(
            f"{path}: cannot decode audio ({reason}); is it an audio file?"
        ) from None
    if info.frames == 0:
        raise AudioError(f"{path}: contains no audio samples")


def check_audio_files(files):
    """Read each file's header, so bad files stop a run before any scoring.

    Catches missing, empty and non-audio files quickly; truncated data and
    non-finite samples are caught when the audio is loaded.

    Args:
        files: list of str.

    Raises:
        AudioError: naming the first bad file.
    """
    for path in files:
        check_audio_file(path)
