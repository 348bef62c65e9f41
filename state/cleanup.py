"""Deleting temp files: only ever inside temp_processing/, never following a link out.

The rules, which every deletion here obeys:
- temp_processing/ must be a real folder; if it is a link, nothing is deleted through it.
- a path is deleted only if every folder from temp_processing/ down to it is a real folder
  (no link on the way), so neither `..` nor a linked folder can lead out of it.
- a link found inside is removed itself; what it points to is never touched.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from clipforge.state.checkpoint import TEMP_DIR
from clipforge.state.store import RunState

KEEP = {".lock"}

LINK_WARNING = "temp_processing is a link; not deleting anything through it (remove the link: its target is kept)"


def _stderr(msg: str) -> None:
    import sys

    print(f"clipforge: {msg}", file=sys.stderr, flush=True)


def temp_dir_is_link(root: Path = TEMP_DIR) -> bool:
    return root.is_symlink()


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)  # lstat: a link to a folder is not a folder here
    except OSError:
        return False


def safe_to_delete(rel: str, root: Path = TEMP_DIR) -> bool:
    """True if `rel` names something strictly inside `root` reached through real folders only."""
    path = Path(rel)
    parts = path.parts
    if path.is_absolute() or len(parts) < 2 or parts[0] != root.name or ".." in parts:
        return False
    folder = Path(parts[0])
    for part in parts[1:-1]:
        if not _is_real_dir(folder):
            return False
        folder = folder / part
    return _is_real_dir(folder)


def _unlink_entry(path: Path) -> bool:
    """Remove a file or a link (never its target); a real folder is left to the sweep."""
    try:
        if _is_real_dir(path):
            return False
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def delete_temp_files(state: RunState | None, warn=_stderr) -> int:
    """Remove the recorded temp files and everything else under temp_processing/; return files removed.

    `warn` gets messages without the "clipforge: " prefix (the caller's printer adds it).
    """
    if temp_dir_is_link():
        warn(LINK_WARNING)
        return 0
    removed = 0
    for rel in list(state.temp_files) if state else []:
        if not safe_to_delete(rel):
            warn(f"not deleting {rel!r}: it is outside temp_processing/ or behind a link")
            continue
        removed += _unlink_entry(Path(rel))
    if not _is_real_dir(TEMP_DIR):
        return removed
    for entry in os.scandir(TEMP_DIR):
        if entry.name in KEEP:
            continue
        if entry.is_dir(follow_symlinks=False):
            # rmtree works on file descriptors and unlinks links inside rather than following them.
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)
        removed += 1
    return removed


def remove_partials(root: Path = TEMP_DIR, warn=None) -> int:
    """Delete `.part` files and yt-dlp `*.dl` folders a killed run left under `root`; return files removed.

    The walk never enters a linked folder, and a link named like a partial is removed itself.
    """
    if temp_dir_is_link(root):
        if warn:
            warn(LINK_WARNING)
        return 0
    if not _is_real_dir(root):
        return 0
    removed = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in files:
            if ".part" in name:
                removed += _unlink_entry(Path(folder, name))
        for name in list(dirs):
            path = Path(folder, name)
            if name.endswith(".dl"):  # yt-dlp's working folder (stages.download)
                dirs.remove(name)
                if path.is_symlink():
                    os.unlink(path)
                else:
                    shutil.rmtree(path, ignore_errors=True)
            elif path.is_symlink():
                dirs.remove(name)  # os.walk would not enter it either; say so explicitly
    return removed
