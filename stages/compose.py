"""compose: one ffmpeg encode per clip: cut, reframe (9:16), B-roll, burned captions, audio.

The decisions come from other stages as JSON (NN.reframe.json, NN.broll.json, NN.ass);
this module only turns them into one filter graph, built with ffmpeg-python so that
paths and expressions are escaped by one tested routine rather than by hand.

Graph order: source (turned upright by ffmpeg's autorotate) -> display shape (square pixels) ->
crop (moving window) -> scale -> setsar=1 -> B-roll overlays -> captions; the sound: the chosen
track -> 48 kHz stereo -> the loudness stage's gain and limiter (see _display_input, _audio_chain).
Cropping before scaling keeps the cost at a bare crop+scale encode: nothing is ever scaled up
and then thrown away. Captions go last so they stay on top of every insert.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np
import pysubs2

from clipforge.assets import FONTS_DIR
from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.fsutil import atomic_path
from clipforge.media import probe, run_ffmpeg

DEFAULT_FPS = 30  # frame rate of the background generated for audio-only clips
PIP_WIDTH = 0.35  # picture-in-picture width as a fraction of the output width
PIP_MARGIN = 0.04  # its margin from the top and right edges, fraction of the output width
FIT_BLUR_SCALE = 4  # the blurred background of "fit" is blurred at 1/4 size: cheap and just as blurry
BRIGHT = 96  # a rendered caption pixel counts as drawn when a channel is above this
MIN_CAPTION_PIXELS = 20  # fewer drawn pixels than this and libass drew nothing useful
AUDIO_RATE = 48000  # every clip's sound: 48 kHz stereo AAC, what the platforms ingest
AUDIO_BITRATE = "160k"
TAIL_HOLD = 0.5  # s the last source frame is held past the source's end (trimmed to the span)


def default_fontsdir() -> Path:
    """The fonts shipped with clipforge (clipforge.assets): libass draws nothing, silently, when it finds no font."""
    return FONTS_DIR


def _even(n: float) -> int:
    # x264 with yuv420p needs even frame sizes.
    return max(2, int(round(n / 2)) * 2)


def _num(v: float) -> str:
    """A number for an ffmpeg expression: short, fixed-point, no exponent."""
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _size(d: dict | None) -> tuple[int, int] | None:
    return (int(d["w"]), int(d["h"])) if d and d.get("w") and d.get("h") else None


def output_size(reframe: dict | None, src_size: tuple[int, int] | None) -> tuple[int, int]:
    """The frame size of the composed clip: the reframe's output, else the source's own size."""
    # An audio-only source arrives as src_size None or (0, 0): neither is a frame size.
    size = _size((reframe or {}).get("output")) or (src_size if src_size and all(src_size) else None) or (720, 1280)
    return _even(size[0]), _even(size[1])


# --- the moving crop window ---------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Piece:
    """Where the crop window is from time t0 on: x0 + slope * (t - t0)."""

    t0: float
    x0: float
    slope: float = 0.0

    def expr(self) -> str:
        if abs(self.slope) < 1e-9:
            return _num(self.x0)
        return f"{_num(self.x0)}{'+' if self.slope >= 0 else '-'}{_num(abs(self.slope))}*(t-{_num(self.t0)})"


def _pieces(path: list[dict], axis: str, hi: float) -> list[_Piece]:
    """Piecewise-linear window position: linear between keyframes, held-then-jumped at a cut keyframe."""
    keys = sorted(((float(k["t"]), min(max(float(k.get(axis, 0)), 0.0), hi), bool(k.get("cut"))) for k in path),
                  key=lambda k: k[0])
    pieces = [_Piece(t0=-math.inf, x0=keys[0][1])]
    for (t0, x0, _), (t1, x1, cut) in zip(keys, keys[1:]):
        slope = 0.0 if cut or t1 <= t0 else (x1 - x0) / (t1 - t0)
        pieces.append(_Piece(t0=t0, x0=x0, slope=slope))
    pieces.append(_Piece(t0=keys[-1][0], x0=keys[-1][1]))
    # Neighbours that hold the same position are one piece: a still face costs nothing per frame.
    merged = [pieces[0]]
    for p in pieces[1:]:
        last = merged[-1]
        if p.slope == 0 and last.slope == 0 and abs(p.x0 - last.x0) < 0.5:
            continue
        merged.append(p)
    return merged


def _tree(pieces: list[_Piece]) -> str:
    # A balanced if(lt(t,..)) tree: depth log2(n), so 100+ keyframes stay shallow for ffmpeg's
    # recursive expression parser and cost a handful of comparisons per frame.
    if len(pieces) == 1:
        return pieces[0].expr()
    mid = len(pieces) // 2
    return f"if(lt(t,{_num(pieces[mid].t0)}),{_tree(pieces[:mid])},{_tree(pieces[mid:])})"


def path_expr(path: list[dict], axis: str, hi: float) -> str:
    """ffmpeg expression in t for one axis of the crop window's top-left corner, clamped to [0, hi]."""
    if not path:
        return _num(hi / 2)
    return _tree(_pieces(path, axis, hi))


# --- video graph -----------------------------------------------------------------


def _reframe(video, reframe: dict | None, *, src: tuple[int, int], size: tuple[int, int]):
    reframe = reframe or {}
    mode = reframe.get("mode", "off")
    if reframe.get("aspect") == "source":
        mode = "off"
    w, h = size
    if mode in ("face", "center"):
        cw, ch = _size(reframe.get("crop")) or src
        cw, ch = min(cw, src[0]), min(ch, src[1])
        path = reframe.get("path") or [{"t": 0.0, "x": (src[0] - cw) / 2, "y": (src[1] - ch) / 2}]
        video = video.filter("crop", w=cw, h=ch, x=path_expr(path, "x", src[0] - cw),
                             y=path_expr(path, "y", src[1] - ch))
        return video.filter("scale", w=w, h=h).filter("setsar", "1")
    if mode == "fit":
        return _fit(video, size)
    if mode == "off":
        if (w, h) != tuple(src):
            video = video.filter("scale", w=w, h=h)
        return video.filter("setsar", "1")
    raise ClipforgeError(f"reframe: unknown mode {mode!r} (expected face, center, fit or off)")


def _fit(video, size: tuple[int, int]):
    """The whole frame, fitted inside the output, over a blurred cover-scaled copy of itself."""
    w, h = size
    split = video.split()
    fg, bg = split[0], split[1]
    sw, sh = _even(w / FIT_BLUR_SCALE), _even(h / FIT_BLUR_SCALE)
    # boxblur's radius must stay under a quarter of the smaller (chroma) plane side.
    radius = max(1, min(sw, sh) // 8)
    bg = (bg.filter("scale", w=sw, h=sh, force_original_aspect_ratio="increase")
          .filter("crop", w=sw, h=sh).filter("boxblur", luma_radius=radius, luma_power=2)
          .filter("scale", w=w, h=h).filter("setsar", "1"))
    fg = fg.filter("scale", w=w, h=h, force_original_aspect_ratio="decrease", force_divisible_by=2)
    fg = fg.filter("setsar", "1")
    return ffmpeg.overlay(bg, fg, x="(W-w)/2", y="(H-h)/2").filter("setsar", "1")


def _inserts(broll: dict | None, duration: float) -> list[dict]:
    """The B-roll inserts that fall inside the clip, clamped to it."""
    out = []
    for ins in (broll or {}).get("inserts", []):
        start, end = max(0.0, float(ins["start"])), min(duration, float(ins["end"]))
        if end - start > 0:
            out.append({**ins, "start": start, "end": end})
    return out


def _overlay_insert(video, ins: dict, size: tuple[int, int]):
    w, h = size
    start, end = ins["start"], ins["end"]
    image = ins.get("kind", "image") == "image"
    if image:
        # One decoded frame, scaled once; overlay repeats it (eof_action=repeat) while `enable` holds.
        src = ffmpeg.input(str(ins["asset"])).video
    else:
        src = ffmpeg.input(str(ins["asset"]), ss=_num(float(ins.get("in", 0.0))), t=_num(end - start)).video
    if ins.get("mode") == "pip":
        pw, margin = _even(w * PIP_WIDTH), round(w * PIP_MARGIN)
        src = src.filter("scale", w=pw, h=-2)
        # The broll stage places it inside the platform's safe zone (pip_right/pip_top, fractions).
        # Two pixels more: 4:2:0 chroma lets a coloured edge bleed one pixel out.
        x = w - pw - (math.ceil(w * float(ins["pip_right"])) + 2 if "pip_right" in ins else margin)
        y = math.ceil(h * float(ins["pip_top"])) + 2 if "pip_top" in ins else margin
    else:
        # Crop to the output's aspect first, then scale: never scale a large picture up to throw most away.
        src = src.filter("crop", w=f"min(iw,ih*{w}/{h})", h=f"min(ih,iw*{h}/{w})").filter("scale", w=w, h=h)
        x, y = 0, 0
    # Shift the insert to its clip time; `enable` bounds it exactly to [start, end].
    src = src.filter("setsar", "1").filter("setpts", f"PTS-STARTPTS+{_num(start)}/TB")
    return ffmpeg.overlay(video, src, x=x, y=y, eof_action="repeat" if image else "pass",
                          enable=f"between(t,{_num(start)},{_num(end)})")


def _burn(video, ass: Path, fontsdir: Path):
    # fontsdir always: the static ffmpeg's libass finds no system font and would draw nothing.
    return video.filter("subtitles", filename=str(ass), fontsdir=str(fontsdir))


def _kept_ranges(kept, duration: float) -> list[tuple[float, float]] | None:
    """The tighten decision's ranges, or None when the whole span is played (no cut to make)."""
    ranges = [(float(a), float(b)) for a, b in (kept or ())]
    if not ranges or (len(ranges) == 1 and ranges[0][0] <= 1e-6 and ranges[0][1] >= duration - 1e-6):
        return None
    return ranges


def _concat_ranges(video, audio, ranges: list[tuple[float, float]], *, fps: float | None):
    """The kept ranges of the span played back to back (tighten): trim/atrim + concat in the same graph.

    The ranges lie on the source's frame grid (the tighten stage puts them there), and `fps` has
    put the frames on that grid, so each video piece is a whole number of frames of exactly the
    audio piece's length: no drift however many cuts. Both ends move a quarter frame early so
    trim picks frames k..m-1 by index, never by a rounding of equal timestamps (half a frame is
    no good: x.5 in the 1/fps time base rounds either way). Returns (video or None, audio).
    """
    n = len(ranges)
    half = 0.25 / fps if fps else 0.0
    vs = video.filter_multi_output("split", n) if video is not None and n > 1 else None
    aus = audio.filter_multi_output("asplit", n) if n > 1 else None
    pieces = []
    for i, (a, b) in enumerate(ranges):
        if video is not None:
            v = vs[i] if vs is not None else video
            pieces.append(v.filter("trim", start=_num(max(a - half, 0)), end=_num(b - half))
                          .filter("setpts", "PTS-STARTPTS"))
        au = aus[i] if aus is not None else audio
        pieces.append(au.filter("atrim", start=_num(a), end=_num(b)).filter("asetpts", "PTS-STARTPTS"))
    if n == 1:
        return (pieces[0], pieces[1]) if video is not None else (None, pieces[0])
    joined = ffmpeg.concat(*pieces, v=1 if video is not None else 0, a=1).node
    return (joined[0], joined[1]) if video is not None else (None, joined[0])


def compose_args(*, source: Path | str, start: float, duration: float, has_video: bool,
                 src_size: tuple[int, int] | None, reframe: dict | None, broll: dict | None,
                 ass: Path | None, fontsdir: Path, out: Path | str, preset: str, crf: int = 20,
                 fps: float = DEFAULT_FPS, src_fps: float | None = None, sar: tuple[int, int] = (1, 1),
                 audio: dict | None = None, kept=None, hook: Path | None = None, draw: bool = True) -> list[str]:
    """ffmpeg arguments (no binary, no -y/-loglevel) for one clip: span of `source` -> `out` (mp4).

    `audio` is the loudness stage's decision (track, gain, limiter). `kept` (the tighten decision's
    ranges, clip-relative) plays only those parts, back to back; the reframe path, B-roll and
    captions are then on that tightened timeline. `hook` is an ASS file burned over everything (the
    title in the first seconds). `draw`=False with no video: the clip stays audio only (a
    tightened audio clip with nothing to show).
    """
    size = output_size(reframe, src_size)
    # -ss/-t stay input options: an output-side -t can hang ffmpeg near the end of the input.
    inp = ffmpeg.input(str(source), ss=_num(start), t=_num(duration))
    sound = inp[f"a:{int((audio or {}).get('track') or 0)}"]
    ranges = _kept_ranges(kept, duration)
    grid = src_fps if has_video and src_fps and src_fps > 0 else fps
    if ranges:
        duration = sum(b - a for a, b in ranges)
    if has_video:
        video = _display_input(inp, src=src_size or size, sar=sar, src_fps=src_fps)
        if ranges:
            video, sound = _concat_ranges(video, sound, ranges, fps=grid)
        video = _reframe(video, reframe, src=src_size or size, size=size)
    else:
        if ranges:
            _, sound = _concat_ranges(None, sound, ranges, fps=grid)
        if not draw:
            return ffmpeg.output(_audio_chain(sound, audio, duration), str(out),
                                 **{"c:a": "aac", "b:a": AUDIO_BITRATE, "ar": AUDIO_RATE, "ac": 2,
                                    "movflags": "+faststart", "f": "mp4"}).get_args()
        video = ffmpeg.input(f"color=c=black:s={size[0]}x{size[1]}:r={_num(fps)}:d={_num(duration)}",
                             f="lavfi").video
    for ins in _inserts(broll, duration):
        video = _overlay_insert(video, ins, size)
    if ass is not None:
        video = _burn(video, Path(ass), Path(fontsdir))
    if hook is not None:
        video = _burn(video, Path(hook), Path(fontsdir))
    video = _span_trim(video, duration, src_fps if has_video else fps)
    opts = {"c:v": "libx264", "preset": preset, "crf": crf, "pix_fmt": "yuv420p",
            "c:a": "aac", "b:a": AUDIO_BITRATE, "ar": AUDIO_RATE, "ac": 2, "movflags": "+faststart", "f": "mp4"}
    return ffmpeg.output(video, _audio_chain(sound, audio, duration), str(out), **opts).get_args()


# --- display frame and audio: the source as a player shows and plays it --------------------


def _display_input(inp, *, src: tuple[int, int], sar: tuple[int, int], src_fps: float | None):
    """The source's video in the DISPLAY frame (`src`, the size source.json gives), square pixels.

    Rotation: ffmpeg's autorotate (on by default for every input) turns the frames upright before
    the graph and drops the rotation flag from the output, so it is applied exactly once and the
    crop path (display pixels) lands where the faces were found. Pixel shape: a non-square source
    (1440x1080 at 4:3) is scaled to its display size first, so every crop below is in display pixels.
    """
    video = inp.video
    if src_fps and src_fps > 0:
        # Accurate seeking drops the source frame showing at `start`, so the clip's first frame
        # arrives up to one frame late; `fps` with start_time=0 repeats it from 0 on the source's
        # frame grid, so video and audio both start at 0 and the frame rate stays constant.
        video = video.filter("fps", fps=_num(src_fps), start_time=0)
    if sar[0] > 0 and sar[1] > 0 and sar[0] != sar[1]:
        video = video.filter("scale", w=src[0], h=src[1]).filter("setsar", "1")
    # A span that ends at the end of the source can outlast its last video frame (the audio runs a
    # little longer): hold that frame, so the clip is never short of its span; `trim` cuts the rest.
    return video.filter("tpad", stop_mode="clone", stop_duration=_num(TAIL_HOLD))


def _span_trim(video, duration: float, fps: float | None):
    """Exactly the frames that cover [0, duration): never a frame too many, never one short.

    Input seeking can hand over one frame too many; and trim=duration drops a last frame that
    starts inside the span but ends past it, leaving the clip up to one frame short. Counting
    frames keeps the one that starts before the end.
    """
    if fps and fps > 0:
        return video.filter("trim", end_frame=max(1, math.ceil(duration * fps - 1e-6)))
    return video.filter("trim", duration=_num(duration))


def _audio_chain(stream, audio: dict | None, duration: float):
    """The chosen track (`stream`, tightened if so decided), downmixed to 48 kHz stereo,
    loudness-normalised with the clip's measurement.

    `audio` is the loudness stage's decision (NN.loudness.json): its gain and limiter ceiling,
    measured and checked once there, applied here in this same encode (stages.loudness.chain).
    """
    from clipforge.stages.loudness import chain

    audio = audio or {}
    filters = chain(audio.get("gain_db") if audio.get("target") else None, audio.get("limit_db"))
    # The source's sound can outlast the span by a few samples: the clip's is exactly its span.
    filters += f",atrim=duration={_num(duration)}"
    for part in filters.split(","):
        # key=value pairs as keywords: ffmpeg-python escapes ':' and '=' inside a positional argument.
        name, _, args = part.partition("=")
        if "=" in args or not args:
            stream = stream.filter(name, **dict(kv.split("=", 1) for kv in args.split(":") if kv))
        else:
            stream = stream.filter(name, args)  # volume=6.5dB: one positional value
    return stream


# --- caption check -----------------------------------------------------------------


def first_caption_time(ass: Path) -> float | None:
    """The middle of the first caption event, or None for a caption file without events."""
    events = [e for e in pysubs2.load(str(ass), encoding="utf-8").events if not e.is_comment and e.end > e.start]
    if not events:
        return None
    first = min(events, key=lambda e: e.start)
    return (first.start + first.end) / 2000


def captions_visible(*, ass: Path, fontsdir: Path, size: tuple[int, int], at: float) -> bool:
    """Render the captions alone on black at time `at` and report whether libass drew any text."""
    w, h = size
    with tempfile.TemporaryDirectory(prefix="clipforge-captions-") as tmp:
        raw = Path(tmp) / "frame.rgb"
        # One black frame whose timestamp is `at`, so libass renders the event shown then.
        frame = ffmpeg.input(f"color=c=black:s={w}x{h}:r=25:d=0.04", f="lavfi").video
        frame = _burn(frame.filter("setpts", f"PTS+{_num(at)}/TB"), Path(ass), Path(fontsdir))
        args = ffmpeg.output(frame, str(raw), **{"frames:v": 1, "f": "rawvideo", "pix_fmt": "rgb24"}).get_args()
        run_ffmpeg(args, what="caption check", timeout=60)
        pixels = np.frombuffer(raw.read_bytes(), dtype=np.uint8)
    # Any bright channel counts: a user's caption colour may be a pure red or blue that is dark in grey.
    drawn = pixels.reshape(-1, 3).max(axis=1) > BRIGHT
    return int(np.count_nonzero(drawn)) >= MIN_CAPTION_PIXELS


# --- the encode ----------------------------------------------------------------------


def compose(*, source: Path | str, start: float, duration: float, has_video: bool,
            src_size: tuple[int, int] | None, reframe: dict | None, broll: dict | None,
            ass: Path | None, out: Path | str, fontsdir: Path | None = None, preset: str = "superfast",
            crf: int = 20, timeout: float | None = None, src_fps: float | None = None,
            sar: tuple[int, int] = (1, 1), audio: dict | None = None, kept=None,
            hook: Path | None = None, draw: bool = True) -> dict:
    """Encode one clip to `out` atomically; raise CAPTIONS_NOT_VISIBLE before encoding if libass draws nothing."""
    out = Path(out)
    fontsdir = Path(fontsdir) if fontsdir is not None else default_fontsdir()
    size = output_size(reframe, src_size)
    for what, sub in (("captions", ass), ("hook", hook)):
        when = first_caption_time(Path(sub)) if sub is not None else None
        if when is not None and not captions_visible(ass=Path(sub), fontsdir=fontsdir, size=size, at=when):
            raise ClipforgeError(f"compose {out.name}: the {what} render as nothing at {when:.2f} s "
                                 f"(no usable font in {fontsdir})", code=ErrorCode.CAPTIONS_NOT_VISIBLE)
    at = first_caption_time(Path(ass)) if ass is not None else None
    began = time.monotonic()
    with atomic_path(out, ".mp4") as tmp:
        args = compose_args(source=source, start=start, duration=duration, has_video=has_video,
                            src_size=src_size, reframe=reframe, broll=broll, ass=ass, fontsdir=fontsdir,
                            out=tmp, preset=preset, crf=crf, src_fps=src_fps, sar=sar, audio=audio, kept=kept,
                            hook=hook, draw=draw)
        # A stuck encode must become a retryable error; real encodes run far faster than this.
        run_ffmpeg(args, what=f"compose {out.name}", timeout=timeout or 120 + 20 * duration)
        info = probe(tmp, label=out.name)
    return {"file": str(out), "width": info.width, "height": info.height, "duration": info.duration,
            "captions_checked_at": at, "inserts": len(_inserts(broll, duration)),
            "seconds": round(time.monotonic() - began, 3)}
