"""Reframe end to end on generated video (real ffmpeg, PyAV and OpenCV), and B-roll scanning of a real video.

The face is tests/media/face.png (a crop of the public-domain NASA `astronaut` photo, see
tools/make_face_media.py) overlaid where we choose, so every check is against a known position.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from clipforge.fsutil import read_json
from clipforge.media import run_ffmpeg
from clipforge.stages import broll, faces, vfx
from clipforge.stages.camera import CameraOptions, Keyframe, position_at
from tests.helpers import MEDIA

FACE = MEDIA / "face.png"  # 120x128
W, H, FPS, SECONDS = 640, 360, 12, 6
X0, SPEED, Y = 20, 70, 116  # face top-left x = X0 + SPEED*t: 70 px/s, below the camera's 101 px/s limit


def _make(path, filters: str, size=(W, H), fps=FPS, seconds=SECONDS) -> str:
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c=0x406080:s={size[0]}x{size[1]}:r={fps}:d={seconds}",
                "-loop", "1", "-i", str(FACE), "-filter_complex", filters,
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", str(2 * fps), str(path)],
               what="test video", timeout=60)
    return str(path)


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    out = tmp_path_factory.mktemp("reframe") / "moving.mp4"
    return _make(out, f"[0][1]overlay=x='{X0}+{SPEED}*t':y={Y}:shortest=1")


def _plan(source, **kw):
    args = dict(source=source, start=0.0, duration=SECONDS, src_size=(W, H), has_video=True, aspect="9:16",
                reframe="face", height=1280)
    return vfx.plan_reframe(**{**args, **kw})


def _path(decision):
    return [Keyframe(**k) for k in decision["path"]]


def test_face_follows_a_moving_face(moving, tmp_path):
    d = _plan(moving)
    assert d["mode"] == "face" and d["crop"] == {"w": 202, "h": 360} and d["output"] == {"w": 720, "h": 1280}
    assert d["detector"].startswith("opencv-haar") and d["coverage"] >= 0.95
    path, cw = _path(d), d["crop"]["w"]
    times = [i / FPS for i in range(SECONDS * FPS)]
    inside = [position_at(path, t)[0] <= X0 + SPEED * t + 60 <= position_at(path, t)[0] + cw for t in times]
    assert sum(inside) / len(inside) >= 0.95
    xs = [position_at(path, t)[0] for t in times]
    bound = CameraOptions().speed * cw / FPS + 2
    assert max(abs(b - a) for a, b in zip(xs, xs[1:])) <= bound, "the camera jitters or jumps"
    assert not any(k["cut"] for k in d["path"])
    # Detected boxes are in source pixels, near where the face was put.
    s = next(s for s in d["samples"] if s["faces"] and s["t"] > 1)
    (fx, fy, fw, fh), = s["faces"]
    assert abs(fx + fw / 2 - (X0 + SPEED * s["t"] + 60)) < 20 and abs(fy + fh / 2 - (Y + 64)) < 25
    vfx.write_reframe(tmp_path / "01.reframe.json", d)
    assert read_json(tmp_path / "01.reframe.json") == d


def test_other_modes(moving):
    centre = _plan(moving, reframe="center")
    assert centre["path"] == [{"t": 0.0, "x": 220, "y": 0, "cut": False}] and centre["detector"] is None
    fit = _plan(moving, reframe="fit")
    assert fit["path"] == [] and fit["crop"] == {"w": W, "h": H} and fit["output"] == {"w": 720, "h": 1280}
    off = _plan(moving, aspect="source")  # the source frame as it is: nothing to crop or scale
    assert off["mode"] == "off" and off["output"] == {"w": W, "h": H}
    kept = _plan(moving, reframe="off")  # the source's shape at the asked height
    assert kept["mode"] == "off" and kept["output"] == {"w": 2276, "h": 1280}
    audio = _plan(moving, has_video=False, src_size=None)
    assert audio["mode"] == "off" and audio["source"] is None and audio["output"] == {"w": 720, "h": 1280}
    assert "no video" in audio["note"]


def test_no_face_falls_back_to_centre(tmp_path):
    src = _make(tmp_path / "noface.mp4", "[0]drawbox=x=200:y=100:w=120:h=90:color=yellow:t=fill[v];"
                                         "[v][1]overlay=x=-500:y=0:shortest=1", seconds=3)
    d = _plan(src, duration=3.0)
    assert d["mode"] == "face" and d["note"] == "no face found: centre framing"
    assert d["path"] == [{"t": 0.0, "x": 220, "y": 0, "cut": False}] and d["coverage"] is None


def test_two_shot_cuts_instead_of_panning(tmp_path):
    # Shot 1 (dark set): face on the left; hard cut at 3 s to shot 2 (light set): face on the right.
    filters = ("[0]drawbox=x=0:y=0:w=iw:h=ih:color=0x202830:t=fill:enable='lt(t,3)',"
               "drawbox=x=0:y=0:w=iw:h=ih:color=0xc0b090:t=fill:enable='gte(t,3)'[bg];"
               "[bg][1]overlay=x='if(lt(t,3),60,460)':y=110:shortest=1")
    src = _make(tmp_path / "twoshot.mp4", filters)
    d = _plan(src)
    cuts = [k for k in d["path"] if k["cut"]]
    assert cuts and min(abs(k["t"] - 3.0) for k in cuts) <= 0.1, d["path"]
    assert any(s["scene_cut"] and abs(s["t"] - 3.0) <= 0.1 for s in d["samples"])
    path = _path(d)
    assert position_at(path, 2.8)[0] <= 60 + 60 <= position_at(path, 2.8)[0] + 202
    assert position_at(path, 3.2)[0] <= 460 + 60 <= position_at(path, 3.2)[0] + 202
    assert d["coverage"] >= 0.95


def test_face_analysis_cost_720p(tmp_path):
    src = _make(tmp_path / "hd.mp4", "[1]scale=240:-2[f];[0][f]overlay=x='40+90*t':y=200:shortest=1",
                size=(1280, 720), fps=30, seconds=10)
    faces.detect(source=src, start=0.0, duration=0.5)  # load the cascade outside the measurement
    cpu0 = time.process_time()
    track = faces.detect(source=src, start=1.0, duration=8.0)
    ratio = (time.process_time() - cpu0) / 8.0
    print(f"\nface analysis 1280x720 30 fps: CPU {ratio:.3f} x clip duration, {track.stats}")
    assert sum(1 for s in track.samples if s.faces) >= 0.9 * len(track.samples)
    assert track.samples[0].t == pytest.approx(0.0, abs=0.05) and track.src == (1280, 720)
    assert ratio < 1.5  # generous: shared CI machines; the target is <= 0.3 on 2 cores


def test_broll_scan_with_a_real_video(tmp_path):
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=160x90:r=10:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                str(tmp_path / "bicycle_ride.mp4")], what="b-roll video", timeout=60)
    cv2.imwrite(str(tmp_path / "bread.webp"), np.full((48, 64, 3), 200, np.uint8))
    (tmp_path / "bread.txt").write_text("loaf, baking\n")
    bike, bread = broll.scan_assets(tmp_path)
    assert bike.kind == "video" and bike.duration == pytest.approx(1.0, abs=0.1)
    assert bike.tags == ("bicycle", "ride") and bread.kind == "image" and bread.tags == ("bread", "loaf", "baking")
    words = [{"text": f" {w}", "start": i * 0.5, "end": i * 0.5 + 0.4}
             for i, w in enumerate("now we talk about riding my bicycle and baking some bread for all the folks "
                                   "here at home".split())]
    plan = broll.plan_broll(words=words, clip_duration=10.0, assets=[bike, bread])
    for ins in plan["inserts"]:
        if ins["kind"] == "video":
            assert ins["end"] - ins["start"] <= bike.duration + 1e-6
    assert {i["asset"] for i in plan["inserts"]} <= {bike.path, bread.path} and plan["inserts"]
