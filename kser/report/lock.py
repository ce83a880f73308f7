"""The run-folder lock: one `kser train`/`kser cv` per run folder at a time.

A run holds `RUN/.kser.lock` with `fcntl.flock` for its whole life; the
file says who holds it (pid, host, start time, command). A second run into
the same folder finds the lock taken and stops with one line naming the
holder, before it writes anything. The kernel releases a flock when its
process dies, so a lock file left by a killed run blocks nothing: the next
run takes the lock and rewrites the file. Worker processes of `--jobs N`
are children of the locking process and never touch the lock (they write
only inside their fold folders). Keras-free.
"""

import json
import os
import socket
import sys
import time

from kser.errors import KserError

try:  # POSIX only; elsewhere the lock is a no-op.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

LOCK_FILE = ".kser.lock"


def lock_path(run_dir):
    """str. The lock file of a run folder."""
    return os.path.join(os.fspath(run_dir), LOCK_FILE)


def read_lock_holder(run_dir):
    """dict or None. What a run folder's lock file says about its holder
    (`pid`, `host`, `started`, `command`), None if absent or unreadable."""
    try:
        with open(lock_path(run_dir), encoding="utf-8") as f:
            holder = json.load(f)
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _describe(holder):
    if not holder:
        return "another process"
    started = holder.get("started")
    if isinstance(started, (int, float)):
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    parts = [f"pid {holder.get('pid', '?')}"]
    if holder.get("host"):
        parts[0] += f" on {holder['host']}"
    if started:
        parts.append(f"started {started}")
    if holder.get("command"):
        parts.append(f"command: {holder['command']}")
    return ", ".join(parts)


class RunLock:
    """An exclusive lock on a run folder, held while a run writes into it.

    Args:
        run_dir: str or path-like. The run folder (must exist).
        command: str or None. What to record as the holder's command;
            default this process's command line.

    Raises:
        KserError: on `acquire`, when another live process holds the lock.

    Examples:
    ```python
    with RunLock("runs/table1"):
        ...  # write the run's files
    ```
    """

    def __init__(self, run_dir, command=None):
        self.run_dir = os.fspath(run_dir)
        self.path = lock_path(self.run_dir)
        if command is None:
            argv = list(sys.argv) or ["python"]
            command = " ".join([os.path.basename(argv[0]), *argv[1:]])
        self.command = command
        self._fd = None

    @property
    def held(self):
        """bool. Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self):
        """Take the lock or raise a one-line `KserError` naming its holder."""
        if self._fd is not None:
            return self
        if fcntl is None:  # pragma: no cover
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                holder = read_lock_holder(self.run_dir)
                raise KserError(
                    f"{self.run_dir} is in use by another kser run "
                    f"({_describe(holder)}); wait for it to finish or choose "
                    "another --out"
                ) from None
            # The holder before us may have removed the file between our
            # open and our flock: then we locked a file nobody else sees.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
            "started_text": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": self.command,
        }
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(holder) + "\n").encode())
        self._fd = fd
        return self

    def release(self):
        """Give the lock back and remove the lock file."""
        if self._fd is None:
            return
        try:
            # Removed while still held, so no one can lock the old file.
            os.remove(self.path)
        except OSError:
            pass
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
