"""extract: cut one planned clip from the source with ffmpeg (one doit sub-task per clip).

Input seeking (`-ss` before `-i`) keeps the cost independent of the clip's position;
with re-encoding ffmpeg still decodes from the previous keyframe and drops frames up
to the exact start, so the cut is frame-accurate. `cut=copy` is instant but can only
start on a keyframe.
"""

from __future__ import annotations

from clipforge.errors import ErrorCode, FFmpegError
from clipforge.fsutil import atomic_path
from clipforge.media import probe, run_ffmpeg
from clipforge.records import ClipPlan


def ffmpeg_args(source: str, start: float, duration: float, out: str, cut: str, has_video: bool = True,
                preset: str = "superfast") -> list[str]:
    # -t as an input option: the output-side -t can hang ffmpeg 9 (both streams, cut ending just before EOF).
    args = ["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", source, "-map", "0:a:0"]
    if has_video:
        args[6:6] = ["-map", "0:v:0"]
    if cut == "copy":
        args += ["-c", "copy", "-avoid_negative_ts", "make_zero"]
    else:
        args += ["-c:a", "aac", "-b:a", "128k"]
        if has_video:
            args += ["-c:v", "libx264", "-preset", preset, "-crf", "20", "-pix_fmt", "yuv420p"]
    return args + ["-movflags", "+faststart", "-f", "mp4", out]


def run(source: str, plan: ClipPlan, out: str, cut: str, has_video: bool, preset: str = "superfast") -> None:
    announce(cut)
    with atomic_path(out, ".mp4") as tmp:
        run_ffmpeg(ffmpeg_args(source, plan.start, plan.duration, str(tmp), cut, has_video, preset),
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
