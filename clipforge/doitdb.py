"""doit's JSON database, written atomically and read forgivingly.

clipforge never asks doit's database whether a task is up to date (the state file
decides, clipforge.tasks.StateSaysCurrent); doit still keeps one, written when a run
ends (pydoit/doit#463). A kill during that write must not leave a file that stops
the next run, so it is written through a temp file and an unreadable one counts as empty.
"""

from __future__ import annotations

from doit.dependency import JsonDB

from clipforge.fsutil import atomic_path


class CheckpointDB(JsonDB):
    desc = "JSON file, written atomically; unreadable counts as empty"

    def _load(self):
        try:
            return super()._load()
        except Exception:
            return {}

    def dump(self) -> None:
        with atomic_path(self.name, ".json") as tmp:
            tmp.write_text(self.codec.encode(self._db))
