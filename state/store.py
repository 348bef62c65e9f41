"""The durable record of a run, `.temp_clips.json`: atomic writes, schema-checked loads.

doit's own database is written only when a run ends (pydoit/doit#463), so this
file is the checkpoint: it is rewritten (temp file, fsync, os.replace) after every
stage and every unit of per-segment work, and a copy of the last good version is kept
beside it so a hand-edited or damaged file can be recovered from.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clipforge.errors import StateError
from clipforge.fsutil import write_json

STATE_FILE = Path(".temp_clips.json")
VERSION = 2
SCHEMA_FILE = Path(__file__).with_name("schema.json")

def _v1_to_v2(data: dict) -> dict:
    """Version 1 kept bare unit ids; version 2 keeps each unit's span too (unknown for old ones)."""
    for key in ("completed_segments", "segment_queue"):
        units = data.get(key)
        if isinstance(units, dict):
            data[key] = {stage: [{"id": u, "start": None, "end": None} if isinstance(u, str) else u for u in ids]
                         for stage, ids in units.items() if isinstance(ids, list)}
    return {**data, "version": 2}


# version -> function upgrading a dict of that version by one step.
MIGRATIONS: dict[int, callable] = {1: _v1_to_v2}


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass(kw_only=True)
class RunState:
    input_source: str
    config_hash: str
    input_sha256: str | None = None
    # What compares inputs (config.input_identity): for a URL a keyed hash of the whole URL, since
    # input_source has its secrets removed. None in files written before it existed.
    input_id: str | None = None
    current_stage: str | None = None
    # per per-unit stage: [{"id": "seg001", "start": 12.3, "end": 40.1}, ...] done / still to do
    completed_segments: dict[str, list[dict]] = field(default_factory=dict)
    segment_queue: dict[str, list[dict]] = field(default_factory=dict)
    temp_files: dict[str, dict] = field(default_factory=dict)
    tasks: dict[str, dict] = field(default_factory=dict)
    failure_point: dict | None = None
    error_log: list[dict] = field(default_factory=list)
    active_run: dict | None = None
    options: dict[str, str] = field(default_factory=dict)  # the `doit key=value` options of the run
    started_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    version: int = VERSION

    def to_dict(self) -> dict:
        return asdict(self)


def _backup(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def _validate(data) -> None:
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text())
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "top level"
        raise StateError(f"state file does not match its schema at {where}: {err.message[:120]}") from None


def _migrate(data: dict) -> dict:
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, int):
        raise StateError("state file has no version number")
    while version < VERSION:
        if version not in MIGRATIONS:
            raise StateError(f"state file version {version} is from an older clipforge and cannot be resumed")
        data = MIGRATIONS[version](data)
        version = data["version"]
    if version > VERSION:
        raise StateError(f"state file version {version} is from a newer clipforge (this one reads {VERSION})")
    return data


def _parse(path: Path) -> RunState:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise StateError(f"{path} is not text") from None
    except json.JSONDecodeError as err:
        raise StateError(f"{path} is not valid JSON (line {err.lineno}: {err.msg}); it may be truncated") from None
    data = _migrate(data)
    _validate(data)
    return RunState(**data)


def _stderr(msg: str) -> None:
    print(f"clipforge: {msg}", file=sys.stderr, flush=True)


def load_state_file(path: Path = STATE_FILE, *, warn=_stderr) -> RunState | None:
    """The saved state, None if there is none; a damaged file falls back to the last good copy."""
    if not path.exists():
        return None
    try:
        return _parse(path)
    except StateError as err:
        backup = _backup(path)
        if backup.exists():
            try:
                state = _parse(backup)
            except StateError:
                raise err from None
            corrupt = path.with_name(path.name + ".corrupt")
            os.replace(path, corrupt)
            write_json(path, state.to_dict())
            warn(f"{err.message}; restored the last good copy ({backup.name}); "
                 f"the damaged file is kept as {corrupt.name}")
            return state
        raise


def save_state_file(state: RunState, path: Path = STATE_FILE) -> None:
    state.updated_at = now()
    data = state.to_dict()
    write_json(path, data)
    write_json(_backup(path), data)


def create_state_file(input_source: str, config_hash: str, path: Path = STATE_FILE, *,
                      input_id: str | None = None) -> RunState:
    state = RunState(input_source=input_source, config_hash=config_hash, input_id=input_id)
    save_state_file(state, path)
    return state


def update_state_file(state: RunState, path: Path = STATE_FILE, **changes) -> RunState:
    """Apply `changes` (field=value) and persist at once."""
    for name, value in changes.items():
        if not hasattr(state, name):
            raise AttributeError(name)
        setattr(state, name, value)
    save_state_file(state, path)
    return state


def delete_state_file(path: Path = STATE_FILE) -> None:
    for p in (path, _backup(path), path.with_name(path.name + ".corrupt")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
