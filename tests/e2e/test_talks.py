"""The offline choice on our own talks (tests/media/talk_*.opus): dull passages between the topics.

talk_cues signals its topics with ordinal words and "Our next topic is"; talk_plain with a
question, a long pause and a change of vocabulary with no cue at all. Between the topics: a mic
check, screen sharing, a sponsor read, housekeeping, subscribe requests, greetings and thanks.
Each talk is transcribed once (real Whisper) for the module; the segment stage then runs on it
with several clip lengths, as `doit` would.
"""

from __future__ import annotations

import json

import pytest

from clipforge.config import DEFAULTS
from clipforge.stages.segment import SegmentOptions, run
from tests.helpers import make_project, run_ok
from tests.talks import TALKS, clip_problems, script, section_of, sentences_of, talk_project


@pytest.fixture(scope="module")
def transcripts(tmp_path_factory) -> dict[str, str]:
    out = {}
    for name in TALKS:
        project = make_project(tmp_path_factory.mktemp(name) / "proj")
        run_ok(project.doit(*talk_project(project, name), "transcript"))
        out[name] = str(project.temp("transcript.json"))
    return out


def segment(transcript: str, tmp_path, **kw) -> list[dict]:
    opts = dict(segmenter="offline", clips=DEFAULTS.clips, min_len=DEFAULTS.min_len, max_len=DEFAULTS.max_len,
                padding=DEFAULTS.padding, llm_model=DEFAULTS.llm_model, llm_timeout=DEFAULTS.llm_timeout,
                llm_retries=DEFAULTS.llm_retries, llm_choose=DEFAULTS.llm_choose)
    out = tmp_path / "segments.json"
    run(transcript, str(out), str(tmp_path / "ledger.jsonl"), opts=SegmentOptions(**{**opts, **kw}))
    return json.loads(out.read_text())["clips"]


@pytest.mark.parametrize("name", TALKS)
@pytest.mark.parametrize("lengths", [{}, {"min_len": 8, "max_len": 30}, {"min_len": 5, "max_len": 15}])
def test_no_clip_on_a_dull_passage_and_each_inside_one_topic(transcripts, tmp_path, name, lengths):
    sections = script(name)
    clips = segment(transcripts[name], tmp_path, **lengths)
    assert clips, "the talks have three topics of content"
    for clip in clips:
        assert not clip_problems(clip, sections), clip_problems(clip, sections)


@pytest.mark.parametrize("name", TALKS)
def test_every_topic_gets_its_clip_opening_on_its_first_sentence(transcripts, tmp_path, name):
    """Default lengths: one clip per topic, none opening with the last sentence of the topic before."""
    sections = script(name)
    clips = segment(transcripts[name], tmp_path)
    topics = [k for k, s in enumerate(sections) if s.kind == "topic"]
    held = sorted(section_of(sentences_of(c["text"])[0], sections) for c in clips)
    assert held == topics, [c["text"][:60] for c in clips]
    for clip in clips:
        first = sentences_of(clip["text"])[0]
        sec = sections[section_of(first, sections)]
        assert section_of(first, [sec]) == 0 and max(
            range(len(sec.sentences)), key=lambda k: len(set(first.lower().split()) & set(sec.sentences[k].lower()
                                                                                          .split()))) == 0, first
