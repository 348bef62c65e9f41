"""The offline segmenter on the bundled sample: each clip holds exactly one topic of sample/talk.txt."""

from __future__ import annotations

import json
import re

import pytest

from clipforge.config import DEFAULTS
from clipforge.stages.segment import SegmentOptions, run
from tests.helpers import ROOT, make_project, run_ok


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture(scope="module")
def sample_transcript(tmp_path_factory) -> str:
    """The sample's transcript from the bundled whisper model, made once for the module."""
    project = make_project(tmp_path_factory.mktemp("topics") / "proj")
    run_ok(project.doit("transcript"))
    return str(project.temp("transcript.json"))


def script_sentence(sentence: str, topics: list[list[str]]) -> tuple[int, int]:
    """(topic, sentence index) of the script sentence of talk.txt sharing most words with `sentence`."""
    words = _tokens(sentence)
    return max(((len(words & _tokens(s)) / len(words | _tokens(s)), t, -k)
                for t, para in enumerate(topics) for k, s in enumerate(para)))[1:]


def topic_of(sentence: str, topics: list[list[str]]) -> int:
    return script_sentence(sentence, topics)[0]


def test_default_offline_clips_each_hold_one_topic(sample_transcript, tmp_path):
    topics = [[s for s in para.splitlines() if s.strip()]
              for para in (ROOT / "sample" / "talk.txt").read_text().split("\n\n") if para.strip()]
    assert len(topics) == 4  # bread/yeast, blue sky, bicycle balance, conclusion
    opts = SegmentOptions(segmenter="offline", clips=DEFAULTS.clips, min_len=DEFAULTS.min_len,
                          max_len=DEFAULTS.max_len, padding=DEFAULTS.padding, llm_model=DEFAULTS.llm_model,
                          llm_timeout=DEFAULTS.llm_timeout, llm_retries=DEFAULTS.llm_retries,
                          llm_choose=DEFAULTS.llm_choose)
    out = tmp_path / "segments.json"
    run(sample_transcript, str(out), str(tmp_path / "ledger.jsonl"), opts=opts)
    clips = json.loads(out.read_text())["clips"]
    held = []
    for clip in clips:
        sentences = [s for s in re.split(r"(?<=[.?!])\s+", clip["text"]) if s.strip()]
        found = {topic_of(s, topics) for s in sentences}
        assert len(found) == 1, f"clip {clip['id']} spans topics {sorted(found)}: {clip['text']!r}"
        held.append(found.pop())
    # Three clips: bread, sky, bicycle; each opens its topic with the topic's first sentence. The
    # recap ("To sum up, ...") is its own topic but no clip: it does not stand alone.
    assert held == [0, 1, 2], [c["text"] for c in clips]
    for clip in clips:
        first = re.split(r"(?<=[.?!])\s+", clip["text"])[0]
        assert script_sentence(first, topics)[1] == 0, f"clip does not open its topic: {clip['text']!r}"
