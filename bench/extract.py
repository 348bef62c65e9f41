"""extract: clips cut by the extract stage vs its bare ffmpeg commands vs moviepy; late: a cut near the
end of a long source vs one near its start (input seeking keeps the cost flat)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.core import Row, add, ff, ffmpeg, guarded, interleaved, median, say, silenced, spread


def plans(starts: list[float], length: float):
    from clipforge.records import ClipPlan

    return [ClipPlan(id=f"seg{i:03d}", start=s, end=s + length, title=f"clip {i}", reason="bench", score=5,
                     text="", first_word="", last_word="") for i, s in enumerate(starts, 1)]


def make_video(tmp: Path, name: str, *, minutes: float, size: str, fps: int, preset: str, block_min: float) -> Path:
    """testsrc2 + sine, made as one `block_min` block and concatenated with -c copy (fast)."""
    out = tmp / f"{name}.mp4"
    if out.exists():
        return out
    block = tmp / f"{name}.block.mp4"
    ff("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}", "-f", "lavfi",
       "-i", "sine=frequency=440:sample_rate=44100", "-t", f"{block_min * 60:g}", "-map", "0:v", "-map", "1:a",
       "-c:v", "libx264", "-preset", preset, "-crf", "28", "-g", str(fps * 2), "-pix_fmt", "yuv420p",
       "-c:a", "aac", "-b:a", "96k", "-ac", "1", str(block))
    copies = max(1, round(minutes / block_min))
    lst = tmp / f"{name}.txt"
    lst.write_text("".join(f"file '{block.name}'\n" for _ in range(copies)))
    ff("-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", "-movflags", "+faststart", str(out))
    block.unlink()
    return out


def cut(src: Path, plan, out: Path) -> None:
    """The extract stage's plain cut (re-encode), exactly as stages.extract.run does it with nothing to compose."""
    from clipforge.config import DEFAULTS
    from clipforge.stages import extract

    extract._cut(str(src), plan, str(out), cut="reencode", has_video=True, preset=DEFAULTS.preset)


def run(tmp: Path, n: int, quick: bool) -> None:
    from clipforge.config import DEFAULTS
    from clipforge.stages import extract

    minutes, k, length = (3, 3, 10.0) if quick else (10, 5, 20.0)
    say(f"[extract] {k} clips of {length:g} s from a {minutes}-minute 640x360 30 fps video "
        "(stages.extract plain cut vs its bare ffmpeg commands vs moviepy)")
    d = tmp / "extract"
    d.mkdir()
    src = make_video(d, f"src{minutes}m", minutes=minutes, size="640x360", fps=30, preset="veryfast", block_min=1)
    span = minutes * 60 - length - 10  # clips spread from 5 s to 5 s before the end
    ps = plans([round(5 + span * i / max(1, k - 1) + 0.37, 3) for i in range(k)], length)
    outs = d / "out"
    outs.mkdir()
    # The baseline is the same arguments with the same prefix as clipforge.media.run_ffmpeg, run by a bare
    # subprocess.run: what the stage adds (its runner, the probe of the result, the atomic rename) is measured.
    prefix = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]

    def ours():
        def go():
            t = time.perf_counter()
            for p in ps:
                cut(src, p, outs / f"ours_{p.id}.mp4")
            return time.perf_counter() - t
        return guarded(go)

    def bare():
        def go():
            t = time.perf_counter()
            for p in ps:
                r = subprocess.run(prefix + extract.ffmpeg_args(str(src), p.start, p.duration,
                                                                out=str(outs / f"bare_{p.id}.mp4"), cut="reencode",
                                                                has_video=True, preset=DEFAULTS.preset),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                if r.returncode != 0:
                    raise RuntimeError(f"ffmpeg exited {r.returncode}")
            return time.perf_counter() - t
        return guarded(go)

    sides = {"ours": ours, "bare": bare}
    try:
        import moviepy

        mp_version = getattr(moviepy, "__version__", "?")
        try:
            from moviepy import VideoFileClip  # 2.x
        except ImportError:
            from moviepy.editor import VideoFileClip  # 1.x

        def mp():
            t = time.perf_counter()
            for p in ps:
                clip = VideoFileClip(str(src))
                sub = clip.subclipped(p.start, p.end) if hasattr(clip, "subclipped") else clip.subclip(p.start, p.end)
                sub.write_videofile(str(outs / f"moviepy_{p.id}.mp4"), codec="libx264", audio_codec="aac",
                                    logger=None)
                clip.close()
            return time.perf_counter() - t

        sides["moviepy"] = mp
    except ImportError:
        mp_version = None

    with silenced(d / "log.txt"):
        # Warm-up (untimed): one clip each way loads PyAV and puts the source in the page cache.
        warm = plans([60.0], 2.0)[0]
        guarded(lambda: cut(src, warm, outs / "warm.mp4"))
        times = interleaved(sides, n, warmup=False)
    add(Row(name=f"extract {k}x{length:g}s vs bare ffmpeg", ours=median(times["ours"]), base=median(times["bare"]),
            unit="s", goal=1.10,
            note=f"ours {spread(times['ours'])}, bare {spread(times['bare'])}",
            extra={"ours_s": times["ours"], "bare_s": times["bare"]}))
    if mp_version is None:
        add(Row(name=f"extract {k}x{length:g}s vs moviepy", ours=None, base=None, unit="s", goal=0.33,
                skipped="skipped: moviepy not installed"))
    else:
        add(Row(name=f"extract {k}x{length:g}s vs moviepy", ours=median(times["ours"]), base=median(times["moviepy"]),
                unit="s", goal=0.33,
                note=f"moviepy {mp_version} (libx264 preset medium, its default), {spread(times['moviepy'])}",
                extra={"moviepy_s": times["moviepy"], "moviepy": mp_version}))


def run_late(tmp: Path, n: int, quick: bool) -> None:
    minutes = 20 if quick else 60
    late_at = (minutes - 5) * 60 + 0.4
    say(f"[late] a 30 s clip at {late_at / 60:.1f} min vs at 0.5 min of a {minutes}-minute 160x90 10 fps source")
    d = tmp / "late"
    d.mkdir()
    src = make_video(d, f"long{minutes}m", minutes=minutes, size="160x90", fps=10, preset="ultrafast", block_min=5)
    early, late = plans([30.4, late_at], 30.0)

    def side(plan):
        def go():
            t = time.perf_counter()
            cut(src, plan, d / f"{plan.id}.mp4")
            return time.perf_counter() - t
        return lambda: guarded(go)

    with silenced(d / "log.txt"):
        times = interleaved({"late": side(late), "early": side(early)}, n)
    add(Row(name=f"cut at {late_at / 60:.0f} min vs at 0.5 min ({minutes}-min src)", ours=median(times["late"]),
            base=median(times["early"]), unit="s", goal=1.2,
            note=f"stages.extract plain cut both; late {spread(times['late'])}, early {spread(times['early'])}",
            extra={"late_s": times["late"], "early_s": times["early"]}))
