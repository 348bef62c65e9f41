"""One background build at a time: queued edits are applied in order, then one `doit keep=yes` rebuilds
what they touched (only the edited clips: every other task is current in the state file).

Edits arrive from any number of tabs; they are applied by this one worker thread, each under the run
lock, so two edits can never interleave their writes. A run that another process holds (a `doit` in a
terminal) makes the editor read-only until it ends: edits are refused with LOCKED, not queued behind it.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clipforge.errors import ClipforgeError
from clipforge.lock import _flock

LOG_LINES = 40


@dataclass(kw_only=True)
class Edit:
    what: str  # shown on the page while it waits
    apply: Callable[[], str] | None  # None: only a build ("Make editable")


@dataclass(kw_only=True)
class Status:
    state: str = "idle"  # idle | applying | building
    task: str = ""  # the doit task now running
    queued: list[str] = field(default_factory=list)
    messages: collections.deque = field(default_factory=lambda: collections.deque(maxlen=12))
    log: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LOG_LINES))
    builds: int = 0  # finished builds: the page reloads its cards when this changes
    last_rc: int | None = None
    last_seconds: float | None = None

    def to_dict(self) -> dict:
        return {"state": self.state, "task": self.task, "queued": list(self.queued),
                "messages": list(self.messages), "log": list(self.log), "builds": self.builds,
                "last_rc": self.last_rc, "last_seconds": self.last_seconds}


def run_in_progress(root: Path) -> bool:
    """True while another process holds the project's run lock (probed without taking it for long)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if not _flock(fd):
            return True
    finally:
        os.close(fd)  # closing drops the probe's lock
    return False


class Builder:
    def __init__(self, root: Path, *, doit_args: tuple[str, ...] = ("keep=yes",)):
        self.root = root
        self.doit_args = doit_args
        self.status = Status()
        self._pending: list[Edit] = []
        self._cv = threading.Condition()
        # Held while edits are applied and while the lock is probed: a probe must never hold the
        # folder's lock at the moment an edit takes it.
        self._gate = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="clipforge-editor-builds", daemon=True)
        self.child: subprocess.Popen | None = None

    def start(self) -> None:
        self._thread.start()

    def busy(self) -> bool:
        with self._cv:
            return self.status.state != "idle" or bool(self._pending)

    def read_only(self) -> bool:
        """A run we did not start holds the lock."""
        if not self._gate.acquire(blocking=False):
            return False  # edits are being applied: the lock is ours (and the server must not wait here)
        try:
            return not self.busy() and run_in_progress(self.root)
        finally:
            self._gate.release()

    def submit(self, edit: Edit) -> int:
        """Queue an edit; return how many are ahead of it."""
        with self._cv:
            self._pending.append(edit)
            self.status.queued = [e.what for e in self._pending]
            self._cv.notify()
            return len(self._pending) - 1 + (self.status.state != "idle")

    def _say(self, msg: str) -> None:
        with self._cv:
            self.status.messages.append(f"{time.strftime('%H:%M:%S')} {msg}")

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._pending:
                    self._cv.wait()
                batch, self._pending = self._pending, []
                self.status.queued = []
                self.status.state = "applying"
            with self._gate:
                applied = self._apply(batch)
            if applied:
                self._build()
            with self._cv:
                if not self._pending:
                    self.status.state = "idle"

    def _apply(self, batch: list[Edit]) -> int:
        applied = 0
        for edit in batch:
            if edit.apply is None:
                applied += 1
                continue
            try:
                self._say(edit.apply())
                applied += 1
            except ClipforgeError as err:
                self._say(f"not applied: {err.message} -- {err.hint}")
            except Exception as err:  # a bug must not stop the worker: the next edit still runs
                self._say(f"not applied: {err.__class__.__name__}: {str(err)[:200]}")
        return applied

    def _build(self) -> None:
        with self._cv:
            self.status.state, self.status.task = "building", ""
            self.status.log.clear()
        began = time.monotonic()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Same process group as the editor: Ctrl-C on `doit edit` interrupts the build too, and it
        # records the interruption for `doit --retry`.
        self.child = subprocess.Popen([sys.executable, "-m", "doit", *self.doit_args], cwd=self.root, env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, errors="replace")
        for line in self.child.stdout:
            line = line.rstrip()
            with self._cv:
                self.status.log.append(line)
                if line.startswith(".  ") or line.startswith("-- "):
                    self.status.task = line[3:].strip()
        rc = self.child.wait()
        self.child = None
        seconds = round(time.monotonic() - began, 2)
        with self._cv:
            self.status.builds += 1
            self.status.last_rc, self.status.last_seconds, self.status.task = rc, seconds, ""
        self._say(f"build finished in {seconds:.1f} s" if rc == 0 else
                  f"build failed (exit {rc}): see the log below; `doit --retry` resumes it")


