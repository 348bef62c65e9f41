"""shorts: one post-ready short (9:16 face reframe + burned captions + one B-roll image insert).

  a. stages.compose.compose (one ffmpeg encode, loudness-normalised 48 kHz stereo sound) vs a bare
     ffmpeg encode of the same moving crop + scale (same audio format, no normalisation)
  b. the same clip made the moviepy way (per-frame crop, resize, TextClip captions, CompositeVideoClip)
  c. stages.faces.detect CPU seconds per second of clip (the vfx stage's analysis), on this close-up
     and on a wide shot whose face is 5 % of the frame height (the small-face second look)
  d. stages.loudness.plan CPU seconds per second of clip (the loudness stage: measure and check)

The source is generated: tests/media/face.png moving across a testsrc2 background (1280x720, 30 fps),
with tests/media/speech_long.mp3 as its audio; caption words get synthetic timings from
tests/media/speech_long.txt spread over the sentences between the documented pauses.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench.core import ROOT, Row, add, clock, ff, ffmpeg, guarded, interleaved, measured, medians, say, silenced

MEDIA = ROOT / "tests" / "media"
FACE = MEDIA / "face.png"
SPEECH = MEDIA / "speech_long.mp3"
SPEECH_TEXT = MEDIA / "speech_long.txt"
# Silences between the sentences of speech_long.mp3 (tests/media/README.md); speech starts at 0.5 s.
PAUSES = (2.4, 6.6, 11.7, 16.6, 21.5, 26.1, 30.6, 35.9, 40.7, 46.5)
SPEECH_END = 49.8
SRC_SIZE = (1280, 720)
FPS = 30
CRF = 20
AUDIO_BITRATE = "160k"  # as compose: 48 kHz stereo AAC


# --------------------------------------------------------------------------------------------- inputs

def make_source(d: Path, seconds: float) -> Path:
    """The face (scaled to 200 px wide) crossing a testsrc2 background left to right, bobbing a little."""
    out = d / "face_src.mp4"
    w, h = SRC_SIZE
    # -t on every input, never on the output: an output-side -t can hang this ffmpeg build.
    ff("-f", "lavfi", "-t", f"{seconds:g}", "-i", f"testsrc2=size={w}x{h}:rate={FPS}",
       "-loop", "1", "-framerate", str(FPS), "-t", f"{seconds:g}", "-i", str(FACE),
       "-t", f"{seconds:g}", "-i", str(SPEECH),
       "-filter_complex",
       f"[1:v]scale=200:-2,format=yuv420p[f];"
       f"[0:v][f]overlay=x='(W-w)*t/{seconds:g}':y='(H-h)/2+60*sin(t*0.8)':shortest=1,format=yuv420p[v]",
       "-map", "[v]", "-map", "2:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", str(2 * FPS),
       "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", str(out))
    return out


def make_broll(d: Path) -> Path:
    out = d / "broll.png"
    ff("-f", "lavfi", "-i", "mandelbrot=size=1280x720:rate=1", "-frames:v", "1", str(out))
    return out


def words(start: float, end: float):
    """speech_long.txt's words with synthetic timings (by character count inside each sentence's span),
    then cut to [start, end] and shifted to clip time, as the subtitles stage does."""
    from clipforge.records import Word
    from clipforge.stages.subtitles import clip_words

    lines = [ln.strip() for ln in SPEECH_TEXT.read_text().splitlines() if ln.strip()]
    bounds = [0.5, *PAUSES, SPEECH_END]
    out = []
    for i, line in enumerate(lines):
        a, b = bounds[i] + (0.0 if i == 0 else 0.6), bounds[i + 1] - 0.6  # ~1.2 s silence around each pause
        toks = line.split()
        total = sum(len(t) + 1 for t in toks)
        t = a
        for tok in toks:
            dt = (b - a) * (len(tok) + 1) / total
            out.append(Word(text=tok, start=round(t, 3), end=round(t + dt * 0.85, 3)))
            t += dt
    return clip_words(out, start, end)


# --------------------------------------------------------------------------------------------- sides

def bare_args(src: Path, start: float, duration: float, *, reframe: dict, out: Path, preset: str) -> list[str]:
    """The same span, the same moving crop expression as compose's graph, scaled to the same size, same x264."""
    from clipforge.stages.compose import _num, path_expr

    sw, sh = reframe["source"]["w"], reframe["source"]["h"]
    cw, ch = reframe["crop"]["w"], reframe["crop"]["h"]
    ow, oh = reframe["output"]["w"], reframe["output"]["h"]
    x, y = path_expr(reframe["path"], "x", sw - cw), path_expr(reframe["path"], "y", sh - ch)
    vf = f"crop=w={cw}:h={ch}:x='{x}':y='{y}',scale=w={ow}:h={oh},setsar=1"
    return ["-ss", _num(start), "-t", _num(duration), "-i", str(src), "-map", "0:v:0", "-map", "0:a:0",
            "-vf", vf, "-c:v", "libx264", "-preset", preset, "-crf", str(CRF), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", "48000", "-ac", "2", "-movflags", "+faststart",
            "-f", "mp4", str(out)]


def _position(path: list[dict], axis: str, hi: float):
    """x(t) of the crop window, evaluated from the same pieces compose turns into an ffmpeg expression."""
    from clipforge.stages.compose import _pieces

    pieces = _pieces(path, axis, hi)

    def at(t: float) -> int:
        p = pieces[0]
        for q in pieces[1:]:
            if q.t0 <= t:
                p = q
            else:
                break
        v = p.x0 + (p.slope * (t - p.t0) if p.slope else 0.0)
        return int(round(min(max(v, 0.0), hi)))
    return at


def moviepy_short(src: Path, start: float, duration: float, *, reframe: dict, chunks, broll: dict, out: Path,
                  preset: str, font: Path) -> None:
    """How moviepy-based short makers do it: per-frame numpy crop, PIL resize, one TextClip per caption
    chunk, the B-roll as an ImageClip, CompositeVideoClip, write_videofile (same x264 preset and CRF)."""
    from moviepy import CompositeVideoClip, ImageClip, TextClip, VideoFileClip

    sw, sh = reframe["source"]["w"], reframe["source"]["h"]
    cw, ch = reframe["crop"]["w"], reframe["crop"]["h"]
    ow, oh = reframe["output"]["w"], reframe["output"]["h"]
    x_at, y_at = _position(reframe["path"], "x", sw - cw), _position(reframe["path"], "y", sh - ch)
    source = VideoFileClip(str(src))
    clip = source.subclipped(start, start + duration)
    framed = clip.transform(lambda gf, t: gf(t)[y_at(t):y_at(t) + ch, x_at(t):x_at(t) + cw]).resized((ow, oh))
    layers = [framed]
    for ins in broll["inserts"]:
        img = ImageClip(str(ins["asset"]))
        iw, ih = img.size
        kw, kh = min(iw, round(ih * ow / oh)), min(ih, round(iw * oh / ow))
        img = img.cropped(x_center=iw / 2, y_center=ih / 2, width=kw, height=kh).resized((ow, oh))
        layers.append(img.with_start(ins["start"]).with_duration(ins["end"] - ins["start"]))
    size = round(0.055 * oh)
    for c in chunks:
        txt = TextClip(font=str(font), text=" ".join(w.text for w in c.words), font_size=size, color="white",
                       stroke_color="black", stroke_width=max(1, round(0.08 * size)), method="caption",
                       size=(round(ow * 0.88), None), text_align="center")
        y = oh - round(0.22 * oh) - txt.size[1]
        layers.append(txt.with_start(c.start).with_duration(max(0.05, c.end - c.start)).with_position(("center", y)))
    final = CompositeVideoClip(layers, size=(ow, oh)).with_duration(duration)
    final.write_videofile(str(out), fps=FPS, codec="libx264", preset=preset, audio_codec="aac",
                          audio_bitrate=AUDIO_BITRATE, ffmpeg_params=["-crf", str(CRF)], logger=None)
    for c in (final, *layers, clip, source):
        c.close()


# --------------------------------------------------------------------------------------------- run

def run(tmp: Path, n: int, quick: bool) -> None:
    from clipforge.assets import FONTS_DIR
    from clipforge.config import DEFAULTS
    from clipforge.media import probe
    from clipforge.stages import compose, faces, loudness, subtitles, vfx

    src_seconds, start, duration = (20.0, 2.0, 15.0) if quick else (30.0, 2.0, 25.0)
    preset = DEFAULTS.preset
    d = tmp / "shorts"
    d.mkdir()
    say(f"[shorts] a {duration:g} s 9:16 short (face reframe + captions + 1 B-roll image) from a "
        f"{SRC_SIZE[0]}x{SRC_SIZE[1]} {FPS} fps face clip: compose vs bare ffmpeg crop+scale vs moviepy; "
        f"faces.detect CPU per clip second (x264 {preset}, crf {CRF})")
    src = make_source(d, src_seconds)
    img = make_broll(d)
    font = FONTS_DIR / "DejaVuSans-Bold.ttf"

    # Decisions, made once with the real functions (the per-clip stages before extract); untimed here,
    # except the face analysis, which is row c.
    with silenced(d / "log.txt"), clock() as plan_clock:
        reframe = vfx.plan_reframe(source=src, start=start, duration=duration, src_size=SRC_SIZE, has_video=True,
                                   aspect=DEFAULTS.aspect, reframe="face", height=DEFAULTS.height)
    frame = (reframe["output"]["w"], reframe["output"]["h"])
    ws = words(start, start + duration)
    ass = d / "clip.ass"
    cap = subtitles.write_captions(words=ws, frame=frame, ass_out=ass)
    chunks = subtitles.highlight_chunks(ws)
    ins_start = round(duration * 0.4, 3)
    broll = {"inserts": [{"asset": str(img), "kind": "image", "start": ins_start, "end": ins_start + 3.0,
                          "in": 0.0, "mode": "cutaway", "why": "bench: one image insert"}],
             "note": "1 insert (bench)", "keywords": []}
    with silenced(d / "log.txt"):
        sound = loudness.plan(source=str(src), start=start, duration=duration, track=0, channels=1,
                              loudness=DEFAULTS.loudness, true_peak=DEFAULTS.true_peak)
    (d / "reframe.json").write_text(json.dumps(reframe, indent=1))
    say(f"  reframe: {reframe['note']} ({plan_clock.wall:.1f} s wall incl. detection); "
        f"captions: {cap['words']} words, {cap['events']} events; output {frame[0]}x{frame[1]}")
    if reframe["mode"] != "face" or not reframe["path"]:
        raise RuntimeError(f"the generated clip gave no face path: {reframe['note']}")

    outs = d / "out"
    outs.mkdir()
    prefix = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]  # as clipforge.media.run_ffmpeg

    def ours():
        compose.compose(source=src, start=start, duration=duration, has_video=True, src_size=SRC_SIZE,
                        reframe=reframe, broll=broll, ass=ass, fontsdir=FONTS_DIR, out=outs / "ours.mp4",
                        preset=preset, crf=CRF, audio=sound)

    def bare():
        r = subprocess.run(prefix + bare_args(src, start, duration, reframe=reframe, out=outs / "bare.mp4",
                                              preset=preset),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError(f"bare ffmpeg exited {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}")

    def mp():
        moviepy_short(src, start, duration, reframe=reframe, chunks=chunks, broll=broll, out=outs / "moviepy.mp4",
                      preset=preset, font=font)

    sides = {"ours": lambda: guarded(measured(ours)), "bare": lambda: guarded(measured(bare))}
    try:
        import moviepy

        mp_version = getattr(moviepy, "__version__", "?")
        sides["moviepy"] = measured(mp)  # no HangGuard: moviepy's ffmpeg reader idles by design
    except ImportError:
        mp_version = None

    with silenced(d / "log.txt"):
        # Untimed warm-ups: compose and bare always (page cache, libass font scan); moviepy (its imports,
        # PIL font load) only without --quick, where it would cost as much as a whole repeat.
        for name in sides:
            if name != "moviepy" or not quick:
                sides[name]()
        times = interleaved(sides, n, warmup=False)
    o, b = medians(times["ours"]), medians(times["bare"])
    say("  medians (wall / CPU incl. ffmpeg children): "
        + ", ".join(f"{k} {medians(v).wall:.2f} s / {medians(v).cpu:.2f} s" for k, v in times.items()))
    out_info = probe(outs / "ours.mp4")
    a_note = (f"bare = `-vf crop=w:h:x(t):y(t),scale,setsar=1` with the very x(t) expression compose builds "
              f"from the face path ({len(reframe['path'])} keyframes), not a static crop: the graph's window moves, "
              f"and a moving window costs x264 more; CPU ours {o.cpu:.2f} s / bare {b.cpu:.2f} s; "
              f"ours includes the caption check, the probe and loudness normalisation to "
              f"{sound['target']['i']:g} LUFS (gain {sound['gain_db']:+.1f} dB + limiter; bare: the same 48 kHz "
              f"stereo AAC without it); output {out_info.width}x{out_info.height} {out_info.duration:.2f} s")
    add(Row(name=f"short {duration:g}s: compose (loudness-normalised) vs bare crop+scale", ours=o.wall, base=b.wall,
            unit="s", goal=1.15,
            note=a_note,
            extra=_extra(times, ("ours", "bare"))))
    if mp_version is None:
        add(Row(name=f"short {duration:g}s: compose vs moviepy", ours=None, base=None, unit="s", goal=0.25,
                skipped="skipped: moviepy not installed (pip install -e '.[bench]')"))
    else:
        m = medians(times["moviepy"])
        add(Row(name=f"short {duration:g}s: compose vs moviepy", ours=o.wall, base=m.wall, unit="s", goal=0.25,
                note=f"moviepy {mp_version}: per-frame crop + resize, {len(chunks)} TextClips (one per chunk, "
                     f"no per-word highlight), ImageClip insert, CompositeVideoClip, libx264 {preset} crf {CRF}; "
                     f"CPU ours {o.cpu:.2f} s / moviepy {m.cpu:.2f} s ({m.cpu / o.cpu:.1f}x)",
                extra=_extra(times, ("moviepy",)) | {"moviepy": mp_version, "cpu_ratio": round(o.cpu / m.cpu, 4)}))

    # c. The face analysis: CPU seconds of stages.faces.detect (PyAV decode threads included) per clip second.
    def analyse():
        track = faces.detect(source=src, start=start, duration=duration)
        analyse.found = sum(1 for s in track.samples if s.faces), len(track.samples)

    analyse()  # warm-up: cv2 cascade load, PyAV import
    light = max(n, 3)
    det = [measured(analyse)() for _ in range(light)]
    f = medians(det)
    say(f"  faces.detect medians: wall {f.wall:.2f} s / CPU {f.cpu:.2f} s for {duration:g} s of clip")
    add(Row(name=f"faces.detect CPU per clip second ({duration:g}s)", ours=f.cpu, base=duration, unit="s", goal=0.30,
            note=f"time.process_time (all threads) + reaped children; wall {f.wall:.2f} s "
                 f"({f.wall / duration:.3f} per clip second); faces in {analyse.found[0]}/{analyse.found[1]} samples "
                 f"at 4/s, {SRC_SIZE[0]}x{SRC_SIZE[1]} source seen at 320 px; median of {light}",
            extra={"cpu_s": [s.cpu for s in det], "wall_s": [s.wall for s in det], "wall_median": f.wall,
                   "clip_seconds": duration}))

    # c2. A wide shot: the face 5 % of the frame height, found only by the second, higher-resolution look.
    wide_src = _media_tools().wide(d / "wide.mp4", seconds=int(duration) + 1)

    def analyse_wide():
        track = faces.detect(source=wide_src, start=0.0, duration=duration)
        analyse_wide.found = sum(1 for s in track.samples if s.faces), len(track.samples)
        analyse_wide.stats = track.stats

    analyse_wide()
    det = [measured(analyse_wide)() for _ in range(light)]
    f = medians(det)
    say(f"  faces.detect (wide shot) medians: wall {f.wall:.2f} s / CPU {f.cpu:.2f} s for {duration:g} s of clip")
    add(Row(name=f"faces.detect CPU per clip second, 5 % faces ({duration:g}s)", ours=f.cpu, base=duration, unit="s",
            goal=0.30,
            note=f"1280x720 30 fps wide shot, face ~36 px high; faces in {analyse_wide.found[0]}/"
                 f"{analyse_wide.found[1]} samples; second look on {analyse_wide.stats.get('second_look')} samples "
                 f"at {analyse_wide.stats.get('big')}; wall {f.wall / duration:.3f} per clip second; median of {light}",
            extra={"cpu_s": [s.cpu for s in det], "wall_s": [s.wall for s in det], "clip_seconds": duration}))

    # d. The loudness stage: loudnorm's measurement plus the checks of the gain + limiter chain.
    def measure_sound():
        measure_sound.plan = loudness.plan(source=str(src), start=start, duration=duration, track=0, channels=1,
                                           loudness=DEFAULTS.loudness, true_peak=DEFAULTS.true_peak)

    det = [measured(measure_sound)() for _ in range(light)]
    f = medians(det)
    add(Row(name=f"loudness stage CPU per clip second ({duration:g}s)", ours=f.cpu, base=duration, unit="s",
            goal=0.30,
            note=f"{measure_sound.plan['passes']} check pass(es) after the measurement; expected "
                 f"{measure_sound.plan['expected']}; wall {f.wall:.2f} s; median of {light}",
            extra={"cpu_s": [s.cpu for s in det], "wall_s": [s.wall for s in det], "clip_seconds": duration}))


def _media_tools():
    """tools/make_realworld_media.py (the issue-19 test media makers), loaded from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_realworld_media", ROOT / "tools" / "make_realworld_media.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _extra(times: dict, names) -> dict:
    return {f"{k}_{field}": [getattr(s, field) for s in times[k]] for k in names for field in ("wall", "cpu")} | {
        f"{k}_median": medians(times[k])._asdict() for k in names}
