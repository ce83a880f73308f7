"""Atomic file writes shared by the report writers.

A report file is either the old version or the complete new one, never half
written: the content goes to a temporary file in the same folder (same file
system, so `os.replace` is atomic) and is renamed over the target at the end.
An error on the way removes the temporary file.
"""

import json
import os
import tempfile


def atomic_write(path, write_fn, mode="w"):
    """Write a file atomically through a callback.

    Args:
        path: str or path-like. The file to write; missing parent folders are
            created.
        write_fn: callable. Called once with the open temporary file object;
            it writes the whole content.
        mode: str. `"w"` for text (UTF-8, `\\n` newlines) or `"wb"` for bytes.

    Returns:
        str. The path written.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        if "b" in mode:
            f = os.fdopen(fd, mode)
        else:
            f = os.fdopen(fd, mode, encoding="utf-8", newline="\n")
        with f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file 0600; give it the usual umask permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def atomic_write_text(path, text):
    """Write a text file atomically.

    Args:
        path: str or path-like. The file to write.
        text: str. The whole content.

    Returns:
        str. The path written.
    """
    return atomic_write(path, lambda f: f.write(text))


def atomic_write_json(path, data):
    """Write a JSON file atomically, indented, with a trailing newline.

    Args:
        path: str or path-like. The file to write.
        data: JSON-serialisable object. NaN and infinity are refused, since
            strict JSON readers cannot load them.

    Returns:
        str. The path written.
    """
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


def remove_stale_temporaries(folder):
    """Remove the temporary files that killed writers left in a folder.

    `atomic_write` names its temporary file `.NAME.XXXX.tmp` beside the
    target; a process killed mid-write leaves it behind. Call this only on a
    folder no live writer uses (a fold folder about to be trained again,
    under the run's lock).

    Args:
        folder: str. Searched with its subfolders; a missing folder is fine.

    Returns:
        int. How many files were removed.
    """
    removed = 0
    for root, _, names in os.walk(os.fspath(folder)):
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                try:
                    os.remove(os.path.join(root, name))
                    removed += 1
                except FileNotFoundError:
                    pass
    return removed
