"""Camera path planning (stages.camera): sizes per aspect and the virtual camera's rules."""

from __future__ import annotations

import pytest

from clipforge.errors import ErrorCode, OptionError
from clipforge.stages.camera import (
    CameraOptions,
    Keyframe,
    coverage,
    crop_size,
    output_size,
    plan_path,
    position_at,
    thin,
)
from clipforge.stages.faces import FaceSample

SRC = (1920, 1080)
CROP = crop_size(*SRC, "9:16")  # (608, 1080)
OPTS = CameraOptions()
FACE = 200  # face box side, px


def face_at(cx: float, cy: float = 400, side: int = FACE) -> tuple[int, int, int, int]:
    return (int(cx - side / 2), int(cy - side / 2), side, side)


def track(centres, fps: float = 4.0, cuts=(), gaps=()):
    """Samples at `fps`; centres[i] is the face centre x (None: no face); cuts/gaps are sample indices."""
    return [FaceSample(t=i / fps, faces=() if cx is None or i in gaps else (face_at(cx),), scene_cut=i in cuts)
            for i, cx in enumerate(centres)]


def xs_over(path, t_end: float, step: float = 1 / 30):
    n = int(t_end / step) + 1
    return [position_at(path, i * step)[0] for i in range(n)]


@pytest.mark.parametrize("src,aspect,expected", [
    ((1920, 1080), "9:16", (608, 1080)),
    ((1920, 1080), "1:1", (1080, 1080)),
    ((1920, 1080), "4:5", (864, 1080)),
    ((1920, 1080), "16:9", (1920, 1080)),
    ((1920, 1080), "source", (1920, 1080)),
    ((1280, 720), "9:16", (406, 720)),
    ((640, 360), "9:16", (202, 360)),
    ((1080, 1920), "16:9", (1080, 608)),
    ((1080, 1920), "1:1", (1080, 1080)),
    ((1080, 1920), "9:16", (1080, 1920)),
    ((1081, 721), "source", (1080, 720)),
])
def test_crop_size(src, aspect, expected):
    w, h = crop_size(*src, aspect)
    assert (w, h) == expected
    assert w % 2 == 0 and h % 2 == 0 and w <= src[0] and h <= src[1]


@pytest.mark.parametrize("aspect,height,src,expected", [
    ("9:16", 1280, None, (720, 1280)),
    ("9:16", 1920, None, (1080, 1920)),
    ("1:1", 1080, None, (1080, 1080)),
    ("4:5", 1350, None, (1080, 1350)),
    ("16:9", 720, None, (1280, 720)),
    ("source", 1280, (1920, 1080), (2276, 1280)),
    ("source", 720, (640, 360), (1280, 720)),
])
def test_output_size(aspect, height, src, expected):
    assert output_size(aspect, height, src) == expected


@pytest.mark.parametrize("aspect", ["9x16", "wide", "0:1", ""])
def test_bad_aspect(aspect):
    with pytest.raises(OptionError) as err:
        crop_size(1920, 1080, aspect)
    assert err.value.code is ErrorCode.BAD_OPTION


def test_dead_zone_ignores_jitter():
    jitter = [960 + (25 if i % 2 else -25) for i in range(40)]  # +-25 px, well inside 10 % of 608
    path = plan_path(track=track(jitter), src=SRC, crop=CROP, opts=OPTS)
    assert len({(k.x, k.y) for k in path}) == 1
    assert len(path) <= 2


def test_pan_speed_bounded_and_no_cut_for_reachable_moves():
    # The face walks 150 px/s: within 0.5 crop widths/s (304 px/s), so the camera pans, never jumps.
    centres = [700 + 150 * i / 4 for i in range(40)]
    path = plan_path(track=track(centres), src=SRC, crop=CROP, opts=OPTS)
    assert not any(k.cut for k in path)
    step = 1 / 30
    bound = OPTS.speed * CROP[0] * step + 2  # +2: positions are even pixels
    xs = xs_over(path, 10.0, step)
    assert max(abs(b - a) for a, b in zip(xs, xs[1:])) <= bound
    assert xs[-1] > xs[0] + 800  # and it does follow


def test_cut_at_scene_change():
    centres = [400] * 12 + [1500] * 12
    path = plan_path(track=track(centres, cuts={12}), src=SRC, crop=CROP, opts=OPTS)
    cuts = [k for k in path if k.cut]
    assert len(cuts) == 1 and cuts[0].t == pytest.approx(3.0)
    before, after = position_at(path, 2.99)[0], position_at(path, 3.0)[0]
    assert before == pytest.approx(400 - CROP[0] / 2, abs=2)
    assert after == pytest.approx(1500 - CROP[0] / 2, abs=2)


def test_far_jump_without_scene_flag_is_a_cut():
    centres = [400] * 8 + [1500] * 8  # the detector missed the cut; too far to pan within 1 s
    path = plan_path(track=track(centres), src=SRC, crop=CROP, opts=OPTS)
    assert [k.t for k in path if k.cut] == [pytest.approx(2.0)]


def test_no_face_is_centre():
    path = plan_path(track=track([None] * 20), src=SRC, crop=CROP, opts=OPTS)
    assert path == [Keyframe(t=0.0, x=(1920 - 608) // 2, y=0)]
    assert plan_path(track=[], src=SRC, crop=CROP)[0].x == 656


def test_centre_until_first_face_then_follow():
    centres = [None] * 12 + [800] * 12  # face shows at 3 s, reachable: a pan, not a jump
    path = plan_path(track=track(centres), src=SRC, crop=CROP, opts=OPTS)
    assert position_at(path, 2.0)[0] == 656
    assert position_at(path, 5.9)[0] == pytest.approx(800 - 304, abs=2)


def test_lost_face_holds_last_framing():
    centres = [1400] * 8 + [None] * 3 + [1400] * 8  # lost for 0.75 s
    path = plan_path(track=track(centres), src=SRC, crop=CROP, opts=OPTS)
    xs = {round(position_at(path, t / 10)[0]) for t in range(0, 46)}
    assert xs == {1400 - 304}


def test_opening_uses_first_face_of_the_shot():
    centres = [None, None, 1500] + [1500] * 10  # the face is found at 0.5 s: open there, no pan from centre
    path = plan_path(track=track(centres), src=SRC, crop=CROP, opts=OPTS)
    assert position_at(path, 0.0)[0] == 1500 - 304


def test_clamped_inside_source():
    for cx, expected in ((30, 0), (1900, 1920 - 608)):
        path = plan_path(track=track([cx] * 8), src=SRC, crop=CROP, opts=OPTS)
        assert {k.x for k in path} == {expected}


def test_vertical_framing_with_headroom_when_crop_is_shorter():
    src, crop = (1080, 1920), crop_size(1080, 1920, "1:1")
    samples = [FaceSample(t=i / 4, faces=(face_at(540, 700),)) for i in range(8)]
    path = plan_path(track=samples, src=src, crop=crop, opts=OPTS)
    assert path[0].x == 0 and path[0].y == pytest.approx(700 - 0.4 * 1080, abs=2)


def test_isolated_false_positive_is_ignored():
    centres = [960] * 20
    samples = track(centres)
    samples[10] = FaceSample(t=samples[10].t, faces=(face_at(960), face_at(1800, side=260)))
    samples[5] = FaceSample(t=samples[5].t, faces=(face_at(200),))  # a lone hit, subject missing
    path = plan_path(track=samples, src=SRC, crop=CROP, opts=OPTS)
    assert {k.x for k in path} == {656}


def test_two_faces_prefers_the_one_being_framed():
    samples = [FaceSample(t=i / 4, faces=(face_at(500, side=180), face_at(1500, side=220))) for i in range(12)]
    path = plan_path(track=samples, src=SRC, crop=CROP, opts=OPTS)
    assert len({k.x for k in path}) == 1  # no ping-pong between the two
    # With nobody framed yet the larger face wins unless the other is much nearer the centre.
    assert path[0].x == 1500 - 304


def test_thinning_keeps_a_minute_under_the_budget():
    # A face that keeps wandering for a minute at 4 samples/s: 240 raw keyframes.
    import math
    centres = [960 + 500 * math.sin(i / 7) for i in range(240)]
    path = plan_path(track=track(centres), src=SRC, crop=CROP, opts=OPTS)
    assert len(path) <= 100
    assert not any(k.cut for k in path)


def test_thin_merges_collinear_and_stationary_runs_but_keeps_cuts():
    raw = [Keyframe(t=i, x=100 + 10 * i, y=0) for i in range(5)] + [Keyframe(t=5 + i, x=140, y=0) for i in range(3)]
    raw += [Keyframe(t=8, x=900, y=0, cut=True), Keyframe(t=9, x=900, y=0)]
    out = thin(raw)
    assert [(k.t, k.x, k.cut) for k in out] == [(0, 100, False), (4, 140, False), (8, 900, True)]
    for t in (0.5, 2.5, 6.0, 7.99, 8.0, 8.5):
        assert position_at(out, t) == pytest.approx(position_at(raw, t), abs=2)


def test_coverage_counts_only_samples_with_faces():
    samples = track([960, None, 960, 1800])
    path = [Keyframe(t=0.0, x=656, y=0)]
    assert coverage(samples, path, CROP) == pytest.approx(2 / 3)
    assert coverage(track([None, None]), path, CROP) is None


def test_accepts_json_samples():
    as_json = [s.to_dict() for s in track([1400] * 8)]
    assert plan_path(track=as_json, src=SRC, crop=CROP)[0].x == 1400 - 304
