"""Real-world inputs (issue 19): phone rotation, non-square pixels, small faces, quiet/loud/5.1/two-track sound.

Each input is made by tools/make_realworld_media.py with real ffmpeg, then runs through the real
stages as the pipeline calls them (download's probe and track choice, vfx, loudness, extract's one
compose encode; only transcription is left out: these checks are about picture and sound). The
output is checked as a user would: frames pulled from the clip and a face detector independent of
the stage's (another OpenCV cascade at another scale on the full output frame), a circle measured
for distortion, loudness and true peak measured by ffmpeg's ebur128 filter, the stream format read back.
"""

from __future__ import annotations

import importlib.util
import math
import re

import av
import cv2
import numpy as np
import pytest

from clipforge.fsutil import read_json, write_json
from clipforge.media import ffmpeg_log, probe
from clipforge.records import ClipJob, ClipPlan
from clipforge.stages import download, extract, loudness, vfx
from clipforge.stages.audio import speech_seconds
from tests.helpers import ROOT

_spec = importlib.util.spec_from_file_location("make_realworld_media", ROOT / "tools" / "make_realworld_media.py")
media = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(media)

SECONDS = media.SECONDS
HEIGHT = 640  # output height: small keeps the encodes quick; the geometry is what is checked


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("realworld")


def make_clip(src, work, *, aspect="9:16", reframe="face", level="-14", start=0.0, duration=None,
              audio_track=-1):
    """download -> vfx -> loudness -> extract for one planned clip of `src`; returns (clip, source.json, files)."""
    work.mkdir(parents=True, exist_ok=True)
    info_path, media_path = work / "source.json", work / "source.media"
    download.run(str(src), str(media_path), str(info_path), audio_track=audio_track)
    info = read_json(info_path)
    duration = info["duration"] - start if duration is None else duration
    plan = ClipPlan(id="seg001", start=start, end=start + duration, title="t", reason="r", score=1, text="",
                    first_word="", last_word="")
    files = {s: str(work / f"seg001{s}") for s in (".reframe.json", ".loudness.json", ".broll.json", ".mp4")}
    write_json(files[".broll.json"], {"inserts": []})

    def job(outputs, inputs=None, **options):
        return ClipJob(clip=plan, words=[], source=str(media_path), source_info=info, inputs=inputs or {},
                       extra=[], outputs=outputs, options=options)

    vfx.run(job({".reframe.json": files[".reframe.json"]}, aspect=aspect, reframe=reframe, height=HEIGHT))
    loudness.run(job({".loudness.json": files[".loudness.json"]}, loudness=level, true_peak=-1.0))
    extract.run(job({".mp4": files[".mp4"]}, inputs={
        "vfx.reframe.json": files[".reframe.json"], "broll.broll.json": files[".broll.json"],
        "loudness.loudness.json": files[".loudness.json"], "subtitles.ass": str(work / "none.ass")},
        cut="reencode", preset="ultrafast", captions="off"))
    return files[".mp4"], info, files


# --- independent checks ------------------------------------------------------------

_alt = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")


def frames(clip, every: float = 0.25):
    out, next_t = [], 0.0
    with av.open(str(clip)) as c:
        for f in c.decode(video=0):
            if f.time is not None and f.time + 1e-6 >= next_t:
                out.append((f.time, f.to_ndarray(format="gray")))
                next_t += every
    return out


def independent_faces(gray: np.ndarray):
    """Not the stage's detector: the alt2 cascade, finer scale steps, on the whole output frame."""
    return _alt.detectMultiScale(gray, scaleFactor=1.05, minNeighbors=3, minSize=(20, 20))


def face_share(clip) -> float:
    got = frames(clip)
    return sum(1 for _, g in got if len(independent_faces(g))) / len(got)


def ebur128(clip) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) measured by ffmpeg's ebur128 filter."""
    text = ffmpeg_log(["-i", str(clip), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"],
                      what="ebur128", timeout=120)
    summary = text[text.rindex("Summary:"):]
    i = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary, re.S).group(1)
    return i, float(peak)


def audio_format(clip) -> tuple[int, int, str]:
    with av.open(str(clip)) as c:
        a = c.streams.audio[0]
        return a.codec_context.sample_rate, a.codec_context.channels, a.codec_context.name


def channels_rms(clip) -> np.ndarray:
    with av.open(str(clip)) as c:
        chunks = [f.to_ndarray() for f in c.decode(audio=0)]
    data = np.concatenate(chunks, axis=1)  # fltp: (channels, samples)
    return np.sqrt((data.astype(np.float64) ** 2).mean(axis=1))


# --- orientation ---------------------------------------------------------------------


@pytest.mark.parametrize("rotation", [-90, 90, 180])
def test_a_rotated_phone_video_is_framed_in_its_display_frame(folder, rotation):
    src = media.rotated(folder / f"rot{rotation}.mp4", rotation)
    clip, info, files = make_clip(src, folder / f"rot{rotation}")
    assert info["rotation"] == rotation % 360 and info["frame"] == "display"
    assert (info["width"], info["height"]) == (media.W, media.H)  # the upright landscape a player shows
    assert info["stored"] == ({"w": media.H, "h": media.W} if rotation % 180 else {"w": media.W, "h": media.H})
    d = read_json(files[".reframe.json"])
    assert d["frame"] == "display" and d["source"] == {"w": media.W, "h": media.H} and d["mode"] == "face"
    # The camera follows the face in display pixels: the window holds where the face was put.
    from clipforge.stages.camera import Keyframe, position_at
    path = [Keyframe(**k) for k in d["path"]]
    for t in (1.0, 3.0, 5.0):
        x = position_at(path, t)[0]
        assert x <= media.face_x(t) <= x + d["crop"]["w"], (t, x, d["path"])
    out = probe(clip)
    assert (out.width, out.height, out.rotation) == (360, 640, 0)  # upright, rotated once, no flag left
    share = face_share(clip)
    assert share >= 0.95, f"an independent detector found the face in {share:.0%} of the frames"


# --- pixel shape -----------------------------------------------------------------------


def _circle_ratio(gray: np.ndarray) -> float:
    mask = (gray > 200).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    big = max(range(1, n), key=lambda i: stats[i, cv2.CC_STAT_AREA])
    return stats[big, cv2.CC_STAT_WIDTH] / stats[big, cv2.CC_STAT_HEIGHT]


def test_non_square_pixels_are_shown_as_a_player_shows_them(folder):
    src = media.anamorphic(folder / "anamorphic.mp4")
    clip, info, _ = make_clip(src, folder / "ana-source", aspect="source", level="off")
    assert info["sar"] == "4:3" and (info["width"], info["height"]) == (640, 360)
    out = probe(clip)
    assert (out.width, out.height, out.sar) == (640, 360, (1, 1))  # aspect=source: the 16:9 display shape
    ratio = _circle_ratio(frames(clip)[4][1])
    assert abs(ratio - 1) < 0.05, f"the circle came out {ratio:.2f} times as wide as high"
    square, _, _ = make_clip(src, folder / "ana-square", aspect="1:1", reframe="center", level="off")
    ratio = _circle_ratio(frames(square)[4][1])
    assert abs(ratio - 1) < 0.05, f"the circle came out {ratio:.2f} times as wide as high"
    face, _, _ = make_clip(src, folder / "ana-face")
    assert face_share(face) >= 0.95


# --- small faces ---------------------------------------------------------------------


def test_a_small_face_in_a_wide_shot_is_followed(folder):
    src = media.wide(folder / "wide.mp4")
    clip, info, files = make_clip(src, folder / "wide")
    d = read_json(files[".reframe.json"])
    with_face = [s for s in d["samples"] if s["faces"]]
    assert len(with_face) >= 0.9 * len(d["samples"]), d["note"]
    heights = [f[3] for s in with_face for f in s["faces"]]
    assert max(heights) <= 0.06 * 720  # these are small faces: the first pass alone would find none
    assert all(s["count"] == len(s["faces"]) for s in d["samples"]) and d["faces"]["max"] == 1
    share = face_share(clip)
    assert share >= 0.95, f"an independent detector found the face in {share:.0%} of the frames"


def test_several_faces_are_counted_per_sample(folder):
    src = media.two_faces(folder / "two_faces.mp4")
    _, _, files = make_clip(src, folder / "two_faces", level="off")
    d = read_json(files[".reframe.json"])
    assert d["faces"]["max"] == 2 and d["faces"]["several"] >= 0.9, d["faces"]
    both = [s for s in d["samples"] if s["count"] == 2]
    centres = sorted(f[0] + f[2] / 2 for f in both[0]["faces"])
    assert abs(centres[0] - 120) < 20 and abs(centres[1] - 520) < 20  # where the two faces were put


# --- sound ---------------------------------------------------------------------------


def _assert_posted_sound(clip, target=-14.0):
    assert audio_format(clip) == (48000, 2, "aac")
    i, tp = ebur128(clip)
    assert abs(i - target) <= 1.0, f"integrated loudness {i} LUFS, target {target}"
    assert tp <= -1.0, f"true peak {tp} dBTP"


def test_a_quiet_room_is_raised_to_the_target_with_a_warning(folder):
    src = media.audio_levels(folder / "quiet", -40)
    clip, _, files = make_clip(src, folder / "quiet")
    _assert_posted_sound(clip)
    sound = read_json(files[".loudness.json"])
    assert sound["measured"]["i"] < -50 and sound["gain_db"] > 30
    assert any("very quiet" in w for w in sound["warnings"])
    left, right = channels_rms(clip)
    assert abs(20 * math.log10(left / right)) < 0.5  # mono speech stays centred


def test_a_loud_clipping_recording_is_lowered_and_flagged(folder):
    src = media.audio_levels(folder / "loud", 12)
    clip, _, files = make_clip(src, folder / "loud")
    _assert_posted_sound(clip)
    assert any("clips" in w for w in read_json(files[".loudness.json"])["warnings"])


def test_another_target_and_off(folder):
    src = media.audio_levels(folder / "plain", 0)
    clip, _, _ = make_clip(src, folder / "target23", level="-23")
    _assert_posted_sound(clip, target=-23.0)
    off, _, files = make_clip(src, folder / "off", level="off")
    assert audio_format(off) == (48000, 2, "aac")  # still the posting format
    assert read_json(files[".loudness.json"])["target"] is None
    measured_src = loudness.measure(source=str(src), start=0.0, duration=SECONDS)
    assert abs(ebur128(off)[0] - measured_src["i"]) < 1.0  # left as it was


@pytest.mark.parametrize("rate", [8000, 96000])
def test_any_sample_rate_comes_out_at_48k(folder, rate):
    src = media.audio_levels(folder / f"rate{rate}", -6, rate=rate)
    assert probe(src).audio_rate == rate
    clip, _, _ = make_clip(src, folder / f"rate{rate}")
    _assert_posted_sound(clip)


def test_surround_is_downmixed_to_stereo_with_the_voice_centred(folder):
    src = media.surround(folder / "surround.mp4")
    clip, info, files = make_clip(src, folder / "surround")
    assert info["audio_channels"] == 6 and read_json(files[".loudness.json"])["channels"] == 6
    _assert_posted_sound(clip)
    left, right = channels_rms(clip)
    assert abs(20 * math.log10(left / right)) < 0.5
    assert speech_seconds(clip, 0) > 2.0  # the centre channel's voice is in the stereo mix


def test_the_track_that_holds_speech_is_used(folder, capsys):
    src = media.two_tracks(folder / "two.mp4")
    clip, info, files = make_clip(src, folder / "two")
    assert info["audio_tracks"] == 2 and info["audio_track"] == 1 and "holds speech" in info["audio_track_why"]
    assert "audio track 1 of 2" in capsys.readouterr().out
    assert read_json(files[".loudness.json"])["track"] == 1
    assert speech_seconds(clip, 0) > 2.0
    music, info0, _ = make_clip(src, folder / "two-0", audio_track=0)
    assert info0["audio_track"] == 0 and speech_seconds(music, 0) < 1.0


def test_an_audio_track_that_does_not_exist_is_a_bad_option(folder):
    from clipforge.errors import ErrorCode, OptionError

    src = media.two_tracks(folder / "two-bad.mp4")
    with pytest.raises(OptionError) as err:
        download.run(str(src), str(folder / "bad.media"), str(folder / "bad.json"), audio_track=5)
    assert err.value.code == ErrorCode.BAD_OPTION and "2 audio track" in str(err.value)


# --- the end of the source ---------------------------------------------------------------


def test_a_clip_that_ends_with_the_source_is_not_short(folder):
    # Video a little shorter than the sound, as phones and screen recorders write it.
    src = folder / "tail.mp4"
    from clipforge.media import run_ffmpeg
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=12:d=5.96", "-f", "lavfi", "-i", "sine=d=6.03",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(src)],
               what="tail video", timeout=60)
    clip, info, _ = make_clip(src, folder / "tail", start=2.0, reframe="center")
    span = info["duration"] - 2.0
    with av.open(str(clip)) as c:
        v = c.streams.video[0]
        times = [f.time for f in c.decode(v)]
    last_end = times[-1] + 1 / 12
    assert last_end >= span - 1e-3, f"the picture ends at {last_end:.3f} s of a {span:.3f} s span"
    assert last_end < span + 1 / 12 + 1e-3  # and not a frame more than it needs


# --- the whole pipeline, as a user runs it ----------------------------------------------------


def test_a_quiet_sideways_two_track_phone_video_end_to_end(tmp_path):
    from tests.helpers import make_project, run_ok

    p = make_project(tmp_path / "proj")
    media.phone(p.path / "phone.mp4")
    result = run_ok(p.doit("input=phone.mp4", "clips=2", "min_len=5", "max_len=12", timeout=600))
    out = result.stdout + result.stderr
    assert "audio track 1 of 2" in out and "rotation 270" in out
    m = p.manifest()
    assert m["input"]["frame"] == "display" and m["input"]["display"] == {"w": media.W, "h": media.H}
    assert m["input"]["rotation"] == 270 and m["input"]["audio_track"] == 1
    assert m["clips"], out
    page = (p.path / "clips" / m["page"]["file"]).read_text()
    for clip in m["clips"]:
        assert clip["loudness"]["track"] == 1 and any("very quiet" in w for w in clip["warnings"]), clip
        assert "WARNING loudness" in out
        assert clip["warnings"][0].split(":")[0] in page  # the review page shows it too
        path = p.path / "clips" / clip["file"]
        _assert_posted_sound(path)
        info = probe(path)
        assert (info.width, info.height, info.rotation) == (180, 320, 0)
        assert face_share(path) >= 0.95
