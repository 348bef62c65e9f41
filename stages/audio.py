"""Audio for transcription: one 16 kHz mono WAV, read back a window at a time so memory stays flat."""

from __future__ import annotations

import wave
from pathlib import Path

from clipforge.fsutil import atomic_path
from clipforge.media import run_ffmpeg

RATE = 16000


def extract_wav(source: str, wav_out: str) -> None:
    """Decode the source's first audio stream to 16 kHz mono PCM (ffmpeg streams; nothing held in memory)."""
    with atomic_path(wav_out, ".wav") as tmp:
        run_ffmpeg(["-i", source, "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(RATE),
                    "-c:a", "pcm_s16le", "-f", "wav", str(tmp)], what="decoding audio")


def wav_duration(path: str | Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def read_window(path: str | Path, start: float, end: float):
    """Samples in [start, end) as float32 in [-1, 1]."""
    import numpy as np

    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        first = max(0, int(start * rate))
        last = min(w.getnframes(), int(end * rate))
        w.setpos(first)
        raw = w.readframes(max(0, last - first))
    return np.frombuffer(raw, dtype="<i2").astype("float32") / 32768.0
