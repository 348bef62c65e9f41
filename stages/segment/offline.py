"""Offline segmenter: proposes clips from the transcript alone (no LLM).

Words -> sentences (punctuation or pause) -> topics (TextTiling-style lexical
cohesion between adjacent sentence blocks, plus long pauses) -> candidate runs
of whole sentences inside one topic -> scored, picked greedily without overlap.
Deterministic; roughly O(sentences * sentences_per_clip) after tokenising.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import Counter
from dataclasses import dataclass

from clipforge.config import DEFAULTS
from clipforge.errors import OptionError
from clipforge.records import Span, Transcript, Word
from clipforge.stages.segment.boundary_words import CLOSERS, ends_sentence

STOPWORDS = frozenset("""
a about above across after again against all almost also always am an and another any are aren't around
as at away back be because been before being below between both but by can can't cannot could couldn't
did didn't do does doesn't doing don't down during each even ever every few for from further get gets
getting go goes going gonna got had hadn't has hasn't have haven't having he he'd he'll he's her here
here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
just kind know let let's like lot lots made make makes many may maybe me mean might more most much must
mustn't my myself need next no nor not now of off oh ok okay often on once one only or other ought our
ours ourselves out over own pretty quite really right said same say says see shan't she she'd she'll
she's should shouldn't so some something still such sure take than that that's the their theirs them
themselves then there there's these they they'd they'll they're they've thing things think this those
though through to too uh um under until up upon us very want was wasn't way we we'd we'll we're we've
well were weren't what what's when when's where where's which while who who's whom why why's will with
won't would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself yourselves
""".split())

# First words that tend to open a hook ("Why does...", "Imagine...", "Here's the secret...").
HOOK_OPENERS = frozenset("why how what imagine here's picture nobody everyone never stop listen "
                         "secret truth surprisingly actually".split())
# Openings by which speakers announce a new topic ("Now, why...", "Next, how...", "To sum up").
# With a pause before it, a sentence that opens like this (or asks a question) starts a topic:
# on short talks lexical cohesion has too few words to place the shift on the right sentence.
TOPIC_CUES = frozenset(["now", "next", "first", "firstly", "second", "secondly", "third", "finally", "lastly",
                        "another", "let's", "okay", "ok", "alright", "moving on", "to sum up", "to summarize",
                        "in summary", "in conclusion", "to conclude", "in short", "to start", "to begin"])
# A recap ("To sum up, ...") points back at the whole talk: it opens a topic, but a clip of it
# does not stand alone, so it is proposed only when nothing else fits.
RECAP_CUES = frozenset(["to sum up", "to summarize", "in summary", "in conclusion", "to conclude",
                        "to recap", "in short"])
_PUNCT = "\"'`.,;:!?()[]{}<>«»“”‘’…-—–/\\*_~"

# Score weights (sum 100). Clean edges matter most: a clip that starts or
# stops mid-thought is what a viewer notices first.
W_EDGES, W_LENGTH, W_DENSITY, W_HOOK = 35.0, 25.0, 25.0, 15.0
LONG_PAUSE_FACTOR = 3.0   # a gap of 3x `pause` is a topic boundary on its own
SWEET_SPOT = 0.6          # ideal clip length as a fraction of max_len
MIN_DEPTH = 0.1           # below this a cohesion dip is noise, even in uniform text


@dataclass(kw_only=True)
class OfflineOptions:
    clips: int = DEFAULTS.clips
    min_len: float = DEFAULTS.min_len
    max_len: float = DEFAULTS.max_len
    pause: float = 0.7


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
    lead: tuple[str, ...]  # first three tokens, for topic cues


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
    return _Sentence(first=first, last=last, start=words[first].start, end=words[last].end, n_tokens=len(toks),
                     content=tuple(t for t in toks if _is_content(t)),
                     question=words[last].text.strip().rstrip(CLOSERS).endswith(("?", "？")),
                     opener=toks[0] if toks else "", lead=tuple(toks[:3]))


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
    _add_spaced(starts, taken, gaps=sorted((g for g in gaps if d[g] > cutoff and c[g] <= c[g - 1]
                                       and (g + 1 >= len(c) or c[g] <= c[g + 1])), key=lambda g: (-d[g], g)),
                sents=sents, min_len=opts.min_len)
    return starts


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


def _hook(s: _Sentence) -> float:
    return 1.0 if s.question else 0.6 if s.opener in HOOK_OPENERS else 0.0


def candidates(sents: list[_Sentence], starts: set[int], opts: OfflineOptions, *,
               recaps: bool = False) -> list[_Candidate]:
    """Every run of whole sentences inside one topic whose length fits, with its score.

    Runs that start a recap topic are left out unless `recaps`.
    """
    n, out = len(sents), []
    gap = [math.inf] + [sents[g].start - sents[g - 1].end for g in range(1, n)] + [math.inf]
    recap, in_recap = [False] * n, False
    for i in range(n):
        in_recap = _cue(sents[i], RECAP_CUES) if i in starts else in_recap
        recap[i] = in_recap
    for i in range(n):
        if recap[i] and not recaps:
            continue
        head = W_EDGES / 2 * _edge(gap[i], i in starts, opts.pause) + W_HOOK * _hook(sents[i])
        counts: Counter[str] = Counter()
        toks = keys = 0
        for j in range(i, n):
            if j > i and j in starts:
                break  # never straddle a topic boundary
            dur = sents[j].end - sents[i].start
            if dur > opts.max_len:
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
            tail = W_EDGES / 2 * _edge(gap[j + 1], j + 1 == n or j + 1 in starts, opts.pause)
            out.append(_Candidate(head + tail + W_LENGTH * _length(dur, opts) + W_DENSITY * density, i, j))
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


def _title(terms: Counter[str], df: Counter[str], n_sents: int) -> str:
    """2-5 content words, ranked by tf-idf (sentences as documents), Title Cased."""
    # idf keeps words the whole talk repeats from naming every clip; past the
    # first two, only terms the span repeats are kept, so one-offs don't pad it.
    ranked = sorted(terms, key=lambda t: (-terms[t] * math.log(1 + n_sents / df[t]), t))
    top = [t for q, t in enumerate(ranked[:5]) if q < 2 or terms[t] >= 2]
    return " ".join(t[:1].upper() + t[1:] for t in top)  # str.title() would give "Here'S"


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
    elif sents[c.i].opener in HOOK_OPENERS:
        parts.append(f'opens with a hook ("{sents[c.i].opener}")')
    return f"{kind}: {', '.join(parts)}"


def _to_span(c: _Candidate, sents: list[_Sentence], words: list[Word], *, starts: set[int],
             df: Counter[str], pause: float) -> Span:
    terms = Counter(t for s in sents[c.i:c.j + 1] for t in s.content)
    keys = sum(v >= 2 for v in terms.values())
    first, last = sents[c.i].first, sents[c.j].last
    quote = " ".join(w.text.strip() for w in words[first:min(first + 6, last + 1)])
    return Span(start=words[first].start, end=words[last].end, title=_title(terms, df, len(sents)),
                reason=_reason(c, sents, starts=starts, keys=keys, pause=pause),
                score=max(0, min(100, round(c.score))), quote=quote)


def propose_spans(transcript: Transcript, opts: OfflineOptions) -> list[Span]:
    """Up to `opts.clips` non-overlapping spans, sorted by start.

    Spans always start at a sentence's first word and end at a sentence's last
    word, and always last between min_len and max_len. If no run fits inside
    one topic, topic boundaries are ignored and runs anywhere are tried; if
    still none fits (e.g. the speech is shorter than min_len) the result is [].
    A transcript of min_len..max_len seconds thus yields one span over all of it.
    """
    if opts.min_len <= 0 or opts.max_len < opts.min_len or opts.pause <= 0 or opts.clips < 0:
        raise OptionError(f"offline segmenter: bad options {opts}")
    words = sorted((w for w in transcript.words() if w.text.strip()), key=lambda w: w.start)
    if opts.clips == 0 or not words or words[-1].end - words[0].start < opts.min_len:
        return []
    # Sentences longer than half a clip are run-ons (unpunctuated ASR); cut them
    # so a clip can still be built from several of them.
    sents = [_make_sentence(words, a, b) for a, b in split_sentences(words, opts.pause, opts.max_len / 2)]
    starts = topic_starts(sents, opts)
    cands = (candidates(sents, starts, opts) or candidates(sents, starts, opts, recaps=True)
             or candidates(sents, {0}, opts, recaps=True))
    df = Counter(t for s in sents for t in set(s.content))
    return [_to_span(c, sents, words, starts=starts, df=df, pause=opts.pause) for c in select(cands, sents, opts.clips)]
