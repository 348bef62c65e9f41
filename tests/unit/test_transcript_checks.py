"""Warnings for transcripts that are not what was said."""

from clipforge.records import Transcript, TranscriptSegment, Word
from clipforge.stages.transcript_checks import warnings_for


def transcript(texts: list[str], probability: float) -> Transcript:
    words = [Word(t, i * 0.5, i * 0.5 + 0.4, probability=probability) for i, t in enumerate(texts)]
    return Transcript("en", 100.0, [TranscriptSegment(0.0, 50.0, " ".join(texts), words=words)])


PROSE = ("rivers carry water from the mountains down to the sea and along the way they shape valleys "
         "and carve deep canyons where towns were built").split()


def test_clear_speech_has_no_warning():
    assert warnings_for(transcript(PROSE, 0.95), english_only=True) == []


def test_low_confidence_warns_and_names_the_multilingual_model():
    (w,) = warnings_for(transcript(PROSE, 0.45), english_only=True)
    assert w["code"] == "low_confidence" and "whisper_model=base" in w["message"] and "0.45" in w["message"]


def test_a_decoding_loop_is_named_with_its_phrase_and_time():
    words = PROSE[:6] + ["thank", "you", "for", "watching"] * 4
    (w,) = warnings_for(transcript(words, 0.9), english_only=False)
    assert w["code"] == "repeated_phrase" and "thank you for watching" in w["message"] and "3.0 s" in w["message"]


def test_a_word_said_twice_or_three_times_is_speech():
    words = PROSE[:10] + ["no", "no", "no"] + PROSE[10:]
    assert warnings_for(transcript(words, 0.9), english_only=True) == []
