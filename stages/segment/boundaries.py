"""Segment boundaries: turn proposed spans into cut points that never split a word or a sentence.

A segmenter (LLM or offline) only proposes a Span; this module decides the cut from the
transcript's word timestamps. plan_clips, per span:

1. repair word timings (untimed/zero-length/out-of-order words take their neighbours' time);
2. reject impossible spans (non-finite, end <= start, wholly outside the media, a quote that
   matches nothing nearby) as Dropped with code LLM_REPLY_INVALID; clamp the rest to the media;
3. snap to sentence boundaries: the nearest start/end pair that keeps min_len..max_len
   (measured on speech, word start to word end); else the longest whole-sentence run from
   the start that fits (end rolled back); else the same at clause level; else Dropped;
4. higher score first: drop near-duplicates, trim lesser overlaps to the free part;
5. cut in the silence around the words: padding never reaches into a neighbour word.

Flags on ClipPlan.flags (the full vocabulary, FLAGS below):
  crossed_sentence_start  the proposed start fell inside a sentence; it moved to a sentence start
  crossed_sentence_end    the proposed end fell inside a sentence; it moved to a sentence end
  end_rolled_back         the end of the sentence holding the proposed end was unusable (past
                          max_len, or an unfinished sentence) so the end moved to an earlier one
  clause_boundary         no sentence boundary fit; a cut sits at clause punctuation or a short pause
  extended                a whole sentence (or clause) outside the proposal was added to reach min_len
  clamped_to_media        the span reached outside the media and was clamped to it
  trimmed_overlap         the span overlapped a higher-scored clip and was cut back to the free part
  repaired_timing         a word in the clip had no usable timestamp and took its neighbours'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clipforge.config import DEFAULTS
from clipforge.errors import ErrorCode
from clipforge.records import ClipPlan, Span, Word
from clipforge.stages.segment.boundary_words import (
    Doc,
    Level,
    Sentence,
    is_finite,
    join_words,
    prepare_doc,
    quote_matches,
    repair_word_timings,
    split_sentences,
)

__all__ = [
    "BoundaryOptions", "Dropped", "Sentence", "FLAGS", "plan_clips", "repair_word_timings",
    "split_sentences", "validate_span",
]

FLAG_CROSSED_START = "crossed_sentence_start"
FLAG_CROSSED_END = "crossed_sentence_end"
FLAG_ROLLED_BACK = "end_rolled_back"
FLAG_CLAUSE = "clause_boundary"
FLAG_EXTENDED = "extended"
FLAG_CLAMPED = "clamped_to_media"
FLAG_TRIMMED = "trimmed_overlap"
FLAG_REPAIRED = "repaired_timing"
FLAGS = (FLAG_CROSSED_START, FLAG_CROSSED_END, FLAG_ROLLED_BACK, FLAG_CLAUSE, FLAG_EXTENDED,
         FLAG_CLAMPED, FLAG_TRIMMED, FLAG_REPAIRED)

INVALID = ErrorCode.LLM_REPLY_INVALID.name
# How far (seconds) from a proposed point other boundaries are considered when the
# nearest ones break min/max length; beyond it, the proposal is not what was asked for.
SNAP_REACH = 3.0


@dataclass
class Dropped:
    """A span that produced no clip."""

    span: Span
    reason: str
    code: str | None = None  # an ErrorCode name, e.g. "LLM_REPLY_INVALID"


@dataclass(kw_only=True)
class BoundaryOptions:
    min_len: float = DEFAULTS.min_len
    max_len: float = DEFAULTS.max_len
    padding: float = DEFAULTS.padding
    pause: float = 0.7  # a gap between words >= this counts as a sentence boundary
    merge_overlap: float = 0.5  # spans overlapping more than this fraction (of the shorter) are deduped


@dataclass(kw_only=True)
class _Cut:
    """A snapped span: word indices [first, last], before ids and padding."""

    index: int  # position in the input spans, for stable ordering
    span: Span
    first: int
    last: int
    i0: int  # the proposal's own first/last word, for flags
    j0: int
    flags: list[str] = field(default_factory=list)


def validate_span(span: Span, words: list[Word], media_duration: float) -> str | None:
    """Why span is impossible (bad times, outside the media, quote not in the transcript), or None."""
    return _impossible(span, repair_word_timings(words), media_duration)


def _impossible(span: Span, words: list[Word], duration: float) -> str | None:
    if not (is_finite(span.start) and is_finite(span.end)):
        return f"non-finite times: start={span.start!r} end={span.end!r}"
    if not is_finite(duration) or duration <= 0:
        return f"media duration is unknown ({duration!r})"
    if span.end <= span.start:
        return f"end {span.end:.3f} s <= start {span.start:.3f} s"
    if span.end <= 0 or span.start >= duration:
        return f"{span.start:.3f}-{span.end:.3f} s lies outside the media (0-{duration:.3f} s)"
    # With no words there is nothing to check a quote against; plan_clips drops it anyway.
    # An empty quote means "not given"; anything else must match (a "..." placeholder does not).
    if isinstance(span.quote, str) and span.quote.strip() and words and not quote_matches(
            span.quote, words, max(0.0, span.start)):
        return f"quote {span.quote[:60]!r} matches nothing in the transcript near {span.start:.1f} s"
    return None


def _choose(lv: Level, i: int, j: int, *, s: float, e: float, lo: int, hi: int,
            opts: BoundaryOptions) -> tuple[int, int] | None:
    """Word indices of the best unit run for proposal words i..j, or None if no run fits."""
    us = lv.units
    a, b = lv.unit_of[i], lv.unit_of[j]
    # Start: its unit's start, or past a partial unit; earlier whole units only to reach
    # min_len. The end mirrors it. Whole units are never cut away here: that is rollback.
    starts = {a, a + 1 if i != us[a].first else a}
    starts |= {k for k in range(a) if us[k].start >= s - SNAP_REACH}
    starts = sorted(k for k in starts if k < len(us) and us[k].first >= lo and us[k].last <= hi)
    ends = {b, b - 1 if j != us[b].last else b}
    ends |= {k for k in range(b + 1, len(us)) if us[k].end <= e + SNAP_REACH}
    ends = sorted(k for k in ends if k >= 0 and us[k].complete and lo <= us[k].first and us[k].last <= hi)

    def length(ua: int, ub: int) -> float:
        return us[ub].end - us[ua].start

    # Nearest fitting pair; on a tie, the wider one (whole sentences rather than fewer).
    # A proposal already past max_len skips this: it keeps its start and shrinks below.
    if e - s <= opts.max_len:
        pairs = sorted((abs(us[ua].start - s) + abs(us[ub].end - e), ua, -ub)
                       for ua in starts for ub in ends
                       if ua <= ub and opts.min_len <= length(ua, ub) <= opts.max_len)
        if pairs:
            return us[pairs[0][1]].first, us[-pairs[0][2]].last
    # Too long (or the end sentence unfinished): keep the start, roll the end back.
    for ua in sorted(starts, key=lambda k: (abs(us[k].start - s), k)):
        for ub in range(b, ua - 1, -1):
            if not (us[ub].complete and us[ub].last <= hi) or length(ua, ub) > opts.max_len:
                continue
            if length(ua, ub) >= opts.min_len:
                return us[ua].first, us[ub].last
            break  # earlier ends are only shorter
    return None


def _snap(doc: Doc, i: int, j: int, *, s: float, e: float, lo: int, hi: int,
          opts: BoundaryOptions) -> tuple[int, int, Level] | str:
    """Sentence boundaries first, clause boundaries if none fit; a reason if neither does."""
    for lv in (doc.sent, doc.clause):
        pick = _choose(lv, i, j, s=s, e=e, lo=lo, hi=hi, opts=opts)
        if pick:
            return pick[0], pick[1], lv
    us = doc.sent.units
    natural = us[doc.sent.unit_of[j]].end - us[doc.sent.unit_of[i]].start
    if natural < opts.min_len:
        return f"too short: {natural:.1f} s of whole sentences, min_len is {opts.min_len:g} s"
    return f"no sentence or clause boundary gives a clip of {opts.min_len:g}-{opts.max_len:g} s"


def _flags(doc: Doc, i: int, j: int, *, f: int, last: int, lv: Level,
           opts: BoundaryOptions) -> list[str]:
    """Flags for proposal words i..j cut as words f..last at level lv."""
    sent = doc.sent
    a, b = sent.units[sent.unit_of[i]], sent.units[sent.unit_of[j]]
    flags = []
    if i != a.first:
        flags.append(FLAG_CROSSED_START)
    if j != b.last:
        flags.append(FLAG_CROSSED_END)
    if last < b.last and (not b.complete or b.end - doc.words[f].start > opts.max_len):
        flags.append(FLAG_ROLLED_BACK)
    on_sentences = sent.units[sent.unit_of[f]].first == f and sent.units[sent.unit_of[last]].last == last
    if lv.clause and not on_sentences:
        flags.append(FLAG_CLAUSE)
    if f < lv.units[lv.unit_of[i]].first or last > lv.units[lv.unit_of[j]].last:
        flags.append(FLAG_EXTENDED)
    if any(doc.repaired[f:last + 1]):
        flags.append(FLAG_REPAIRED)
    return flags


def _score(span: Span) -> float:
    return span.score if is_finite(span.score) else 0


def _overlap(doc: Doc, x: _Cut, y: _Cut) -> float:
    """Overlap of two cuts' speech as a fraction of the shorter one."""
    w = doc.words
    inter = min(w[x.last].end, w[y.last].end) - max(w[x.first].start, w[y.first].start)
    shorter = min(w[x.last].end - w[x.first].start, w[y.last].end - w[y.first].start)
    return max(0.0, inter) / shorter


def _trim(doc: Doc, c: _Cut, kept: list[_Cut], *, opts: BoundaryOptions) -> _Cut | str:
    """Re-snap c inside the largest part of it that no kept clip covers."""
    w, taken = doc.words, sorted((k.first, k.last) for k in kept)
    pieces: list[tuple[int, int]] = []
    at = c.first
    for kf, kl in taken:
        if kf > at and at <= c.last:
            pieces.append((at, min(kf - 1, c.last)))
        at = max(at, kl + 1)
    if at <= c.last:
        pieces.append((at, c.last))
    if not pieces:
        return "nothing left once trimmed"
    plo, phi = max(pieces, key=lambda p: (w[p[1]].end - w[p[0]].start, -p[0]))
    lo = max([kl + 1 for kf, kl in taken if kl < plo], default=0)
    hi = min([kf - 1 for kf, kl in taken if kf > phi], default=len(w) - 1)
    got = _snap(doc, plo, phi, s=w[plo].start, e=w[phi].end, lo=lo, hi=hi, opts=opts)
    if isinstance(got, str):
        return got
    f, last, lv = got
    flags = [x for x in c.flags if x == FLAG_CLAMPED] + _flags(doc, c.i0, c.j0, f=f, last=last, lv=lv, opts=opts)
    return _Cut(index=c.index, span=c.span, first=f, last=last, i0=c.i0, j0=c.j0, flags=[*flags, FLAG_TRIMMED])


def _resolve(doc: Doc, cuts: list[_Cut],
             opts: BoundaryOptions) -> tuple[list[_Cut], list[tuple[int, Dropped]]]:
    """Higher score first: keep, drop as a near-duplicate, or trim to the free part."""
    kept: list[_Cut] = []
    dropped: list[tuple[int, Dropped]] = []
    for c in sorted(cuts, key=lambda c: (-_score(c.span), c.first, c.index)):
        hits = [k for k in kept if k.first <= c.last and c.first <= k.last]
        dup = next((k for k in hits if _overlap(doc, c, k) > opts.merge_overlap), None)
        if dup:
            why = f"near-duplicate of higher-scored span {dup.span.title!r} (score {dup.span.score})"
            dropped.append((c.index, Dropped(c.span, why)))
            continue
        got = _trim(doc, c, kept, opts=opts) if hits else c
        if isinstance(got, str):
            dropped.append((c.index, Dropped(c.span, f"overlaps a higher-scored clip; {got}")))
        else:
            kept.append(got)
    return sorted(kept, key=lambda k: k.first), dropped


def _cut_points(doc: Doc, c: _Cut, padding: float) -> tuple[float, float]:
    """Padding reaches into silence only: never past the neighbour word or the media."""
    w = doc.words
    start = max(w[c.first].start - padding, w[c.first - 1].end if c.first > 0 else 0.0)
    end = min(w[c.last].end + padding, w[c.last + 1].start if c.last + 1 < len(w) else doc.duration)
    return start, end


def plan_clips(words: list[Word], spans: list[Span], media_duration: float, *,
               opts: BoundaryOptions | None = None) -> tuple[list[ClipPlan], list[Dropped]]:
    """Decide clip cut points for proposed spans; every span ends up a clip or Dropped."""
    opts = opts or BoundaryOptions()
    if not is_finite(media_duration) or media_duration <= 0:
        return [], [Dropped(sp, f"media duration is unknown ({media_duration!r})") for sp in spans]
    doc = prepare_doc(words, media_duration, opts.pause)
    cuts: list[_Cut] = []
    dropped: list[tuple[int, Dropped]] = []
    last = len(doc.words) - 1
    for idx, span in enumerate(spans):
        why = _impossible(span, doc.words, media_duration)
        if why:
            dropped.append((idx, Dropped(span, why, INVALID)))
            continue
        if not doc.words:
            dropped.append((idx, Dropped(span, "the transcript has no words")))
            continue
        s, e = max(0.0, span.start), min(media_duration, span.end)
        i, j = doc.word_range(s, e, lo=0, hi=last)
        got = _snap(doc, i, j, s=s, e=e, lo=0, hi=last, opts=opts) if i <= j else "no speech inside the span"
        if isinstance(got, str):
            dropped.append((idx, Dropped(span, got)))
            continue
        f, lw, lv = got
        clamped = [FLAG_CLAMPED] if (s, e) != (span.start, span.end) else []
        cuts.append(_Cut(index=idx, span=span, first=f, last=lw, i0=i, j0=j,
                         flags=clamped + _flags(doc, i, j, f=f, last=lw, lv=lv, opts=opts)))
    kept, lost = _resolve(doc, cuts, opts)
    dropped += lost
    padding = max(0.0, opts.padding) if is_finite(opts.padding) else 0.0
    bounds = [list(_cut_points(doc, c, padding)) for c in kept]
    for prev, nxt in zip(bounds, bounds[1:]):
        if prev[1] > nxt[0]:  # both cuts sit in the same short gap: meet in its middle
            prev[1] = nxt[0] = (prev[1] + nxt[0]) / 2
    plans = [
        ClipPlan(id=f"seg{n:03d}", start=b[0], end=b[1], title=c.span.title, reason=c.span.reason,
                 score=c.span.score, text=join_words(doc.words[c.first:c.last + 1]),
                 first_word=doc.words[c.first].text.strip(), last_word=doc.words[c.last].text.strip(),
                 flags=c.flags)
        for n, (c, b) in enumerate(zip(kept, bounds), start=1)
    ]
    return plans, [d for _, d in sorted(dropped, key=lambda x: x[0])]
