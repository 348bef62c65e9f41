"""doit's JSON database, written atomically after every task instead of once at the end.

doit dumps its database only when a run ends (doit #463): SIGKILL loses every task of
that run. This backend dumps after each task's record is complete, and treats an
unreadable file as empty, since .temp_clips.json is the source of truth anyway; a
file_dep doit has no record of is judged by the state file instead.
"""

from __future__ import annotations

import os

from doit.dependency import JsonDB, get_file_md5

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

    def get(self, task_id, dependency):
        value = super().get(task_id, dependency)
        if value is None and not dependency.endswith(":"):
            # doit lost this task's record (killed between our checkpoint and its dump):
            # the state file knows whether the file is what the task last used.
            value = self._from_checkpoint(task_id, dependency)
        return value

    @staticmethod
    def _from_checkpoint(task_id: str, dep: str):
        from clipforge.state import CURRENT, signature

        st = CURRENT.state
        rec = st.tasks.get(task_id) if st else None
        if rec is None or rec["inputs"].get(dep) != signature(dep):
            return None
        info = os.stat(dep)
        return info.st_mtime, info.st_size, get_file_md5(dep)  # MD5Checker's state for an unchanged file

    def remove(self, task_id) -> None:
        super().remove(task_id)
        self.dump()
