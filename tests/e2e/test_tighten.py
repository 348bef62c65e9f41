"""Tightened clips, checked from the outside: ffmpeg's silencedetect, an independent transcription,
decoded frames and samples.

One generated source (a flash with each tone burst) checks A/V sync through many cuts; one shared
run on the sample (`platform=tiktok`, small frame) checks pauses, words, captions, the safe zone,
the manifest and the review page.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pysubs2
import pytest

from clipforge.media import ffmpeg_exe, run_ffmpeg
from clipforge.platforms import safe_zone
from clipforge.records import Word
from clipforge.stages import tighten
from clipforge.stages.compose import compose
from clipforge.timeline import Timeline
from tests.helpers import make_project, run_ok

FPS = 25
# Tone bursts ("words"), each with a white frame, separated by pauses of 0.2 to 1.3 s.
BURSTS = [(0.30, 0.80), (1.00, 1.50), (2.10, 2.50), (3.80, 4.40), (4.75, 5.30), (6.10, 6.60), (7.90, 8.50)]
SPAN = 9.0


@pytest.fixture(scope="module")
def flashes(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("sync") / "flashes.mp4"
    # lt(t,b): the burst's last sample is before b, like the frame grid's last white frame.
    on = "+".join(f"gte(t,{a})*lt(t,{b})" for a, b in BURSTS)
    lit = on.replace("t,", "T,")  # geq names time T
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c=black:s=64x36:r={FPS}:d={SPAN}",
                "-f", "lavfi", "-i", f"aevalsrc='0.4*sin(2*PI*330*t)*({on})':s=44100:d={SPAN}",
                "-vf", f"geq=lum='255*({lit})':cb=128:cr=128", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", "-shortest", str(src)],
               what="flash source", timeout=60)
    return src


def onsets(levels: np.ndarray, step: float, threshold: float) -> list[float]:
    on = np.concatenate([[False], levels > threshold])
    return [i * step for i in np.flatnonzero(np.diff(on.astype(np.int8)) == 1)]


def av_onsets(path: Path) -> tuple[list[float], list[float], float, float]:
    with av.open(str(path)) as c:
        v = [(f.time, float(f.to_ndarray(format="gray").mean())) for f in c.decode(video=0)]
    step = 1 / FPS
    video = onsets(np.array([b for _, b in v]), step, 128)
    pcm = tighten.clip_audio(str(path), 0.0, 60.0)
    rms = rms_10ms(pcm)
    audio = onsets(rms, 0.01, 0.5 * float(rms.max()))  # half the tone's level: clear of AAC's pre-echo
    return video, audio, len(v) * step, len(pcm) / tighten.RATE


def rms_10ms(pcm: np.ndarray) -> np.ndarray:
    hop = tighten.RATE // 100
    n = len(pcm) // hop
    return np.sqrt((pcm[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(axis=1))


def test_many_cuts_keep_every_flash_on_its_beep(flashes, tmp_path):
    words = [Word(f" w{i}", a, b) for i, (a, b) in enumerate(BURSTS)]
    db = tighten.energy_db(tighten.clip_audio(str(flashes), 0.0, SPAN))
    decision = tighten.plan_cuts(db=db, words=words, span=SPAN, fps=FPS)
    kept = Timeline.from_decision(decision, SPAN).kept
    assert len(kept) >= 4, decision  # the 0.6-1.3 s pauses are cut, the 0.2/0.35 s ones kept
    out = tmp_path / "tight.mp4"
    compose(source=flashes, start=0.0, duration=SPAN, has_video=True, src_size=(64, 36), src_fps=FPS,
            reframe={"mode": "off", "output": {"w": 64, "h": 36}}, broll=None, ass=None, out=out,
            preset="ultrafast", kept=kept)
    video, audio, vdur, adur = av_onsets(out)
    src_video, src_audio, _, _ = av_onsets(flashes)
    assert len(video) == len(audio) == len(src_video) == len(BURSTS), (video, audio)  # none lost or split
    # Every flash on its beep, to the last one: the offset each burst has in the source (the frame
    # grid, AAC's own delay) is the offset it has in the tightened clip, within a frame.
    for v, a, sv, sa in zip(video, audio, src_video, src_audio):
        assert abs((v - a) - (sv - sa)) <= 1 / FPS + 0.011, (video, audio, src_video, src_audio)
    assert abs(vdur - adur) <= 1 / FPS, (vdur, adur)
    assert abs(vdur - sum(b - a for a, b in kept)) <= 1 / FPS
    # the pauses the output still has: none longer than the threshold (plus a frame of rounding)
    silence = silences(out, floor_db=-35, at_least=0.1)
    assert silence and max(silence) <= 0.4, silence


def silences(path: Path, *, floor_db: float, at_least: float) -> list[float]:
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-af",
                          f"silencedetect=n={floor_db}dB:d={at_least}", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120).stderr
    return [float(x) for x in re.findall(r"silence_duration: ([0-9.]+)", err)]


# --- one shared run on the sample --------------------------------------------------------------


@pytest.fixture(scope="module")
def tiktok(tmp_path_factory):
    p = make_project(tmp_path_factory.mktemp("tiktok") / "proj", options={"height": 320, "keep": "yes"})
    run_ok(p.doit("platform=tiktok", "caption_style=bold", timeout=600))
    first = tmp_path_factory.mktemp("first")
    kept = first / "clips"
    shutil.copytree(p.path / "clips", kept)
    shutil.copytree(p.temp("subtitles"), first / "subtitles")
    # The same clips without captions and hook, to see which pixels those drew.
    run_ok(p.doit("platform=tiktok", "caption_style=bold", "captions=off", "hook=off", timeout=600))
    return {"project": p, "clips": kept, "subtitles": first / "subtitles", "bare": p.path / "clips",
            "manifest": _json(kept / "manifest.json")}


def _json(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


def test_no_pause_longer_than_the_threshold_is_left(tiktok):
    for c in tiktok["manifest"]["clips"]:
        assert c["tightened"]["removed_seconds"] > 0.5 and c["tightened"]["cuts"] >= 2, c["tightened"]
        found = silences(tiktok["clips"] / c["file"], floor_db=-35, at_least=0.4)
        assert found == [], (c["file"], found)


def test_audio_and_video_end_together(tiktok):
    for c in tiktok["manifest"]["clips"]:
        with av.open(str(tiktok["clips"] / c["file"])) as f:
            v, a = f.streams.video[0], f.streams.audio[0]
            frame = 1 / float(v.average_rate)
            vdur = float(v.duration * v.time_base)
            adur = float(a.duration * a.time_base)
        assert abs(vdur - adur) <= frame + 1e-3, (c["file"], vdur, adur)
        assert abs(vdur - c["duration"]) <= frame + 1e-3


def norm(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


def test_no_word_is_cut_an_independent_transcription_hears_them_all(tiktok):
    from clipforge.stages import transcribe

    model = transcribe.load_model(transcribe.ModelOptions())
    for c in tiktok["manifest"]["clips"]:
        segments, _ = model.transcribe(str(tiktok["clips"] / c["file"]), language="en", word_timestamps=True,
                                       vad_filter=False, beam_size=5)
        heard = [norm(w.word) for s in segments for w in s.words or [] if norm(w.word)]
        said = [norm(w) for w in c["text"].split() if norm(w)]
        ratio = difflib.SequenceMatcher(None, heard, said).ratio()
        # A cut inside a word leaves a fragment the model hears as another word (or not at all).
        assert ratio >= 0.85, (c["file"], ratio, heard, said)
        assert difflib.SequenceMatcher(None, heard[-1], said[-1]).ratio() >= 0.6, (heard[-3:], said[-3:])


def test_the_highlighted_word_is_the_one_being_said(tiktok):
    """After every cut, the first word's highlight starts within 0.1 s of its sound in the published clip."""
    for c in tiktok["manifest"]["clips"]:
        kept = [(r["start"], r["end"]) for r in c["tightened"]["kept"]]
        ass = pysubs2.load(str(tiktok["subtitles"] / f"{c['id']}.ass"))
        starts = sorted(e.start / 1000 for e in ass.events)
        pcm = tighten.clip_audio(str(tiktok["clips"] / c["file"]), 0.0, c["duration"] + 1)
        db = 20 * np.log10(rms_10ms(pcm) + 1e-9)
        loud = float(np.percentile(db, 95)) - 30  # speech starts: 30 dB under the loud parts
        junctions = np.cumsum([b - a for a, b in kept])[:-1]
        checked = 0
        for j in junctions:
            sound = next((t for t in onsets(db, 0.01, loud) if t >= j - 0.02), None)
            word = next((s for s in starts if s >= j - 0.2), None)
            if sound is None or word is None or sound - j > 1.0:
                continue
            assert abs(word - sound) <= 0.1, (c["file"], j, word, sound)
            checked += 1
        assert checked >= 2, c["file"]


def test_captions_and_hook_stay_inside_the_safe_zone(tiktok):
    x0, y0, x1, y1 = safe_zone("tiktok").box((180, 320))
    for c in tiktok["manifest"]["clips"]:
        assert c["frame"] == {"w": 180, "h": 320}
        drawn_total = 0
        for at in (0.5, 1.5, 3.0, c["duration"] / 2, c["duration"] - 1.0):  # the hook, then captions
            with_text, bare = frame_at(tiktok["clips"] / c["file"], at), frame_at(tiktok["bare"] / c["file"], at)
            diff = np.abs(with_text - bare).max(axis=2) > 80  # encoder noise stays far below this
            drawn_total += int(diff.sum())
            inside = np.zeros_like(diff)
            inside[y0:y1, x0:x1] = True
            assert diff[~inside].sum() <= 3, (c["file"], at, int(diff[~inside].sum()))
        assert drawn_total > 200, "the captions and hook drew nothing to compare"


def frame_at(path: Path, at: float) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-ss", f"{at:.3f}", "-i", str(path),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(320, 180, 3).astype(int)


def test_manifest_and_review_page_say_platform_style_and_tightening(tiktok):
    m = tiktok["manifest"]
    for c in m["clips"]:
        assert c["platform"] == "tiktok" and c["caption_style"] == "bold" and c["hook"] == "title"
        assert c["platform_preset"]["loudness_target_lufs"] == -14.0
        assert 0.02 < c["tightened"]["removed_share"] < 0.3
        assert c["duration"] == pytest.approx(c["span"] - c["tightened"]["removed_seconds"], abs=0.01)
    page = (tiktok["clips"] / "index.html").read_text()
    assert page.count("platform: tiktok") == len(m["clips"]) and "tightened: " in page
