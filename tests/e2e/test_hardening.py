"""Issue 10 hardening, through real `doit` runs: deletion never leaves temp_processing/, partial writes
are swept, and failures outside the stages still end in one coded line."""

from __future__ import annotations

import json
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


def test_partial_writes_of_the_state_file_doit_db_and_clips_are_swept_and_nothing_else(project, tmp_path):
    target = tmp_path / "target.json"
    target.write_text("not ours")
    ours = ["..temp_clips.4242.part.json", "..temp_clips.json.bak.4242.part.json", "..doit-db.77.part.json",
            "clips/.01-intro.5.part.mp4", "clips/.manifest.5.part.json"]
    theirs = ["notes.part.txt", ".temp_clips_notes.txt", ".my.4242.part.json", "clips/my.part.mp4",
              "clips/.hidden.txt", "clips/01-intro.mp4"]
    (project.path / "clips").mkdir()
    for rel in ours + theirs:
        (project.path / rel).write_text("x")
    os.symlink(target, project.path / "..temp_clips.9.part.json")

    result = project.doit("clips=1", env={"CLIPFORGE_FAIL_AT": "download"})  # fails fast, after the sweep
    assert result.returncode == 70, result.stdout + result.stderr
    assert [rel for rel in ours if (project.path / rel).exists()] == []
    assert not (project.path / "..temp_clips.9.part.json").is_symlink()
    assert target.read_text() == "not ours"
    assert [rel for rel in theirs if not (project.path / rel).exists()] == []


def _active_pid(project) -> int | None:
    try:
        return (project.state().get("active_run") or {}).get("pid")
    except (OSError, ValueError):
        return None


def test_lock_holds_when_the_lock_file_is_deleted_or_replaced(project):
    from tests.helpers import wait_for

    first = project.popen("clips=1", "min_len=8", "max_len=25")
    try:
        assert wait_for(lambda: _active_pid(project) == first.pid, first, timeout=120), "run A never started"
        lock = project.path / ".temp_clips.lock"
        lock.unlink()
        second = project.doit("clips=1", timeout=60)
        assert second.returncode == 61, second.stdout + second.stderr
        assert "LOCKED" in second.stderr and f"pid {first.pid}" in second.stderr  # from the state file
        lock.write_text("not a pid\n")  # replaced, as an editor or `git checkout` would
        third = project.doit("clips=1", timeout=60)
        assert third.returncode == 61, third.stdout + third.stderr
    finally:
        out, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out


def test_an_unfinished_run_for_other_options_is_not_deleted_when_clips_are_current(project):
    """clips/ holds the output of options X; a run for options Y failed; `doit` with X must keep Y's run."""
    x = ("clips=1", "min_len=8", "max_len=25")
    run_ok(project.doit(*x))
    failed = project.doit("clips=2", "min_len=8", "max_len=25", env={"CLIPFORGE_FAIL_AT": "extract"})
    assert failed.returncode == 70
    before = project.state()
    temp_files = sorted(p.name for p in project.temp().rglob("*") if p.is_file())

    result = run_ok(project.doit(*x))
    assert "nothing to do" in result.stderr
    assert "unfinished run for other options is kept" in result.stderr
    assert project.state_file.exists(), "an unfinished run was deleted without a flag or an answer"
    assert project.state()["failure_point"] == before["failure_point"]
    assert sorted(p.name for p in project.temp().rglob("*") if p.is_file()) == temp_files

    resumed = run_ok(project.doit("--retry"))  # and it can still be finished
    assert len(project.manifest()["clips"]) == 2, resumed.stdout + resumed.stderr
    assert not project.state_file.exists()


def test_doit_from_another_folder_is_one_coded_line_not_a_traceback(project, tmp_path):
    import subprocess
    import sys

    (project.path / "sub").mkdir()
    dodo = str(project.path / "dodo.py")
    for cwd, args in ((tmp_path, ["-f", dodo]), (tmp_path, ["-f", dodo, "list"]), (project.path / "sub", ["-k"])):
        r = subprocess.run([sys.executable, "-m", "doit", *args], cwd=cwd, env=project.env(), capture_output=True,
                           text=True, timeout=60)
        out = r.stdout + r.stderr
        assert r.returncode == 14, out
        assert "Traceback" not in out and len(error_lines(out)) == 1
        assert f"cd {project.path}" in out


def _make_clips_read_only(project):
    import pytest

    clips = project.path / "clips"
    if os.geteuid() != 0:
        clips.mkdir()
        clips.chmod(0o555)
        return lambda: clips.chmod(0o755)
    # root ignores permission bits: point clips/ at a kernel folder that refuses new files even to root.
    try:
        open("/sys/kernel/.clipforge-probe", "w").close()
        os.unlink("/sys/kernel/.clipforge-probe")
        pytest.skip("no folder here refuses writes to root")
    except PermissionError:
        pass
    except OSError as err:
        pytest.skip(f"/sys/kernel unusable: {err}")
    os.symlink("/sys/kernel", clips)
    return clips.unlink


def test_read_only_clips_folder_is_not_writable_then_retry_finishes(project):
    undo = _make_clips_read_only(project)
    result = project.doit("clips=1", "min_len=8", "max_len=25")
    out = result.stdout + result.stderr
    assert result.returncode == 51, out
    lines = error_lines(out)
    assert len(lines) == 1 and "NOT_WRITABLE" in lines[0] and "doit --retry" in lines[0], out
    assert project.state()["failure_point"]["code"] == "NOT_WRITABLE"
    undo()
    run_ok(project.doit("--retry"))
    assert project.manifest()["clips"]


def test_forget_task_shows_its_units_pending_and_reruns_them(project):
    import re

    from tests.helpers import executed

    opts = ("clips=2", "min_len=8", "max_len=25")
    run_ok(project.doit("extract", *opts))
    run_ok(project.doit("forget", "extract:seg002"))
    status = run_ok(project.doit("status")).stdout
    assert re.search(r"^extract\s+pending\s+1 done, 1 pending", status, re.M), status
    run_ok(project.doit("forget", "extract"))
    status = run_ok(project.doit("status")).stdout
    assert re.search(r"^extract\s+pending\s+0 done, 2 pending", status, re.M), status
    assert [u["id"] for u in project.state()["segment_queue"]["extract"]] == ["seg001", "seg002"]
    out = run_ok(project.doit(*opts)).stdout
    assert {"extract:seg001", "extract:seg002", "render"} <= executed(out)


def test_a_new_input_keeps_the_previous_inputs_clips(project):
    import hashlib
    import shutil

    from tests.helpers import MEDIA

    run_ok(project.doit("clips=1", "min_len=8", "max_len=25"))
    first = project.manifest()
    first_clips = {c["file"]: c["sha256"] for c in first["clips"]}
    (project.path / "clips" / "my-notes.txt").write_text("the user's own file")

    other = project.path / "tone.webm"
    shutil.copy(MEDIA / "tone_vp9.webm", other)
    result = run_ok(project.doit(f"input={other}", "clips=1", "min_len=1", "max_len=4"))
    assert "moved to clips/talk-" in result.stdout
    assert project.manifest()["input"]["id"] == str(other)
    kept = [d for d in (project.path / "clips").iterdir() if d.is_dir()]
    assert len(kept) == 1 and kept[0].name.startswith("talk-")
    assert (kept[0] / "manifest.json").exists()
    archived = json.loads((kept[0] / "manifest.json").read_text())
    assert {c["file"]: c["sha256"] for c in archived[
        "clips"]} == first_clips
    for name, sha in first_clips.items():
        assert hashlib.sha256((kept[0] / name).read_bytes()).hexdigest() == sha
    assert (project.path / "clips" / "my-notes.txt").read_text() == "the user's own file"

    # The same input with other options replaces that input's own clips, and keeps the archive.
    run_ok(project.doit(f"input={other}", "clips=1", "min_len=1", "max_len=5"))
    assert [d.name for d in (project.path / "clips").iterdir() if d.is_dir()] == [kept[0].name]
    named = {f["file"] for c in project.manifest()["clips"] for f in [c, *c["sidecars"]]}
    top = {p.name for p in (project.path / "clips").iterdir() if p.is_file()}
    assert top == named | {"manifest.json", "index.html", "my-notes.txt"}
