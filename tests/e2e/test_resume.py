"""Failure, resume, prompts, flags, lock and status, through real `doit` runs."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import (
    SAMPLE,
    Project,
    clip_summary,
    executed,
    make_project,
    restore_snapshot,
    run_ok,
    save_snapshot,
    skipped,
)

# A shorter run than the default sample: fewer, shorter clips keep the suite quick.
OPTS = ["clips=2", "min_len=8", "max_len=25"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """One uninterrupted run: what every resumed run must reproduce."""
    proj = make_project(tmp_path_factory.mktemp("baseline") / "proj")
    run_ok(proj.doit(*OPTS))
    return clip_summary(proj.manifest())


EARLY_FAILURES = [
    ("download", "download", None),
    ("chunks", "chunks", None),
    ("transcribe:chunk000", "transcribe", "chunk000"),
    ("transcript", "transcript", None),
]
LATE_FAILURES = [
    ("segment", "segment", None),
    ("subtitles:seg002", "subtitles", "seg002"),
    ("vfx:seg002", "vfx", "seg002"),
    ("broll:seg001", "broll", "seg001"),
    ("loudness:seg002", "loudness", "seg002"),
    ("extract:seg002", "extract", "seg002"),
    ("render", "render", None),
]


@pytest.fixture(scope="module")
def transcribed(tmp_path_factory):
    """A project stopped after `transcript`, kept as a snapshot: the late-stage failure tests start
    from it instead of transcribing again. It is restored at the same path, so the state file's
    absolute input path stays valid."""
    root = tmp_path_factory.mktemp("transcribed")
    proj = make_project(root / "proj")
    run_ok(proj.doit(*OPTS, "transcript"))
    return save_snapshot(proj, root)


def _failed_at(root: Path, point: str = "segment") -> Project:
    """A run that failed at `point` (after `transcript`), from the snapshot: the transcription it
    would have done first is already there."""
    project = restore_snapshot(root)
    failed = project.doit(*OPTS, env={"CLIPFORGE_FAIL_AT": point})
    assert failed.returncode == 70, failed.stdout + failed.stderr
    assert project.state()["failure_point"]["stage"] == point.split(":")[0]
    return project


@pytest.mark.parametrize("fail_at, stage, unit", EARLY_FAILURES)
def test_injected_early_failure_is_recorded_and_resume_runs_only_what_is_missing(project, baseline, fail_at,
                                                                                   stage, unit):
    _fail_then_resume(project, baseline, fail_at, stage, unit)


@pytest.mark.parametrize("fail_at, stage, unit", LATE_FAILURES)
def test_injected_late_failure_is_recorded_and_resume_runs_only_what_is_missing(transcribed, baseline, fail_at,
                                                                                  stage, unit):
    _fail_then_resume(restore_snapshot(transcribed), baseline, fail_at, stage, unit)


def _fail_then_resume(project, baseline, fail_at, stage, unit):
    failed = project.doit(*OPTS, env={"CLIPFORGE_FAIL_AT": fail_at})
    out = failed.stdout + failed.stderr
    assert failed.returncode == 70, out
    assert "Traceback" not in out
    assert len([ln for ln in out.splitlines() if ln.startswith("clipforge: error")]) == 1
    st = project.state()
    assert st["failure_point"]["stage"] == stage
    assert st["failure_point"]["segment"] == unit
    assert st["failure_point"]["code"] == "INJECTED"
    assert st["error_log"][-1]["code"] == "INJECTED"
    done_before = set(st["tasks"])
    assert fail_at not in done_before
    assert not list(project.temp().rglob("*.part*")), "a failed task's partial output must be removed"
    if stage != "download":
        assert st["input_sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    if unit == "seg002":
        assert [u["id"] for u in st["completed_segments"][stage]] == ["seg001"]
        assert "seg002" in [u["id"] for u in st["segment_queue"][stage]]

    resumed = run_ok(project.doit("--retry"))
    out = resumed.stdout + resumed.stderr
    assert "resuming" in out
    assert not executed(out) & done_before, "finished tasks were run again"
    # render fails after publishing: its complete outputs are found current, not made again.
    assert fail_at in executed(out) or (fail_at == "render" and "done: clips and manifest" in out)
    assert clip_summary(project.manifest()) == baseline
    assert not project.state_file.exists()
    assert not [p for p in project.temp().rglob("*") if p.is_file()]


def test_options_of_the_failed_run_are_kept_on_retry(transcribed, baseline):
    project = _failed_at(transcribed)
    assert project.state()["options"]["clips"] == "2"
    run_ok(project.doit("--retry"))  # no options repeated
    assert clip_summary(project.manifest()) == baseline


def test_non_interactive_run_resumes_and_says_so(transcribed):
    project = _failed_at(transcribed)
    result = run_ok(project.doit())
    out = result.stdout + result.stderr
    assert "resuming the previous run" in out and "no terminal" in out
    assert "download" in skipped(out) and "segment" in executed(out)


def test_retry_without_state_warns_and_runs(project):
    result = run_ok(project.doit("--retry", *OPTS))
    assert "no previous run to resume" in result.stderr
    assert len(project.manifest()["clips"]) == 2


def test_nocache_deletes_state_and_temp_files_then_starts_fresh(transcribed):
    project = _failed_at(transcribed)
    assert project.temp("transcript.json").exists()
    result = run_ok(project.doit("--nocache", *OPTS))
    out = result.stdout + result.stderr
    assert "removed the state file" in out
    assert {"download", "chunks", "transcript", "segment"} <= executed(out)


def test_forget_clears_state_and_temp_files_but_keeps_clips(project):
    run_ok(project.doit(*OPTS))
    project.doit(*OPTS, "clips=1", env={"CLIPFORGE_FAIL_AT": "extract"})
    assert project.state_file.exists()
    result = run_ok(project.doit("forget"))
    assert "forgot the run" in result.stderr
    assert not project.state_file.exists()
    assert not [p for p in project.temp().rglob("*") if p.is_file() and p.name != ".lock"]
    assert (project.path / "clips" / "manifest.json").exists()


def test_different_input_is_refused_without_a_terminal(transcribed):
    from tests.helpers import MEDIA

    project = _failed_at(transcribed)
    result = project.doit(f"input={MEDIA / 'speech_long.mp3'}")
    out = result.stdout + result.stderr
    assert result.returncode == 62, out
    assert "INPUT_MISMATCH" in out and "--nocache" in out
    assert project.state()["failure_point"]["stage"] == "segment", "the refused run must not touch the state"


def run_in_terminal(project, args, answer: str, timeout=240) -> tuple[int, str]:
    """Run doit with a pseudo-terminal as stdin/stdout and answer its question."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=project.path, env=project.env(),
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out, answered, deadline = b"", False, time.time() + timeout
    while time.time() < deadline:
        try:
            import select

            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                out += chunk
        except OSError:
            break
        if not answered and b"Resume? [y/n]" in out:
            os.write(master, answer.encode() + b"\n")
            answered = True
        if proc.poll() is not None and not ready:
            break
    proc.wait(timeout=10)
    os.close(master)
    return proc.returncode, out.decode(errors="replace")


def test_terminal_prompt_yes_resumes(transcribed, baseline):
    project = _failed_at(transcribed, "extract:seg002")
    rc, out = run_in_terminal(project, [], "y")
    assert "Previous session failed. Resume? [y/n]" in out
    assert rc == 0, out
    assert "-- extract:seg001" in out and ".  extract:seg002" in out
    assert clip_summary(project.manifest()) == baseline


def test_terminal_prompt_no_deletes_and_starts_fresh(project):
    project.doit(*OPTS, env={"CLIPFORGE_FAIL_AT": "segment"})
    rc, out = run_in_terminal(project, [], "n")
    assert rc == 0, out
    assert "starting fresh" in out
    assert ".  download" in out and ".  transcribe:chunk000" in out


def test_terminal_prompt_no_drops_the_discarded_runs_options(project):
    project.doit("clips=1", "min_len=8", "max_len=25", env={"CLIPFORGE_FAIL_AT": "segment"})
    rc, out = run_in_terminal(project, ["min_len=8", "max_len=25"], "n")
    assert rc == 0, out
    assert "starting fresh" in out
    assert len(project.manifest()["clips"]) > 1, "the fresh run kept the discarded run's clips=1"


def test_flags_win_over_the_prompt(transcribed):
    project = _failed_at(transcribed)
    rc, out = run_in_terminal(project, ["--retry"], "n")
    assert rc == 0, out
    assert "Resume? [y/n]" not in out
    assert "-- download" in out


def test_status_reports_stages_segments_failure_and_next_step(transcribed):
    project = _failed_at(transcribed, "extract:seg002")
    out = run_ok(project.doit("status")).stdout
    assert re.search(r"^transcript\s+done", out, re.M)
    assert re.search(r"^extract\s+failed\s+1 done, 1 pending", out, re.M)
    assert "extract:seg002 INJECTED" in out
    assert "hint:" in out
    assert "`doit --retry` would run extract, render" in out


def test_status_without_a_run(project):
    assert "no run in progress" in run_ok(project.doit("status")).stdout


def test_corrupted_temp_file_reruns_its_stage_and_only_what_depends_on_it(project):
    run_ok(project.doit("extract", *OPTS))
    transcript = project.temp("transcript.json")
    data = json.loads(transcript.read_text())
    transcript.write_text(json.dumps(data)[:-40])  # truncated
    chunk = project.temp("transcribe/chunk000.json")
    chunk_mtime = chunk.stat().st_mtime_ns
    out = run_ok(project.doit("extract", *OPTS)).stdout
    assert "transcript" in executed(out)
    assert {"download", "chunks", "transcribe:chunk000"} <= skipped(out)
    # The regenerated transcript is identical, so nothing downstream had to run again.
    assert {"segment", "extract:seg001", "extract:seg002"} <= skipped(out)
    assert chunk.stat().st_mtime_ns == chunk_mtime


def test_missing_clip_reruns_only_that_clip(project):
    run_ok(project.doit("extract", *OPTS))
    project.temp("extract/seg001.mp4").unlink()
    out = run_ok(project.doit(*OPTS)).stdout
    assert executed(out) == {"extract:seg001", "render"}


def test_corrupt_state_file_is_restored_from_backup_or_refused(transcribed):
    project = _failed_at(transcribed)
    text = project.state_file.read_text()
    project.state_file.write_text(text[:100])
    result = run_ok(project.doit("--retry"))
    assert "restored the last good copy" in result.stderr
    assert "transcript" in skipped(result.stdout)

    project.doit(*OPTS, "clips=1", env={"CLIPFORGE_FAIL_AT": "segment"})
    project.state_file.write_text("{ not json")
    (project.path / ".temp_clips.json.bak").write_text("also broken")
    result = project.doit("--retry")
    assert result.returncode == 60, result.stdout + result.stderr
    assert "STATE_CORRUPT" in result.stderr and "--nocache" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    run_ok(project.doit("--nocache", *OPTS))


def test_second_run_in_the_same_folder_is_locked_out(project):
    first = project.popen(*OPTS)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (project.path / ".temp_clips.lock").read_text().strip() \
                if (project.path / ".temp_clips.lock").exists() else True:
            time.sleep(0.1)
        second = project.doit(*OPTS, timeout=30)
        assert second.returncode == 61, second.stdout + second.stderr
        assert f"pid {first.pid}" in second.stderr and "LOCKED" in second.stderr
    finally:
        first.wait(timeout=300)
    assert first.returncode == 0


def test_stale_lock_of_a_dead_run_is_taken_over(project):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (project.path / ".temp_clips.lock").write_text(f"{dead.pid}\n")
    result = run_ok(project.doit(*OPTS))
    assert f"took over the lock of run {dead.pid}" in result.stdout + result.stderr
