"""Audio for transcription: one 16 kHz mono WAV, read back a window at a time so memory stays flat;
and which audio track of a many-track source holds the speech."""

from __future__ import annotations

import wave
from pathlib import Path

from clipforge.fsutil import atomic_path
from clipforge.media import run_ffmpeg

RATE = 16000


SPEECH_PROBE_SECONDS = 180.0  # how much of each track is listened to when choosing one
MIN_SPEECH_SECONDS = 1.0  # a track with less speech than this in that span holds none


def extract_wav(source: str, wav_out: str, track: int = 0) -> None:
    """Decode audio track `track` of the source to 16 kHz mono PCM (ffmpeg streams; nothing held in memory)."""
    with atomic_path(wav_out, ".wav") as tmp:
        run_ffmpeg(["-i", source, "-map", f"0:a:{track}", "-vn", "-ac", "1", "-ar", str(RATE),
                    "-c:a", "pcm_s16le", "-f", "wav", str(tmp)], what="decoding audio")


def speech_seconds(source: str, track: int, seconds: float = SPEECH_PROBE_SECONDS) -> float:
    """Seconds of speech (Silero VAD, shipped with faster-whisper) in the first `seconds` of one track."""
    import tempfile

    from faster_whisper.vad import VadOptions, get_speech_timestamps

    with tempfile.TemporaryDirectory(prefix="clipforge-track-") as tmp:
        wav = Path(tmp) / "track.wav"
        run_ffmpeg(["-t", f"{seconds:.3f}", "-i", source, "-map", f"0:a:{track}", "-vn", "-ac", "1",
                    "-ar", str(RATE), "-c:a", "pcm_s16le", "-f", "wav", str(wav)],
                   what=f"listening to audio track {track}", timeout=120 + seconds)
        samples = read_window(wav, 0.0, seconds + 1)
    spans = get_speech_timestamps(samples, VadOptions(min_silence_duration_ms=500))
    return sum(s["end"] - s["start"] for s in spans) / RATE


def choose_track(source: str, tracks: int, wanted: int | None = None) -> tuple[int, str]:
    """(audio track, why): `wanted` when given, else the first of several tracks that holds speech."""
    if wanted is not None:
        return wanted, f"audio_track={wanted} chosen by the option"
    if tracks <= 1:
        return 0, "the only audio track"
    heard = []
    for n in range(tracks):
        speech = speech_seconds(source, n)
        heard.append(f"{n}: {speech:.0f} s")
        if speech >= MIN_SPEECH_SECONDS:
            return n, f"audio track {n} of {tracks}: the first that holds speech ({', '.join(heard)} of speech)"
    return 0, f"none of the {tracks} audio tracks holds speech ({', '.join(heard)}): track 0 used"


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
