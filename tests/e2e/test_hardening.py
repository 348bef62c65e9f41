"""Issue 10 hardening, through real `doit` runs: deletion never leaves temp_processing/, partial writes
are swept, and failures outside the stages still end in one coded line."""

from __future__ import annotations

import os

from tests.helpers import run_ok


def error_lines(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith("clipforge: error")]


def test_a_linked_temp_processing_is_refused_and_nothing_behind_it_is_deleted(project, tmp_path):
    outside = tmp_path / "elsewhere"
    (outside / "y.dl").mkdir(parents=True)
    (outside / "holiday.part.mp4").write_text("the user's own partial file")
    (outside / "y.dl" / "keep.mp4").write_text("user data")
    os.symlink(outside, project.path / "temp_processing")

    result = project.doit("clips=1")
    out = result.stdout + result.stderr
    assert result.returncode == 63, out
    assert len(error_lines(out)) == 1 and "TEMP_LINKED" in out and "Traceback" not in out
    assert not project.state_file.exists()

    forgot = run_ok(project.doit("forget"))
    out = forgot.stdout + forgot.stderr
    assert "is a link" in out
    assert "clipforge: clipforge:" not in out
    assert (outside / "holiday.part.mp4").read_text() == "the user's own partial file"
    assert (outside / "y.dl" / "keep.mp4").read_text() == "user data"
