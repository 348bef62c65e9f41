"""Offline segmenter: proposes and ranks clips from the transcript alone (no LLM).

Words -> sentences (punctuation or pause) -> dull sentences marked (features.dull_kind) ->
topics (long pauses, cue sentences after a pause, the edges of dull passages, then
TextTiling-style lexical cohesion) -> candidate runs of whole sentences inside one topic
holding no dull sentence -> scored (clean edges, length, specific words, hook) -> picked
greedily without overlap. The same ranking gives the LLM segmenter its shortlist
(`shortlist`): the program finds the moments, a model only names and labels them.
Deterministic; roughly O(sentences * sentences_per_clip) after tokenising.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import Counter
from dataclasses import dataclass, replace

from clipforge.config import DEFAULTS
from clipforge.errors import OptionError
from clipforge.records import Span, Transcript, Word
from clipforge.stages.segment import features as ft
from clipforge.stages.segment.boundary_words import CLOSERS, ends_sentence

STOPWORDS = ft.STOPWORDS

# Openings by which speakers announce a new topic ("Now, why...", "Next, how...", "To sum up").
# With a pause before it, a sentence that opens like this (or asks a question) starts a topic:
# on short talks lexical cohesion has too few words to place the shift on the right sentence.
TOPIC_CUES = frozenset(["now", "next", "first", "firstly", "second", "secondly", "third", "thirdly", "fourth",
                        "fifth", "finally", "lastly", "another", "let's", "okay", "ok", "alright", "moving on",
                        "to sum up", "to summarize", "in summary", "in conclusion", "to conclude", "in short",
                        "to start", "to begin", "our next topic", "the next topic", "next topic", "our next",
                        "next up", "number one", "number two", "number three", "turning to", "on to",
                        "my first", "my second", "my third", "my last", "part one", "part two", "part three",
                        "speaking of"])
# A recap ("To sum up, ...") points back at the whole talk: it opens a topic, but a clip of it
# does not stand alone, so it is proposed only when nothing else fits.
RECAP_CUES = frozenset(["to sum up", "to summarize", "in summary", "in conclusion", "to conclude",
                        "to recap", "in short"])
_PUNCT = "\"'`.,;:!?()[]{}<>«»“”‘’…-—–/\\*_~"

# Score weights (sum 100). Clean edges matter most: a clip that starts or
# stops mid-thought is what a viewer notices first. bench/segment.py measures each one's effect.
WEIGHTS = {"edges": 35.0, "length": 20.0, "specific": 25.0, "hook": 20.0}
FEATURES = (*WEIGHTS, "dull")  # "dull": runs holding a dull sentence are left out while others fit
LONG_PAUSE_FACTOR = 3.0   # a gap of 3x `pause` is a topic boundary on its own
SWEET_SPOT = 0.6          # ideal clip length as a fraction of max_len
MIN_DEPTH = 0.1           # below this a cohesion dip is noise, even in uniform text


@dataclass(kw_only=True)
class OfflineOptions:
    clips: int = DEFAULTS.clips
    min_len: float = DEFAULTS.min_len
    max_len: float = DEFAULTS.max_len
    pause: float = 0.7
    off: tuple[str, ...] = ()  # FEATURES switched off (bench/segment.py measures each one's effect)


@dataclass(frozen=True, kw_only=True)
class _Sentence:
    first: int            # index of first word
    last: int             # index of last word (inclusive)
    start: float
    end: float
    n_tokens: int
    content: tuple[str, ...]
    question: bool
    opener: str           # first token, for hook detection
    lead: tuple[str, ...]  # first three tokens, for topic cues and dangling openers
    tokens: tuple[str, ...]
    dull: str             # features.DULL_PHRASES kind, "" for content
    closes: bool          # ends a thought (features.closes)


@dataclass(frozen=True)
class _Candidate:
    score: float
    i: int                # first sentence
    j: int                # last sentence (inclusive)


def _norm(text: str) -> str:
    return text.strip().lower().strip(_PUNCT).replace("’", "'")


def _is_content(tok: str) -> bool:
    return tok not in STOPWORDS and (len(tok) >= 3 or tok.isdigit())


def _stem(tok: str) -> str:
    # Crude plural folding so "planet"/"planets" count as overlap in cohesion.
    return tok[:-1] if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss") else tok


def _split_long(words: list[Word], lo: int, hi: int, *, limit: float) -> list[tuple[int, int]]:
    """Cut an over-long run at its largest gap in the middle half (balanced, so O(n log n))."""
    t0, t1 = words[lo].start, words[hi].end
    if hi == lo or t1 - t0 <= limit:
        return [(lo, hi)]
    a, b = t0 + 0.25 * (t1 - t0), t0 + 0.75 * (t1 - t0)
    cuts = [k for k in range(lo + 1, hi + 1) if a <= words[k].start <= b]
    k = max(cuts, key=lambda k: (words[k].start - words[k - 1].end, -k)) if cuts else (lo + hi + 1) // 2
    return _split_long(words, lo, k - 1, limit=limit) + _split_long(words, k, hi, limit=limit)


def split_sentences(words: list[Word], pause: float, limit: float) -> list[tuple[int, int]]:
    """(first, last) word indices; a sentence ends at end punctuation or a pause >= `pause`."""
    runs, lo = [], 0
    for k, w in enumerate(words):
        last = k == len(words) - 1
        if last or ends_sentence(w.text) or words[k + 1].start - w.end >= pause:
            runs.extend(_split_long(words, lo, k, limit=limit))
            lo = k + 1
    return runs


def _make_sentence(words: list[Word], first: int, last: int) -> _Sentence:
    toks = [t for t in (_norm(w.text) for w in words[first:last + 1]) if t]
    text = " ".join(w.text.strip() for w in words[first:last + 1])
    return _Sentence(first=first, last=last, start=words[first].start, end=words[last].end, n_tokens=len(toks),
                     content=tuple(t for t in toks if _is_content(t)),
                     question=words[last].text.strip().rstrip(CLOSERS).endswith(("?", "？")),
                     opener=toks[0] if toks else "", lead=tuple(toks[:3]), tokens=tuple(toks),
                     dull=ft.dull_kind(text), closes=ft.closes(text))


def _smooth_dull(sents: list[_Sentence], pause: float) -> list[_Sentence]:
    """A sentence between two dull ones with no pause around it belongs to the same passage
    ("Testing, one, two." between "Can you hear me?" and "Okay, the mic works.")."""
    out = list(sents)
    for g in range(1, len(sents) - 1):
        if (not sents[g].dull and sents[g - 1].dull and sents[g + 1].dull
                and sents[g].start - sents[g - 1].end < pause and sents[g + 1].start - sents[g].end < pause):
            out[g] = replace(sents[g], dull=sents[g - 1].dull)
    return out


def _cosine(a: Counter, b: Counter) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    return dot / math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))


def cohesion(sents: list[_Sentence], k: int) -> list[float]:
    """Similarity across each gap g (between sentence g-1 and g); index 0 unused."""
    bags = [Counter(_stem(t) for t in s.content) for s in sents]
    out = [0.0]
    for g in range(1, len(sents)):
        left, right = Counter(), Counter()
        for bag in bags[max(0, g - k):g]:
            left.update(bag)
        for bag in bags[g:g + k]:
            right.update(bag)
        out.append(_cosine(left, right))
    # Hearst smooths the curve so single odd sentences don't read as topic shifts.
    return [0.0] + [sum(out[max(1, g - 1):g + 2]) / len(out[max(1, g - 1):g + 2]) for g in range(1, len(out))]


def depth_scores(c: list[float]) -> list[float]:
    """TextTiling depth: climb to the nearest peak on each side; O(n) via running peaks."""
    n = len(c)
    lp, rp = c[:], c[:]
    for g in range(1, n):
        if c[g - 1] >= c[g]:
            lp[g] = lp[g - 1]
    for g in range(n - 2, -1, -1):
        if c[g + 1] >= c[g]:
            rp[g] = rp[g + 1]
    return [lp[g] + rp[g] - 2 * c[g] for g in range(n)]


def _cue(s: _Sentence, cues: frozenset[str]) -> bool:
    return any(" ".join(s.lead[:n]) in cues for n in (1, 2, 3))


def opens_topic(s: _Sentence) -> bool:
    """A question, or a sentence that opens with a topic cue ("Next, ...", "To sum up, ...")."""
    return s.question or _cue(s, TOPIC_CUES)


def _add_spaced(starts: set[int], taken: list[float], *, gaps, sents: list[_Sentence], min_len: float) -> None:
    """Accept gaps in the given order, skipping any within min_len of an accepted boundary."""
    for g in gaps:
        t = sents[g].start
        p = bisect_left(taken, t)
        near = [taken[q] for q in (p - 1, p) if 0 <= q < len(taken)]
        if all(abs(t - x) >= min_len for x in near):
            starts.add(g)
            insort(taken, t)


def topic_starts(sents: list[_Sentence], opts: OfflineOptions) -> set[int]:
    """Indices of sentences that open a topic: long pauses, cue sentences after a pause, then cohesion dips.

    Cues come before cohesion: where the speaker announces a topic after a pause, that is the
    shift; cohesion dips (blurred over blocks of sentences) land a sentence or two late.
    """
    long_pause = LONG_PAUSE_FACTOR * opts.pause
    starts = {0} | {g for g in range(1, len(sents)) if sents[g].start - sents[g - 1].end >= long_pause}
    if "dull" not in opts.off:  # a dull passage ends the topic before it; content after it starts one
        starts |= {g for g in range(1, len(sents)) if bool(sents[g].dull) != bool(sents[g - 1].dull)}
    taken = sorted([sents[g].start for g in starts] + [sents[-1].end])
    cued = [g for g in range(1, len(sents)) if g not in starts
            and sents[g].start - sents[g - 1].end >= opts.pause and opens_topic(sents[g])]
    _add_spaced(starts, taken, gaps=sorted(cued, key=lambda g: (-(sents[g].start - sents[g - 1].end), g)),
                sents=sents, min_len=opts.min_len)
    if len(sents) < 4:
        return starts
    durs = sorted(s.end - s.start for s in sents)
    k = max(2, min(8, round(opts.min_len / max(durs[len(durs) // 2], 0.1))))  # a block ~ min_len
    c = cohesion(sents, k)
    d = depth_scores(c)
    gaps = range(1, len(sents))
    mean = sum(d[g] for g in gaps) / len(gaps)
    sd = math.sqrt(sum((d[g] - mean) ** 2 for g in gaps) / len(gaps))
    cutoff = max(mean - sd / 2, MIN_DEPTH)
    # Deepest dips first; drop any within min_len of an accepted boundary so
    # noise can't chop a topic into pieces too short to hold a clip.
    dips = {_snap_to_pause(g, sents, opts.pause): d[g] for g in gaps
            if d[g] > cutoff and c[g] <= c[g - 1] and (g + 1 >= len(c) or c[g] <= c[g + 1])}
    _add_spaced(starts, taken, gaps=sorted(dips, key=lambda g: (-dips[g], g)), sents=sents, min_len=opts.min_len)
    return starts


def _snap_to_pause(g: int, sents: list[_Sentence], pause: float) -> int:
    """A cohesion dip is blurred over blocks of sentences, so it can land a sentence early or late;
    where a clearly longer pause sits one sentence away, the shift is there: otherwise a clip would
    open with the last sentence of the topic before."""
    def gap(h: int) -> float:
        return sents[h].start - sents[h - 1].end if 1 <= h < len(sents) else -1.0
    best = max((g - 1, g, g + 1), key=gap)
    return best if gap(best) >= pause and gap(best) > 1.3 * gap(g) else g


def _edge(gap: float, boundary: bool, pause: float) -> float:
    if boundary:
        return 1.0
    return 0.6 if gap >= pause else 0.3 * max(gap, 0.0) / pause


def _length(d: float, opts: OfflineOptions) -> float:
    if math.isinf(opts.max_len):
        return 1.0  # max_len=inf: no length is preferred over another
    sweet = min(max(SWEET_SPOT * opts.max_len, opts.min_len), opts.max_len)
    room = (sweet - opts.min_len) if d < sweet else (opts.max_len - sweet)
    return 1.0 if room <= 0 else max(0.0, 1.0 - abs(d - sweet) / room)


def _opening(s: _Sentence, boundary: bool) -> float:
    """1 for a clean opening; less for one that leans on the sentence before ("So...", "It...")."""
    if ft.dangling(s.lead):
        return 0.2
    if ft.refers_back(s.tokens):
        return 0.8 if boundary else 0.4
    return 1.0


def _closing(s: _Sentence, after: _Sentence | None, boundary: bool) -> float:
    """1 when the clip ends a thought: a full stop, and the next sentence does not carry it on."""
    score = 1.0 if s.closes else 0.4
    if after is not None and not boundary and ft.dangling(after.lead):
        score *= 0.4  # "... That's why ..." follows: the thought goes on past the cut
    return score


def candidates(sents: list[_Sentence], starts: set[int], opts: OfflineOptions, *,
               recaps: bool = False, dull_ok: bool = False) -> list[_Candidate]:
    """Every run of whole sentences inside one topic whose length fits, with its score.

    Runs that start a recap topic are left out unless `recaps`; runs holding a dull sentence
    unless `dull_ok`.
    """
    n, out = len(sents), []
    gap = [math.inf] + [sents[g].start - sents[g - 1].end for g in range(1, n)] + [math.inf]
    recap, in_recap = [False] * n, False
    for i in range(n):
        in_recap = _cue(sents[i], RECAP_CUES) if i in starts else in_recap
        recap[i] = in_recap
    w = {k: 0.0 if k in opts.off else v for k, v in WEIGHTS.items()}
    no_dull = "dull" not in opts.off and not dull_ok
    for i in range(n):
        if (recap[i] and not recaps) or (sents[i].dull and no_dull):
            continue
        # A dangling opening costs up to a whole edge's worth: the viewer lacks what it refers to.
        head = (w["edges"] / 2 * (_edge(gap[i], i in starts, opts.pause) + _opening(sents[i], i in starts) - 1)
                + w["hook"] * ft.hook(question=sents[i].question, tokens=sents[i].tokens))
        counts: Counter[str] = Counter()
        toks = keys = 0
        for j in range(i, n):
            if j > i and j in starts:
                break  # never straddle a topic boundary
            dur = sents[j].end - sents[i].start
            if dur > opts.max_len or (sents[j].dull and no_dull):
                break
            toks += sents[j].n_tokens
            for t in sents[j].content:
                counts[t] += 1
                keys += counts[t] == 2  # a term said twice is a key term of this span
            if dur < opts.min_len:
                continue
            ratio = sum(counts.values()) / max(toks, 1)
            density = (0.4 * min(1.0, max(0.0, (ratio - 0.3) / 0.35))
                       + 0.3 * min(1.0, len(counts) / dur) + 0.3 * min(1.0, keys / 3))
            end_topic = j + 1 == n or j + 1 in starts
            tail = (w["edges"] / 2 * _edge(gap[j + 1], end_topic, opts.pause)
                    * _closing(sents[j], None if j + 1 == n else sents[j + 1], end_topic))
            out.append(_Candidate(head + tail + w["length"] * _length(dur, opts) + w["specific"] * density, i, j))
    return out


def select(cands: list[_Candidate], sents: list[_Sentence], clips: int) -> list[_Candidate]:
    """Greedy by score (ties: earlier, then shorter), skipping overlaps."""
    chosen: list[_Candidate] = []
    for c in sorted(cands, key=lambda c: (-c.score, sents[c.i].start, sents[c.j].end)):
        if len(chosen) >= clips:
            break
        if all(c.j < o.i or c.i > o.j for o in chosen):
            chosen.append(c)
    return sorted(chosen, key=lambda c: c.i)


def _title(terms: Counter[str], df: Counter[str], n_sents: int, *, opening: frozenset[str] = frozenset(),
           text: str = "") -> str:
    """2-5 content words, ranked by tf-idf (sentences as documents), Title Cased.

    Words of the opening sentence weigh more: a speaker names the subject first ("Our next
    topic is the history of the pencil")."""
    # idf keeps words the whole talk repeats from naming every clip; past the
    # first two, only terms the span repeats are kept, so one-offs don't pad it.
    ranked = sorted(terms, key=lambda t: (-terms[t] * math.log(1 + n_sents / df[t]) * (1.5 if t in opening else 1), t))
    top = [t for q, t in enumerate(ranked[:5]) if q < 2 or terms[t] >= 2]
    # Never the clip's own opening words ("Glaciers Carve" for "Glaciers carve valleys..."): the next
    # pair of key terms that is not a run of the opening instead.
    tries = [top, *([a, b] for a in ranked[:5] for b in ranked[:5] if a != b)]
    best = next((t for t in tries if not ft.title_problem(" ".join(t), text)), top)
    return " ".join(t[:1].upper() + t[1:] for t in best)  # str.title() would give "Here'S"


def _reason(c: _Candidate, sents: list[_Sentence], *, starts: set[int], keys: int, pause: float) -> str:
    n = len(sents)
    at_start = c.i in starts
    at_end = c.j + 1 == n or c.j + 1 in starts
    pause_start = c.i == 0 or sents[c.i].start - sents[c.i - 1].end >= pause
    pause_end = c.j + 1 == n or sents[c.j + 1].start - sents[c.j].end >= pause
    kind = ("self-contained topic block" if at_start and at_end else "opens a topic" if at_start
            else "closes a topic" if at_end else "mid-topic run")
    edges = ("pauses at both ends" if pause_start and pause_end
             else "pause at start only" if pause_start
             else "pause at end only" if pause_end else "no pause at either end")
    parts = [f"{c.j - c.i + 1} sentences", edges, f"{keys} key terms"]
    if sents[c.i].question:
        parts.append("opens with a question")
    elif ft.has_number(sents[c.i].tokens):
        parts.append("opens with a number")
    elif sents[c.i].opener in ft.HOOK_OPENERS:
        parts.append(f'opens with a hook ("{sents[c.i].opener}")')
    if dull := sorted({s.dull for s in sents[c.i:c.j + 1] if s.dull}):
        parts.append(f"holds a dull passage ({', '.join(dull)}): nothing else fit")
    return f"{kind}: {', '.join(parts)}"


def _to_span(c: _Candidate, sents: list[_Sentence], words: list[Word], *, starts: set[int],
             df: Counter[str], pause: float) -> Span:
    terms = Counter(t for s in sents[c.i:c.j + 1] for t in s.content)
    keys = sum(v >= 2 for v in terms.values())
    first, last = sents[c.i].first, sents[c.j].last
    quote = " ".join(w.text.strip() for w in words[first:min(first + 6, last + 1)])
    text = " ".join(w.text.strip() for w in words[first:last + 1])
    title = _title(terms, df, len(sents), opening=frozenset(sents[c.i].content), text=text)
    return Span(start=words[first].start, end=words[last].end, title=title,
                reason=_reason(c, sents, starts=starts, keys=keys, pause=pause),
                score=max(0, min(100, round(c.score))), quote=quote)


@dataclass(frozen=True, kw_only=True)
class Shortlisted:
    """One candidate the program proposes: its offline span (title, reason, score) and its words."""

    id: str     # "c1", "c2", ... in time order: what a model may name, and nothing else
    span: Span
    text: str
    dull: str   # the dull kinds it holds ("" when none: the normal case)


def shortlist(transcript: Transcript, opts: OfflineOptions, size: int) -> list[Shortlisted]:
    """Up to `size` non-overlapping candidates, best first by the offline score.

    Candidates always start at a sentence's first word and end at a sentence's last word, lie
    inside one topic and last between min_len and max_len. Fallbacks, in order, only while
    nothing fits: recap topics, then runs across topic boundaries, then runs holding a dull
    passage (flagged in `dull` and its reason, so the caller can warn). [] when the speech is
    shorter than min_len.
    """
    if opts.min_len <= 0 or opts.max_len < opts.min_len or opts.pause <= 0 or opts.clips < 0:
        raise OptionError(f"offline segmenter: bad options {opts}")
    words = sorted((w for w in transcript.words() if w.text.strip()), key=lambda w: w.start)
    if size <= 0 or not words or words[-1].end - words[0].start < opts.min_len:
        return []
    # Sentences longer than half a clip are run-ons (unpunctuated ASR); cut them
    # so a clip can still be built from several of them.
    sents = [_make_sentence(words, a, b) for a, b in split_sentences(words, opts.pause, opts.max_len / 2)]
    sents = _smooth_dull(sents, opts.pause)
    starts = topic_starts(sents, opts)
    cands = (candidates(sents, starts, opts) or candidates(sents, starts, opts, recaps=True)
             or candidates(sents, {0}, opts, recaps=True) or candidates(sents, {0}, opts, recaps=True, dull_ok=True))
    df = Counter(t for s in sents for t in set(s.content))
    chosen = sorted(select(cands, sents, size), key=lambda c: (-c.score, c.i))
    ids = {c.i: f"c{k}" for k, c in enumerate(sorted(chosen, key=lambda c: c.i), 1)}
    return [Shortlisted(id=ids[c.i], span=_to_span(c, sents, words, starts=starts, df=df, pause=opts.pause),
                        text=" ".join(w.text.strip() for w in words[sents[c.i].first:sents[c.j].last + 1]),
                        dull=", ".join(sorted({s.dull for s in sents[c.i:c.j + 1] if s.dull})))
            for c in chosen]


def propose_spans(transcript: Transcript, opts: OfflineOptions) -> list[Span]:
    """Up to `opts.clips` non-overlapping spans (see `shortlist`), sorted by start.

    A transcript of min_len..max_len seconds yields one span over all of it.
    """
    picked = shortlist(transcript, opts, opts.clips)
    for c in picked:
        if c.dull:
            print(f"  segment: WARNING: clip {c.span.start:.1f}-{c.span.end:.1f}s holds a dull passage "
                  f"({c.dull}): nothing else fits min_len/max_len")
    return sorted((c.span for c in picked), key=lambda s: s.start)
