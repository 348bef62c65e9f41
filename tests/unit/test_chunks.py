"""Chunk planning always makes progress, and `inf` means "no limit" for chunk_minutes and max_len."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipforge.config import load_options
from clipforge.errors import OptionError
from clipforge.fsutil import read_json
from clipforge.stages.transcribe import cut_points, plan_chunks
from tests.helpers import MEDIA


def _strictly_increasing(cuts: list[float]) -> bool:
    return all(b > a for a, b in zip(cuts, cuts[1:]))


@settings(deadline=None)
@given(duration=st.floats(0.5, 4000), length=st.floats(0.05, 900),
       answers=st.lists(st.floats(-100, 5000, allow_nan=False), min_size=1, max_size=50))
def test_cut_points_progress_whatever_the_silence_search_answers(duration, length, answers):
    """A silence search may answer at, or before, the previous cut: the planner must still move on."""
    calls = []

    def silence(mark, earliest):
        calls.append(mark)
        assert len(calls) <= duration / max(min(1.0, length), 0.01) + 2, "the planner is not making progress"
        return answers[len(calls) % len(answers)]

    cuts = cut_points(duration, length, silence)
    assert cuts[0] == 0.0 and cuts[-1] == duration
    assert _strictly_increasing(cuts)
    step = max(min(1.0, length), 0.01)
    assert all(b - a >= step - 1e-9 for a, b in zip(cuts, cuts[1:-1]))


def test_cut_points_with_a_search_that_always_answers_zero_ends():
    cuts = cut_points(60.0, 0.3, lambda mark, earliest: 0.0)
    assert _strictly_increasing(cuts) and cuts[-1] == 60.0


@pytest.mark.parametrize("chunk_minutes", [0.001, 0.005, 0.01, 0.05])
def test_plan_chunks_with_tiny_chunks_on_real_speech_terminates(tmp_path, chunk_minutes):
    out = tmp_path / "chunks.json"
    plan_chunks(str(MEDIA / "speech_short.wav"), str(out), chunk_minutes)
    chunks = read_json(out)["chunks"]
    edges = [chunks[0]["start"]] + [c["end"] for c in chunks]
    assert len(chunks) > 1 and _strictly_increasing(edges)
    assert all(a["end"] == b["start"] for a, b in zip(chunks, chunks[1:]))


def test_plan_chunks_with_infinite_chunks_is_one_chunk(tmp_path):
    out = tmp_path / "chunks.json"
    plan_chunks(str(MEDIA / "speech_short.wav"), str(out), math.inf)
    data = read_json(out)
    assert [(c["start"], c["end"]) for c in data["chunks"]] == [(0.0, round(data["duration"], 3))]


def test_inf_is_accepted_where_it_means_no_limit(tmp_path):
    opts = load_options({"chunk_minutes": "inf", "max_len": "inf"}, pyproject=str(tmp_path / "none.toml"))
    assert opts.chunk_minutes == math.inf and opts.max_len == math.inf
    assert opts.stage_hash("chunks") and opts.config_hash()  # hashable (JSON Infinity)


@pytest.mark.parametrize("given", [{"chunk_minutes": "nan"}, {"chunk_minutes": "0.0001"}, {"chunk_minutes": "-inf"},
                                   {"min_len": "inf"}, {"padding": "inf"}, {"llm_timeout": "nan"},
                                   {"max_len": "nan"}])
def test_nan_and_unlimited_values_elsewhere_are_bad_options(tmp_path, given):
    with pytest.raises(OptionError):
        load_options(given, pyproject=str(tmp_path / "none.toml"))


def test_offline_segmenter_and_boundaries_accept_max_len_inf():
    from clipforge.records import Word
    from clipforge.stages.segment.boundaries import BoundaryOptions, plan_clips
    from clipforge.stages.segment.offline import OfflineOptions, propose_spans

    text = ("This is the first sentence of the talk. It goes on for a while. Then comes another one. "
            "And the talk ends here. ") * 6
    words, t = [], 0.0
    for w in text.split():
        words.append(Word(text=w, start=t, end=t + 0.3))
        t += 0.4 + (0.6 if w.endswith(".") else 0.0)
    from clipforge.records import Transcript, TranscriptSegment

    tr = Transcript(language="en", duration=t + 1, segments=[TranscriptSegment(0, t, text, words=words)])
    spans = propose_spans(tr, OfflineOptions(clips=2, min_len=5, max_len=math.inf))
    assert spans
    bounds = BoundaryOptions(min_len=5, max_len=math.inf, padding=0.2)
    plans, _ = plan_clips(tr.words(), spans, tr.duration, opts=bounds)
    assert plans and all(p.duration >= 5 for p in plans)
