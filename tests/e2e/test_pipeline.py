"""The pipeline end to end: real doit, ffmpeg, faster-whisper and PyAV on the bundled sample."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

import clipforge
from clipforge import stagelist
from clipforge.media import ffmpeg_exe
from tests.helpers import MEDIA, SAMPLE, make_project, run_ok

STAGES = [s.name for s in stagelist.STAGES]
CLIP_KEYS = {"id", "file", "start", "end", "duration", "title", "reason", "score", "text", "flags"}
RATE = 16000


# ---------------------------------------------------------------- helpers

def task_lines(out: str) -> tuple[list[str], list[str]]:
    """doit's report: ('.  task' = executed, '-- task' = up to date)."""
    ran = re.findall(r"^\.  (\S+)$", out, re.M)
    skipped = re.findall(r"^-- (\S+)$", out, re.M)
    return ran, skipped


def stage_of(task: str) -> str:
    return task.split(":")[0]


def pcm16k(path: Path, start: float | None = None, duration: float | None = None) -> np.ndarray:
    """Decode the audio of `path` to 16 kHz mono float samples with ffmpeg."""
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error"]
    if start is not None:
        cmd += ["-ss", f"{start:.3f}"]
    cmd += ["-i", str(path)]
    if duration is not None:
        cmd += ["-t", f"{duration:.3f}"]
    cmd += ["-map", "0:a:0", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout
    return np.frombuffer(raw, dtype=np.int16).astype(np.float64)


def best_correlation(clip: np.ndarray, source: np.ndarray, start: float, max_lag: float = 0.05) -> tuple[float, float]:
    """Highest normalised cross-correlation of `clip` with `source` at offset `start` (+- max_lag s)."""
    lag = int(max_lag * RATE)
    n = len(clip) - lag  # the clip's tail may run past the source's end by a frame
    base = int(round(start * RATE))
    lo = max(0, base - lag)
    y = source[lo:base + lag + n]
    n = min(n, len(y))
    x = clip[:n] - clip[:n].mean()
    size = 1 << (len(x) + len(y)).bit_length()
    dots = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)[:len(y) - n + 1]
    c1 = np.concatenate(([0.0], np.cumsum(y)))
    c2 = np.concatenate(([0.0], np.cumsum(y * y)))
    sums, squares = c1[n:] - c1[:-n], c2[n:] - c2[:-n]
    norms = np.sqrt(np.maximum(squares - sums * sums / n, 1e-9)) * np.linalg.norm(x)
    corr = dots / norms
    k = int(np.argmax(corr))
    return float(corr[k]), (lo + k - base) / RATE


def decode_fully(path: Path) -> SimpleNamespace:
    """Decode every packet of every stream; return what a player would see."""
    info = SimpleNamespace(has_video=False, fps=None, frames=0, first_video=None, audio_samples=0,
                           audio_rate=None, first_audio=None)
    with av.open(str(path)) as c:
        video = next(iter(c.streams.video), None)
        audio = next(iter(c.streams.audio), None)
        assert audio is not None, f"{path.name} has no audio"
        if video is not None:
            info.has_video = True
            info.fps = float(video.average_rate)
        for frame in c.decode(*[s for s in (video, audio) if s is not None]):
            if isinstance(frame, av.VideoFrame):
                info.frames += 1
                if info.first_video is None:
                    info.first_video = frame.time
            else:
                info.audio_samples += frame.samples
                info.audio_rate = frame.sample_rate
                if info.first_audio is None:
                    info.first_audio = frame.time
    return info


def source_duration(path: Path) -> float:
    with av.open(str(path)) as c:
        return c.duration / 1_000_000


def check_clips(project, min_len: float, max_len: float, padding: float = 0.2, video: bool = True) -> dict:
    """Every clip in the manifest decodes fully, has the manifest's duration and the source's audio."""
    m = project.manifest()
    clips_dir = project.path / "clips"
    assert m["clips"], m
    on_disk = sorted(f.name for f in clips_dir.iterdir())
    published = [f["file"] for c in m["clips"] for f in [c, *c.get("sidecars", [])]]
    assert on_disk == sorted(published + ["manifest.json", "index.html"])
    source = project.path / m["input"]["source"] if not Path(m["input"]["source"]).is_absolute() \
        else Path(m["input"]["source"])
    src_pcm = pcm16k(source)
    for c in m["clips"]:
        info = decode_fully(clips_dir / c["file"])
        assert info.has_video == video, c["file"]
        # duration: the published clip (tightened: the kept ranges back to back); span: the source span.
        assert abs(c["span"] - (c["end"] - c["start"])) < 0.011
        kept = [(r["start"], r["end"]) for r in c["tightened"]["kept"]]
        assert abs(c["duration"] - sum(b - a for a, b in kept)) < 0.011
        assert min_len - 0.5 <= c["span"] <= max_len + 2 * padding + 0.01, c
        if video:
            frame = 1 / info.fps
            assert info.first_video <= frame + 1e-6, (c["file"], info.first_video)
            assert abs(info.frames * frame - c["duration"]) <= frame + 1e-3, (c["file"], info.frames, info.fps)
        assert info.first_audio is not None and abs(info.first_audio) < 0.01
        audio_dur = info.audio_samples / info.audio_rate
        assert abs(audio_dur - c["duration"]) <= 0.05, (c["file"], audio_dur, c["duration"])

        clip_pcm = pcm16k(clips_dir / c["file"])
        # Each kept range of the source plays at its place in the clip, in order.
        at = 0.0
        for a, b in kept:
            piece = clip_pcm[int(at * RATE):int((at + b - a) * RATE)]
            if len(piece) > RATE // 2:
                corr, lag = best_correlation(piece, src_pcm, c["start"] + a)
                assert corr > 0.9, f"{c['file']}: audio at {at:.2f} s is not the source's {c['start'] + a:.2f} s " \
                                   f"(r={corr:.2f})"
            at += b - a
        # And the check tells a wrong span from the right one.
        first = clip_pcm[:int((kept[0][1] - kept[0][0]) * RATE)]
        off = c["start"] + kept[0][0]
        wrong, _ = best_correlation(first, src_pcm, off - 1.5 if off >= 1.5 else off + 1.5)
        assert wrong < 0.5, f"{c['file']}: correlation check does not discriminate (r={wrong:.2f})"
    return m


# ---------------------------------------------------------------- one full run, shared

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    p = make_project(tmp_path_factory.mktemp("full") / "proj", options={})  # the defaults, as a user gets them
    t0 = time.monotonic()
    first = run_ok(p.doit(timeout=300))
    first_s = time.monotonic() - t0
    temp_files_left = [str(f) for f in p.temp().rglob("*") if not f.is_dir()] if p.temp().exists() else []
    state_left = p.state_file.exists()
    mtimes = {f.name: f.stat().st_mtime_ns for f in (p.path / "clips").iterdir()}
    t0 = time.monotonic()
    second = p.doit()
    second_s = time.monotonic() - t0
    return SimpleNamespace(project=p, first=first, first_s=first_s, temp_files_left=temp_files_left,
                           state_left=state_left, mtimes=mtimes, second=second, second_s=second_s)


def test_full_run_runs_every_stage(finished):
    ran, _ = task_lines(finished.first.stdout)
    assert [s for s in STAGES if s not in {stage_of(t) for t in ran}] == [], finished.first.stdout
    assert "transcribe:chunk000" in ran
    assert "Traceback" not in finished.first.stdout + finished.first.stderr


def test_manifest(finished):
    m = finished.project.manifest()
    assert m["tool"] == "clipforge" and m["version"] == clipforge.__version__
    assert m["input"]["source"].endswith("sample/talk.mp4")
    assert m["input"]["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert abs(m["input"]["duration"] - source_duration(SAMPLE)) < 0.1
    assert m["segmenter"] == "offline"
    assert m["models"]["whisper"] and m["models"]["llm"] is None
    assert 1 <= len(m["clips"]) <= 5
    spans = []
    for i, c in enumerate(m["clips"], 1):
        assert CLIP_KEYS <= set(c), c.keys()
        assert re.fullmatch(rf"{i:02d}-[a-z0-9]+(-[a-z0-9]+)*\.mp4", c["file"]), c["file"]
        assert 0 <= c["start"] < c["end"] <= m["input"]["duration"]
        assert c["title"].strip() and c["reason"].strip() and len(c["text"].split()) >= 10
        assert isinstance(c["score"], (int, float)) and isinstance(c["flags"], list)
        spans.append((c["start"], c["end"]))
    spans.sort()
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), f"clips overlap: {spans}"
    assert len({c["id"] for c in m["clips"]}) == len(m["clips"])


def test_clips_decode_and_match_the_source(finished):
    check_clips(finished.project, min_len=15, max_len=60)


def test_success_cleans_up(finished):
    assert finished.temp_files_left == []
    assert not finished.state_left
    assert not finished.project.state_file.exists()


def test_second_run_is_a_fast_noop(finished):
    r = finished.second
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "nothing to do" in out
    ran, _ = task_lines(r.stdout)
    assert ran == [], out
    assert {f.name: f.stat().st_mtime_ns for f in (finished.project.path / "clips").iterdir()} == finished.mtimes
    assert finished.second_s < 3, f"no-op run took {finished.second_s:.1f} s"


# ---------------------------------------------------------------- doit list

def check_list(project) -> None:
    r = run_ok(project.doit("list", timeout=60))
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    listed = {}
    for ln in lines:
        name, _, doc = ln.partition(" ")
        listed[name] = doc.strip()
    for stage in STAGES:
        assert listed.get(stage), f"{stage} missing or without a description:\n{r.stdout}"
    assert len(lines) == len(STAGES), r.stdout

    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "doit", "list"], cwd=project.path,
                       env=project.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    imported = {ln.rsplit("|", 1)[-1].strip().split(".")[0] for ln in r.stderr.splitlines()
                if ln.startswith("import time:")}
    assert "doit" in imported and "clipforge" in imported, "importtime output not understood"
    assert imported & {"faster_whisper", "openai", "yt_dlp", "av", "ctranslate2"} == set()


def test_list_on_a_fresh_project(project):
    check_list(project)


def test_list_after_a_finished_run(finished):
    check_list(finished.project)


# ---------------------------------------------------------------- option changes re-run only what they affect

@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    # The plain-cut path: nothing to compose (no frame, captions, loudness change or pause cut), so
    # cut=copy is a real stream copy.
    p = make_project(tmp_path_factory.mktemp("chain") / "proj",
                     options={"aspect": "source", "captions": "off", "loudness": "off", "tighten": "no"})
    runs = SimpleNamespace(project=p)
    runs.one = run_ok(p.doit("extract:seg002", timeout=180))
    runs.one_files = sorted(f.name for f in p.temp("extract").iterdir())
    runs.rest = run_ok(p.doit("extract"))
    runs.sha_reencode = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in p.temp("extract").iterdir()}
    runs.copy = run_ok(p.doit("extract", "cut=copy"))
    runs.sha_copy = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in p.temp("extract").iterdir()}
    runs.clips2 = run_ok(p.doit("extract", "clips=2"))
    runs.clips2_segments = p.temp("segments.json").read_text()
    return runs


def test_single_clip_runs_only_that_clip(chain):
    ran, _ = task_lines(chain.one.stdout)
    assert ran[:2] == ["download", "chunks"], chain.one.stdout
    assert {"transcript", "segment", "extract:seg002"} <= set(ran)
    assert [t for t in ran if stage_of(t) == "extract"] == ["extract:seg002"]
    assert "render" not in ran
    assert chain.one_files == ["seg002.mp4"]
    assert not (chain.project.path / "clips").exists()


def test_extract_after_single_clip_does_the_others(chain):
    ran, skipped = task_lines(chain.rest.stdout)
    assert "extract:seg002" in skipped
    assert {"extract:seg001", "extract:seg003"} <= set(ran)
    assert not {"download", "chunks", "transcript", "segment"} & set(ran)
    assert not [t for t in ran if stage_of(t) == "transcribe"]


def test_cut_copy_reruns_only_extract(chain):
    out = chain.copy.stdout
    ran, skipped = task_lines(out)
    assert {"download", "chunks", "transcript", "segment", "transcribe:chunk000"} <= set(skipped), out
    assert ran and all(stage_of(t) == "extract" for t in ran), out
    assert set(ran) == {f"extract:{n[:-4]}" for n in chain.sha_reencode}
    assert all(chain.sha_copy[n] != chain.sha_reencode[n] for n in chain.sha_reencode)
    assert "keyframe" in out + chain.copy.stderr
    assert "keyframe" not in chain.rest.stdout + chain.rest.stderr


def test_clips_option_reruns_segment_not_transcribe(chain):
    out = chain.clips2.stdout
    ran, skipped = task_lines(out)
    assert "segment" in ran, out
    # The new plan reaches the per-clip stages (a clip the ranking still picks is not encoded again).
    assert any(stage_of(t) in {"tighten", "subtitles", "vfx", "broll", "loudness", "extract"} for t in ran), out
    assert not [t for t in ran if stage_of(t) in {"download", "chunks", "transcribe", "transcript"}], out
    assert "transcribe:chunk000" in skipped
    assert len(json.loads(chain.clips2_segments)["clips"]) <= 2


# ---------------------------------------------------------------- other inputs

def test_audio_only_input(tmp_path):
    p = make_project(tmp_path / "proj")
    shutil.copy(MEDIA / "speech_long.mp3", p.path / "speech_long.mp3")
    run_ok(p.doit("input=speech_long.mp3", "min_len=5", "max_len=15"))
    # Audio only: each clip gets a frame to carry its burned captions (an audiogram).
    m = check_clips(p, min_len=5, max_len=15, video=True)
    assert all(c["frame"] == {"w": 180, "h": 320} for c in m["clips"]), m["clips"]
    assert len(m["clips"]) >= 2
    assert m["input"]["sha256"] == hashlib.sha256((MEDIA / "speech_long.mp3").read_bytes()).hexdigest()


def test_audio_only_input_without_captions_stays_audio(tmp_path):
    p = make_project(tmp_path / "proj", options={"aspect": "source", "captions": "off"})
    shutil.copy(MEDIA / "speech_long.mp3", p.path / "speech_long.mp3")
    run_ok(p.doit("input=speech_long.mp3", "min_len=5", "max_len=15"))
    check_clips(p, min_len=5, max_len=15, video=False)


def test_vp9_webm_input(tmp_path):
    p = make_project(tmp_path / "proj")
    shutil.copy(MEDIA / "tone_vp9.webm", p.path / "tone_vp9.webm")
    run_ok(p.doit("input=tone_vp9.webm", "min_len=1", "max_len=4"))
    m = p.manifest()
    assert m["clips"]
    for c in m["clips"]:
        info = decode_fully(p.path / "clips" / c["file"])
        assert info.has_video and info.frames > 0
        assert abs(info.audio_samples / info.audio_rate - c["duration"]) <= 0.05
