"""The stage list is the one declaration: README table, option hashes, status rows and doit tasks follow it."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError

import pytest

from clipforge import stagelist
from clipforge.config import DEFAULTS, Options, pick
from clipforge.stagelist import STAGES, Stage
from tests.helpers import ROOT


def test_readme_stage_table_is_the_generated_one():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- stages:.*?-->\n(.*?)\n<!-- /stages -->", text, re.S)
    assert block, "README lost its stage table markers"
    assert block.group(1).strip() == stagelist.markdown_table()


def test_every_stage_option_is_a_real_option_and_every_reference_resolves():
    names = set(Options.__dataclass_fields__)
    for st in STAGES:
        assert set(st.options) <= names, st.name
        assert all(r in stagelist.BY_NAME and stagelist.stage(r).per_clip for r in st.reads), st.name
        module, _, func = st.run.partition(":")
        assert module.startswith("clipforge.stages.") and func


def test_stage_records_are_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        Stage("x", "doc", "m:f")  # noqa: the point is that positional construction fails
    with pytest.raises(FrozenInstanceError):
        STAGES[0].name = "other"


def test_option_hash_changes_only_for_the_stages_that_read_the_option():
    base, other = Options(), Options(aspect="1:1")
    changed = {s.name for s in STAGES if base.stage_hash(s.name) != other.stage_hash(s.name)}
    assert changed == {s.name for s in STAGES if "aspect" in s.options}


def test_stage_option_records_take_their_defaults_from_options():
    from clipforge.stages.segment import SegmentOptions
    from clipforge.stages.segment.boundaries import BoundaryOptions

    assert BoundaryOptions().min_len == DEFAULTS.min_len and BoundaryOptions().padding == DEFAULTS.padding
    opts = Options(min_len=9.0, clips=2)
    seg = pick(SegmentOptions, opts, segmenter="offline")
    assert (seg.min_len, seg.clips, seg.segmenter) == (9.0, 2, "offline")


def test_insert_adds_a_stage_before_another_and_status_sees_it(monkeypatch):
    monkeypatch.setattr(stagelist, "STAGES", stagelist.STAGES)
    monkeypatch.setattr(stagelist, "BY_NAME", stagelist.BY_NAME)
    stagelist.insert(Stage(name="wordcount", doc="count words", run="m:f", per_clip=True, outputs=(".txt",)),
                     before="extract")
    names = [s.name for s in stagelist.STAGES]
    assert names.index("wordcount") == names.index("extract") - 1
    assert "wordcount" in {s.name for s in stagelist.unit_stages()}


def test_check_creators_names_a_stage_without_a_task():
    with pytest.raises(RuntimeError, match="render"):
        stagelist.check_creators({f"task_{s.name}": (lambda: None) for s in STAGES if s.name != "render"})
