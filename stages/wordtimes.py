"""Word times refined against the audio: a word lights up when it is said, a cut sits in silence.

Whisper's word timestamps come from cross-attention and are off by 0.1-0.2 s (tiny.en's word ends
run late, base's starts run early). Where a word borders a pause the audio itself says better where
speech starts and stops: the short-time energy rises out of the room's noise floor at an onset and
falls back into it at an offset. Each word edge next to a pause moves to the nearest such edge
within a small window; edges inside connected speech (no pause to find) keep Whisper's time.
Pure numpy on the chunk's samples, deterministic, so a resumed chunk gets the same times.
"""

from __future__ import annotations

import numpy as np

HOP = 0.01  # seconds per energy frame
FRAME = 0.025  # seconds of audio per energy frame
REACH = 0.3  # seconds an edge may move: Whisper is rarely further off than this
# ... except next to a pause: batched decoding often starts (and squeezes) a sentence's first word up
# to 0.5 s late (SYSTRAN/faster-whisper#919), and base ends its last word up to 0.5 s early; those
# edges are looked for over this much of the pause.
REACH_AFTER_PAUSE = 0.6
MIN_PAUSE = 0.06  # seconds of quiet on the outer side of an edge: shorter dips are stop closures inside speech
MIN_WORD = 0.05  # seconds: a refined word never gets shorter than this
ABOVE_FLOOR_DB = 9.0  # an energy frame at least this far above the local noise floor is speech
MIN_CONTRAST_DB = 15.0  # less than this between the quiet and loud frames nearby: no pause to find
QUIET_CAP = 0.25  # seconds: quiet longer than this beside an edge is a pause, however long
CONTEXT = 30  # frames either side of the search range that set the local floor and loudness


def energy_db(audio: np.ndarray, rate: int) -> np.ndarray:
    """Short-time energy (dB): frame k covers FRAME seconds from k * HOP."""
    hop, size = int(HOP * rate), int(FRAME * rate)
    if len(audio) < size:
        return np.full(1, -100.0)
    n = 1 + (len(audio) - size) // hop
    total = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    starts = np.arange(n) * hop
    return 10 * np.log10((total[starts + size] - total[starts]) / size + 1e-10)


def _voiced(db: np.ndarray, lo: int, hi: int) -> np.ndarray | None:
    """Which frames in [lo, hi) are speech, judged against the local noise floor.

    Local, because real rooms differ along a recording (a fan, an edit to digital silence, a
    breath): a global floor would call a noisy room speech.
    """
    part = db[lo:hi]
    floor, loud = np.percentile(part, 5), np.percentile(part, 95)
    if loud - floor < MIN_CONTRAST_DB:
        return None  # all speech or all silence in reach: nothing to refine against
    return part > floor + max(ABOVE_FLOOR_DB, 0.3 * (loud - floor))


def _edge(db: np.ndarray, near: int, *, onset: bool, lo: int, hi: int) -> int | None:
    """The best onset (or offset) frame for an edge Whisper put at frame `near`, among frames lo..hi.

    An onset is a speech frame with at least MIN_PAUSE of quiet just before it; an offset, just
    after it. Among several, the one bordering the longer quiet wins (up to QUIET_CAP), then the
    nearer: a sentence's real end is followed by the pause, while a stop consonant inside a word
    ("dan-ger-ous") leaves a dip of only 60-100 ms, often nearer to Whisper's early guess.
    """
    pause, cap = round(MIN_PAUSE / HOP), round(QUIET_CAP / HOP)
    a, b = max(lo - cap - CONTEXT, 0), min(hi + cap + CONTEXT + 1, len(db))
    if lo > hi or b - a < 2 * pause:
        return None
    voiced = _voiced(db, a, b)
    if voiced is None:
        return None
    best, best_score = None, None
    for k in range(max(lo, a), min(hi, b - 1) + 1):
        j = k - a
        if not voiced[j]:
            continue
        side = voiced[max(j - cap, 0):j][::-1] if onset else voiced[j + 1:j + 1 + cap]
        quiet = int(np.argmax(side)) if side.any() else len(side)
        if quiet == len(side) < cap:
            quiet = cap  # the side ran into the chunk's own edge: quiet beyond it
        if quiet < pause:
            continue
        score = (-min(quiet, cap), abs(k - near))
        if best_score is None or score < best_score:
            best, best_score = k, score
    return best


def _ends_sentence(word: dict) -> bool:
    return word["text"].rstrip().endswith((".", "?", "!", "…"))


def refine(words: list[dict], audio: np.ndarray, *, rate: int, offset: float) -> list[dict]:
    """The words (dicts with absolute start/end) with edges moved onto the audio's onsets and offsets.

    `audio` is the chunk's samples, starting at `offset` seconds of the source. Word order and
    non-overlap are kept: an edge never crosses its neighbour's.
    """
    if not words:
        return words
    db = energy_db(audio, rate)
    frames = len(db)

    def frame(t: float) -> int:
        return int(round((t - offset - FRAME / 2) / HOP))

    def at(k: int) -> float:
        return offset + k * HOP + FRAME / 2  # the centre of frame k

    out = [dict(w) for w in words]
    for i, w in enumerate(out):
        prev_end = out[i - 1]["end"] if i else offset
        nxt = words[i + 1] if i + 1 < len(words) else None
        next_start = nxt["start"] if nxt else at(frames)
        # Whisper often runs a sentence's last word straight into the next one's first (no gap in its
        # times, a pause in the audio): at a sentence end both edges may move into the other's span.
        starts_sentence = i == 0 or _ends_sentence(words[i - 1])
        after_pause = starts_sentence or w["start"] - words[i - 1]["end"] >= MIN_PAUSE
        back = REACH_AFTER_PAUSE if after_pause else REACH
        ahead = REACH_AFTER_PAUSE if starts_sentence else REACH
        lo = max(frame(w["start"] - back), frame(prev_end) + 1, 0)
        k = _edge(db, frame(w["start"]), onset=True, lo=lo, hi=min(frame(w["start"] + ahead), frame(w["end"])))
        if k is not None:
            w["start"] = round(at(k) - HOP / 2, 3)
        ends = _ends_sentence(w)
        before_pause = nxt is None or ends or next_start - w["end"] >= MIN_PAUSE
        limit = nxt["end"] - MIN_WORD if nxt and ends else next_start
        hi = min(frame(w["end"] + (REACH_AFTER_PAUSE if before_pause else REACH)), frame(limit) - 1, frames - 1)
        # Whisper also stretches a sentence's last word over the pause after it ("black." for 1 s).
        lo = max(frame(w["end"] - (REACH_AFTER_PAUSE if before_pause else REACH)), frame(w["start"] + MIN_WORD))
        k = _edge(db, frame(w["end"]), onset=False, lo=lo, hi=hi)
        if k is not None:
            w["end"] = round(at(k) + HOP / 2, 3)
        w["start"] = max(w["start"], prev_end)
        w["end"] = max(w["end"], round(w["start"] + MIN_WORD, 3))
    return out
