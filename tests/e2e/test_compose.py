"""stages.compose: one real ffmpeg encode per clip, on tiny generated media.

Every test runs with a fontconfig that knows no fonts, like the machines where the static
ffmpeg's libass found none and burned nothing: captions must come from the shipped font.
All media sit in a folder whose name needs filter-graph escaping (space, comma, quote, brackets).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import av
import numpy as np
import pytest

from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.media import probe, run_ffmpeg
from clipforge.records import Word
from clipforge.stages.compose import (
    captions_visible,
    compose,
    compose_args,
    default_fontsdir,
    first_caption_time,
    path_expr,
)
from clipforge.stages.subtitles import CaptionOptions, write_captions

SRC_W, SRC_H = 320, 180
OUT = (180, 320)
FPS = 30
START, SPAN = 0.5, 4.0  # the clip: source 0.5 .. 4.5 s
BAR_X = 200  # a white bar at source x 200..220 shows whether the crop window covers it
CUT_T = 2.0

TEXT = "Hello there friends. This is bread, and flour matters."


@pytest.fixture(autouse=True)
def no_system_fonts(tmp_path_factory, monkeypatch):
    conf_dir = tmp_path_factory.getbasetemp() / "nofonts"
    conf_dir.mkdir(exist_ok=True)
    conf = conf_dir / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
                    f"<fontconfig><dir>{conf_dir}</dir><cachedir>{conf_dir}/cache</cachedir></fontconfig>\n")
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("compose") / "my clips, it's [v1]"
    folder.mkdir()
    src = folder / "source clip.mp4"
    # Dark grey with a white bar (so crop positions show) and a tone, 5 s.
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c=0x303030:s={SRC_W}x{SRC_H}:r={FPS}:d=5",
                "-f", "lavfi", "-i", "sine=f=440:d=5",
                "-vf", f"drawbox=x={BAR_X}:y=0:w=20:h={SRC_H}:color=white:t=fill",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                str(src)], what="test source", timeout=60)
    red = folder / "red insert.png"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=64x48", "-frames:v", "1", str(red)], what="red", timeout=30)
    words, t = [], 0.3
    for tok in TEXT.split():
        words.append(Word(" " + tok, round(t, 3), round(t + 0.4, 3)))
        t += 0.5
    ass = folder / "clip captions.ass"
    summary = write_captions(words=words, frame=OUT, opts=CaptionOptions(), ass_out=ass)
    return {"folder": folder, "src": src, "red": red, "ass": ass, "words": words, "summary": summary}


def center(path: list[dict] | None = None, mode: str = "center") -> dict:
    return {"mode": mode, "aspect": "9:16", "source": {"w": SRC_W, "h": SRC_H}, "crop": {"w": 102, "h": SRC_H},
            "output": {"w": OUT[0], "h": OUT[1]}, "path": path or [{"t": 0.0, "x": 109, "y": 0, "cut": False}]}


def run_compose(media: dict, out: Path, **kw) -> dict:
    args = {"source": media["src"], "start": START, "duration": SPAN, "has_video": True, "src_size": (SRC_W, SRC_H),
            "reframe": center(), "broll": None, "ass": media["ass"], "preset": "ultrafast", **kw}
    return compose(out=out, **args)


def frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as c:
        return [(f.time, f.to_ndarray(format="rgb24").astype(int)) for f in c.decode(video=0)]


def frame_at(decoded: list[tuple[float, np.ndarray]], t: float) -> np.ndarray:
    return min(decoded, key=lambda tf: abs(tf[0] - t))[1]


def caption_area(img: np.ndarray) -> np.ndarray:
    return img[int(img.shape[0] * 0.45):, :]


def yellow_centroid_x(img: np.ndarray) -> float:
    area = caption_area(img)
    mask = (area[..., 0] > 170) & (area[..., 1] > 150) & (area[..., 2] < 110)
    assert mask.sum() > 10, "no highlighted word drawn"
    return float(np.nonzero(mask)[1].mean())


# --- pure pieces ----------------------------------------------------------------


def _eval(expr: str, t: float) -> float:
    """Evaluate our subset of ffmpeg's expression language (if, lt, t, arithmetic) in Python."""
    py = re.sub(r"\bif\(", "_if(", expr).replace("lt(", "_lt(")
    return eval(py, {"_if": lambda c, a, b: a if c else b, "_lt": lambda a, b: a < b, "t": t})


def reference_x(path: list[dict], t: float) -> float:
    keys = sorted(path, key=lambda k: k["t"])
    if t < keys[0]["t"]:
        return keys[0]["x"]
    for a, b in zip(keys, keys[1:]):
        if a["t"] <= t < b["t"]:
            return a["x"] if b.get("cut") else a["x"] + (b["x"] - a["x"]) * (t - a["t"]) / (b["t"] - a["t"])
    return keys[-1]["x"]


def long_path(n: int = 100) -> list[dict]:
    """n keyframes over the clip: wandering left of the bar, then a cut to a window over it."""
    path = []
    for i in range(n):
        t = SPAN * i / n
        if t < CUT_T:
            x = 30 + 30 * math.sin(i / 3)  # 0..60: the window (102 wide) ends before x=200
        else:
            x = 150 + 10 * math.sin(i / 3)  # 140..160: the window covers x=200..220
        path.append({"t": round(t, 3), "x": round(x, 1), "y": 0, "cut": False})
    first_after = next(k for k in path if k["t"] >= CUT_T)
    first_after["cut"] = True
    return path


def test_path_expression_matches_the_keyframes():
    path = long_path() + [{"t": 0.5, "x": 9999, "y": 0}]  # out of range: clamped; unsorted on purpose
    hi = SRC_W - 102
    expr = path_expr(path, "x", hi)
    assert expr.count("if(") < 2 * len(path) and len(expr) < 12_000
    clamped = [{**k, "x": min(max(k["x"], 0), hi)} for k in path]
    for i in range(0, 500):
        t = -0.2 + i * 0.0093
        assert _eval(expr, t) == pytest.approx(reference_x(clamped, t), abs=0.01), t
    # The tree is balanced: nesting depth grows with log2 of the keyframes, not with their number.
    depth = max_depth = 0
    for ch in expr:
        depth += ch == "("
        depth -= ch == ")"
        max_depth = max(max_depth, depth)
    assert max_depth < 30


def test_compose_args_shape(media):
    args = compose_args(source=media["src"], start=START, duration=SPAN, has_video=True, src_size=(SRC_W, SRC_H),
                        reframe=center(), broll=None, ass=media["ass"], fontsdir=default_fontsdir(),
                        out=Path("/x/out.mp4"), preset="veryfast", crf=23)
    i = args.index("-i")
    assert args[:i] == ["-ss", "0.5", "-t", "4"]  # input options: output-side -t hangs ffmpeg 9 near EOF
    graph = args[args.index("-filter_complex") + 1]
    assert "crop=" in graph and "setsar=1" in graph and "fontsdir=" in graph
    assert graph.index("crop=") < graph.index("scale=") < graph.index("subtitles=")
    assert args[-1] == "/x/out.mp4" and "libx264" in args and "+faststart" in args and "veryfast" in args


# --- real encodes ----------------------------------------------------------------


def test_center_crop_to_9_16(media, tmp_path):
    out = tmp_path / "a.mp4"
    summary = run_compose(media, out)
    info = probe(out)
    assert (info.width, info.height) == OUT and info.has_audio
    assert abs(info.duration - SPAN) <= 1 / FPS + 0.03  # container duration includes the AAC tail
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert v.sample_aspect_ratio in (None, 1) or float(v.sample_aspect_ratio) == 1.0
        assert abs(float(v.duration * v.time_base) - SPAN) <= 1 / FPS + 1e-6
    assert summary["width"] == OUT[0] and summary["captions_checked_at"] == pytest.approx(0.55)
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]  # nothing .part left behind


def test_captions_are_burned_and_the_highlight_moves(media, tmp_path):
    with_caps, without = tmp_path / "caps.mp4", tmp_path / "bare.mp4"
    run_compose(media, with_caps)
    run_compose(media, without, ass=None)
    caps, bare = frames(with_caps), frames(without)
    a, b = caption_area(frame_at(caps, 0.5)), caption_area(frame_at(bare, 0.5))
    assert np.count_nonzero(np.abs(a - b).max(axis=2) > 80) > 200  # text pixels differ strongly
    # "Hello" is spoken at 0.3-0.7 s, "there" at 0.8-1.2 s: the highlight moves right.
    assert yellow_centroid_x(frame_at(caps, 1.0)) > yellow_centroid_x(frame_at(caps, 0.5)) + 10
    # Between chunks (and before the first word) nothing is drawn.
    before = caption_area(frame_at(caps, 0.1)) - caption_area(frame_at(bare, 0.1))
    assert np.count_nonzero(np.abs(before).max(axis=2) > 80) == 0


def test_missing_font_is_caught(media, tmp_path):
    empty = tmp_path / "no fonts"
    empty.mkdir()
    at = first_caption_time(media["ass"])
    assert captions_visible(ass=media["ass"], fontsdir=default_fontsdir(), size=OUT, at=at)
    assert not captions_visible(ass=media["ass"], fontsdir=empty, size=OUT, at=at)
    with pytest.raises(ClipforgeError) as err:
        run_compose(media, tmp_path / "x.mp4", fontsdir=empty)
    assert err.value.code is ErrorCode.CAPTIONS_NOT_VISIBLE
    assert not (tmp_path / "x.mp4").exists()


def _is_red(img: np.ndarray) -> bool:
    top = img[: img.shape[0] // 3].mean(axis=(0, 1))  # above the captions
    return top[0] > 200 and top[1] < 60 and top[2] < 60


def test_broll_cutaway_appears_exactly_at_its_times(media, tmp_path):
    out = tmp_path / "broll.mp4"
    ins = {"asset": str(media["red"]), "kind": "image", "start": 1.5, "end": 2.5, "in": 0.0, "mode": "cutaway"}
    run_compose(media, out, broll={"inserts": [ins]})
    decoded = frames(out)
    eps = 1 / FPS + 0.001
    inside = [img for t, img in decoded if 1.5 + eps <= t <= 2.5 - eps]
    outside = [img for t, img in decoded if t < 1.5 - eps or t > 2.5 + eps]
    assert inside and outside
    assert all(_is_red(img) for img in inside)
    assert not any(_is_red(img) for img in outside)


def test_broll_video_pip(media, tmp_path):
    out = tmp_path / "pip.mp4"
    ins = {"asset": str(media["src"]), "kind": "video", "start": 1.0, "end": 2.0, "in": 0.0, "mode": "pip"}
    run_compose(media, out, broll={"inserts": [ins]}, ass=None)
    decoded = frames(out)
    corner = lambda img: img[: OUT[1] // 4, OUT[0] // 2:]  # upper right
    assert np.abs(corner(frame_at(decoded, 1.5)) - corner(frame_at(decoded, 0.5))).max() > 80
    assert np.abs(corner(frame_at(decoded, 3.0)) - corner(frame_at(decoded, 0.5))).max() < 40


def test_fit_mode_size(media, tmp_path):
    out = tmp_path / "fit.mp4"
    run_compose(media, out, reframe=center(mode="fit"))
    info = probe(out)
    assert (info.width, info.height) == OUT
    img = frame_at(frames(out), 2.0)
    # The whole source (its white bar included) is in the middle band.
    band = img[OUT[1] // 2 - 40: OUT[1] // 2 + 40]
    assert band.min(axis=2).max() > 200


def test_long_path_with_a_cut(media, tmp_path):
    out = tmp_path / "path.mp4"
    run_compose(media, out, reframe=center(long_path(100)), ass=None)
    decoded = frames(out)
    bar_visible = lambda img: img[:, :, :].min(axis=2).max() > 200
    assert not any(bar_visible(img) for t, img in decoded if t < CUT_T - 1 / FPS)
    assert all(bar_visible(img) for t, img in decoded if t > CUT_T + 1 / FPS)


def test_audio_only_source_gets_a_background(media, tmp_path):
    out = tmp_path / "audio.mp4"
    run_compose(media, out, has_video=False, src_size=None)
    info = probe(out)
    assert (info.width, info.height) == OUT and info.has_audio
    img = frame_at(frames(out), 0.5)
    assert img[: OUT[1] // 3].max() < 30  # plain black above the captions
    assert caption_area(img).max() > 200  # and the caption drawn on it
