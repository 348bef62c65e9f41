"""stages.subtitles: cues, highlight chunks and the files written from them (no subprocess)."""

from __future__ import annotations

import re
from pathlib import Path

import pysubs2
import pytest

from clipforge.records import Word
from clipforge.stages.segment.boundary_words import ends_sentence
from clipforge.stages.subtitles import (
    CaptionOptions,
    caption_cues,
    clip_words,
    highlight_chunks,
    wrap_lines,
    write_captions,
)

FRAME = 1 / 30
OPTS = CaptionOptions()

TEXT = ("So the first thing you need to know about bread, honestly, is that flour matters more than anything "
        "else in the whole world. Then water. And then time, which is what really makes the difference here! "
        "Why? Because yeast needs hours to do its work, and nobody can rush that part of the process at all.")


def make_words(text: str = TEXT, step: float = 0.35, length: float = 0.3, sentence_gap: float = 0.3) -> list[Word]:
    """Whisper-like words (leading space), a little extra silence after each sentence end."""
    words, t = [], 0.2
    for tok in text.split():
        words.append(Word(" " + tok, round(t, 3), round(t + length, 3)))
        t += step + (sentence_gap if ends_sentence(tok) else 0.0)
    return words


def _plain(text: str) -> str:
    return re.sub(r"\{[^}]*\}", "", text)


def _tokens(text: str) -> list[str]:
    return _plain(text).replace(r"\N", " ").replace("\n", " ").split()


def test_cue_times_agree_with_words_in_srt_and_vtt(tmp_path: Path):
    words = make_words()
    cues = caption_cues(words, opts=OPTS)
    write_captions(words=words, frame=(720, 1280), opts=OPTS, srt_out=tmp_path / "c.srt", vtt_out=tmp_path / "c.vtt")
    assert (tmp_path / "c.vtt").read_text(encoding="utf-8").startswith("WEBVTT")
    for name in ("c.srt", "c.vtt"):
        events = pysubs2.load(str(tmp_path / name), encoding="utf-8").events
        assert len(events) == len(cues)
        for i, (ev, cue) in enumerate(zip(events, cues)):
            assert abs(ev.start / 1000 - cue.words[0].start) <= FRAME
            # The end is the last word's end, held longer only into the silence before the next cue.
            assert ev.end / 1000 >= cue.words[-1].end - FRAME
            if i + 1 < len(events):
                assert ev.end <= events[i + 1].start
            assert _tokens(ev.text) == [w.text.strip() for w in cue.words]


def test_every_word_once_and_in_order():
    words = make_words()
    expected = [w.text.strip() for w in words]
    cues = caption_cues(words, opts=OPTS)
    assert [t for c in cues for t in _tokens(c.text)] == expected
    assert [w.text.strip() for c in cues for w in c.words] == expected
    chunks = highlight_chunks(words, opts=OPTS)
    assert [w.text.strip() for c in chunks for w in c.words] == expected


@pytest.mark.parametrize("max_chars,max_lines", [(32, 2), (20, 2), (42, 1), (12, 3)])
def test_no_cue_crosses_a_sentence_end_and_limits_hold(max_chars: int, max_lines: int):
    opts = CaptionOptions(max_chars_per_line=max_chars, max_lines=max_lines)
    for cue in caption_cues(make_words(), opts=opts):
        assert not any(ends_sentence(w.text) for w in cue.words[:-1]), cue.text
        assert len(cue.lines) <= max_lines
        assert all(len(line) <= max_chars for line in cue.lines), cue.lines


def test_long_pause_ends_a_cue_without_punctuation():
    words = make_words("we keep talking here and then we stop then much later we go on again", sentence_gap=0)
    for w in words[8:]:
        w.start, w.end = w.start + 1.5, w.end + 1.5  # a 1.5 s silence after "we stop"
    cues = caption_cues(words, opts=OPTS)
    assert any(c.words[-1].text == " stop" for c in cues)


def test_long_sentence_splits_at_a_clause():
    words = make_words("The dough rests overnight in the fridge, and in the morning it is shaped by hand.")
    cues = caption_cues(words, opts=CaptionOptions(max_chars_per_line=24, max_lines=2))
    assert len(cues) == 2
    assert cues[0].words[-1].text == " fridge,"


def test_short_cue_is_held_but_never_overlaps_the_next():
    words = [Word(" Hi.", 0.0, 0.2), Word(" Yes", 0.5, 0.8), Word(" indeed.", 0.8, 1.2), Word(" Go.", 5.0, 5.2)]
    cues = caption_cues(words, opts=OPTS)
    assert [c.text for c in cues] == ["Hi.", "Yes indeed.", "Go."]
    assert cues[0].end == pytest.approx(0.5)  # held into the silence, up to the next cue
    assert cues[1].end == pytest.approx(1.3)  # 0.8 s after its start: the silence after it is long
    assert cues[2].end == pytest.approx(5.0 + OPTS.min_cue_seconds)


def test_wrap_is_balanced_and_keeps_long_words_whole():
    assert wrap_lines(make_words("one two three four five six seven"), 28) == ["one two three four", "five six seven"]
    lines = wrap_lines(make_words("a b c d e f g h i j k l m n o p"), 20)
    assert len(lines) == 2 and abs(len(lines[0]) - len(lines[1])) <= 2
    assert wrap_lines(make_words("supercalifragilisticexpialidocious"), 10) == ["supercalifragilisticexpialidocious"]


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_chunks_stay_small_and_inside_sentences(size: int):
    words = make_words()
    for chunk in highlight_chunks(words, opts=CaptionOptions(chunk_words=size)):
        assert 1 <= len(chunk.words) <= size
        assert not any(ends_sentence(w.text) for w in chunk.words[:-1])
        assert not any(w.text.rstrip().endswith(",") for w in chunk.words[:-1])


def test_chunk_words_is_validated():
    for bad in (0, 5):
        with pytest.raises(ValueError):
            CaptionOptions(chunk_words=bad)


def test_highlight_events_cover_each_word_and_colour_the_spoken_one(tmp_path: Path):
    words = make_words()
    summary = write_captions(words=words, frame=(720, 1280), opts=OPTS, ass_out=tmp_path / "c.ass")
    subs = pysubs2.load(str(tmp_path / "c.ass"), encoding="utf-8")
    assert subs.info["PlayResX"] == "720" and subs.info["PlayResY"] == "1280"
    assert list(subs.styles) == ["Default"] and subs.styles["Default"].fontname == OPTS.font_name
    assert summary["events"] == len(subs.events) == len(words) == summary["words"]
    tag = r"{\c&H00E6FF&}"  # #FFE600 as ASS BGR
    chunks = highlight_chunks(words, opts=OPTS)
    events = iter(subs.events)
    for chunk in chunks:
        for i, w in enumerate(chunk.words):
            ev = next(events)
            assert ev.text.count(tag) == 1
            spoken = ev.text.split(tag, 1)[1].split("{", 1)[0]
            assert spoken == w.text.strip()
            assert _tokens(ev.text) == [x.text.strip() for x in chunk.words]
            end = chunk.words[i + 1].start if i + 1 < len(chunk.words) else w.end
            assert abs(ev.start / 1000 - w.start) <= 0.01 and abs(ev.end / 1000 - end) <= 0.01
    starts = [e.start for e in subs.events]
    assert starts == sorted(starts)
    # Nothing is shown between chunks, and no two events overlap.
    assert all(a.end <= b.start for a, b in zip(subs.events, subs.events[1:]))


def test_no_words_writes_valid_empty_files(tmp_path: Path):
    summary = write_captions(words=[], frame=(720, 1280), opts=OPTS, ass_out=tmp_path / "c.ass",
                             srt_out=tmp_path / "c.srt", vtt_out=tmp_path / "c.vtt")
    assert summary == {"cues": 0, "chunks": 0, "events": 0, "words": 0, "first_event": None}
    ass = pysubs2.load(str(tmp_path / "c.ass"), encoding="utf-8")
    assert ass.events == [] and ass.info["PlayResY"] == "1280"
    assert (tmp_path / "c.srt").read_text(encoding="utf-8").strip() == ""
    assert (tmp_path / "c.vtt").read_text(encoding="utf-8").strip() == "WEBVTT"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ass", "c.srt", "c.vtt"]  # no .part leftovers


def test_braces_and_backslashes_cannot_inject_tags(tmp_path: Path):
    words = [Word(r" {\fs200}big", 0.0, 0.4), Word(" a\\Nb.", 0.4, 0.8)]
    write_captions(words=words, frame=(320, 180), opts=OPTS, ass_out=tmp_path / "c.ass")
    texts = [e.text for e in pysubs2.load(str(tmp_path / "c.ass"), encoding="utf-8").events]
    assert not any(r"\fs" in t or r"\N" in t for t in texts)


def test_clip_words_shifts_and_clamps():
    words = [Word(" a", 9.0, 9.8), Word(" b", 9.9, 10.4), Word(" c", 11.0, 11.5), Word(" d", 14.8, 15.3),
             Word(" e", 15.4, 16.0)]
    out = clip_words(words, 10.0, 15.0)
    assert [w.text for w in out] == [" b", " c", " d"]
    assert [(w.start, w.end) for w in out] == [(0.0, pytest.approx(0.4)), (1.0, 1.5), (pytest.approx(4.8), 5.0)]
    assert words[1].start == 9.9  # the transcript's words are not modified
