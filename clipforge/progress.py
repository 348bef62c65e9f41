"""Progress on stderr (doit shows stderr live), drawn by tqdm (installed with faster-whisper).

Two lines on a terminal: the run's overall line (stage k of n, units done/total, elapsed,
estimated time left), fed by clipforge.tasks.execute before and after every task, and under
it the bar of the unit in flight (a transcription chunk, a download). Neither draws anything
when stderr is not a terminal; a unit's bar then prints one line when it ends.
"""

from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm


def _terminal(stream):
    """The stream itself, or, inside a doit python-action, the real stream under doit's capturing Writer."""
    return getattr(stream, "orig_stream", None) or stream


def _columns(stream) -> int:
    """The terminal's width; 100 when it reports none (a pty of size 0, as `script` makes)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 100
    except (AttributeError, ValueError, OSError):
        return 100


def _tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """One unit's bar: `update(done)` with the amount done so far, `close()` when finished."""

    def __init__(self, label: str, total: float, *, unit: str = "s", stream=None, every: float = 0.5):
        self.stream = _terminal(stream if stream is not None else sys.stderr)
        self.label, self.total, self.unit = label, max(total, 0.0), unit
        self._began = time.monotonic()
        self._closed = False
        self.done = 0.0
        below = OVERALL.bar is not None and OVERALL.stream is self.stream
        shape = ("{desc} |{bar}| {n:.1f}/{total:.1f}{unit} {elapsed}<{remaining}" if self.total
                 else "{desc} {n:.1f}{unit} {elapsed}")
        self.bar = tqdm(total=self.total or None, desc=f"  {label}", unit=f" {unit}", file=self.stream,
                        disable=not _tty(self.stream), mininterval=every, leave=False, position=1 if below else 0,
                        ncols=_columns(self.stream), bar_format=shape)

    def update(self, done: float, force: bool = False) -> None:
        self.done = min(max(done, 0.0), self.total) if self.total else max(done, 0.0)
        self.bar.update(self.done - self.bar.n)
        if force:
            self.bar.refresh()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.total:
            self.update(self.total, force=True)
        self.bar.close()
        if not _tty(self.stream):
            took = time.monotonic() - self._began
            self.stream.write(f"  {self.label}: {self.done:.1f} {self.unit} in {took:.1f} s\n")
            self.stream.flush()


class Overall:
    """The run's overall line: which stage of how many, its units done/total, elapsed and time left.

    The estimate assumes every stage takes an equal share of the run and a stage's units equal
    shares of it; it is refined as each unit finishes. Quiet when the stream is not a terminal.
    """

    def __init__(self, stream=None):
        self._stream = stream
        self.bar: tqdm | None = None

    @property
    def stream(self):
        return _terminal(self._stream if self._stream is not None else sys.stderr)

    def show(self, *, index: int, count: int, stage: str, done: int, total: int) -> None:
        """`index` is 1-based; `done`/`total` are the stage's units (1 for a once-only stage)."""
        if not _tty(self.stream):
            return
        total = max(total, 1)
        fraction = min(max((index - 1 + min(done, total) / total) / max(count, 1), 0.0), 1.0)
        if self.bar is None:
            self.bar = tqdm(total=1.0, file=self.stream, position=0, leave=True, smoothing=0,
                            mininterval=0, bar_format="{desc} | elapsed {elapsed} | left ~{remaining}")
        self.bar.ncols = _columns(self.stream)
        self.bar.set_description_str(f"stage {index}/{count} {stage} | {done}/{total} done", refresh=False)
        self.bar.n = fraction
        self.bar.refresh()

    def clear(self) -> None:
        if self.bar is not None:
            self.bar.clear()

    def line(self) -> str:
        return "" if self.bar is None else str(self.bar)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


OVERALL = Overall()


def _where(stage: str) -> tuple[int, int, int, int]:
    """(index, count, units done, units total) of `stage`, from the stage list and the state file."""
    from clipforge.stagelist import STAGES
    from clipforge.state import CURRENT

    names = [s.name for s in STAGES]
    index = names.index(stage) + 1 if stage in names else len(names)
    st = CURRENT.state
    done = len(st.completed_segments.get(stage, [])) if st else 0
    queued = len(st.segment_queue.get(stage, [])) if st else 0
    return index, len(names), done, done + queued


def task_starting(stage: str, unit: str | None) -> None:
    try:
        index, count, done, total = _where(stage)
        OVERALL.show(index=index, count=count, stage=stage, done=done, total=total if unit else 1)
    except Exception:  # progress is never worth a failed task
        pass


def task_finished(stage: str, unit: str | None) -> None:
    try:
        index, count, done, total = _where(stage)
        OVERALL.show(index=index, count=count, stage=stage, done=done if unit else 1, total=total if unit else 1)
        if index == count and (not unit or done >= total):
            OVERALL.close()
        else:
            OVERALL.clear()  # doit's next task title, and what a stage prints, start on a clean line
    except Exception:
        pass
