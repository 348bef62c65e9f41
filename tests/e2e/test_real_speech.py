"""Real and natural speech through the transcribe stage: nothing heard is dropped, word edges sit on
the voice, and the default mode is as accurate as bare sequential faster-whisper.

real_speech.opus: real public-domain recordings (LibriVox readers, JFK) with hand-labelled speech
edges; natural_talk.opus: a 3-minute talk in a neural voice with edges from its phoneme alignment
(tools/make_real_speech.py, tools/make_natural_speech.py).
"""

from __future__ import annotations

import json
import statistics

import pytest

from bench.accuracy import dropped, edge_errors, norm_words, truth, wer
from clipforge.stages import transcribe
from clipforge.stages.audio import extract_wav, wav_duration
from clipforge.whisper_models import model_path
from tests.helpers import MEDIA

EDGE_GOAL = 0.06  # seconds: median error of sentence starts and ends against the truth


def ours(name: str, tmp_path, **opts) -> list[dict]:
    wav = tmp_path / f"{name}.wav"
    extract_wav(str(MEDIA / f"{name}.opus"), str(wav))
    out = tmp_path / f"{name}-{opts.get('whisper_mode', 'batched')}.json"
    chunk = transcribe.Chunk("chunk000", 0.0, wav_duration(str(wav)))
    transcribe.transcribe_chunk(str(wav), chunk, str(out), opts=transcribe.ModelOptions(**opts))
    return [w for s in json.loads(out.read_text())["segments"] for w in s["words"]]


def bare_sequential(name: str) -> list[dict]:
    from faster_whisper import WhisperModel

    model = WhisperModel(model_path("tiny.en"), device="cpu", compute_type="int8")
    segs, _ = model.transcribe(str(MEDIA / f"{name}.opus"), language="en", word_timestamps=True, vad_filter=True,
                               beam_size=5)
    return [{"text": w.word, "start": w.start, "end": w.end} for s in segs for w in s.words or []]


def text_wer(ref: str, words: list[dict]) -> float:
    return wer(norm_words(ref), norm_words(" ".join(w["text"] for w in words)))


@pytest.mark.parametrize("mode", ["batched", "sequential"])
def test_real_recordings_lose_no_utterance_and_edges_sit_on_the_voice(tmp_path, mode):
    ref, edges, spans = truth("real")
    words = ours("real_speech", tmp_path, whisper_mode=mode)
    # Bare batched faster-whisper drops JFK's "And so my fellow Americans, ask" here (SYSTRAN/faster-whisper#1179).
    assert dropped(words, spans) == 0
    assert any(w["text"].lower().strip(",.") == "americans" for w in words), [w["text"] for w in words]
    # Within 1 point of bare sequential; on these 93 words one word is 1.1 points, so one word more is
    # allowed too (the 491-word natural talk below holds the bound at 0.2 points a word).
    one_word = 100 / len(norm_words(ref))
    assert text_wer(ref, words) <= text_wer(ref, bare_sequential("real_speech")) + max(1.0, one_word) + 1e-9
    assert statistics.median(edge_errors(words, edges)) <= EDGE_GOAL


@pytest.mark.skipif(not (MEDIA / "natural_talk.json").exists(), reason="natural_talk.json not generated")
def test_natural_talk_in_the_default_mode(tmp_path):
    ref, edges, spans = truth("natural")
    words = ours("natural_talk", tmp_path)
    assert dropped(words, spans) == 0
    assert text_wer(ref, words) <= text_wer(ref, bare_sequential("natural_talk")) + 1.0
    errors = edge_errors(words, edges)
    assert len(errors) == 2 * len(edges) and statistics.median(errors) <= EDGE_GOAL


def test_a_refill_is_a_checkpointed_piece(tmp_path, capfd):
    """A kill after the batched pass but before the refill is saved redoes only the refill."""
    words = ours("real_speech", tmp_path)
    log = tmp_path / "real_speech-batched.pieces"
    lines = log.read_text().splitlines(keepends=True)
    assert '"fill"' in lines[-1]  # the refill of JFK's dropped opening is the last piece
    log.write_text("".join(lines[:-1]))
    capfd.readouterr()
    again = ours("real_speech", tmp_path)
    printed = capfd.readouterr().out
    assert f"decoded 1 piece(s), kept {len(lines) - 2}" in printed and "decoded each again on its own" in printed
    assert again == words
