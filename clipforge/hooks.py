"""Test hook: CLIPFORGE_FAIL_AT makes a task fail after its work, before the state file records it.

`CLIPFORGE_FAIL_AT=segment` fails the segment task; `=extract:seg002` fails that one
clip; `=extract` fails the first clip. The outputs are written at that point but never
recorded, so the hook also proves that unrecorded outputs are never trusted. Only task
code calls it (clipforge.tasks.execute), never the state file's own saves.
"""

from __future__ import annotations

import os

from clipforge.errors import ClipforgeError, ErrorCode

current_task: str | None = None


def before_record() -> None:
    wanted = os.environ.get("CLIPFORGE_FAIL_AT")
    if not wanted or current_task is None:
        return
    if wanted == current_task or (":" not in wanted and current_task.split(":")[0] == wanted):
        raise ClipforgeError(f"injected failure in {current_task} (CLIPFORGE_FAIL_AT={wanted})",
                             code=ErrorCode.INJECTED)
