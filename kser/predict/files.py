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
    files = []
    seen = set()

    def add(path):
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(path)

    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if not name.startswith(".") and name.lower().endswith(
                        tuple(extensions)
                    ):
                        add(os.path.join(root, name))
        elif os.path.exists(path):
            add(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    if not files:
        shown = ", ".join(os.fspath(p) for p in paths) or "(no paths given)"
        raise DataError(
            f"no audio files found in {shown} (looked for "
            f"{', '.join(e[1:] for e in extensions)})"
        )
    return files


def check_audio_files(files):
    """Read each file's header, so bad files stop a run before any scoring.

    Catches missing, empty and non-audio files quickly; truncated data and
    non-finite samples are caught when the audio is loaded.

    Args:
        files: list of str.

    Raises:
        AudioError: naming the first bad file.
    """
    import soundfile

    for path in files:
        try:
            info = soundfile.info(path)
        except FileNotFoundError:
            raise AudioError(f"{path}: no such file") from None
        except (
            RuntimeError, soundfile.SoundFileError, ValueError, OSError
        ) as e:
            if os.path.isfile(path) and os.path.getsize(path) == 0:
                raise AudioError(f"{path}: empty file (0 bytes)") from None
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise AudioError(
                f"{path}: cannot decode audio ({reason}); is it an audio file?"
            ) from None
        if info.frames == 0:
            raise AudioError(f"{path}: contains no audio samples")
