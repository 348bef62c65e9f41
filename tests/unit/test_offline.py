"""Offline segmenter: spans a user would accept as clips, from the transcript alone."""

from __future__ import annotations

import random
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipforge.records import Span, Transcript, TranscriptSegment, Word
from clipforge.stages.segment.offline import OfflineOptions, propose_spans

COOKING = """
Good pasta starts with a big pot of salted boiling water. The salt in the water seasons the pasta from
the inside. Fresh garlic and olive oil make the base of the sauce. Slice the garlic thin and warm it
gently in the olive oil. Burnt garlic turns the whole sauce bitter, so keep the heat low. Crushed
tomatoes go into the pan once the garlic smells sweet. Let the tomato sauce simmer until it thickens and
the oil separates. Save a cup of starchy pasta water before you drain the pot. The starchy water helps
the sauce cling to every strand of pasta. Toss the drained pasta straight into the pan with the sauce.
Finish the pasta with torn basil leaves and grated parmesan cheese. A little more olive oil on top makes
the sauce glossy. Taste the pasta and add salt or chili flakes if the sauce needs it. Serve the pasta hot
in warm bowls with extra parmesan.
"""
ASTRONOMY = """
Why do some stars explode while others fade away quietly? A massive star burns hydrogen in its core for
millions of years. When the core runs out of hydrogen, the star starts fusing helium into carbon. Heavier
stars keep fusing elements until the core becomes iron. Iron fusion absorbs energy, so the stellar core
suddenly collapses. The collapse triggers a supernova that outshines an entire galaxy. Astronomers spot
these supernova explosions with telescopes across distant galaxies. What remains of the core becomes a
neutron star or a black hole. A neutron star packs more mass than the sun into a tiny sphere. Smaller
stars like the sun swell into red giants instead of exploding. The red giant sheds its outer layers and
leaves a white dwarf behind. Telescopes reveal glowing nebulae around these dying stars in our galaxy.
Every atom of carbon and iron on Earth was forged inside ancient stars. Astronomers call this stellar
recycling the cosmic cycle of galaxies.
"""
FOOTBALL = """
The striker sprinted past two defenders and curled the ball into the corner. The goalkeeper dived but the
football flew beyond his gloves. The stadium erupted as the home team took the lead in the final minutes.
Their coach had switched the formation to push the wingers higher. Wide wingers stretched the defense and
opened space for the striker. The midfield pressed hard and won the ball back near the penalty area. A
quick pass from midfield found the striker unmarked at the edge of the box. The referee checked the goal
for offside but the striker was onside. Fans in the stadium sang the club anthem until the final whistle.
The team climbed to second place in the league table after the victory. Next week the team travels away
to face the league leaders in their stadium. The coach expects the wingers and the striker to start the
match again. Goalkeeper training this week will focus on penalty kicks and crosses. Every football player
in the squad knows the title race is close now.
"""
TOPICS = [COOKING, ASTRONOMY, FOOTBALL]
OPTS = OfflineOptions(clips=5, min_len=15.0, max_len=40.0, pause=0.7)


def make_transcript(paragraphs: list[str], *, word: float = 0.3, gap: float = 0.05,
                    sentence_gap: float = 0.8, topic_gap: float = 3.0) -> Transcript:
    """One segment per sentence; timings mimic speech: sentence pauses, longer topic pauses."""
    t, segments = 0.0, []
    for p, para in enumerate(paragraphs):
        if p:
            t += topic_gap - sentence_gap
        for sentence in re.findall(r"[^.!?]+[.!?]", para):
            words = []
            for tok in sentence.split():
                words.append(Word(tok, round(t, 3), round(t + word, 3)))
                t += word + gap
            t += sentence_gap - gap
            segments.append(TranscriptSegment(words[0].start, words[-1].end,
                                              " ".join(w.text for w in words), words=words))
    return Transcript(language="en", duration=round(t, 3), segments=segments)


def sentences(tr: Transcript) -> list[tuple[float, float]]:
    return [(s.words[0].start, s.words[-1].end) for s in tr.segments]


def topic_ranges(tr: Transcript, paragraphs: list[str]) -> list[tuple[float, float]]:
    counts = [len(re.findall(r"[^.!?]+[.!?]", p)) for p in paragraphs]
    sents, out, k = sentences(tr), [], 0
    for n in counts:
        out.append((sents[k][0], sents[k + n - 1][1]))
        k += n
    return out


def check_spans(spans: list[Span], tr: Transcript, opts: OfflineOptions) -> None:
    sents = sentences(tr)
    starts, ends = {a for a, _ in sents}, {b for _, b in sents}
    for s in spans:
        assert s.start in starts and s.end in ends
        assert opts.min_len <= s.end - s.start <= opts.max_len
        assert 0 <= s.score <= 100 and isinstance(s.score, int)
        assert s.title and s.reason and s.quote
    assert [s.start for s in spans] == sorted(s.start for s in spans)
    for a, b in zip(spans, spans[1:]):
        assert a.end <= b.start


def span_text(tr: Transcript, s: Span) -> str:
    return " ".join(w.text for w in tr.words() if s.start <= w.start and w.end <= s.end).lower()


@pytest.mark.parametrize("topic_gap", [3.0, 0.8], ids=["pause-between-topics", "lexical-only"])
def test_spans_are_whole_sentences_within_one_topic(topic_gap):
    tr = make_transcript(TOPICS, topic_gap=topic_gap)
    spans = propose_spans(tr, OPTS)
    check_spans(spans, tr, OPTS)
    assert len(spans) >= 3
    topics = topic_ranges(tr, TOPICS)
    for s in spans:
        assert any(a <= s.start and s.end <= b for a, b in topics), (s, topics)


def test_every_topic_gets_a_clip():
    tr = make_transcript(TOPICS)
    spans = propose_spans(tr, OPTS)
    for a, b in topic_ranges(tr, TOPICS):
        assert any(a <= s.start and s.end <= b for s in spans)


def test_titles_quotes_and_reasons_describe_the_span():
    tr = make_transcript(TOPICS)
    for s in propose_spans(tr, OPTS):
        text = span_text(tr, s)
        title_words = s.title.split()
        assert 2 <= len(title_words) <= 5
        assert all(w == w.capitalize() for w in title_words)
        assert all(w.lower() in text for w in title_words)
        assert text.startswith(" ".join(s.quote.lower().split()[:6]))
        assert len(s.quote.split()) <= 6
        assert "sentences" in s.reason and "key terms" in s.reason


def test_question_opener_is_noted():
    tr = make_transcript(TOPICS)
    spans = propose_spans(tr, OPTS)
    opener = [s for s in spans if s.quote.startswith("Why do some stars")]
    assert opener and "question" in opener[0].reason


@pytest.mark.parametrize("clips", [0, 1, 2])
def test_clips_caps_the_count(clips):
    tr = make_transcript(TOPICS)
    spans = propose_spans(tr, OfflineOptions(clips=clips, min_len=15, max_len=40))
    assert len(spans) == clips
    check_spans(spans, tr, OPTS)


def test_deterministic():
    a = propose_spans(make_transcript(TOPICS), OPTS)
    b = propose_spans(make_transcript(TOPICS), OPTS)
    assert a == b


def test_empty_and_short_transcripts():
    assert propose_spans(Transcript(language="en", duration=0.0), OPTS) == []
    short = make_transcript(["Pasta needs salted water. Garlic burns fast."])
    assert short.duration < OPTS.min_len
    assert propose_spans(short, OPTS) == []


def test_transcript_between_min_and_max_is_one_span():
    tr = make_transcript([COOKING])
    sents = sentences(tr)
    whole = sents[-1][1] - sents[0][0]
    spans = propose_spans(tr, OfflineOptions(clips=3, min_len=whole - 1, max_len=whole + 1))
    assert [(s.start, s.end) for s in spans] == [(sents[0][0], sents[-1][1])]


def test_falls_back_across_topics_when_no_topic_holds_a_clip():
    # A long pause after every sentence makes each sentence its own "topic".
    tr = make_transcript(TOPICS, sentence_gap=2.5, topic_gap=5.0)
    spans = propose_spans(tr, OPTS)
    assert spans
    check_spans(spans, tr, OPTS)


def test_unpunctuated_run_on_speech_still_yields_clips():
    text = " ".join(re.sub(r"[.!?]", "", p) for p in TOPICS)
    words, t = [], 0.0
    for tok in text.split():
        words.append(Word(tok, round(t, 3), round(t + 0.3, 3)))
        t += 0.35
    tr = Transcript("en", t, [TranscriptSegment(0.0, t, text, words=words)])
    spans = propose_spans(tr, OPTS)
    assert spans
    for s in spans:
        assert OPTS.min_len <= s.end - s.start <= OPTS.max_len


def test_bad_options_raise():
    from clipforge.errors import OptionError
    with pytest.raises(OptionError):
        propose_spans(make_transcript(TOPICS), OfflineOptions(min_len=30, max_len=20))


def test_three_hour_transcript_is_fast():
    rng = random.Random(7)
    vocab = re.findall(r"[a-z]+", (COOKING + ASTRONOMY + FOOTBALL).lower())
    paragraphs = []
    for _ in range(300):  # ~300 topics x 10 sentences x 10 words = 30k words
        pool = rng.sample(sorted(set(vocab)), 40)
        paragraphs.append(" ".join(
            " ".join(rng.choice(pool) for _ in range(10)).capitalize() + rng.choice(".?")
            for _ in range(10)))
    tr = make_transcript(paragraphs, topic_gap=rng.choice([0.8, 3.0]))
    assert len(tr.words()) >= 29_000
    t0 = time.perf_counter()
    spans = propose_spans(tr, OfflineOptions(clips=20))
    assert time.perf_counter() - t0 < 10
    assert len(spans) == 20
    check_spans(spans, tr, OfflineOptions(clips=20))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["pasta", "the", "star", "goal", "why", "iron"]),
                          st.sampled_from(["", "", "", ".", "?"]),
                          st.floats(0.0, 4.0)), min_size=1, max_size=300),
       st.integers(0, 4))
def test_invariants_on_arbitrary_timings(tokens, clips):
    words, t = [], 0.0
    for text, punct, gap in tokens:
        words.append(Word(text + punct, round(t, 3), round(t + 0.3, 3)))
        t += 0.3 + gap
    tr = Transcript("en", t, [TranscriptSegment(0.0, t, "", words=words)])
    opts = OfflineOptions(clips=clips, min_len=5.0, max_len=12.0)
    spans = propose_spans(tr, opts)
    assert len(spans) <= clips
    assert spans == propose_spans(tr, opts)
    starts, ends = {w.start for w in words}, {w.end for w in words}
    for s in spans:
        assert s.start in starts and s.end in ends
        assert opts.min_len <= s.end - s.start <= opts.max_len
    for a, b in zip(spans, spans[1:]):
        assert a.end <= b.start


# --- dull passages, clean edges, topic shifts (issue 20) --------------------------------------

DULL = {
    "mic check": "Can everyone hear me okay? Testing, one, two, three. Is this thing on?",
    "screen sharing": "Let me share my screen. Can you all see my slides now? Okay, the screen share works.",
    "sponsor read": "This episode is sponsored by Nordwind. Use the promo code SHOW for ten percent off.",
    "housekeeping": "A quick housekeeping note. The restrooms are down the hall. The slides will be emailed.",
    "subscribe request": "If you like this, please like and subscribe. Hit the bell so you never miss one.",
    "greeting or thanks": "Thank you so much for watching. See you next week. Goodbye!",
}


@pytest.mark.parametrize("kind", list(DULL))
def test_every_dull_sentence_is_recognised(kind):
    from clipforge.stages.segment.features import dull_kind

    kinds = {dull_kind(s) for s in re.findall(r"[^.!?]+[.!?]", DULL[kind])}
    assert kinds == {kind}, kinds


def test_content_sentences_are_not_dull():
    from clipforge.stages.segment.features import dull_kind

    for para in TOPICS:
        for s in re.findall(r"[^.!?]+[.!?]", para):
            assert dull_kind(s) == "", s


@pytest.mark.parametrize("kind", list(DULL))
def test_no_clip_holds_a_dull_passage_between_topics(kind):
    """A dull passage with no pause around it, between two topics: no clip reaches into it."""
    paras = [COOKING, DULL[kind], ASTRONOMY]
    tr = make_transcript(paras, topic_gap=0.8)
    dull_from, dull_to = topic_ranges(tr, paras)[1]
    spans = propose_spans(tr, OfflineOptions(clips=8, min_len=5, max_len=30))
    assert spans
    for s in spans:
        assert s.end <= dull_from or s.start >= dull_to, (kind, span_text(tr, s)[:80])


def test_only_dull_speech_still_gives_a_clip_with_a_loud_warning(capsys):
    paras = [DULL["sponsor read"] + " " + DULL["subscribe request"]]
    tr = make_transcript(paras)
    spans = propose_spans(tr, OfflineOptions(clips=1, min_len=5, max_len=40))
    assert len(spans) == 1 and "dull passage" in spans[0].reason
    assert "WARNING" in capsys.readouterr().out


def _score_from(para: str, first: int) -> float:
    """Best score of a candidate opening on sentence `first` of a one-topic paragraph."""
    from clipforge.stages.segment.offline import _make_sentence, candidates, split_sentences

    words = make_transcript([para]).words()
    sents = [_make_sentence(words, a, b) for a, b in split_sentences(words, 0.7, 20)]
    return max(c.score for c in candidates(sents, {0}, OfflineOptions(min_len=5, max_len=12)) if c.i == first)


@pytest.mark.parametrize("opener", ["So", "And", "That's why", "But"])
def test_a_dangling_opening_scores_lower_than_a_clean_one(opener):
    """Same words, same pauses: the run opening on "So..." loses to the one opening on its subject."""
    para = ("Volcanoes erupt when gas pressure in the magma beats the rock above. {} the mountain explodes "
            "with the force of a bomb. Magma chambers refill over many centuries.")
    assert _score_from(para.format(opener), 1) < _score_from(para.format("Here"), 1) - 10


def test_a_cohesion_boundary_snaps_to_the_longer_pause_beside_it():
    """Topics with no cue word and no long pause: the shift sits on the 1.3 s pause, not a sentence early."""
    from clipforge.stages.segment.offline import _make_sentence, _snap_to_pause

    words = [Word(f"w{k}.", float(k), k + 0.5) for k in range(6)]
    words[3:] = [Word(w.text, w.start + 0.8, w.end + 0.8) for w in words[3:]]  # 1.3 s before word 3
    sents = [_make_sentence(words, k, k) for k in range(6)]
    assert _snap_to_pause(2, sents, 0.7) == 3 and _snap_to_pause(4, sents, 0.7) == 3
    assert _snap_to_pause(1, sents, 0.7) == 1  # no longer pause within one sentence: unchanged


def test_ordinal_and_next_topic_cues_open_topics():
    from clipforge.stages.segment.offline import _make_sentence, opens_topic

    for text in ("Third, why do cats purr", "Our next topic is pencils.", "Next up: pencils.", "Secondly, bees."):
        words = [Word(t, float(k), k + 0.5) for k, t in enumerate(text.split())]
        assert opens_topic(_make_sentence(words, 0, len(words) - 1)), text


@pytest.mark.parametrize("text, back", [
    ("Stretchy gluten proteins trap that gas in bubbles.", True), ("It has eight arms.", True),
    ("These bubbles grow in the oven.", True), ("Short blue waves are scattered more strongly.", False),
    ("I think that octopuses are clever.", False), ("Bread dough contains flour and yeast.", False)])
def test_an_opening_that_points_back_at_the_sentence_before(text, back):
    from clipforge.stages.segment.features import refers_back

    assert refers_back(tuple(t.strip(".,").lower() for t in text.split())) is back
