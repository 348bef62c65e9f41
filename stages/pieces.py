"""The piece log: what a chunk in flight has already transcribed, so a kill loses one piece at most.

One file per chunk (`transcribe/chunkNNN.pieces`), append-only, one JSON line per piece, each
line prefixed by a checksum of its JSON and fsynced before the next piece starts. The first
line is the header: the key of everything the pieces depend on (model options, mode, chunk span,
audio checksum) and the chunk's VAD speech segments, found once so a resumed run decodes the
very same windows. A line torn by a kill or damaged later fails its checksum and is dropped:
only that piece is decoded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from clipforge.fsutil import atomic_path

SUM_CHARS = 16  # hex digits of sha256 per line: a torn or flipped line never passes by chance


def _line(payload: dict) -> str:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"{hashlib.sha256(text.encode()).hexdigest()[:SUM_CHARS]} {text}\n"


def _parse(line: str) -> dict | None:
    """The payload of one complete, intact line, else None."""
    if not line.endswith("\n") or len(line) < SUM_CHARS + 2 or line[SUM_CHARS] != " ":
        return None
    digest, text = line[:SUM_CHARS], line[SUM_CHARS + 1:-1]
    if hashlib.sha256(text.encode()).hexdigest()[:SUM_CHARS] != digest:
        return None
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


@dataclass(kw_only=True)
class PieceLog:
    path: Path
    key: str
    header: dict | None = None  # {"key", "speech": [{"start", "end"}, ...] in samples of the chunk}
    pieces: list[dict] = field(default_factory=list)
    dropped: int = 0  # damaged lines found on open (their pieces are redone)

    @classmethod
    def open(cls, path: str | Path, key: str) -> PieceLog:
        """Read the valid pieces of a log written under `key`; anything else starts a new log."""
        log = cls(path=Path(path), key=key)
        try:
            lines = log.path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        except FileNotFoundError:
            return log
        payloads = [_parse(line) for line in lines]
        head = payloads[0] if payloads else None
        if head is None or head.get("key") != key or not isinstance(head.get("speech"), list):
            log.path.unlink()  # another input, options or chunk plan: nothing in it applies
            return log
        log.header = head
        log.pieces = [p for p in payloads[1:] if p is not None]
        log.dropped = len(payloads) - 1 - len(log.pieces)
        if log.dropped:
            # Appending after a torn line would glue the next piece onto it: keep only the good lines.
            print(f"  {log.path.name}: {log.dropped} damaged piece line(s) failed the checksum; "
                  "redoing only those", file=sys.stderr)
            log._rewrite()
        return log

    def start(self, speech: list[dict]) -> None:
        self.header = {"key": self.key, "speech": speech}
        self.pieces = []
        self._rewrite()

    def append(self, piece: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(_line(piece))
            f.flush()
            os.fsync(f.fileno())
        self.pieces.append(piece)

    def _rewrite(self) -> None:
        with atomic_path(self.path, ".pieces") as tmp:
            tmp.write_text("".join(_line(p) for p in [self.header, *self.pieces]), encoding="utf-8")


def log_key(**parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]
