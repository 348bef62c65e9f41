"""The editor's cut planner for a clicked span and its refusals (clipforge.editor.decisions), on a small
transcript: the cut lies in the silence around the clicked words, flags say when it is mid-sentence,
and an impossible or stale edit is refused without touching anything."""

from __future__ import annotations

import pytest

from clipforge.config import Options
from clipforge.editor.decisions import EditError, StaleError, Words, cut_plan, find_clip, version
from clipforge.pipeline import Context
from clipforge.records import Word
from clipforge.stages.segment.boundary_words import prepare_doc

TEXT = "So here we go. This is the first sentence of the talk. And here is the second one, a longer one. Bye."


def _words() -> Words:
    ws, t = [], 0.5
    for token in TEXT.split():
        ws.append(Word(" " + token, round(t, 2), round(t + 0.3, 2)))
        t += 0.45 + (0.6 if token.endswith(".") else 0.0)
    doc = prepare_doc(ws, t + 2.0, 0.7)
    return Words(doc=doc, where=[(0, n) for n in range(len(ws))], duration=t + 2.0)


def _ctx(**opts) -> Context:
    return Context(opts=Options(**{"min_len": 2.0, "max_len": 8.0, **opts}), source_key="k")


def test_a_clicked_span_is_cut_in_the_silence_around_its_words():
    words = _words()
    w = words.doc.words
    start, end, fields = cut_plan(words, first=4, last=11, ctx=_ctx())
    assert w[3].end <= start <= w[4].start and w[11].end <= end <= w[12].start
    assert fields["first_word"] == "This" and fields["last_word"] == "talk."
    assert fields["flags"] == []  # a whole sentence: nothing to flag


def test_a_cut_inside_a_sentence_is_flagged():
    _, _, fields = cut_plan(_words(), first=6, last=9, ctx=_ctx(min_len=0.5))
    assert set(fields["flags"]) == {"crossed_sentence_start", "crossed_sentence_end"}


@pytest.mark.parametrize("first,last", [(11, 4), (-1, 3), (0, 999)])
def test_an_impossible_span_is_refused(first, last):
    with pytest.raises(EditError):
        cut_plan(_words(), first=first, last=last, ctx=_ctx())


def test_a_span_past_max_len_is_refused_with_a_hint():
    with pytest.raises(EditError) as err:
        cut_plan(_words(), first=0, last=len(_words().doc.words) - 1, ctx=_ctx(max_len=3.0))
    assert "max_len" in err.value.message and "max_len=" in err.value.hint


def test_an_edit_against_a_changed_clip_is_refused():
    data = {"clips": [{"id": "seg001", "title": "a", "start": 1.0, "end": 9.0}]}
    seen = version(data["clips"][0])
    assert find_clip(data, "seg001", seen)[1]["title"] == "a"
    data["clips"][0]["title"] = "changed in another tab"
    with pytest.raises(StaleError):
        find_clip(data, "seg001", seen)
    with pytest.raises(EditError):
        find_clip(data, "seg009", None)
