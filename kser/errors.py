"""Errors a user can cause and fix.

The CLI prints a `KserError` as one line (`kser: error: ...`) and exits with
status 2. Any other exception escaping kser is a bug.
"""


class KserError(Exception):
    """A mistake the user can fix: a bad path, a bad file, a bad option."""


class ConversionError(KserError, ValueError):
    """A checkpoint that cannot be converted (missing files, unsupported config)."""


class PresetError(KserError, ValueError):
    """An unknown preset, or a named preset whose weights are not on disk."""


class DataError(KserError, ValueError):
    """A dataset problem: a missing folder, a file that is not RAVDESS."""


class AudioError(DataError):
    """An audio file that cannot be used: corrupt, empty or non-finite."""


class ModelError(KserError, ValueError):
    """A model file that is missing, unreadable or not a kser classifier."""


class ExportError(KserError):
    """An export that cannot be done: the torch backend, an existing output."""
