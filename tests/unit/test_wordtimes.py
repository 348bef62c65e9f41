"""Word edges moved onto the audio: tone bursts in room noise stand in for words with known edges."""

import numpy as np

from clipforge.stages.wordtimes import refine

RATE = 16000


def audio(bursts: list[tuple[float, float]], *, seconds: float = 6.0, noise_db: float = -55.0, seed: int = 1):
    """Room noise with a 220 Hz 'word' in each (start, end)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 10 ** (noise_db / 20), int(seconds * RATE)).astype(np.float32)
    t = np.arange(len(x)) / RATE
    for a, b in bursts:
        on = (t >= a) & (t < b)
        x[on] += 0.3 * np.sin(2 * np.pi * 220 * t[on]).astype(np.float32)
    return x


def test_edges_next_to_pauses_move_onto_the_audio():
    x = audio([(1.0, 1.6), (2.5, 3.2)])
    # Whisper-like errors: starts early, ends late, by up to 0.2 s.
    words = [{"text": "one", "start": 0.82, "end": 1.78}, {"text": "two", "start": 2.65, "end": 3.35}]
    out = refine(words, x, rate=RATE, offset=0.0)
    for w, (a, b) in zip(out, [(1.0, 1.6), (2.5, 3.2)]):
        assert abs(w["start"] - a) <= 0.02 and abs(w["end"] - b) <= 0.02, (w, a, b)
    assert [w["text"] for w in out] == ["one", "two"]


def test_times_are_absolute_with_the_chunks_offset():
    x = audio([(1.0, 1.6)])
    out = refine([{"text": "one", "start": 100.85, "end": 101.75}], x, rate=RATE, offset=100.0)
    assert abs(out[0]["start"] - 101.0) <= 0.02 and abs(out[0]["end"] - 101.6) <= 0.02


def test_connected_speech_keeps_whispers_edges():
    # One long burst holds two words with no pause between them: there is no edge to find at 2.0.
    x = audio([(1.0, 3.0)])
    words = [{"text": "all", "start": 1.0, "end": 2.0}, {"text": "one", "start": 2.0, "end": 3.0}]
    out = refine(words, x, rate=RATE, offset=0.0)
    assert out[0]["end"] == 2.0 and out[1]["start"] == 2.0


def test_an_edge_never_moves_further_than_its_reach_nor_across_a_neighbour():
    x = audio([(1.0, 1.5), (4.0, 4.5)])
    # Whisper put the word 1 s away from any burst: nothing within reach, nothing moves.
    out = refine([{"text": "far", "start": 2.5, "end": 3.0}], x, rate=RATE, offset=0.0)
    assert out[0]["start"] == 2.5 and out[0]["end"] == 3.0
    words = [{"text": "a", "start": 0.9, "end": 1.45}, {"text": "b", "start": 1.46, "end": 1.6}]
    out = refine(words, x, rate=RATE, offset=0.0)
    assert out[0]["start"] < out[0]["end"] <= out[1]["start"] < out[1]["end"]


def test_silent_or_empty_input_changes_nothing():
    words = [{"text": "x", "start": 0.5, "end": 0.9}]
    assert refine(words, np.zeros(RATE * 2, np.float32), rate=RATE, offset=0.0) == words
    assert refine([], audio([]), rate=RATE, offset=0.0) == []


def test_a_first_word_started_late_after_a_pause_is_found_further_back():
    # Batched Whisper starts (and squeezes) a sentence's first word up to 0.5 s late.
    x = audio([(1.0, 1.6), (3.0, 3.4), (3.45, 3.9)])
    words = [{"text": "end.", "start": 1.0, "end": 1.6}, {"text": "Tiny", "start": 3.38, "end": 3.43},
             {"text": "cracks", "start": 3.43, "end": 3.9}]
    out = refine(words, x, rate=RATE, offset=0.0)
    assert abs(out[1]["start"] - 3.0) <= 0.02, out[1]


def test_a_refill_inside_a_segment_splits_it_so_words_stay_in_time_order():
    from clipforge.stages.transcribe import _refine_times

    main = {"start": 0.0, "end": 5.0, "text": "one two five six",
            "words": [{"text": t, "start": a, "end": a + 0.4, "probability": 0.9}
                      for t, a in (("one", 0.0), ("two", 0.5), ("five", 4.0), ("six", 4.5))]}
    fill = {"start": 2.0, "end": 3.0, "text": "three four",
            "words": [{"text": t, "start": a, "end": a + 0.4, "probability": 0.9} for t, a in (("three", 2.0),
                                                                                             ("four", 2.5))]}
    out = _refine_times([main, fill], np.zeros(RATE * 6, np.float32), offset=0.0)
    words = [w["text"] for s in out for w in s["words"]]
    assert words == ["one", "two", "three", "four", "five", "six"]
    assert [s["text"] for s in out] == ["one two", "three four", "five six"]
    assert all(a["end"] <= b["start"] for a, b in zip(out, out[1:]))
