"""stages.segment.boundaries: table tests (cut points, flags, drops) and hypothesis properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipforge.records import Span, Word
from clipforge.stages.segment.boundaries import (
    FLAGS,
    BoundaryOptions,
    plan_clips,
    repair_word_timings,
    split_sentences,
    validate_span,
)

WORD, GAP, STOP = 0.3, 0.1, 0.8  # seconds: a word, the gap after it, the gap after a sentence
PAUSES = {"|": 1.0, "/": 0.4}  # markers in a script: a long pause, a short (clause) pause


def script(text: str, t0: float = 0.0) -> list[Word]:
    """Timed words from text: 0.3 s words, 0.1 s gaps, 0.8 s after . ! ? ; `|`/`/` set the next gap."""
    out: list[Word] = []
    override = None
    for tok in text.split():
        if tok in PAUSES:
            override = PAUSES[tok]
            continue
        if out:
            gap = override if override is not None else STOP if out[-1].text[-1] in ".!?" else GAP
            start = round(out[-1].end + gap, 6)
        else:
            start = t0
        out.append(Word(tok, start, round(start + WORD, 6)))
        override = None
    return out


# One 0.0-0.3 two 0.4-0.7 three. 0.8-1.1 | Four 1.9 five 2.3 six. 2.7-3.0 | Seven 3.8 eight 4.2
# nine. 4.6-4.9 | Ten 5.7 eleven 6.1 twelve. 6.5-6.8
T1 = script("One two three. Four five six. Seven eight nine. Ten eleven twelve.")
SMALL = BoundaryOptions(min_len=1.0, max_len=4.0, padding=0.2)


def plan(words, spans, duration=7.0, opts=SMALL):
    return plan_clips(words, [s if isinstance(s, Span) else Span(*s) for s in spans], duration, opts=opts)


def one(words, span, duration=7.0, opts=SMALL):
    clips, dropped = plan(words, [span], duration, opts)
    assert len(clips) == 1, dropped
    return clips[0]


# --- snapping: (span, options) -> first word, last word, cut start, cut end, flags --------
@pytest.mark.parametrize("span, opts, first, last, start, end, flags", [
    ((1.9, 3.0), SMALL, "Four", "six.", 1.7, 3.2, []),  # exact sentence
    ((2.0, 3.0), SMALL, "Four", "six.", 1.7, 3.2, []),  # start inside the sentence's first word
    ((1.5, 3.3), SMALL, "Four", "six.", 1.7, 3.2, []),  # both ends in the silence around it
    ((2.35, 4.9), SMALL, "Four", "nine.", 1.7, 5.1, ["crossed_sentence_start"]),  # start mid-sentence
    ((2.95, 6.8), SMALL, "Seven", "twelve.", 3.6, 7.0, ["crossed_sentence_start"]),  # nearer: skip the tail
    ((1.9, 4.3), SMALL, "Four", "nine.", 1.7, 5.1, ["crossed_sentence_end"]),  # end inside a word
    ((1.9, 3.9), SMALL, "Four", "six.", 1.7, 3.2, ["crossed_sentence_end"]),  # nearer: drop the stub
    ((0.0, 6.8), SMALL, "One", "six.", 0.0, 3.2, ["end_rolled_back"]),  # too long: shrunk from its start
    ((2.35, 9.0), SMALL, "Four", "nine.", 1.7, 5.1,
     ["clamped_to_media", "crossed_sentence_start", "end_rolled_back"]),
    ((1.9, 3.3), BoundaryOptions(min_len=2.0, max_len=4.0), "Four", "nine.", 1.7, 5.1, ["extended"]),
    ((0.0, 1.1), SMALL, "One", "three.", 0.0, 1.3, []),  # the media's very start
    ((5.7, 6.8), SMALL, "Ten", "twelve.", 5.5, 7.0, []),  # the media's very end
    ((5.7, 7.5), SMALL, "Ten", "twelve.", 5.5, 7.0, ["clamped_to_media"]),  # past the end: clamped
    ((-1.0, 1.1), SMALL, "One", "three.", 0.0, 1.3, ["clamped_to_media"]),  # negative start: clamped
    ((1.9, 3.0), BoundaryOptions(min_len=1.0, max_len=4.0, padding=0.0), "Four", "six.", 1.9, 3.0, []),
    ((1.9, 3.0), BoundaryOptions(min_len=1.0, max_len=4.0, padding=2.0), "Four", "six.", 1.1, 3.8, []),
])
def test_snapping(span, opts, first, last, start, end, flags):
    c = one(T1, span, opts=opts)
    assert (c.first_word, c.last_word) == (first, last)
    assert (c.start, c.end) == (pytest.approx(start), pytest.approx(end))
    assert c.flags == flags
    assert c.id == "seg001"


def test_clip_record_fields():
    c = one(T1, Span(1.9, 3.0, title="t", reason="r", score=7))
    assert (c.title, c.reason, c.score, c.text) == ("t", "r", 7, "Four five six.")


@pytest.mark.parametrize("text, span, duration, opts, first, last, flags", [
    # a long pause ends a sentence without punctuation
    ("one two three | four five six | seven", (1.6, 3.0), 5.0, SMALL, "four", "six", []),
    ("one two three | four five six | seven", (2.5, 3.2), 5.0, SMALL,
     "four", "six", ["crossed_sentence_start"]),
    # an unfinished last sentence is no end: roll back; trailing silence in the media finishes it
    ("One two three. Four five six", (0.0, 3.0), 3.0, SMALL, "One", "three.", ["end_rolled_back"]),
    ("One two three. Four five six", (0.0, 3.0), 4.0, SMALL, "One", "six", []),
    # no sentence fits, so clauses do: punctuation, or a shorter pause
    ("a b c, d e f; g h i: j k l — m n o", (0.0, 3.0), 7.0, BoundaryOptions(min_len=1.0, max_len=2.5),
     "a", "f;", ["crossed_sentence_end", "end_rolled_back", "clause_boundary"]),
    ("a b c, d e f; g h i: j k l — m n o", (4.0, 7.0), 7.0, BoundaryOptions(min_len=1.0, max_len=3.0),
     "j", "o", ["crossed_sentence_start", "clause_boundary"]),
    ("a b c, d e f; g h i: j k l — m n o", (4.0, 7.0), 7.0, BoundaryOptions(min_len=1.0, max_len=2.5),
     "j", "—", ["crossed_sentence_start", "end_rolled_back", "clause_boundary"]),
    ("a b c / d e f / g h i / j k l", (0.0, 2.4), 7.0, BoundaryOptions(min_len=1.0, max_len=3.0),
     "a", "f", ["crossed_sentence_end", "end_rolled_back", "clause_boundary"]),
])
def test_sentences_and_clauses(text, span, duration, opts, first, last, flags):
    c = one(script(text), span, duration, opts)
    assert (c.first_word, c.last_word, c.flags) == (first, last, flags)


def test_cut_in_a_gap_smaller_than_padding_stays_in_the_silence():
    ws = [Word("a.", 0.0, 1.0), Word("b", 1.05, 2.0), Word("c.", 2.0, 3.0), Word("d", 3.05, 4.0)]
    c = one(ws, (1.05, 3.0), 5.0, BoundaryOptions(min_len=1.0, max_len=4.0, pause=0.7))
    assert (c.start, c.end) == (1.0, 3.05)


def test_adjacent_clips_meet_in_the_middle_of_a_short_gap():
    ws = [Word("a.", 0.0, 1.0), Word("b.", 1.1, 2.0)]
    clips, _ = plan(ws, [(0.0, 1.0), (1.1, 2.0)], 2.0, BoundaryOptions(min_len=0.5, max_len=4.0))
    assert [(c.start, c.end) for c in clips] == [(0.0, pytest.approx(1.05)), (pytest.approx(1.05), 2.0)]


# --- drops: (span, options) -> reason fragment and code ------------------------------------
NAN, INF = math.nan, math.inf
INVALID = "LLM_REPLY_INVALID"


@pytest.mark.parametrize("span, opts, fragment, code", [
    ((8.0, 9.0), SMALL, "outside the media", INVALID),
    ((7.0, 9.0), SMALL, "outside the media", INVALID),
    ((-5.0, -1.0), SMALL, "outside the media", INVALID),
    ((-5.0, 0.0), SMALL, "outside the media", INVALID),
    ((3.0, 3.0), SMALL, "<= start", INVALID),
    ((3.0, 2.0), SMALL, "<= start", INVALID),
    ((NAN, 3.0), SMALL, "non-finite", INVALID),
    ((1.0, NAN), SMALL, "non-finite", INVALID),
    ((-INF, 3.0), SMALL, "non-finite", INVALID),
    ((None, 3.0), SMALL, "non-finite", INVALID),
    (Span(1.9, 3.0, quote="purple elephants dance tonight"), SMALL, "quote", INVALID),
    ((1.9, 2.2), BoundaryOptions(min_len=3.5, max_len=4.0), "too short", None),
    ((1.1, 1.9), SMALL, "no speech", None),  # only silence
    ((1.9, 2.2), BoundaryOptions(min_len=5.0, max_len=4.0), "too short", None),
])
def test_dropped(span, opts, fragment, code):
    clips, dropped = plan(T1, [span], 7.0, opts)
    assert clips == [] and len(dropped) == 1
    assert fragment in dropped[0].reason and dropped[0].code == code


def test_no_boundary_at_all_is_dropped_not_cut_mid_sentence():
    ws = script("a b c d e f g h i j k l m n o p")
    _, dropped = plan(ws, [(0.0, 3.0)], 7.0, BoundaryOptions(min_len=1.0, max_len=2.5))
    assert "no sentence or clause boundary" in dropped[0].reason


@pytest.mark.parametrize("words", [[], [Word("", 0, 1), Word("  ", 1, 2)]])
def test_no_words_drops_every_span(words):
    clips, dropped = plan(words, [(0, 3), (3, 6)])
    assert clips == [] and [d.code for d in dropped] == [None, None] and all(d.reason for d in dropped)


def test_words_with_empty_text_are_ignored():
    ws = [*T1[:4], Word("", 2.2, 2.3), Word("  ", 2.25, 2.25), *T1[4:]]
    c = one(ws, (1.9, 3.0))
    assert (c.text, c.start, c.end, c.flags) == ("Four five six.", pytest.approx(1.7), pytest.approx(3.2), [])


@pytest.mark.parametrize("duration", [0.0, -1.0, NAN, None])
def test_unknown_media_duration_drops_every_span(duration):
    assert plan(T1, [(0, 3)], duration)[0] == []


# --- overlaps -------------------------------------------------------------------------------
@pytest.mark.parametrize("spans, min_len, kept, dropped", [
    # near-duplicates: the higher score survives, whatever the order
    ([Span(1.9, 4.9, title="a", score=5), Span(2.0, 4.8, title="b", score=9)], 1.0, ["b"], ["a"]),
    ([Span(1.9, 4.9, title="a", score=9), Span(2.0, 4.8, title="b", score=5)], 1.0, ["a"], ["b"]),
    ([Span(1.9, 4.9, title="a", score=5), Span(1.9, 4.9, title="b", score=5)], 1.0, ["a"], ["b"]),  # tie: input order
    # one inside the other
    ([Span(1.9, 4.9, title="a", score=5), Span(2.3, 3.0, title="b", score=9)], 1.0, ["b"], ["a"]),
    # a small overlap: the lower-scored clip is trimmed to its free part...
    ([Span(1.9, 4.9, title="a", score=5), Span(3.8, 6.8, title="b", score=9)], 1.0, ["a", "b"], []),
    ([Span(1.9, 4.9, title="a", score=5), Span(0.0, 3.0, title="b", score=9)], 1.0, ["b", "a"], []),
    # ...or dropped when what is left is too short
    ([Span(0.0, 3.0, title="a", score=5), Span(1.9, 4.9, title="b", score=9)], 1.5, ["b"], ["a"]),
    # apart: both kept, in time order
    ([Span(3.8, 4.9, title="a", score=9), Span(0.0, 1.1, title="b", score=1)], 1.0, ["b", "a"], []),
])
def test_overlapping_spans(spans, min_len, kept, dropped):
    opts = BoundaryOptions(min_len=min_len, max_len=4.0, merge_overlap=0.6)
    clips, lost = plan(T1, spans, 7.0, opts)
    assert [c.title for c in clips] == kept and [d.span.title for d in lost] == dropped
    assert [c.id for c in clips] == [f"seg{n:03d}" for n in range(1, len(clips) + 1)]
    assert all(a.end <= b.start for a, b in zip(clips, clips[1:]))


def test_trimmed_clip_is_flagged():
    clips, _ = plan(T1, [Span(1.9, 4.9, title="a", score=5), Span(3.8, 6.8, title="b", score=9)],
                    7.0, BoundaryOptions(min_len=1.0, max_len=4.0, merge_overlap=0.6))
    assert (clips[0].last_word, clips[0].flags) == ("six.", ["trimmed_overlap"])
    assert (clips[0].end, clips[1].start) == (pytest.approx(3.2), pytest.approx(3.6))


# --- word timings ---------------------------------------------------------------------------
@pytest.mark.parametrize("given, expected", [
    ([("a", 0, .5), ("b", 1, 1.5)], [(0, .5), (1, 1.5)]),  # fine already
    ([("a", 0, .5), ("5", 0, 0), ("b", 1, 1.5)], [(0, .5), (.5, .8), (1, 1.5)]),  # untimed: the gap
    ([("a.", 0, .5), ("5", 0, 0), ("b", 1, 1.5)], [(0, .5), (.7, 1), (1, 1.5)]),  # ...on its sentence's side
    ([("a", 0, .5), ("5", None, None), ("%", 3, 3), ("b", 1, 1.5)], [(0, .5), (.5, .75), (.75, 1), (1, 1.5)]),
    ([("a", 0, .5), ("5", 0, 0), ("b", .5, 1)], [(0, .25), (.25, .5), (.5, 1)]),  # no gap: borrow
    ([("a.", 0, .5), ("5", 0, 0), ("b", .5, 1)], [(0, .5), (.5, .75), (.75, 1)]),  # ...within the sentence
    ([("x", 0, 0), ("a", 1, 1.5)], [(.7, 1), (1, 1.5)]),  # leading
    ([("x", 0, 0), ("a", 0, .5)], [(0, .25), (.25, .5)]),  # leading, no room
    ([("a", 0, .5), ("x", None, None)], [(0, .5), (.5, .8)]),  # trailing
    ([("a", None, None), ("b", 0, 0)], [(0, .3), (.3, .6)]),  # nothing timed at all
    ([("a", 0, .5), ("b", 5, 5.5), ("c", 1, 1.5)], [(0, .5), (.5, .8), (1, 1.5)]),  # out of order
    ([("a", 0, 1), ("b", .5, 1.5)], [(0, .5), (.5, 1.5)]),  # overlapping
    ([("a", -1, .5), ("b", 1, 1.5)], [(.7, 1), (1, 1.5)]),  # negative
    ([("a", NAN, .5), ("b", 1, INF), ("c", 2, 2.5)], [(1.4, 1.7), (1.7, 2), (2, 2.5)]),
    ([("", 0, 1), ("a", 1, 2), (" ", 2, 3)], [(1, 2)]),  # empty text is not a word
    ([], []),
])
def test_repair_word_timings(given, expected):
    ws = [Word(t, s, e) for t, s, e in given]
    out = repair_word_timings(ws)
    assert [(w.start, w.end) for w in out] == [pytest.approx(x) for x in expected]
    assert [(w.text, w.start, w.end) for w in ws] == list(given)  # the input is not mutated


def test_untimed_word_in_a_clip_is_flagged():
    ws = [Word("It", 0, .5), Word("costs", .6, 1), Word("$5.", 0, 0),
          Word("Next", 2, 2.5), Word("one.", 2.6, 3)]
    c = one(ws, (0, 1.5), 3.5, BoundaryOptions(min_len=1.0, max_len=4.0))
    assert (c.last_word, c.flags) == ("$5.", ["repaired_timing"])
    assert (c.start, c.end) == (0.0, pytest.approx(1.5))  # "$5." took 1.0-1.3, after "costs"


@pytest.mark.parametrize("text, pause, expected", [
    ("One two. Three four.", 0.7, ["One two.", "Three four."]),
    ("Really? Yes! Wait… ok", 0.7, ["Really?", "Yes!", "Wait…", "ok"]),
    ('He said "stop." Then left.', 0.7, ['He said "stop."', "Then left."]),
    ("Ask Mr. Smith now.", 1.0, ["Ask Mr. Smith now."]),  # (the script puts 0.8 s after "Mr.")
    ("no punctuation at all here", 0.7, ["no punctuation at all here"]),
    ("one two | three", 0.7, ["one two", "three"]),
    ("one two | three", 1.5, ["one two three"]),
])
def test_split_sentences(text, pause, expected):
    assert [s.text for s in split_sentences(script(text), pause)] == expected


def test_sentence_fields_and_whisper_spacing():
    ws = [Word(" Hi", 0, .2), Word(" there.", .3, .6), Word(" Bye", 1.5, 1.8)]
    a, b = split_sentences(ws, 0.7)
    assert (a.text, a.start, a.end, a.first, a.last, a.complete) == ("Hi there.", 0, .6, 0, 1, True)
    assert (b.text, b.complete) == ("Bye", False)


@pytest.mark.parametrize("span, expected", [
    (Span(1.9, 3.0), None),
    (Span(1.9, 3.0, quote="Four five six."), None),
    (Span(1.9, 3.0, quote="FOUR, five... SIX!"), None),  # case/punctuation-insensitive
    (Span(1.9, 3.0, quote="four fiv six"), None),  # most words in order is enough
    (Span(1.9, 3.0, quote="six five four"), "quote"),  # out of order
    (Span(1.9, 3.0, quote="purple elephants dance"), "quote"),
    (Span(7.5, 8.0), "outside"),
    (Span(1.0, NAN), "non-finite"),
    (Span(2.0, 1.0), "<= start"),
])
def test_validate_span(span, expected):
    why = validate_span(span, T1, 7.0)
    assert why is None if expected is None else expected in why


def test_quote_far_from_the_span_is_a_hallucination():
    ws = script("Alpha beta gamma. " + "la " * 100 + "Delta epsilon zeta.")
    assert validate_span(Span(0.0, 2.0, quote="alpha beta gamma"), ws, 60.0) is None
    assert "quote" in validate_span(Span(0.0, 2.0, quote="delta epsilon zeta"), ws, 60.0)


# --- properties -----------------------------------------------------------------------------
TOKENS = st.sampled_from(["so", "we", "data", "model", "fast", "3", "%"])
PUNCT = st.sampled_from(["", "", "", ".", "?", "!", ",", ";"])


@st.composite
def transcripts(draw, untimed: bool = False) -> list[Word]:
    n = draw(st.integers(1, 60))
    t, out = draw(st.floats(0, 2)), []
    for _ in range(n):
        length = draw(st.floats(0.05, 1.0))
        text = draw(TOKENS) + draw(PUNCT)
        if untimed and draw(st.integers(0, 5)) == 0:
            out.append(Word(text, draw(st.sampled_from([0.0, t, None, NAN])), 0.0))
        else:
            out.append(Word(text, t, t + length))
        t += length + draw(st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.8, 2.0]))
    return out


@st.composite
def cases(draw, untimed: bool = False):
    ws = draw(transcripts(untimed))
    duration = max([w.end for w in ws if w.end] + [1.0]) + draw(st.floats(0, 2))
    t = st.floats(-2, duration + 2)
    starts = [draw(t) for _ in range(draw(st.integers(1, 5)))]
    spans = [Span(s, s + draw(st.floats(-1, 12)), score=draw(st.integers(0, 3))) for s in starts]
    min_len = draw(st.floats(0.2, 5))
    opts = BoundaryOptions(min_len=min_len, max_len=min_len + draw(st.floats(0, 10)),
                           padding=draw(st.floats(0, 0.5)), pause=draw(st.floats(0.2, 1.5)),
                           merge_overlap=draw(st.floats(0, 1)))
    return ws, spans, duration, opts


def check(words, spans, duration, opts):
    clips, dropped = plan_clips(words, spans, duration, opts=opts)
    assert (clips, dropped) == plan_clips(words, spans, duration, opts=opts)  # deterministic
    assert len(clips) + len(dropped) == len(spans) and all(d.reason for d in dropped)
    for c in clips:
        assert not any(w.start < t < w.end for w in words for t in (c.start, c.end))
        assert 0 <= c.start < c.end <= duration
        assert opts.min_len - 1e-9 <= c.duration <= opts.max_len + 2 * opts.padding + 1e-9
        assert set(c.flags) <= set(FLAGS)
        inside = [w.text for w in words if c.start <= w.start and w.end <= c.end]
        assert (c.first_word, c.last_word) == (inside[0], inside[-1])
    assert all(a.end <= b.start for a, b in zip(clips, clips[1:]))
    assert [c.id for c in clips] == [f"seg{n:03d}" for n in range(1, len(clips) + 1)]


@settings(max_examples=200, deadline=None)
@given(cases())
def test_property_cuts_never_split_words(case):
    check(*case)


@settings(max_examples=100, deadline=None)
@given(cases(untimed=True))
def test_property_untimed_words(case):
    words, spans, duration, opts = case
    fixed = repair_word_timings(words)
    assert len(fixed) == len(words)
    assert all(0 <= w.start < w.end for w in fixed)
    assert all(a.end <= b.start for a, b in zip(fixed, fixed[1:]))
    assert repair_word_timings(fixed) == fixed  # idempotent
    # Cuts are judged against the timings plan_clips used: repaired, ending with the media.
    check([Word(w.text, w.start, min(w.end, duration)) for w in fixed if w.start < duration],
          spans, duration, opts)
    cuts = [(c.start, c.end, c.text) for c in plan_clips(words, spans, duration, opts=opts)[0]]
    assert cuts == [(c.start, c.end, c.text) for c in plan_clips(fixed, spans, duration, opts=opts)[0]]


def test_a_placeholder_quote_matches_nothing():
    """A quote with no words ("...") used to count as a match; an empty quote still means "not given"."""
    from clipforge.stages.segment.boundary_words import quote_matches

    words = [Word(text=f" w{k}", start=k * 0.5, end=k * 0.5 + 0.4) for k in range(40)]
    assert not quote_matches("...", words, 0.0)
    assert validate_span(Span(start=0.0, end=15.0, quote="..."), words, 30.0)
    assert validate_span(Span(start=0.0, end=15.0, quote=""), words, 30.0) is None
