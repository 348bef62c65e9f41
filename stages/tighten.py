"""tighten: decide which parts of a clip to keep (tighten/segNNN.cuts.json); compose carries it out.

A pause longer than `pause` seconds is shortened to a `breath`, half of it kept on each side of the
cut, so a cut always sits in silence with a breath around it. Filler words the transcript marks
("um", "uh", ...) are removed when there is silence on both sides of them to cut in.

Silence is decided from the audio, never from the word timestamps alone: Whisper's word ends drift
by a tenth of a second or more, and a comma pause it reports as 0.7 s may be a 0.2 s breath. A
pause is a run of quiet 10-ms frames (RMS under a level set from the clip's own noise floor and
speech level), and no word may lie wholly inside a cut (timestamps as a second check, for quiet
speech under the level). Cut points are put on the source's frame grid, so video and audio
lose exactly the same time and stay in sync however many cuts a clip has.

The decision file (editable with keep=yes: only `kept` is read back):
  kept     [{"start", "end"}]: clip-relative source seconds, played back to back
  removed  [{"start", "end", "why"}]
  words    the clip's words with their edges moved onto the audio where a silence borders them
           (refine_words): captions and B-roll place themselves by these
  duration, span, removed_seconds, removed_share, fps, silence_db, fillers_found, note
"""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clipforge.fsutil import write_json
from clipforge.media import run_ffmpeg
from clipforge.records import Word

RATE = 16000
HOP = 0.010  # seconds per energy frame
FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "hmm", "mm", "ah"})
DEFAULT_FPS = 30.0  # the frame grid of an audio-only clip (compose draws it at this rate)


@dataclass(frozen=True, kw_only=True)
class TightenOptions:
    pause: float = 0.4  # a silence longer than this is shortened ...
    breath: float = 0.15  # ... to this (half kept on each side of the cut)
    min_side: float = 0.03  # silence kept beside a cut at least, whatever the frame rounding
    fillers: bool = True
    filler_reach: float = 0.12  # how far outside a filler's timestamps its bounding silence may start


def energy_db(samples: np.ndarray) -> np.ndarray:
    """RMS level in dBFS of each 10-ms hop (20-ms windows)."""
    hop = int(RATE * HOP)
    n = max(0, len(samples) // hop)
    if n == 0:
        return np.zeros(0)
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    power = (frames ** 2).mean(axis=1)
    power = np.maximum(power, np.concatenate([power[1:], power[-1:]]))  # 20-ms reach: never trim an onset
    return 10 * np.log10(power + 1e-12)


def silence_level(db: np.ndarray) -> float:
    """The level under which a hop counts as silence: 35 dB under speech, but clear of the noise floor."""
    if len(db) == 0:
        return -60.0
    floor, speech = float(np.percentile(db, 5)), float(np.percentile(db, 95))
    return min(max(speech - 35.0, floor + 6.0), speech - 15.0)


def quiet_runs(db: np.ndarray, level: float) -> list[tuple[float, float]]:
    """Runs of quiet hops as (start, end) seconds."""
    quiet = np.concatenate([[False], db < level, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    return [(a * HOP, b * HOP) for a, b in zip(edges[::2], edges[1::2])]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _snap(t: float, fps: float, *, up: bool) -> float:
    k = t * fps
    return (math.ceil(k - 1e-6) if up else math.floor(k + 1e-6)) / fps


def _cut(a: float, b: float, *, fps: float, opts: TightenOptions) -> tuple[float, float] | None:
    """[a, b] to remove from a silence [a - side, b + side]: on the frame grid, never into the kept sides."""
    lo, hi = _snap(a, fps, up=False), _snap(b, fps, up=True)
    # Rounding outward shortens the breath; if that leaves less than min_side, round inward instead.
    if lo < a - (opts.breath / 2 - opts.min_side):
        lo = _snap(a, fps, up=True)
    if hi > b + (opts.breath / 2 - opts.min_side):
        hi = _snap(b, fps, up=False)
    return (lo, hi) if hi - lo >= 1 / fps - 1e-6 else None


def _words_kept(start: float, end: float, words: list[Word]) -> bool:
    """False if a word lies wholly inside [start, end]: the audio calls it silence, the transcript a
    word (said under the silence level): its timestamps win, and nothing is cut there. A word that
    only reaches into the silence has its sound outside it."""
    return all(not (start - 0.02 <= w.start and w.end <= end + 0.02) for w in words)


def pause_cuts(runs, *, words: list[Word], span: float, fps: float, opts: TightenOptions) -> list[dict]:
    cuts = []
    for a, b in runs:
        a, b = max(a, 0.0), min(b, span)
        if b - a <= opts.pause:
            continue
        at_start, at_end = a <= HOP, b >= span - HOP
        if at_start and at_end:
            continue  # a silent clip: nothing to tighten against
        # A silence at the clip's edge keeps a whole breath before the first / after the last word.
        lead = 0.0 if at_start else opts.breath if at_end else opts.breath / 2
        tail = 0.0 if at_end else opts.breath if at_start else opts.breath / 2
        cut = _cut(a + lead, b - tail, fps=fps, opts=opts)
        cut = cut and (max(cut[0], 0.0), span if at_end else min(cut[1], span))
        if cut and cut[1] > cut[0] and _words_kept(*cut, words):
            cuts.append({"start": cut[0], "end": cut[1], "why": f"pause {b - a:.2f} s"})
    return cuts


def filler_cuts(runs, *, words: list[Word], fps: float, opts: TightenOptions) -> tuple[list[dict], list[str]]:
    """Fillers with silence on both sides: cut from the middle of the silence before to that after."""
    cuts, found = [], []
    for i, w in enumerate(words):
        if _norm(w.text) not in FILLERS:
            continue
        found.append(f"{w.text.strip()}@{w.start:.2f}")
        before = [r for r in runs if r[1] >= w.start - opts.filler_reach and r[0] <= w.start]
        after = [r for r in runs if r[0] <= w.end + opts.filler_reach and r[1] >= w.end]
        if not before or not after or before[-1] == after[0]:
            continue  # glued to a neighbouring word, or no sound at all: leave it
        a = max(before[-1][0], (before[-1][0] + before[-1][1]) / 2 - opts.breath / 2) + opts.breath / 2
        b = min(after[0][1], (after[0][0] + after[0][1]) / 2 + opts.breath / 2) - opts.breath / 2
        cut = _cut(min(a, w.start), max(b, w.end), fps=fps, opts=opts)
        others = words[:i] + words[i + 1:]
        if cut and _words_kept(*cut, others):
            cuts.append({"start": cut[0], "end": cut[1], "why": f"filler '{w.text.strip()}'"})
    return cuts, found


def refine_words(words: list[Word], runs, *, min_quiet: float = 0.08, reach: float = 0.5) -> list[Word]:
    """Word edges moved onto the audio where a silence borders them.

    Whisper stretches a sentence's last word over the pause after it, and starts the next word a
    few tenths late (or early, inside the silence); a caption highlighted by those times is visibly
    off. An edge that falls inside a quiet run (of at least `min_quiet` s) moves to where the sound
    stops or starts; an edge a silence borders within `reach` s (the silence lying between the word
    and its neighbour) moves onto it. Inside running speech there is no silence to go by, and the
    timestamps stay.
    """
    quiet = [(a, b) for a, b in runs if b - a >= min_quiet]
    out = []
    for i, w in enumerate(words):
        prev_end = out[-1].end if out else -math.inf
        next_start = words[i + 1].start if i + 1 < len(words) else math.inf
        start, end = w.start, w.end
        # (2 hops of slack: a silence's edges are measured to the hop, word times to 10 ms)
        inside = [b for a, b in quiet if a - 2 * HOP <= start < b < end]
        before = [b for a, b in quiet if max(prev_end, start - reach) < b <= start]
        if inside or before:
            start = inside[0] if inside else max(before)
        inside = [a for a, b in quiet if start < a < end <= b + 2 * HOP]
        after = [a for a, b in quiet if end <= a < min(next_start, end + reach)]
        if inside or after:
            end = inside[0] if inside else min(after)
        out.append(Word(w.text, round(start, 3), round(max(end, start), 3), probability=w.probability))
    return out


def _merge(cuts: list[dict]) -> list[dict]:
    out: list[dict] = []
    for c in sorted(cuts, key=lambda c: c["start"]):
        if out and c["start"] <= out[-1]["end"] + 1e-6:
            out[-1] = {**out[-1], "end": max(out[-1]["end"], c["end"]), "why": out[-1]["why"] + "; " + c["why"]}
        else:
            out.append(dict(c))
    return out


def plan_cuts(*, db: np.ndarray, words: list[Word], span: float, fps: float,
              opts: TightenOptions = TightenOptions()) -> dict:
    """The decision for one clip from its audio levels (`energy_db`) and its clip-relative words."""
    level = silence_level(db)
    runs = quiet_runs(db, level)
    words = refine_words(words, runs)
    cuts = pause_cuts(runs, words=words, span=span, fps=fps, opts=opts)
    found: list[str] = []
    if opts.fillers:
        fill, found = filler_cuts(runs, words=words, fps=fps, opts=opts)
        cuts += fill
    removed = _merge(cuts)
    kept, at = [], 0.0
    for c in removed:
        if c["start"] > at:
            kept.append({"start": round(at, 4), "end": round(c["start"], 4)})
        at = c["end"]
    if at < span:
        kept.append({"start": round(at, 4), "end": round(span, 4)})
    duration = sum(k["end"] - k["start"] for k in kept)
    gone = span - duration
    return {"kept": kept, "removed": [{**c, "start": round(c["start"], 4), "end": round(c["end"], 4)} for c in removed],
            "span": round(span, 4), "duration": round(duration, 4), "removed_seconds": round(gone, 3),
            "removed_share": round(gone / span, 4) if span > 0 else 0.0, "fps": fps,
            "silence_db": round(level, 1), "pause": opts.pause, "breath": opts.breath, "fillers_found": found,
            "words": [{"text": w.text, "start": w.start, "end": w.end} for w in words],
            "note": f"{len(removed)} cut(s), {gone:.2f} s of {span:.2f} s removed"}


def untightened(span: float, fps: float, note: str) -> dict:
    return {"kept": [{"start": 0.0, "end": round(span, 4)}], "removed": [], "span": round(span, 4),
            "duration": round(span, 4), "removed_seconds": 0.0, "removed_share": 0.0, "fps": fps,
            "fillers_found": [], "note": note}


def clip_audio(source: str, start: float, duration: float) -> np.ndarray:
    """The clip's audio, 16 kHz mono float32 (decoded with the same input seeking compose uses)."""
    with tempfile.TemporaryDirectory(prefix="clipforge-tighten-") as tmp:
        raw = Path(tmp) / "clip.pcm"
        run_ffmpeg(["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", source, "-map", "0:a:0", "-vn",
                    "-ac", "1", "-ar", str(RATE), "-f", "s16le", str(raw)], what="tighten: decoding audio",
                   timeout=60 + 2 * duration)
        return np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0


def run(job) -> None:
    """Per-clip stage (clipforge.stagelist "tighten"): the clip's audio and words in, NN.cuts.json out."""
    o, plan = job.options, job.clip
    info = job.source_info
    fps = float(info.get("fps") or 0) if info.get("has_video") else 0.0
    fps = fps if fps > 0 else DEFAULT_FPS
    if o["tighten"] != "yes":
        decision = untightened(plan.duration, fps, "tighten=no")
    else:
        opts = TightenOptions(pause=float(o["tighten_pause"]), breath=float(o["tighten_breath"]))
        db = energy_db(clip_audio(job.source, plan.start, plan.duration))
        decision = plan_cuts(db=db, words=job.words, span=plan.duration, fps=fps, opts=opts)
        print(f"  tighten: {plan.id}: {decision['note']}")
    write_json(job.output(".cuts.json"), decision)
