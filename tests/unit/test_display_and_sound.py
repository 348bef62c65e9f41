"""The display frame's arithmetic, the loudness decisions and the option checks (issue 19), without media."""

from __future__ import annotations

import math

import pytest

from clipforge.config import load_options, loudness_target
from clipforge.errors import OptionError
from clipforge.media import display_size
from clipforge.stages import compose, loudness


@pytest.mark.parametrize(("stored", "rotation", "sar", "shown"), [
    ((1920, 1080), 0, (1, 1), (1920, 1080)),
    ((1920, 1080), 90, (1, 1), (1080, 1920)),
    ((1920, 1080), 270, (1, 1), (1080, 1920)),
    ((1920, 1080), 180, (1, 1), (1920, 1080)),
    ((1440, 1080), 0, (4, 3), (1920, 1080)),  # HDV: non-square pixels, 16:9 on screen
    ((1440, 1080), 90, (4, 3), (1080, 1920)),  # both: the pixel shape first, then the turn
    ((720, 576), 0, (64, 45), (1024, 576)),  # PAL widescreen DV
])
def test_display_size(stored, rotation, sar, shown):
    assert display_size(stored, rotation=rotation, sar=sar) == shown


def test_loudness_option():
    assert loudness_target("-14") == -14.0 and loudness_target("-23LUFS") == -23.0
    assert loudness_target("off") is None and loudness_target("0") is None and loudness_target("-60") is None
    assert load_options({"loudness": "off"}).loudness == "off"
    for bad in ({"loudness": "loud"}, {"loudness": "-3"}, {"true_peak": "2"}, {"audio_track": "-2"}):
        with pytest.raises(OptionError) as err:
            load_options(bad)
        assert err.value.code.name == "BAD_OPTION"


def _measured(i, tp=-10.0, peak=-10.0, count=1.0):
    return {"i": i, "tp": tp, "lra": 3.0, "thresh": i - 10, "offset": 0.0, "peak": peak, "peak_count": count}


def test_loudness_decisions():
    gain, warnings = loudness.decide(_measured(-20.0), target=-14.0, true_peak=-1.0)
    assert gain == 6.0 and warnings == []
    gain, warnings = loudness.decide(_measured(-45.0), target=-14.0, true_peak=-1.0)
    assert gain == 31.0 and "very quiet" in warnings[0]
    gain, warnings = loudness.decide(_measured(-9.0, tp=0.2, peak=0.0, count=500), target=-14.0, true_peak=-1.0)
    assert gain == -5.0 and "clips" in warnings[0]
    gain, warnings = loudness.decide(_measured(-math.inf), target=-14.0, true_peak=-1.0)
    assert gain is None and "no audible sound" in warnings[0]  # noise is never raised 60 dB
    assert loudness.decide(_measured(-20.0), target=None, true_peak=-1.0) == (None, [])
    # Speech touching full scale once is no clipping; a lossy track decoded over full scale is.
    assert not loudness.clipped(_measured(-14, peak=-0.05, count=2))
    assert loudness.clipped(_measured(-14, peak=0.6, count=1))


def test_loudnorm_and_astats_output_is_read():
    text = """[Parsed_astats_0 @ 0x1] Overall
[Parsed_astats_0 @ 0x1] Peak level dB: -0.000265
[Parsed_astats_0 @ 0x1] Peak count: 8479.000000
[Parsed_loudnorm_2 @ 0x2]
{
	"input_i" : "-27.61",
	"input_tp" : "-4.47",
	"input_lra" : "18.06",
	"input_thresh" : "-39.20",
	"output_i" : "-16.58",
	"target_offset" : "0.58"
}"""
    got = loudness.parse_loudnorm(text)
    assert got == {"i": -27.61, "tp": -4.47, "lra": 18.06, "thresh": -39.2, "offset": 0.58}
    assert loudness.parse_astats(text) == {"peak": -0.000265, "peak_count": 8479.0}
    silent = loudness.parse_loudnorm('{"input_i" : "-inf", "input_tp" : "-inf", "input_lra" : "0.00", '
                                     '"input_thresh" : "-70.00", "target_offset" : "inf"}')
    assert silent["i"] == -math.inf


def test_compose_graph_applies_the_sound_decision_and_the_display_frame():
    sound = {"target": {"i": -14.0, "tp": -1.0}, "track": 1, "gain_db": 7.35, "limit_db": -2.5}
    reframe = {"mode": "center", "crop": {"w": 606, "h": 1080}, "output": {"w": 360, "h": 640},
               "path": [{"t": 0, "x": 656, "y": 0}]}
    args = compose.compose_args(source="in.mp4", start=1.0, duration=4.0, has_video=True, src_size=(1920, 1080),
                                reframe=reframe,
                                broll=None, ass=None, fontsdir=compose.default_fontsdir(), out="o.mp4",
                                preset="ultrafast", src_fps=25.0, sar=(4, 3), audio=sound)
    graph = args[args.index("-filter_complex") + 1]
    # The pixel shape is made square at display size before the crop; the span is 100 frames exactly.
    assert graph.index("scale=h=1080:w=1920") < graph.index("crop=") and "trim=end_frame=100" in graph
    assert "[0:a:1]" in graph and "volume=7.35dB" in graph and "alimiter=" in graph
    assert "atrim=duration=4" in graph
    assert args[args.index("-ar") + 1] == "48000" and args[args.index("-ac") + 1] == "2"
    off = compose.compose_args(source="in.mp4", start=0.0, duration=2.0, has_video=False, src_size=None,
                               reframe=None, broll=None, ass=None, fontsdir=compose.default_fontsdir(), out="o.mp4",
                               preset="ultrafast", audio={"target": None, "track": 0})
    graph = off[off.index("-filter_complex") + 1]
    assert "volume" not in graph and "channel_layouts=stereo" in graph
