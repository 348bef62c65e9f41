"""doit's JSON database, written atomically after every task instead of once at the end.

doit dumps its database only when a run ends (doit #463): SIGKILL loses every task of
that run. This backend dumps after each task's record is complete, and treats an
unreadable file as empty, since .temp_clips.json is the source of truth anyway.
"""

from __future__ import annotations

from doit.dependency import JsonDB

from clipforge.fsutil import atomic_path


class CheckpointDB(JsonDB):
    desc = "JSON file, rewritten atomically after every task"

    def _load(self):
        try:
            return super()._load()
        except Exception:
            return {}

    def dump(self) -> None:
        with atomic_path(self.name, ".json") as tmp:
            tmp.write_text(self.codec.encode(self._db))

    def set(self, task_id, dependency, value) -> None:
        super().set(task_id, dependency, value)
        # 'deps:' is the last entry Dependency.save_success writes for a task.
        if dependency == "deps:":
            self.dump()

    def remove(self, task_id) -> None:
        super().remove(task_id)
        self.dump()
