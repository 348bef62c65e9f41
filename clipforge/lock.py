"""One run per working directory: an flock'ed file holding the holder's pid.

The kernel drops an flock when its holder dies, even by SIGKILL, so a stale lock
can never block; the pid left in the file only lets us say whose lock we took over.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from clipforge.errors import LockedError

LOCK_FILE = Path(".temp_clips.lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    def __init__(self, path: Path = LOCK_FILE):
        self.path = path
        self.fd: int | None = None

    def acquire(self, note=print) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(f"another clipforge run (pid {holder}) is working in this folder") from None
        previous = os.read(fd, 32).decode(errors="replace").strip()
        if previous.isdigit() and int(previous) != os.getpid() and not _alive(int(previous)):
            note(f"clipforge: took over the lock of run {previous}, which is no longer running")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
