"""tight: a platform-ready short (tightened + captioned + hooked, 9:16 face reframe) in one encode.

  a. stages.compose.compose with the tighten decision's kept ranges, bold captions and the hook title
     (platform=tiktok's safe zone) vs a bare ffmpeg encode of the same moving crop + scale giving the
     same number of output frames (the bare side cannot cut pauses; it encodes as many frames as
     the tightened clip has, so both sides write the same amount of video)
  b. the share of the clip tightening removed (and the same on the bundled sample talk's clips,
     read from its last run's manifest when one is there)

The source is bench.shorts' generated face clip with tests/media/speech_long.mp3 (espeak, about
1.2 s between sentences) as its audio; its words come from the bundled Whisper model, and the
decisions from the real stage functions.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench.core import ROOT, Row, add, ffmpeg, guarded, interleaved, measured, medians, say, silenced
from bench.shorts import CRF, SRC_SIZE, bare_args, make_source


def heard_words(src: Path, start: float, duration: float):
    """The clip's words as the pipeline gets them: the bundled Whisper model's word timestamps."""
    from clipforge.records import Word
    from clipforge.stages import transcribe
    from clipforge.stages.tighten import clip_audio

    model = transcribe.load_model(transcribe.ModelOptions())
    segments, _ = model.transcribe(clip_audio(str(src), start, duration), language="en", word_timestamps=True)
    return [Word(w.word, round(w.start, 3), round(w.end, 3)) for s in segments for w in s.words or []]


def run(tmp: Path, n: int, quick: bool) -> None:
    from clipforge.assets import FONTS_DIR
    from clipforge.config import DEFAULTS
    from clipforge.stages import caption_styles, compose, subtitles, tighten, vfx
    from clipforge.stages.camera import Keyframe, position_at
    from clipforge.timeline import Timeline

    src_seconds, start, duration = (20.0, 2.0, 15.0) if quick else (30.0, 2.0, 25.0)
    preset = DEFAULTS.preset
    d = tmp / "tight"
    d.mkdir()
    say(f"[tight] a {duration:g} s tightened + captioned + hooked 9:16 short vs a bare crop+scale encode "
        f"of as many frames (x264 {preset}, crf {CRF})")
    src = make_source(d, src_seconds)
    with silenced(d / "log.txt"):
        reframe = vfx.plan_reframe(source=src, start=start, duration=duration, src_size=SRC_SIZE, has_video=True,
                                   aspect="9:16", reframe="face", height=DEFAULTS.height)
    ws = heard_words(src, start, duration)
    db = tighten.energy_db(tighten.clip_audio(str(src), start, duration))
    decision = tighten.plan_cuts(db=db, words=ws, span=duration, fps=30.0)
    tl = Timeline.from_decision(decision, duration)
    keys = [Keyframe(t=k["t"], x=k["x"], y=k["y"], cut=k["cut"]) for k in reframe["path"]]
    tight_reframe = {**reframe, "path": tl.map_path(reframe["path"], lambda t: position_at(keys, t))}
    frame = (reframe["output"]["w"], reframe["output"]["h"])
    opts, _ = caption_styles.options_for("bold", frame=frame, platform="tiktok", base=subtitles.CaptionOptions())
    ass, hook = d / "clip.ass", d / "hook.ass"
    subtitles.write_captions(words=tl.map_words(ws), frame=frame, opts=opts, ass_out=ass)
    caption_styles.write_hook(title="Why bread rises: the gas, the gluten and the oven", frame=frame, opts=opts,
                              duration=tl.duration, out=hook)
    say(f"  tighten: {decision['note']} ({decision['removed_share']:.1%}); output {frame[0]}x{frame[1]}")
    outs = d / "out"
    outs.mkdir()
    prefix = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]

    def ours():
        compose.compose(source=src, start=start, duration=duration, has_video=True, src_size=SRC_SIZE,
                        reframe=tight_reframe, broll=None, ass=ass, fontsdir=FONTS_DIR, out=outs / "ours.mp4",
                        preset=preset, crf=CRF, src_fps=30.0, kept=tl.kept, hook=hook)

    def bare():
        args = bare_args(src, start, tl.duration, reframe=reframe, out=outs / "bare.mp4", preset=preset)
        r = subprocess.run(prefix + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError(f"bare ffmpeg exited {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}")

    sides = {"ours": lambda: guarded(measured(ours)), "bare": lambda: guarded(measured(bare))}
    with silenced(d / "log.txt"):
        for side in sides.values():
            side()  # untimed warm-up: page cache, libass font scan
        times = interleaved(sides, n, warmup=False)
    o, b = medians(times["ours"]), medians(times["bare"])
    say(f"  medians wall / CPU: ours {o.wall:.2f} / {o.cpu:.2f} s, bare {b.wall:.2f} / {b.cpu:.2f} s")
    add(Row(name=f"tightened+captioned+hooked short {duration:g}s vs bare crop+scale", ours=o.wall, base=b.wall,
            unit="s", goal=1.2,
            note=f"{len(tl.kept)} kept ranges (trim/atrim + concat), bold captions, hook title, one encode; bare = "
                 f"the same moving crop+scale for {tl.duration:.2f} s (as many frames); CPU ours {o.cpu:.2f} s / "
                 f"bare {b.cpu:.2f} s",
            extra={"ours_s": [s.wall for s in times["ours"]], "bare_s": [s.wall for s in times["bare"]],
                   "kept": [list(k) for k in tl.kept]}))
    add(Row(name="share of the clip removed by tightening (speech_long, espeak)", ours=decision["removed_seconds"],
            base=duration, unit="s", goal=None, note=decision["note"]))
    sample = ROOT / "clips" / "manifest.json"
    try:
        clips = json.loads(sample.read_text())["clips"]
        shares = [c["tightened"]["removed_share"] for c in clips if c.get("tightened", {}).get("enabled")]
    except (OSError, ValueError, KeyError):
        shares = []
    if shares:
        add(Row(name="share removed by tightening, sample talk clips (last run's manifest)",
                ours=sum(shares) / len(shares), base=1.0, unit="", goal=None,
                note="per clip: " + ", ".join(f"{s:.1%}" for s in shares)))
