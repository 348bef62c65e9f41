"""kill -9 (and SIGTERM) at many instants, then `doit --retry`: same clips, nothing redone, nothing left over."""

from __future__ import annotations

import json
import signal

import pytest

from tests.helpers import (
    children_in,
    clip_summary,
    executed,
    kill9,
    make_project,
    restore_snapshot,
    run_ok,
    save_snapshot,
    skipped,
    wait_for,
)

# Several 30-second transcription chunks, two short clips.
OPTS = ["clips=2", "min_len=8", "max_len=25", "chunk_minutes=0.5"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """An uninterrupted run: its transcript (kept by stopping at `transcript` first) and its clips,
    and a snapshot of the project at that stop for the tests that kill later stages."""
    root = tmp_path_factory.mktemp("kill-baseline")
    proj = make_project(root / "proj")
    run_ok(proj.doit(*OPTS, "transcript"))
    transcript = proj.temp("transcript.json").read_text()
    transcribed = save_snapshot(proj, tmp_path_factory.mktemp("kill-transcribed"))
    run_ok(proj.doit(*OPTS))
    return transcript, clip_summary(proj.manifest()), transcribed


@pytest.fixture(scope="module")
def baseline(uninterrupted):
    return uninterrupted[1]


@pytest.fixture
def transcribed(uninterrupted):
    """A project whose run stopped after `transcript` (a kill later on finds it so)."""
    return restore_snapshot(uninterrupted[2])



def test_kill_mid_transcription_resumes_from_the_first_unfinished_chunk(project, uninterrupted):
    transcript, baseline, _ = uninterrupted
    proc = project.popen(*OPTS)
    chunk1 = project.temp("transcribe/chunk001.json")
    assert wait_for(lambda: _recorded(project, "transcribe:chunk000"), proc), proc.stdout.read()
    kill9(project, proc)
    st = project.state()
    assert st["completed_segments"]["transcribe"][0]["id"] == "chunk000"
    assert st["completed_segments"]["transcribe"][0]["start"] == 0.0
    done_chunks = [u["id"] for u in st["completed_segments"]["transcribe"]]
    assert len(json.loads(project.temp("chunks.json").read_text())["chunks"]) >= 3
    stamps = {c: project.temp(f"transcribe/{c}.json").stat().st_mtime_ns for c in done_chunks}

    out = run_ok(project.doit("--retry", "transcript")).stdout
    for c in done_chunks:
        assert f"transcribe:{c}" in skipped(out)
        assert project.temp(f"transcribe/{c}.json").stat().st_mtime_ns == stamps[c], f"{c} was transcribed again"
    assert not chunk1.exists() or "transcribe:chunk001" in executed(out) | skipped(out)
    assert project.temp("transcript.json").read_text() == transcript, "resumed transcript differs"
    run_ok(project.doit())
    assert clip_summary(project.manifest()) == baseline


def test_kill_mid_extraction_leaves_no_partial_clip_and_resumes(transcribed, baseline):
    project = transcribed
    proc = project.popen(*OPTS)
    extract_dir = project.temp("extract")
    assert wait_for(lambda: extract_dir.is_dir() and any(".part" in p.name for p in extract_dir.iterdir()), proc), \
        proc.stdout.read()
    kill9(project, proc)
    st = project.state()
    assert st["current_stage"] in ("segment", "extract")
    result = run_ok(project.doit("--retry"))
    out = result.stdout
    assert {"download", "chunks", "transcript", "segment"} <= skipped(out)
    assert clip_summary(project.manifest()) == baseline
    assert not project.temp().exists() or not [p for p in project.temp().rglob("*") if p.is_file()]
    names = sorted(p.name for p in (project.path / "clips").iterdir())
    clips = [n for n in names if n.endswith(".mp4")]
    assert len(clips) == len(baseline) and "manifest.json" in names, names  # no duplicates


def _recorded(project, task: str) -> bool:
    try:
        return task in project.state()["tasks"]
    except (OSError, ValueError):
        return False  # not written yet


def _part_in(project, folder: str) -> bool:
    d = project.temp(folder)
    return d.is_dir() and any(".part" in p.name for p in d.iterdir())


# Observable moments, one per stage and unit kind (the state file records a unit; a partial file
# appears); never a fixed delay, so a loaded machine cannot move the kill to another stage.
MOMENTS = {
    "download done": lambda p: _recorded(p, "download"),
    "first chunk done": lambda p: _recorded(p, "transcribe:chunk000"),
    "segment done": lambda p: _recorded(p, "segment"),
    "subtitles, one clip done": lambda p: _recorded(p, "subtitles:seg001"),
    "vfx, one clip done": lambda p: _recorded(p, "vfx:seg001"),
    "broll, one clip done": lambda p: _recorded(p, "broll:seg001"),
    "loudness, one clip done": lambda p: _recorded(p, "loudness:seg001"),
    "compose encoding": lambda p: _part_in(p, "extract"),
    "compose, one clip done": lambda p: _recorded(p, "extract:seg001"),
}


EARLY = ("download done", "first chunk done")  # the others start from a run stopped after `transcript`


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_at_each_stage_then_retry_redoes_only_the_unit_in_flight(request, baseline, moment):
    project = request.getfixturevalue("project" if moment in EARLY else "transcribed")
    proc = project.popen(*OPTS)
    reached = wait_for(lambda: MOMENTS[moment](project), proc)
    assert reached, f"run ended before {moment}: {proc.stdout.read()}"
    kill9(project, proc)
    json.loads(project.state_file.read_text())  # never torn
    finished = set(project.state()["tasks"])
    out = run_ok(project.doit("--retry")).stdout
    assert not executed(out) & finished, f"finished work was redone after a kill at {moment}"
    assert clip_summary(project.manifest()) == baseline
    assert not project.state_file.exists()
    leftovers = [p for p in project.path.rglob("*") if ".part" in p.name]
    assert leftovers == []


def test_sigterm_is_recorded_as_an_interruption_and_kills_ffmpeg(transcribed, baseline):
    project = transcribed
    proc = project.popen(*OPTS)
    extract_dir = project.temp("extract")
    assert wait_for(lambda: extract_dir.is_dir() and any(".part" in p.name for p in extract_dir.iterdir()), proc)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, out
    assert "INTERRUPTED" in out and "Traceback" not in out
    assert children_in(project.path) == []
    st = project.state()
    assert st["failure_point"]["code"] == "INTERRUPTED"
    assert not [p for p in project.temp().rglob("*") if ".part" in p.name]
    run_ok(project.doit("--retry"))
    assert clip_summary(project.manifest()) == baseline
