"""Test hook: CLIPFORGE_FAIL_AT makes a task fail just before its target is committed.

`CLIPFORGE_FAIL_AT=segment` fails the segment task; `=extract:seg002` fails that one
clip; `=extract` fails the first clip. The part file has been fully written at that
point, so the hook also proves partial outputs are removed and never counted.
"""

from __future__ import annotations

import os

from clipforge.errors import ClipforgeError, ErrorCode

current_task: str | None = None


def before_commit(path) -> None:
    wanted = os.environ.get("CLIPFORGE_FAIL_AT")
    if not wanted or current_task is None:
        return
    if wanted == current_task or (":" not in wanted and current_task.split(":")[0] == wanted):
        raise ClipforgeError(f"injected failure in {current_task} (CLIPFORGE_FAIL_AT={wanted})",
                             code=ErrorCode.INJECTED)
