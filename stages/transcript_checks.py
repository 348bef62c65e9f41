"""Signs that a transcript is not what was said: a warning for the log, the manifest and the review page.

Whisper never says "I don't know": English-only tiny.en turns German or Spanish into fluent English
nonsense, and any model can loop on a phrase over music or noise. Measured on our test media, the
median word probability separates the cases: 0.96-0.99 on English speech (real recordings, espeak,
a neural voice), 0.46-0.48 on German and Spanish speech heard by tiny.en.
"""

from __future__ import annotations

import statistics

from clipforge.records import Transcript

MIN_WORDS = 5  # fewer words say too little about confidence (German heard by tiny.en can give 10)
LOW_MEDIAN = 0.7  # median word probability below this: the words are mostly guesses
REPEATS = 3  # a phrase said this many times in a row is a decoding loop, not speech


def warnings_for(transcript: Transcript, *, english_only: bool) -> list[dict]:
    """[{"code", "message"}] for what looks wrong in `transcript`; empty when nothing does."""
    words = transcript.words()
    out = []
    if len(words) >= MIN_WORDS:
        median = statistics.median(w.probability for w in words)
        if median < LOW_MEDIAN:
            fix = ("if the speech is not English, run with whisper_model=base language= (detect; "
                   "pip install -e '.[base]')" if english_only else "check the audio, or try a larger whisper_model=")
            out.append({"code": "low_confidence",
                        "message": f"the words were recognised with low confidence (median probability {median:.2f}; "
                                   f"clear speech gives 0.9 or more): captions and titles may be wrong -- {fix}"})
    loop = _loop(words)
    if loop:
        out.append({"code": "repeated_phrase",
                    "message": f"the transcript repeats {loop[0]!r} {loop[1]} times in a row at {loop[2]:.1f} s: "
                               "likely a decoding loop over music or noise, not speech"})
    return out


def _loop(words) -> tuple[str, int, float] | None:
    """The first phrase of 1-8 words repeated REPEATS times or more in a row: (phrase, count, start)."""
    norm = ["".join(c for c in w.text.lower() if c.isalnum()) for w in words]
    for n in range(1, 9):
        i = 0
        while i + n * REPEATS <= len(norm):
            count = 1
            while norm[i + count * n:i + (count + 1) * n] == norm[i:i + n] and any(norm[i:i + n]):
                count += 1
            if count >= REPEATS and (n > 1 or count >= 2 * REPEATS):  # "no, no, no" is speech; six is a loop
                return " ".join(w.text for w in words[i:i + n]), count, words[i].start
            i += 1
    return None
