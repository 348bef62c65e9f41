"""Word-level helpers for stages.segment.boundaries: timing repair, sentence/clause units, quote matching.

Doc is the transcript as plan_clips sees it (repaired, clipped to the media, split).

Everything here is pure: lists in, new lists out, no I/O, no clock, no randomness.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher

from clipforge.records import Word

# An untimed word gets at most this long (seconds): it sits next to its neighbour in the
# same sentence rather than spreading over a whole pause.
DEFAULT_WORD_LEN = 0.3
# Below this share per word, a gap is too small to hold untimed words and they
# borrow time from a neighbour word instead.
MIN_WORD_LEN = 0.05
# A gap of at least pause * CLAUSE_PAUSE_RATIO is a clause boundary: a breath, not a full stop.
CLAUSE_PAUSE_RATIO = 0.5

_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")
_CLAUSE_END = (",", ";", ":", "—", "–", "،", "、", "，", "；", "：")
_DASH_TOKENS = {"-", "--", "—", "–"}
# Trailing quotes/brackets hide the punctuation before them: `said "stop."`
CLOSERS = "\"'”’»)]}"
# "Mr. Smith" is one sentence; a long pause after the abbreviation still splits it.
_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "e.g.", "i.e.", "prof.", "jr.", "sr."}


@dataclass(kw_only=True)
class Sentence:
    """Consecutive words ending at sentence punctuation, a long pause, or the transcript's end.

    first/last index the word list the sentence was split from; complete is False only
    for a run cut off by the transcript's end (no punctuation, no pause), which is not a
    safe place to end a clip.
    """

    words: list[Word]
    start: float
    end: float
    text: str
    first: int = 0
    last: int = 0
    complete: bool = True


def is_finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _timed(w: Word) -> bool:
    return is_finite(w.start) and is_finite(w.end) and 0 <= w.start < w.end


def _increasing_chain(starts: list[float]) -> list[int]:
    """Indices of a longest strictly increasing run of starts (patience sort, deterministic)."""
    tails: list[float] = []
    tail_idx: list[int] = []
    prev: list[int] = [-1] * len(starts)
    for i, s in enumerate(starts):
        k = bisect_left(tails, s)
        if k == len(tails):
            tails.append(s)
            tail_idx.append(i)
        else:
            tails[k] = s
            tail_idx[k] = i
        prev[i] = tail_idx[k - 1] if k else -1
    chain, i = [], tail_idx[-1] if tail_idx else -1
    while i >= 0:
        chain.append(i)
        i = prev[i]
    return chain[::-1]


def ends_sentence(text: str) -> bool:
    """True if a word closes a sentence by its punctuation (the one rule both segmenters and cuts share)."""
    t = text.strip().rstrip(CLOSERS)
    return t.endswith(_SENTENCE_END) and t.lower() not in _ABBREVIATIONS


def _split_evenly(lo: float, hi: float, n: int) -> list[tuple[float, float]]:
    step = (hi - lo) / n
    return [(lo + k * step, hi if k == n - 1 else lo + (k + 1) * step) for k in range(n)]


def repair_timings(words: list[Word]) -> tuple[list[Word], list[bool]]:
    """repair_word_timings, plus which output words had their timing changed."""
    kept = [w for w in words if isinstance(w.text, str) and w.text.strip()]
    if not kept:
        return [], []
    # Text order is trusted, timestamps are not: the longest run of timed words whose
    # starts increase with the text keeps its timing; everything else is retimed.
    timed_pos = [i for i, w in enumerate(kept) if _timed(w)]
    anchors = [timed_pos[k] for k in _increasing_chain([kept[i].start for i in timed_pos])]
    times: list[tuple[float, float] | None] = [None] * len(kept)
    for n, i in enumerate(anchors):
        nxt = kept[anchors[n + 1]].start if n + 1 < len(anchors) else math.inf
        times[i] = (kept[i].start, min(kept[i].end, nxt))  # overlaps are clipped, never kept
    if not anchors:
        times = list(_split_evenly(0.0, DEFAULT_WORD_LEN * len(kept), len(kept)))
    i = 0
    while i < len(kept):
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < len(kept) and times[j] is None:
            j += 1
        _fill_run(kept, times, i=i, j=j)
        i = j
    out = [replace(w, start=t[0], end=t[1]) for w, t in zip(kept, times)]
    changed = [(w.start, w.end) != (o.start, o.end) for w, o in zip(kept, out)]
    return out, changed


def _fill_run(kept: list[Word], times: list, *, i: int, j: int) -> None:
    """Time the untimed run kept[i:j] from its timed neighbours (times[i-1], times[j])."""
    n = j - i
    p = i - 1 if i > 0 else None
    q = j if j < len(kept) else None
    hi = times[q][0] if q is not None else times[p][1] + DEFAULT_WORD_LEN * n
    lo = times[p][1] if p is not None else max(0.0, hi - DEFAULT_WORD_LEN * n)
    # Lean on the neighbour in the same sentence, so that sentence cuts stay outside the
    # original word intervals and keep the silence on the other side.
    borrow_prev = p is not None and (q is None or not ends_sentence(kept[p].text))
    if hi - lo >= MIN_WORD_LEN * n:
        width = min(hi - lo, DEFAULT_WORD_LEN * n)
        times[i:j] = _split_evenly(lo, lo + width, n) if borrow_prev else _split_evenly(hi - width, hi, n)
        return
    # No room in the gap: share the neighbour word's time.
    if borrow_prev:
        times[p:j] = _split_evenly(times[p][0], hi, n + 1)
    else:
        times[i:q + 1] = _split_evenly(lo, times[q][1], n + 1)


def repair_word_timings(words: list[Word]) -> list[Word]:
    """Drop empty words; retime untimed, zero-length and out-of-order words from their neighbours.

    Returns a new list in text order whose intervals are sorted, positive and non-overlapping.
    """
    return repair_timings(words)[0]


def join_words(words: list[Word]) -> str:
    """Words' text joined: whisper words carry their own leading space, others get one."""
    if any(w.text[:1].isspace() for w in words):
        return "".join(w.text for w in words).strip()
    return " ".join(w.text.strip() for w in words)


def _units(words: list[Word], ends: list[bool], complete: list[bool]) -> list[Sentence]:
    units: list[Sentence] = []
    first = 0
    for i, is_end in enumerate(ends):
        if is_end:
            ws = words[first:i + 1]
            units.append(Sentence(words=ws, start=ws[0].start, end=ws[-1].end, text=join_words(ws), first=first,
                                  last=i, complete=complete[i]))
            first = i + 1
    return units


def _sentence_ends(words: list[Word], pause: float) -> tuple[list[bool], list[bool]]:
    """Per word: does a sentence end after it, and is that end a real one (not just the transcript's end)."""
    n = len(words)
    real = [
        ends_sentence(w.text) or (i + 1 < n and words[i + 1].start - w.end >= pause)
        for i, w in enumerate(words)
    ]
    ends = [r or i == n - 1 for i, r in enumerate(real)]
    return ends, real


def split_sentences(words: list[Word], pause: float) -> list[Sentence]:
    """Group timed words (see repair_word_timings) into sentences: punctuation or a gap >= pause ends one."""
    words = [w for w in words if isinstance(w.text, str) and w.text.strip()]
    ends, real = _sentence_ends(words, pause)
    return _units(words, ends, real)


def split_clauses(words: list[Word], pause: float) -> list[Sentence]:
    """Finer units: sentences split again at clause punctuation (, ; : —) and shorter pauses."""
    ends, real = _sentence_ends(words, pause)
    for i, w in enumerate(words[:-1]):
        t = w.text.strip().rstrip(CLOSERS)
        # A lone dash closes the clause before it, so no clip starts with a dash.
        short_pause = words[i + 1].start - w.end >= pause * CLAUSE_PAUSE_RATIO
        if t.endswith(_CLAUSE_END) or t in _DASH_TOKENS or short_pause:
            ends[i] = real[i] = True
    return _units(words, ends, real)


@dataclass
class Level:
    """Sentences or clauses, with each word's unit index."""

    units: list[Sentence]
    unit_of: list[int]
    clause: bool

    @classmethod
    def of(cls, units: list[Sentence], n: int, clause: bool) -> Level:
        unit_of = [0] * n
        for k, u in enumerate(units):
            unit_of[u.first:u.last + 1] = [k] * (u.last - u.first + 1)
        return cls(units, unit_of, clause)


@dataclass(kw_only=True)
class Doc:
    """The transcript as plan_clips sees it: repaired, clipped to the media, split."""

    words: list[Word]
    repaired: list[bool]  # per word: its timing came from its neighbours
    sent: Level
    clause: Level
    duration: float
    starts: list[float] = field(default_factory=list)  # word starts/ends, for bisect
    ends: list[float] = field(default_factory=list)

    def word_range(self, s: float, e: float, *, lo: int, hi: int) -> tuple[int, int]:
        """First word ending after s and last word starting before e, within words[lo..hi]."""
        return bisect_right(self.ends, s, lo, hi + 1), bisect_left(self.starts, e, lo, hi + 1) - 1


def prepare_doc(words: list[Word], duration: float, pause: float) -> Doc:
    fixed, repaired = repair_timings(words)
    # Speech past the media's end cannot be cut; a word straddling it ends with the media.
    keep = [k for k, w in enumerate(fixed) if w.start < duration]
    ws = [replace(fixed[k], end=min(fixed[k].end, duration)) for k in keep]
    levels = []
    for units, clause in ((split_sentences(ws, pause), False), (split_clauses(ws, pause), True)):
        # The transcript's last run is unfinished unless the media goes quiet after it.
        if units and duration - ws[-1].end >= pause:
            units[-1].complete = True
        levels.append(Level.of(units, len(ws), clause))
    return Doc(words=ws, repaired=[repaired[k] for k in keep], sent=levels[0], clause=levels[1], duration=duration,
               starts=[w.start for w in ws], ends=[w.end for w in ws])


# --- quote matching -------------------------------------------------------

QUOTE_WINDOW = 15.0  # seconds around span.start searched for the quote
QUOTE_MIN_RATIO = 0.6  # share of quote words that must appear, in order
QUOTE_MAX_TOKENS = 40  # a long quote is judged by its opening words


def _tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    toks = ("".join(c for c in tok if c.isalnum()) for tok in re.split(r"[\s\-—–/]+", text))
    return [t for t in toks if t]


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    # Spelling variants (colour/color, plurals) count; short words must match exactly.
    return min(len(a), len(b)) >= 4 and SequenceMatcher(None, a, b).ratio() >= 0.8


def _lcs(eq: list[list[bool]], lo: int, hi: int) -> int:
    """Longest in-order match of all quote tokens against window tokens lo:hi."""
    prev = [0] * (hi - lo + 1)
    for row in eq:
        cur = [0] * (hi - lo + 1)
        for k in range(lo, hi):
            c = k - lo + 1
            cur[c] = prev[c - 1] + 1 if row[k] else max(prev[c], cur[c - 1])
        prev = cur
    return prev[-1]


def quote_matches(quote: str, words: list[Word], at: float) -> bool:
    """True if most of quote's words appear, in order and close together, near time `at`.

    A quote with no words ("...", "-") matches nothing: a placeholder is not a quote.
    """
    q = _tokens(quote)[:QUOTE_MAX_TOKENS]
    if not q:
        return False
    near = [w for w in words if w.end >= at - QUOTE_WINDOW and w.start <= at + QUOTE_WINDOW]
    win = [t for w in near for t in _tokens(w.text)]
    need = math.ceil(QUOTE_MIN_RATIO * len(q))
    if len(win) < need:
        return False
    eq = [[_similar(a, b) for b in win] for a in q]
    # Matches must sit close together, not be scattered over 30 s of common words:
    # judge overlapping windows about twice the quote's length.
    size, step = 2 * len(q) + 2, max(1, len(q) // 2)
    return any(_lcs(eq, lo, min(lo + size, len(win))) >= need
               for lo in range(0, max(1, len(win) - size + step), step))


def quote_opens(quote: str, sentences: list[Sentence]) -> bool:
    """True if most of quote's words appear, in order, at the opening of `sentences` (words or text)."""
    q = _tokens(quote)[:QUOTE_MAX_TOKENS]
    if not q:
        return False
    text = " ".join(s.text for s in sentences)
    head = _tokens(text)[:2 * len(q) + 4]  # the opening words, with room for a skipped filler or two
    need = math.ceil(QUOTE_MIN_RATIO * len(q))
    return len(head) >= need and _lcs([[_similar(a, b) for b in head] for a in q], 0, len(head)) >= need
