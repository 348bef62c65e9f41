"""Checkpoints: what doit's up-to-date checks consult, and what every finished task records.

A task is current only if the state file says it finished with the same options
and inputs and every target it recorded still has the recorded size and sha256.
That is what lets a run killed with SIGKILL (doit's database lost) skip finished
work, and what stops a truncated or edited target from being trusted.
"""

from __future__ import annotations

import os
from pathlib import Path

from clipforge.fsutil import sha256_file
from clipforge.state.store import STATE_FILE, RunState, create_state_file, load_state_file, now, save_state_file

TEMP_DIR = Path("temp_processing")


class Checkpoint:
    """The run's state, loaded once per process and written through on every change."""

    def __init__(self, path: Path = STATE_FILE):
        self.path = path
        self._state: RunState | None = None
        self._loaded = False

    @property
    def state(self) -> RunState | None:
        if not self._loaded:
            self._state = load_state_file(self.path)
            self._loaded = True
        return self._state

    def reload(self) -> RunState | None:
        self._loaded = False
        return self.state

    def ensure(self, input_source: str, config_hash: str, input_id: str | None = None) -> RunState:
        if self.state is None:
            self._state = create_state_file(input_source, config_hash, self.path, input_id=input_id)
        return self._state

    def save(self) -> None:
        save_state_file(self._state, self.path)

    def forget(self) -> None:
        self._state, self._loaded = None, True

    # -- up-to-date checks -------------------------------------------------
    def is_current(self, task: str, config_hash: str, *, targets: list[str], inputs: list[str],
                   accept_edits: bool = False) -> bool:
        """`accept_edits`: a decision file the user edited (keep=yes) is adopted rather than redone."""
        st = self.state
        rec = st.tasks.get(task) if st else None
        if rec is None or rec["config_hash"] != config_hash:
            return False
        if set(rec["targets"]) != set(targets):
            return False
        if any(rec["inputs"].get(p) != signature(p) for p in inputs):
            return False
        if accept_edits:
            for path in targets:
                if not self.target_intact(path) and os.path.isfile(path) and os.path.getsize(path) > 0:
                    # Our writes are atomic, so a changed complete file is an edit: keep it, and let
                    # the stages that read it see the new checksum.
                    print(f"  {task}: using your edited {path}")
                    st.temp_files[path] = {"sha256": sha256_file(path), "size": os.path.getsize(path), "task": task}
                    self.save()
        return all(self.target_intact(p) for p in targets)

    def target_intact(self, path: str) -> bool:
        entry = self.state.temp_files.get(path) if self.state else None
        if entry is None:
            return False
        try:
            if os.path.getsize(path) != entry["size"]:
                return False
            return sha256_file(path) == entry["sha256"]
        except OSError:
            return False

    # -- recording -----------------------------------------------------------
    def record_task(self, task: str, config_hash: str, *, targets: list[str], inputs: list[str],
                    seconds: float | None = None) -> None:
        st = self.state
        for path in targets:
            st.temp_files[path] = {"sha256": sha256_file(path), "size": os.path.getsize(path), "task": task}
        st.tasks[task] = {"config_hash": config_hash, "inputs": {p: signature(p) for p in inputs},
                          "targets": list(targets), "finished_at": now()}
        if seconds is not None:  # how long its work took (the review page's time per stage)
            st.tasks[task]["seconds"] = round(max(seconds, 0.0), 3)

    def stage_seconds(self) -> dict[str, float]:
        """Seconds each stage's recorded tasks took, summed over its units, in the order first recorded."""
        out: dict[str, float] = {}
        for name, rec in (self.state.tasks.items() if self.state else ()):
            if isinstance(rec.get("seconds"), (int, float)):
                stage = name.split(":")[0]
                out[stage] = round(out.get(stage, 0.0) + rec["seconds"], 3)
        return out

    def finish_unit(self, stage: str, unit: str) -> None:
        st = self.state
        queue = st.segment_queue.setdefault(stage, [])
        entry = next((u for u in queue if u["id"] == unit), {"id": unit, "start": None, "end": None})
        st.segment_queue[stage] = [u for u in queue if u["id"] != unit]
        done = st.completed_segments.setdefault(stage, [])
        if all(u["id"] != unit for u in done):
            done.append(entry)
            done.sort(key=lambda u: u["id"])

    def set_queue(self, stage: str, units: list[dict]) -> None:
        """Queue every unit ({id, start, end}) of a per-unit stage that is not already completed."""
        st = self.state
        by_id = {u["id"]: u for u in units}
        done = [by_id[u["id"]] for u in st.completed_segments.get(stage, []) if u["id"] in by_id]
        st.completed_segments[stage] = done
        finished = {u["id"] for u in done}
        st.segment_queue[stage] = [u for u in units if u["id"] not in finished]

    def forget_units(self, stage: str, units: list[str] | None = None) -> None:
        """Move finished units (all when `units` is None) back to the queue, as `doit forget TASK` does."""
        st = self.state
        done = st.completed_segments.get(stage, [])
        back = [u for u in done if units is None or u["id"] in units]
        st.completed_segments[stage] = [u for u in done if u not in back]
        queued = {u["id"] for u in st.segment_queue.get(stage, [])}
        st.segment_queue[stage] = sorted(st.segment_queue.get(stage, []) + [u for u in back if u["id"] not in queued],
                                         key=lambda u: u["id"])

    def record_failure(self, stage: str, unit: str | None, *, code: str, message: str) -> None:
        st = self.state
        if st is None:
            return
        from clipforge.redact import scrub

        message = scrub(message)  # the state file and its backup outlive the run: no secret goes in
        t = now()
        st.failure_point = {"stage": stage, "segment": unit, "code": code, "time": t}
        st.error_log.append({"code": code, "message": message, "stage": stage, "segment": unit, "time": t})
        del st.error_log[:-50]  # bounded: a flaky server retried all night must not grow the file forever
        self.save()


def signature(path: str) -> str:
    """sha256 for our own temp files; size+mtime for the user's source.

    Hashing a 3-hour video on every up-to-date check would be too slow; doit itself trusts mtime.
    """
    p = Path(path)
    if not p.exists():
        return "missing"
    if is_inside_temp(p):
        return sha256_file(p)
    st = p.stat()
    return f"stat:{st.st_size}:{st.st_mtime_ns}"


def is_inside_temp(path: Path) -> bool:
    """True if `path` lies in temp_processing/ once its folder is resolved (the file itself may be a link)."""
    try:
        parent = path.parent.resolve()
        root = TEMP_DIR.resolve()
    except OSError:
        return False
    return (parent == root or root in parent.parents) and path.name not in ("", ".", "..")


CURRENT = Checkpoint()
