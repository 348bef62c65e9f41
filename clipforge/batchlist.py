"""`doit batch list=...`: which videos a batch holds, and the workspace each one gets.

A workspace is named from the input's identity (README, "Never losing work"), never from the
text written down, so two inputs never share one and the same input always finds its own again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from clipforge.config import input_display, input_identity
from clipforge.errors import OptionError
from clipforge.redact import is_url

BATCH_DIR = Path("batch")
# What `list=DIR` picks up: containers and audio formats ffmpeg reads; anything else is left alone.
MEDIA_SUFFIXES = frozenset(".mp4 .m4v .mov .mkv .webm .avi .flv .ts .mpg .mpeg .wmv "
                           ".mp3 .wav .m4a .aac .flac .ogg .opus".split())


@dataclass(frozen=True, kw_only=True)
class Video:
    raw: str  # as the run needs it: an absolute path, or the whole URL (may hold secrets: never saved)
    display: str  # as written down: the absolute path, or the URL without its secrets
    workspace: str  # folder name under batch/

    @property
    def path(self) -> Path:
        return BATCH_DIR / self.workspace


def workspace_name(raw: str) -> str:
    """`<slug>-<short hash of the input identity>`: readable, and unique per input."""
    from clipforge.fsutil import slugify

    stem = Path(urlsplit(raw).path).stem if is_url(raw) else Path(raw).stem
    digest = hashlib.sha256(input_identity(raw).encode()).hexdigest()[:10]
    return f"{slugify(stem or 'video', limit=32)}-{digest}"


def video(raw: str, base: Path) -> Video:
    raw = raw if is_url(raw) else str((base / Path(raw).expanduser()).resolve())
    return Video(raw=raw, display=input_display(raw), workspace=workspace_name(raw))


def read_list(spec: str) -> list[Video]:
    """The videos of `list=`: a text file (one path or URL a line, `#` comments) or a folder of media files.

    Relative paths in a list file are relative to the list file's folder. Duplicates are kept once.
    """
    where = Path(spec).expanduser()
    if where.is_dir():
        lines = sorted(str(p) for p in where.iterdir() if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
        base = where
    elif where.is_file():
        text = where.read_text(encoding="utf-8", errors="replace")
        # Only whole-line comments: `#` may be part of a file name.
        lines = [line.strip() for line in text.splitlines()]
        lines = [line for line in lines if line and not line.startswith("#")]
        base = where.parent
    else:
        raise OptionError(f"list={spec}: no such file or folder",
                          hint="pass list=FILE (one path or URL a line) or list=DIR (a folder of videos)")
    if not lines:
        raise OptionError(f"list={spec} names no video", hint="add paths or URLs, one a line, or media files")
    seen: dict[str, Video] = {}
    for line in lines:
        v = video(line, base)
        seen.setdefault(v.workspace, v)
    return list(seen.values())
