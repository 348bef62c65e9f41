"""extract: make one planned clip in ONE ffmpeg encode (one doit sub-task per clip).

The stages before it only write decisions (captions, camera path, B-roll inserts);
this stage carries them out from the source span in a single encode (stages.compose),
so quality is lost once and time is spent once. With nothing to compose (aspect=source
or reframe=off, no captions burned, no B-roll) it is a plain cut.

Input seeking (`-ss` before `-i`) keeps the cost independent of the clip's position;
with re-encoding ffmpeg still decodes from the previous keyframe and drops frames up
to the exact start, so the cut is frame-accurate. `cut=copy` is instant but can only
start on a keyframe.
"""

from __future__ import annotations

from pathlib import Path

from clipforge.assets import FONTS_DIR
from clipforge.config import DEFAULTS
from clipforge.errors import ErrorCode, FFmpegError
from clipforge.fsutil import atomic_path, read_json
from clipforge.media import probe, run_ffmpeg
from clipforge.records import ClipJob, ClipPlan
from clipforge.timeline import Timeline


def ffmpeg_args(source: str, start: float, duration: float, *, out: str, cut: str, has_video: bool = True,
                preset: str = DEFAULTS.preset, track: int = 0, audio_filter: str | None = None) -> list[str]:
    """A plain cut; `audio_filter` (the loudness stage's chain) re-encodes the sound even with cut=copy."""
    # -t as an input option: the output-side -t can hang ffmpeg 9 (both streams, cut ending just before EOF).
    args = ["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", source, "-map", f"0:a:{track}"]
    if has_video:
        args[6:6] = ["-map", "0:v:0"]
    sound = ["-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-ac", "2"]
    if audio_filter:
        sound = ["-af", f"{audio_filter},atrim=duration={duration:.6f}", *sound]
    if cut == "copy":
        args += ["-c:v", "copy", *sound] if audio_filter else ["-c", "copy"]
        args += ["-avoid_negative_ts", "make_zero"]
    else:
        args += sound
        if has_video:
            args += ["-c:v", "libx264", "-preset", preset, "-crf", "20", "-pix_fmt", "yuv420p"]
    return args + ["-movflags", "+faststart", "-f", "mp4", out]


def run(job: ClipJob) -> None:
    plan, opts = job.clip, job.options
    reframe = read_json(job.inputs["vfx.reframe.json"])
    broll = read_json(job.inputs["broll.broll.json"])
    audio = read_json(job.inputs["loudness.loudness.json"])
    ass = job.inputs["subtitles.ass"] if opts["captions"] == "burn" and job.words else None
    hook = _hook_file(job.inputs.get("subtitles.hook.ass"))
    timeline = Timeline.from_decision(_read_or_none(job.inputs.get("tighten.cuts.json")), plan.duration,
                                      label=f"tighten/{plan.id}.cuts.json")
    has_video = job.source_info.get("has_video", True)
    composes = _composes(reframe, broll, ass or hook, has_video=has_video)
    if not composes and timeline.is_whole and not _non_square(job.source_info):
        from clipforge.stages.loudness import chain

        normalise = chain(audio.get("gain_db"), audio.get("limit_db")) if audio.get("target") else None
        return _cut(job.source, plan, job.output(), cut=opts["cut"], has_video=has_video, preset=opts["preset"],
                    track=int(audio.get("track") or 0), audio_filter=normalise)
    from clipforge.stages import compose

    if opts["cut"] == "copy":
        announce_reencode()
    src = job.source_info
    compose.compose(source=job.source, start=plan.start, duration=plan.duration, has_video=has_video,
                    src_size=(src.get("width") or 0, src.get("height") or 0), reframe=reframe, broll=broll,
                    ass=Path(ass) if ass else None, fontsdir=FONTS_DIR, out=Path(job.output()),
                    preset=opts["preset"], src_fps=src.get("fps"), sar=_sar(src), audio=audio,
                    kept=None if timeline.is_whole else timeline.kept, hook=hook,
                    draw=has_video or composes)


def _sar(info: dict) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in str(info.get("sar") or "1:1").split(":"))
        return (a, b) if a > 0 and b > 0 else (1, 1)
    except ValueError:
        return (1, 1)


def _non_square(info: dict) -> bool:
    """Pixels that are not square: a plain cut would keep them, compose shows them at their display shape."""
    sar = _sar(info)
    return bool(info.get("has_video")) and sar[0] != sar[1]


def _read_or_none(path: str | None) -> dict | None:
    return read_json(path) if path else None


def _hook_file(path: str | None) -> Path | None:
    """The hook's ASS file when it has something to show (hook=off writes one without events)."""
    from clipforge.stages.compose import first_caption_time

    return Path(path) if path and first_caption_time(Path(path)) is not None else None


def _composes(reframe: dict, broll: dict, ass, *, has_video: bool) -> bool:
    """False when the clip is the source span as it is: then a plain cut (and cut=copy) does."""
    same_frame = reframe.get("mode") == "off" and (reframe.get("output") == reframe.get("source") or not has_video)
    return not same_frame or bool(broll.get("inserts")) or ass is not None


def _cut(source: str, plan: ClipPlan, out: str, *, cut: str, has_video: bool, preset: str, track: int = 0,
         audio_filter: str | None = None) -> None:
    announce(cut)
    with atomic_path(out, ".mp4") as tmp:
        run_ffmpeg(ffmpeg_args(source, plan.start, plan.duration, out=str(tmp), cut=cut, has_video=has_video,
                               preset=preset, track=track, audio_filter=audio_filter),
                   what=f"extracting {plan.id}", timeout=120 + 10 * plan.duration)
        info = probe(tmp)  # a clip that does not decode is never renamed into place
        if info.duration < min(0.5, plan.duration / 2):
            raise FFmpegError(f"extracting {plan.id}: ffmpeg wrote a {info.duration:.2f} s clip "
                              f"for a {plan.duration:.2f} s plan", code=ErrorCode.FFMPEG_FAILED)


_announced = False


def announce(cut: str) -> None:
    global _announced
    if cut == "copy" and not _announced:
        _announced = True
        print("  extract: cut=copy cuts on keyframes: clips may start up to one keyframe interval early")


def announce_reencode() -> None:
    global _announced
    if not _announced:
        _announced = True
        print("  extract: cut=copy applies only to plain cuts; framing, captions, B-roll and tightening "
              "(tighten=yes) need one re-encode")
