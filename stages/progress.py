"""A small progress bar on stderr (doit shows stderr live; no extra dependency)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: float, unit: str = "s", stream=sys.stderr, every: float = 0.5):
        self.label, self.total, self.unit, self.stream, self.every = label, max(total, 1e-9), unit, stream, every
        self._last = 0.0

    def update(self, done: float, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        frac = min(max(done / self.total, 0.0), 1.0)
        bar = "#" * int(frac * 30)
        end = "\n" if force else ("\r" if self.stream.isatty() else "\n")
        self.stream.write(f"  {self.label} [{bar:<30}] {done:7.1f}/{self.total:.1f} {self.unit}{end}")
        self.stream.flush()

    def close(self) -> None:
        self.update(self.total, force=True)
