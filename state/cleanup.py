"""Deleting temp files: only ever inside temp_processing/, never following a link out."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from clipforge.state.checkpoint import TEMP_DIR, is_inside_temp
from clipforge.state.store import RunState

KEEP = {".lock"}


def delete_temp_files(state: RunState | None, warn=print) -> int:
    """Remove the recorded temp files and everything else under temp_processing/; return files removed."""
    removed = 0
    for rel in list(state.temp_files) if state else []:
        path = Path(rel)
        if not is_inside_temp(path):
            warn(f"clipforge: not deleting {rel!r}: it is outside temp_processing/")
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
            removed += 1
    if TEMP_DIR.is_symlink():
        warn("clipforge: temp_processing is a link; not deleting what it points to")
        return removed
    if not TEMP_DIR.is_dir():
        return removed
    for entry in os.scandir(TEMP_DIR):
        if entry.name in KEEP:
            continue
        if entry.is_dir(follow_symlinks=False):
            # rmtree unlinks links inside rather than following them.
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)
        removed += 1
    return removed
