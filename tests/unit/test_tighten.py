"""The tighten decision (pauses to a breath, fillers, never inside a word) and the timeline mapping."""

from __future__ import annotations

import numpy as np
import pytest

from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.records import Word
from clipforge.stages.camera import Keyframe, position_at
from clipforge.stages.tighten import RATE, TightenOptions, energy_db, plan_cuts
from clipforge.timeline import Timeline

FPS = 25.0


def audio(bursts: list[tuple[float, float]], total: float, *, level: float = 0.3, noise: float = 0.0005,
          seed: int = 1) -> np.ndarray:
    """Tone bursts (the 'words') over a faint noise floor."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(total * RATE)) / RATE
    x = rng.normal(0, noise, len(t))
    for a, b in bursts:
        on = (t >= a) & (t < b)
        x[on] += level * np.sin(2 * np.pi * 220 * t[on])
    return x.astype(np.float32)


def words_for(bursts, texts=None) -> list[Word]:
    texts = texts or [f"w{i}" for i in range(len(bursts))]
    return [Word(f" {w}", a, b) for (a, b), w in zip(bursts, texts)]


# Gaps: 0.2 (kept), 0.6 and 1.2 (shortened), 0.35 (kept).
BURSTS = [(0.2, 1.0), (1.2, 2.0), (2.6, 3.4), (4.6, 5.2), (5.55, 6.3)]
SPAN = 6.5


def decide(bursts=BURSTS, words=None, span=SPAN, **kw):
    db = energy_db(audio(bursts, span))
    return plan_cuts(db=db, words=words if words is not None else words_for(bursts), span=span, fps=FPS,
                     opts=TightenOptions(**kw))


def silences_after(decision, bursts) -> list[float]:
    """Silence between consecutive bursts on the output timeline."""
    tl = Timeline.from_decision(decision, SPAN)
    return [tl.to_output(b[0]) - tl.to_output(a[1], late=True) for a, b in zip(bursts, bursts[1:])]


def test_long_pauses_become_a_breath_short_ones_stay():
    d = decide()
    gaps = silences_after(d, BURSTS)
    assert gaps[0] == pytest.approx(0.2, abs=0.011)  # under the threshold: untouched
    assert gaps[3] == pytest.approx(0.35, abs=0.011)
    for g in gaps[1:3]:  # 0.6 and 1.2 s: a breath (0.15) give or take a frame of rounding each side
        assert 0.15 - 2 / FPS - 1e-6 <= g <= 0.15 + 2 / FPS + 1e-6, gaps
    assert d["removed_seconds"] == pytest.approx((0.6 + 1.2) - sum(gaps[1:3]), abs=0.02)
    assert len(d["removed"]) == 2 and all("pause" in r["why"] for r in d["removed"])


def test_cuts_lie_on_the_frame_grid_and_in_silence():
    d = decide()
    for r in d["removed"]:
        for t in (r["start"], r["end"]):
            assert abs(t * FPS - round(t * FPS)) < 1e-3, t
            # at least min_side of silence on each side of every cut: never touching a burst
            assert all(not (a - 0.03 < t < b + 0.03) for a, b in BURSTS), (t, r)


def test_a_word_quieter_than_the_silence_level_is_kept_by_its_timestamps():
    # A whispered word at 3.9-4.3 s inside the 1.2 s pause: the audio alone would call it silence.
    words = words_for(BURSTS) + [Word(" psst", 3.9, 4.3)]
    words.sort(key=lambda w: w.start)
    d = decide(words=words)
    assert all(not (r["start"] < 4.1 < r["end"]) for r in d["removed"]), d["removed"]


def test_word_ends_drifting_into_a_pause_do_not_block_the_cut():
    # Whisper stretches each word's end over the whole pause after it (as tiny.en does at sentence
    # ends), and starts the next word late: the audio decides, the pauses are still tightened.
    stretched = [Word(f" w{i}", a + (0.25 if i else 0.0), BURSTS[i + 1][0] if i + 1 < len(BURSTS) else b)
                 for i, (a, b) in enumerate(BURSTS)]
    d = decide(words=stretched)
    assert len(d["removed"]) == 2
    # and the words the captions use have their edges back on the sound
    for w, (a, b) in zip(d["words"], BURSTS):
        assert abs(w["start"] - a) <= 0.03 and abs(w["end"] - b) <= 0.03, (w, a, b)


def test_word_edges_inside_running_speech_stay():
    # No silence between these words: nothing to go by, the timestamps stay as they are.
    bursts = [(0.2, 2.0)]
    words = [Word(" one", 0.2, 0.9), Word(" two", 0.9, 1.5), Word(" three", 1.5, 2.0)]
    d = decide(bursts=bursts, words=words, span=2.3)
    assert [(w["start"], w["end"]) for w in d["words"][1:]] == [(0.9, 1.5), (1.5, 2.0)]


def test_no_silence_means_no_cut():
    d = decide(bursts=[(0.0, SPAN)], words=[Word(" long", 0.0, SPAN)])
    assert d["removed"] == [] and d["kept"] == [{"start": 0.0, "end": SPAN}]


def test_fillers_with_silence_around_them_are_cut():
    bursts = [(0.2, 1.0), (1.3, 1.6), (1.9, 2.8)]
    d = decide(bursts=bursts, words=words_for(bursts, ["so", "um,", "bread"]), span=3.0)
    assert len(d["fillers_found"]) == 1 and d["fillers_found"][0].startswith("um,@1.")
    tl = Timeline.from_decision(d, 3.0)
    assert not tl.keeps(1.35, 1.55), d["kept"]
    assert [w.text.strip() for w in tl.map_words(words_for(bursts, ["so", "um,", "bread"]))] == ["so", "bread"]
    # the words either side are whole
    assert tl.keeps(0.2, 1.0) and tl.to_output(1.0, late=True) - tl.to_output(0.2) == pytest.approx(0.8)


def test_a_filler_glued_to_a_word_is_left():
    bursts = [(0.2, 1.0), (1.0, 1.3), (1.6, 2.5)]  # "um" runs straight out of the first word
    d = decide(bursts=bursts, words=words_for(bursts, ["so", "um", "bread"]), span=3.0)
    assert Timeline.from_decision(d, 3.0).keeps(1.05, 1.25)


def test_the_opening_silence_keeps_a_whole_breath():
    bursts = [(0.9, 2.0), (2.2, 3.0)]
    d = decide(bursts=bursts, span=3.2)
    tl = Timeline.from_decision(d, 3.2)
    assert 0.15 - 1 / FPS - 1e-6 <= tl.to_output(0.9) <= 0.15 + 1 / FPS + 1e-6


# --- the timeline --------------------------------------------------------------------


def test_timeline_maps_times_and_words():
    tl = Timeline(kept=((0.0, 1.0), (2.0, 3.0)), span=3.0)
    assert tl.duration == 2.0 and tl.removed == 1.0 and not tl.is_whole
    assert tl.to_output(0.5) == 0.5 and tl.to_output(2.5) == 1.5
    assert tl.to_output(1.5) == 1.0 and tl.to_output(1.5, late=True) == 1.0
    words = [Word(" a", 0.2, 0.8), Word(" gone", 1.2, 1.8), Word(" b", 2.1, 2.9)]
    assert [(w.text, w.start, w.end) for w in tl.map_words(words)] == [(" a", 0.2, 0.8), (" b", 1.1, 1.9)]


def test_camera_path_on_the_tightened_timeline_shows_what_the_source_path_showed():
    path = [Keyframe(t=0.0, x=0, y=0), Keyframe(t=4.0, x=400, y=0), Keyframe(t=5.0, x=100, y=0, cut=True),
            Keyframe(t=6.0, x=100, y=0)]
    tl = Timeline(kept=((0.0, 1.5), (2.5, 4.5), (5.2, 6.0)), span=6.0)
    mapped = tl.map_path([k.to_dict() for k in path], lambda t: position_at(path, t))
    keys = [Keyframe(t=k["t"], x=k["x"], y=k["y"], cut=k["cut"]) for k in mapped]
    for (a, b), o in zip(tl.kept, tl.offsets()):
        for s in np.linspace(a + 0.01, b - 0.01, 9):  # not exactly on a junction: float rounding picks a side
            want, _ = position_at(path, s)
            got, _ = position_at(keys, o + (s - a))
            assert abs(got - want) <= 1.0, (s, got, want)


def test_an_edited_cuts_file_that_makes_no_sense_is_one_clear_error():
    with pytest.raises(ClipforgeError) as err:
        Timeline.from_decision({"kept": [{"start": 2.0, "end": 1.0}]}, 5.0, label="tighten/seg001.cuts.json")
    assert err.value.code is ErrorCode.BAD_OPTION and "seg001.cuts.json" in str(err.value)
    with pytest.raises(ClipforgeError):
        Timeline.from_decision({"kept": [{"start": 0.0, "end": 9.0}]}, 5.0)
    assert Timeline.from_decision({"kept": []}, 5.0).is_whole
