"""batch/batch.json: each video's status, so `doit batch --retry` re-runs only what is not done.

Only the batch's driver writes it (workers report back through Dask), always atomically
(clipforge.fsutil.write_json): a kill leaves the previous record, never a torn one.
"""

from __future__ import annotations

import time
from pathlib import Path

from clipforge.batchlist import BATCH_DIR
from clipforge.errors import StateError
from clipforge.fsutil import read_json, write_json

RECORD = BATCH_DIR / "batch.json"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
VERSION = 1
_AWAY = "move {path} away (each video's own state is kept) and run `doit batch list=...`"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def load(path: Path = RECORD) -> dict:
    """The record, or an empty one; a record that is not ours stops with STATE_CORRUPT."""
    try:
        data = read_json(path)
    except FileNotFoundError:
        return {"version": VERSION, "list": None, "videos": {}}
    except (OSError, ValueError) as err:
        raise StateError(f"cannot read {path}: {err}", hint=_AWAY.format(path=path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("videos"), dict) or data.get("version") != VERSION:
        raise StateError(f"{path} is not a clipforge batch record (version {VERSION})", hint=_AWAY.format(path=path))
    return data


def save(record: dict, path: Path = RECORD) -> None:
    record["updated_at"] = now()
    write_json(path, record)


def entry(record: dict, workspace: str, *, display: str) -> dict:
    """The video's row, created pending on first sight."""
    return record["videos"].setdefault(workspace, {
        "input": display, "workspace": workspace, "status": PENDING, "code": None, "exit": None,
        "message": "", "stage": None, "attempts": 0, "options": {}, "threads": None, "clips": 0,
        "elapsed": None, "finished_at": None,
    })


def unfinished(record: dict) -> list[dict]:
    return [v for v in record["videos"].values() if v["status"] != DONE]


def table(record: dict) -> str:
    """`doit batch status`: one line per video, then the totals."""
    rows = list(record["videos"].values())
    if not rows:
        return "clipforge: no batch yet (no batch/batch.json); `doit batch list=FILE_OR_DIR` starts one"
    width = max(9, *(len(v["workspace"]) for v in rows))
    lines = [f"{'video':<{width}}  {'status':<8} {'detail':<30} input"]
    for v in rows:
        if v["status"] == FAILED:
            detail = f"{v['code']} (exit {v['exit']})"
        elif v["status"] == DONE:
            detail = f"{v['clips']} clip(s), {v['elapsed'] or 0:.0f} s"
        else:
            detail = v.get("stage") or ""
        lines.append(f"{v['workspace']:<{width}}  {v['status']:<8} {detail:<30} {v['input']}")
    counts = {s: sum(v["status"] == s for v in rows) for s in (DONE, FAILED, RUNNING, PENDING)}
    lines.append(f"{len(rows)} video(s): " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    failed = [v for v in rows if v["status"] == FAILED]
    for v in failed:
        lines.append(f"failed {v['workspace']}: {v['message']}")
    if counts[DONE] < len(rows):
        lines.append("next: `doit batch --retry` re-runs the failed and unfinished videos")
    return "\n".join(lines)
