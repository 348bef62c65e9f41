"""Caption styles and the hook, drawn by the real libass (ffmpeg's subtitles filter) with the bundled font:
every preset is visible, and every drawn pixel lies inside the platform's safe zone."""

from __future__ import annotations

import tempfile
from pathlib import Path

import ffmpeg
import numpy as np
import pysubs2
import pytest

from clipforge.media import run_ffmpeg
from clipforge.platforms import PLATFORMS, safe_zone
from clipforge.records import Word
from clipforge.stages import caption_styles
from clipforge.stages.compose import _burn, _num, captions_visible, default_fontsdir
from clipforge.stages.subtitles import CaptionOptions, write_captions

FRAME = (360, 640)
# Long words on purpose: "extraordinarily" is wider than a 9:16 safe zone at the pop style's size.
TEXT = ("Let's start with how bread rises. Bread dough contains flour, water and extraordinarily "
        "tiny living fungus. Stretchy gluten traps gas.")


def words() -> list[Word]:
    out, t = [], 0.3
    for tok in TEXT.split():
        out.append(Word(" " + tok, round(t, 3), round(t + 0.35, 3)))
        t += 0.45 if not tok.endswith(".") else 0.9
    return out


def render(ass: Path, at: float, size=FRAME) -> np.ndarray:
    """The subtitles alone on black at time `at`, as an RGB array."""
    w, h = size
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "f.rgb"
        frame = ffmpeg.input(f"color=c=black:s={w}x{h}:r=25:d=0.04", f="lavfi").video
        frame = _burn(frame.filter("setpts", f"PTS+{_num(at)}/TB"), ass, default_fontsdir())
        run_ffmpeg(ffmpeg.output(frame, str(raw), **{"frames:v": 1, "f": "rawvideo", "pix_fmt": "rgb24"}).get_args(),
                   what="render", timeout=60)
        return np.frombuffer(raw.read_bytes(), dtype=np.uint8).reshape(h, w, 3)


def drawn_box(img: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(img.max(axis=2) > 40)  # the boxed style's translucent box counts as drawn
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else None


def event_times(ass: Path) -> list[float]:
    events = [e for e in pysubs2.load(str(ass)).events if e.end > e.start]
    return [(e.start + e.end) / 2000 for e in events]


def check_inside(ass: Path, platform: str) -> int:
    x0, y0, x1, y1 = safe_zone(platform).box(FRAME)
    times = event_times(ass)
    step = max(1, len(times) // 8)  # a sample of the events, and the last
    picked = sorted(set(times[::step]) | {times[-1]})
    for at in picked:
        box = drawn_box(render(ass, at))
        assert box is not None, f"{ass.name}: nothing drawn at {at:.2f} s"
        bx0, by0, bx1, by1 = box
        assert x0 <= bx0 and y0 <= by0 and bx1 <= x1 and by1 <= y1, \
            f"{ass.name} at {at:.2f} s drew {box}, outside the {platform} safe zone {(x0, y0, x1, y1)}"
    return len(picked)


@pytest.mark.parametrize("style", sorted(caption_styles.PRESETS))
@pytest.mark.parametrize("platform", ["tiktok", "reels"])
def test_every_preset_is_visible_and_inside_the_safe_zone(tmp_path, style, platform):
    opts, own = caption_styles.options_for(style, frame=FRAME, platform=platform, base=CaptionOptions())
    ass = tmp_path / f"{style}.ass"
    write_captions(words=words(), frame=FRAME, opts=opts, ass_out=ass, style=own)
    first = event_times(ass)[0]
    assert captions_visible(ass=ass, fontsdir=default_fontsdir(), size=FRAME, at=first)
    assert check_inside(ass, platform) >= 3


def test_the_long_word_is_shrunk_to_fit_rather_than_leaving_the_zone(tmp_path):
    opts, _ = caption_styles.options_for("pop", frame=FRAME, platform="tiktok", base=CaptionOptions())
    ass = tmp_path / "pop.ass"
    write_captions(words=words(), frame=FRAME, opts=opts, ass_out=ass)
    long = next(e for e in pysubs2.load(str(ass)).events if "EXTRAORDINARILY" in e.text)
    assert "\\fs" in long.text
    x0, _, x1, _ = safe_zone("tiktok").box(FRAME)
    box = drawn_box(render(ass, (long.start + long.end) / 2000))
    assert x0 <= box[0] and box[2] <= x1


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_hook_sits_in_the_top_of_the_safe_zone_for_its_seconds(tmp_path, platform):
    opts, _ = caption_styles.options_for("bold", frame=FRAME, platform=platform, base=CaptionOptions())
    hook = tmp_path / "hook.ass"
    caption_styles.write_hook(title="Why the sky is blue, and why sunsets turn red", frame=FRAME, opts=opts,
                              duration=20.0, out=hook)
    x0, y0, x1, y1 = safe_zone(platform).box(FRAME)
    box = drawn_box(render(hook, 1.0))
    assert box and x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= FRAME[1] * 0.5, box
    assert drawn_box(render(hook, 3.0)) is None  # gone after its ~2 s


def test_an_own_style_file_is_used_scaled_and_kept_in_the_zone(tmp_path):
    own = tmp_path / "mine.ass"
    subs = pysubs2.SSAFile()
    subs.info.update({"PlayResX": "384", "PlayResY": "288"})
    subs.styles["Default"] = pysubs2.SSAStyle(fontname="DejaVu Sans", fontsize=18, bold=True,
                                              primarycolor=pysubs2.Color(0, 255, 255),
                                              secondarycolor=pysubs2.Color(255, 0, 255), marginv=4)
    subs.save(str(own))
    opts, style = caption_styles.options_for(str(own), frame=FRAME, platform="tiktok", base=CaptionOptions())
    assert opts.highlight_colour == "#FF00FF" and style.fontsize == pytest.approx(18 * 640 / 288)
    ass = tmp_path / "out.ass"
    write_captions(words=words(), frame=FRAME, opts=opts, ass_out=ass, style=style)
    img = render(ass, event_times(ass)[0])
    assert ((img[..., 0] > 150) & (img[..., 1] < 90) & (img[..., 2] > 150)).sum() > 20  # the magenta highlight
    assert ((img[..., 0] < 90) & (img[..., 1] > 150) & (img[..., 2] > 150)).sum() > 20  # the cyan text
    check_inside(ass, "tiktok")


def test_picture_in_picture_sits_inside_the_safe_zone(tmp_path):
    from clipforge.stages.broll import pip_place
    from clipforge.stages.compose import compose

    src, red = tmp_path / "src.mp4", tmp_path / "red.png"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=black:s=320x180:r=25:d=2", "-f", "lavfi", "-i", "sine=d=2",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                str(src)], what="src", timeout=60)
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=64x48", "-frames:v", "1", str(red)], what="red", timeout=30)
    out = tmp_path / "pip.mp4"
    reframe = {"mode": "center", "aspect": "9:16", "source": {"w": 320, "h": 180}, "crop": {"w": 102, "h": 180},
               "output": {"w": FRAME[0], "h": FRAME[1]}, "path": [{"t": 0.0, "x": 109, "y": 0, "cut": False}]}
    ins = {"asset": str(red), "kind": "image", "start": 0.0, "end": 2.0, "mode": "pip", **pip_place("tiktok")}
    compose(source=src, start=0.0, duration=2.0, has_video=True, src_size=(320, 180), reframe=reframe,
            broll={"inserts": [ins]}, ass=None, out=out, preset="ultrafast", src_fps=25.0)
    raw = tmp_path / "f.rgb"
    run_ffmpeg(["-ss", "1.0", "-i", str(out), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", str(raw)],
               what="frame", timeout=60)
    img = np.frombuffer(raw.read_bytes(), dtype=np.uint8).reshape(FRAME[1], FRAME[0], 3).astype(int)
    ys, xs = np.nonzero((img[..., 0] > 150) & (img[..., 1] < 80))
    x0, y0, x1, y1 = safe_zone("tiktok").box(FRAME)
    assert len(xs) > 500 and x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
