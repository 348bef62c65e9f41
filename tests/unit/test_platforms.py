"""Platform presets fill in what the user did not set; caption styles are checked when the options load."""

from __future__ import annotations

import pytest

from clipforge.config import DEFAULTS, load_options
from clipforge.errors import OptionError
from clipforge.platforms import PLATFORMS, safe_zone


def opts(tmp_path, **given):
    return load_options({k: str(v) for k, v in given.items()}, pyproject=str(tmp_path / "none.toml"))


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_a_preset_sets_frame_and_hook_unless_the_user_did(tmp_path, name):
    o = opts(tmp_path, platform=name)
    assert (o.aspect, o.height, o.hook) == ("9:16", 1920, "title")
    mine = opts(tmp_path, platform=name, height=320, hook="off", aspect="1:1")
    assert (mine.aspect, mine.height, mine.hook) == ("1:1", 320, "off")
    # what the preset changes is hashed like any option: the caption stage re-runs, transcription does not
    assert o.stage_hash("subtitles") != DEFAULTS.stage_hash("subtitles")
    assert o.stage_hash("transcribe") == DEFAULTS.stage_hash("transcribe")


def test_no_platform_changes_nothing(tmp_path):
    assert opts(tmp_path) == DEFAULTS and DEFAULTS.platform == "none" and DEFAULTS.tighten == "yes"


def test_a_clip_longer_than_the_platform_takes_is_refused(tmp_path):
    with pytest.raises(OptionError, match="shorts"):
        opts(tmp_path, platform="shorts", max_len=300)
    assert opts(tmp_path, platform="tiktok", max_len=300).max_len == 300


def test_safe_zones_leave_the_bottom_and_right_to_the_apps():
    for p in PLATFORMS.values():
        assert 0.2 <= p.safe.bottom <= 0.25 and p.safe.right >= 0.1 and p.loudness == -14.0
        x0, y0, x1, y1 = p.safe.box((1080, 1920))
        assert x1 <= 1080 - 108 and y1 <= 1920 - 384
    assert safe_zone("none").bottom == 0.22


@pytest.mark.parametrize("given", [{"caption_style": "comic"}, {"caption_style": "/no/such/style.ass"},
                                   {"platform": "myspace"}, {"hook": "yes"}, {"tighten": "maybe"},
                                   {"tighten_pause": "0.05"}, {"tighten_breath": "0.5"}])
def test_bad_values_stop_with_one_line(tmp_path, given):
    with pytest.raises(OptionError):
        opts(tmp_path, **given)


def test_an_own_style_file_is_accepted_and_is_an_input(tmp_path):
    from clipforge.assets import caption_files

    style = tmp_path / "mine.ass"
    style.write_text("[Script Info]\nScriptType: v4.00+\n")
    o = opts(tmp_path, caption_style=str(style))
    assert str(style.resolve()) in caption_files(o)
