"""The error tree and the one place that turns failures into a line and an exit status."""

from __future__ import annotations

import errno

import pytest

from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.state import CURRENT
from clipforge.tasks import Step, classify, execute


def test_every_code_has_a_distinct_exit_status_outside_doits_own():
    statuses = [c.exit_status for c in ErrorCode]
    assert len(set(statuses)) == len(statuses)
    assert all(s > 3 for s in statuses)
    assert all(c.hint for c in ErrorCode)


def test_one_line_says_what_code_and_how_to_fix():
    line = ClipforgeError("input x.mp4 does not exist", code=ErrorCode.INPUT_NOT_FOUND).one_line()
    assert line.startswith("clipforge: error INPUT_NOT_FOUND (10): input x.mp4 does not exist -- ")
    assert "\n" not in line


def test_a_real_enospc_is_classified_disk_full(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    CURRENT.forget()
    CURRENT.ensure("/in.mp4", "cfg")

    def write_to_full_disk():
        with open("/dev/full", "w") as f:  # the kernel's always-full device: a genuine ENOSPC
            f.write("x" * 65536)
            f.flush()

    step = Step(task="transcript", run=write_to_full_disk, targets=[], inputs=lambda: [], config_hash="h")
    failure = execute(step)
    assert "DISK_FULL" in str(failure)
    st = CURRENT.reload()
    assert st.failure_point["code"] == "DISK_FULL"
    assert st.failure_point["stage"] == "transcript"
    CURRENT.forget()


@pytest.mark.parametrize("exc, code", [
    (OSError(errno.ENOSPC, "No space left on device"), ErrorCode.DISK_FULL),
    (KeyboardInterrupt(), ErrorCode.INTERRUPTED),
    (ValueError("boom"), ErrorCode.INTERNAL),
    (ClipforgeError("x", code=ErrorCode.NO_AUDIO), ErrorCode.NO_AUDIO),
])
def test_classify(exc, code):
    assert classify(exc).code is code
