"""`doit batch`: real Dask (a LocalCluster of worker processes), real pipeline, small media.

Each video runs in its own workspace; its clips equal a single run's; a killed worker's video
resumes elsewhere without redoing its finished steps; a bad line fails only its own video.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from clipforge.batchrun import MARKER, THREAD_VARS
from clipforge.media import ffmpeg_exe
from tests.helpers import MEDIA, make_project, run_ok, skipped

OPTS = ("clips=1", "min_len=1", "max_len=4", "height=320", "segmenter=offline")


def _encode(out: Path, *args: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[Path]:
    """Four distinct short videos: other colours, other spans of the speech, another container."""
    d = tmp_path_factory.mktemp("media")
    speech = str(MEDIA / "speech_short.wav")
    colour = lambda c: ["-f", "lavfi", "-i", f"color=c={c}:s=160x90:r=10"]
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"]
    return [
        _encode(d / "blue.mp4", *colour("blue"), "-i", speech, "-t", "7", *h264),
        _encode(d / "red talk.mp4", *colour("red"), "-i", speech, *h264),
        _encode(d / "green.mkv", *colour("green"), "-ss", "3", "-i", speech, *h264),
        _encode(d / "tone.mp4", "-i", str(MEDIA / "tone_vp9.webm"), "-c:v", "libx264", "-preset", "ultrafast",
                "-c:a", "aac"),
    ]


def _list(project, lines: list[str]) -> None:
    (project.path / "videos.txt").write_text("# the catalogue\n\n" + "\n".join(lines) + "\n")


def _record(project) -> dict:
    return json.loads((project.path / "batch" / "batch.json").read_text())["videos"]


def _by_input(project) -> dict[str, dict]:
    return {v["input"]: v for v in _record(project).values()}


def _clips(manifest_clips: list[dict]) -> list[tuple]:
    return [(c["start"], c["end"], c["title"], c["text"], c["sha256"]) for c in manifest_clips]


def test_batch_of_four_on_two_workers_equals_single_runs(tmp_path, videos):
    project = make_project(tmp_path / "proj")
    _list(project, [str(v) for v in videos])
    began = time.monotonic()
    out = run_ok(project.doit("batch", "list=videos.txt", "workers=2", *OPTS, timeout=240))
    print(f"batch of 4 on 2 workers: {time.monotonic() - began:.1f} s")
    assert "[4/4 done, 0 failed" in out.stdout
    rows = _by_input(project)
    assert {r["status"] for r in rows.values()} == {"done"} and len(rows) == 4
    assert len({r["workspace"] for r in rows.values()}) == 4
    batch_manifest = json.loads((project.path / "batch" / "manifest.json").read_text())
    # Each video alone, all at once (one thread each, as in the batch: x264's output depends on it).
    singles = {}
    for video in videos:
        row = rows[str(video)]
        single = make_project(tmp_path / f"single-{row['workspace']}")
        env = single.env(**{k: str(row["threads"]) for k in THREAD_VARS})
        singles[video] = (single, subprocess.Popen([sys.executable, "-m", "doit", f"input={video}", *OPTS],
                                                   cwd=single.path, env=env, stdout=subprocess.PIPE,
                                                   stderr=subprocess.STDOUT, text=True))
    for video, (single, proc) in singles.items():
        output, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, output
        ours = [c for c in batch_manifest["clips"] if c["input"] == str(video)]
        assert ours and all((project.path / c["file"]).is_file() for c in ours)
        assert _clips(ours) == _clips(single.manifest()["clips"]), video.name
    status = run_ok(project.doit("batch", "status"))
    assert "4 video(s): 4 done" in status.stdout
    again = run_ok(project.doit("batch", "list=videos.txt", "workers=2", *OPTS))
    assert "nothing to do" in again.stdout


def test_killed_worker_video_resumes_elsewhere(tmp_path, videos):
    from distributed import Client, LocalCluster

    project = make_project(tmp_path / "proj")
    _list(project, [str(videos[1]), str(videos[0])])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster) as client:
        proc = project.popen("batch", "list=videos.txt", f"scheduler={cluster.scheduler_address}",
                             "chunk_minutes=0.05", *OPTS)
        try:
            workspaces = lambda: [p for p in (project.path / "batch").glob("*/") if p.is_dir()]

            def transcribing() -> Path | None:
                for ws in workspaces():
                    try:
                        if "chunks" in json.loads((ws / ".temp_clips.json").read_text())["tasks"]:
                            return ws
                    except (OSError, ValueError, KeyError):
                        continue
                return None

            deadline = time.time() + 90
            while (ws := transcribing()) is None and time.time() < deadline and proc.poll() is None:
                time.sleep(0.02)
            assert ws is not None, proc.stdout.read() if proc.poll() is not None else "no video reached chunks"
            pid = json.loads((ws / MARKER).read_text())["pid"]
            assert pid in client.run(os.getpid).values()
            os.kill(pid, signal.SIGKILL)
            output, _ = proc.communicate(timeout=180)
            # The cluster's dashboard is announced, at an address that answers while the cluster runs.
            link = re.search(r"^batch: Dask dashboard: (http://\S+)/status$", output, re.M)
            assert link and f"{link[1]}/status" == client.dashboard_link, output
            assert urllib.request.urlopen(f"{link[1]}/health", timeout=10).read() == b"ok"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output
    assert "re-run (attempt 2)" in output or "[2/2 done" in output, output
    row = _record(project)[ws.name]
    assert row["status"] == "done" and row["attempts"] == 2, row
    log = (ws / "batch.log").read_text()
    assert "== attempt 2" in log
    rerun = log.split("== attempt 2", 1)[1]
    # The re-run resumed: what the killed attempt finished was not done again.
    assert {"download", "chunks"} <= skipped(rerun), rerun


def test_bad_lines_fail_their_video_only_and_retry_reruns_them(tmp_path, videos):
    project = make_project(tmp_path / "proj")
    missing = tmp_path / "later.mp4"
    not_media = tmp_path / "notes.mp4"
    shutil.copy(MEDIA / "text.mp4", not_media)
    _list(project, [str(videos[3]), str(missing), str(not_media)])
    out = project.doit("batch", "list=videos.txt", "workers=2", *OPTS, timeout=180)
    assert out.returncode == 1, out.stdout + out.stderr
    rows = _by_input(project)
    assert rows[str(videos[3])]["status"] == "done"
    assert (rows[str(missing)]["status"], rows[str(missing)]["code"]) == ("failed", "INPUT_NOT_FOUND")
    assert (rows[str(not_media)]["status"], rows[str(not_media)]["code"]) == ("failed", "NOT_MEDIA")
    assert "FAILED INPUT_NOT_FOUND" in out.stdout and "FAILED NOT_MEDIA" in out.stdout
    status = project.doit("batch-status").stdout
    assert "1 done, 2 failed" in status and "INPUT_NOT_FOUND" in status

    shutil.copy(videos[3], missing)  # the user fixes one line
    retry = project.doit("batch", "--retry", timeout=180)
    assert retry.returncode == 1, retry.stdout + retry.stderr
    rows = _by_input(project)
    assert rows[str(missing)]["status"] == "done"
    assert rows[str(not_media)]["code"] == "NOT_MEDIA" and rows[str(not_media)]["attempts"] == 2
    good = rows[str(videos[3])]
    assert good["attempts"] == 1, "a done video is not run again"
    assert (project.path / "batch" / good["workspace"] / "batch.log").read_text().count("== attempt") == 1
    clips = json.loads((project.path / "batch" / "manifest.json").read_text())["clips"]
    assert {c["input"] for c in clips} == {str(videos[3]), str(missing)}


def test_killed_driver_then_retry_leaves_finished_videos_alone(tmp_path, videos):
    project = make_project(tmp_path / "proj")
    _list(project, [str(v) for v in videos[:3]])
    proc = project.popen("batch", "list=videos.txt", "workers=1", *OPTS)

    def one_done() -> bool:
        try:
            return any(v["status"] == "done" for v in _record(project).values())
        except (OSError, ValueError, KeyError):
            return False

    try:
        deadline = time.time() + 120
        while not one_done() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert one_done(), proc.stdout.read() if proc.poll() is not None else "no video finished"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its local cluster, as a crash would
        proc.wait(timeout=30)
    before = _record(project)
    done = {name: row for name, row in before.items() if row["status"] == "done"}
    stamps = {p: p.stat().st_mtime_ns for name in done for p in (project.path / "batch" / name / "clips").iterdir()}

    retry = project.doit("batch", "--retry", timeout=240)
    assert retry.returncode == 0, retry.stdout + retry.stderr
    after = _record(project)
    assert all(row["status"] == "done" for row in after.values()), after
    for name in done:
        assert after[name]["attempts"] == done[name]["attempts"], "a finished video was run again"
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


@pytest.mark.parametrize("case, code", [
    ("missing list", "BAD_OPTION"),
    ("empty list", "BAD_OPTION"),
    ("folder without media", "BAD_OPTION"),
    ("unreachable scheduler", "CLUSTER_UNREACHABLE"),
])
def test_a_bad_list_or_scheduler_is_one_coded_line(tmp_path, case, code):
    project = make_project(tmp_path / "proj")
    (project.path / "empty.txt").write_text("# nothing here\n\n")
    (project.path / "docs").mkdir()
    (project.path / "docs" / "notes.txt").write_text("not a video")
    shutil.copy(MEDIA / "speech_short.wav", project.path / "a.wav")
    (project.path / "one.txt").write_text("a.wav\n")
    args = {"missing list": ["list=nope.txt"], "empty list": ["list=empty.txt"],
            "folder without media": ["list=docs"],
            "unreachable scheduler": ["list=one.txt", "scheduler=tcp://127.0.0.1:9"]}[case]
    r = project.doit("batch", *args, timeout=120)
    out = r.stdout + r.stderr
    lines = [ln for ln in out.splitlines() if ln.startswith("clipforge: error")]
    assert len(lines) == 1 and code in lines[0], out
    assert r.returncode == {"BAD_OPTION": 14, "CLUSTER_UNREACHABLE": 16}[code], out
    assert "Traceback" not in out
    assert not (project.path / "batch" / "one").exists()
