"""One run per working directory: an flock on the project folder itself, plus a pid file.

The kernel drops an flock when its holder dies, even by SIGKILL, so a stale lock can
never block. The lock that counts is on the folder: a user (or `git clean`) can delete
or replace `.temp_clips.lock`, but not the folder a run is working in. The file is
still locked too, re-checked after locking so a file replaced meanwhile is not trusted,
and it holds the holder's pid, which only serves the messages.
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


def _holder(path: Path) -> str:
    """Whose run holds the lock, for the message: the pid file, else the state file's active run."""
    try:
        pid = path.read_text(errors="replace").strip()
        if pid:
            return pid
    except OSError:
        pass
    try:
        from clipforge.state import load_state_file

        st = load_state_file(path.with_name(".temp_clips.json"), warn=lambda m: None)
        if st is not None and st.active_run:
            return str(st.active_run.get("pid"))
    except Exception:  # only a message depends on it
        pass
    return "unknown"


def _stderr(msg: str) -> None:
    import sys

    print(f"clipforge: {msg}", file=sys.stderr, flush=True)


def _flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class RunLock:
    def __init__(self, path: Path = LOCK_FILE):
        self.path = path
        self.fd: int | None = None
        self.dir_fd: int | None = None

    def _locked_out(self) -> LockedError:
        return LockedError(f"another clipforge run (pid {_holder(self.path)}) is working in this folder")

    def acquire(self, note=_stderr) -> None:
        """Lock the folder, then the pid file; raise LockedError if another run holds either."""
        dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        if not _flock(dir_fd):
            os.close(dir_fd)
            raise self._locked_out()
        try:
            fd = self._lock_file()
        except BaseException:
            os.close(dir_fd)  # closing drops the folder's lock
            raise
        previous = os.read(fd, 32).decode(errors="replace").strip()
        if previous.isdigit() and int(previous) != os.getpid() and not _alive(int(previous)):
            note(f"took over the lock of run {previous}, which is no longer running")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd, self.dir_fd = fd, dir_fd

    def _lock_file(self) -> int:
        # The classic loop for a lock file that may be unlinked or replaced: lock what we opened,
        # then make sure the path still names that very file; otherwise start again.
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _flock(fd):  # an older clipforge that locks only the file
                os.close(fd)
                raise self._locked_out()
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)
        raise self._locked_out()

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        if self.dir_fd is not None:
            fcntl.flock(self.dir_fd, fcntl.LOCK_UN)
            os.close(self.dir_fd)
            self.dir_fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
