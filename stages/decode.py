"""Decoding one chunk piece by piece, each piece persisted to the chunk's piece log as it finishes.

batched: the chunk's speech (VAD, run once per chunk and kept in the log) is packed into
  windows of up to 30 s as faster-whisper's BatchedInferencePipeline packs it; a piece is one
  batch of windows. Windows are decoded independently of each other, so a resumed chunk gets
  exactly the words and times of an uninterrupted one.
sequential: WhisperModel.transcribe over the chunk's speech, conditioned on the previous text;
  a piece is one Whisper segment. A resumed chunk restarts after the last persisted segment
  with that segment's text (its tokens, as the decoder would have them) as the prompt.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable

import numpy as np

from clipforge.stages.audio import RATE
from clipforge.stages.pieces import PieceLog

WINDOW = 30 * RATE  # samples: Whisper's input window, the most speech one batched window packs
PROMPT_RESET = 0.5  # faster-whisper's prompt_reset_on_temperature: hotter windows do not condition
NO_SPEECH = 0.6  # Whisper's own no_speech_threshold: a refill segment more likely silent than this is dropped
FILL_CONTEXT = 1.0  # seconds of audio either side of a refilled stretch: Whisper needs a run-up to a phrase
PROMPT_TOKENS = 448  # more than the decoder keeps (max_length // 2 - 1), so the tail is exact


def find_speech(audio: np.ndarray, mode: str) -> list[dict]:
    """The VAD speech segments (samples) each mode's faster-whisper call would find itself."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if mode == "batched":  # BatchedInferencePipeline's defaults
        vad = VadOptions(max_speech_duration_s=WINDOW / RATE, min_silence_duration_ms=160)
    else:
        vad = VadOptions()
    return [{"start": int(s["start"]), "end": int(s["end"])} for s in get_speech_timestamps(audio, vad)]


def batch_size(whisper_batch: int, device: str) -> int:
    """`whisper_batch`, or when 0 one from the machine.

    CPU: 4 windows per batch on 1-2 cores (measured 1.6-1.9x over sequential on 2 cores with 4-8),
    8 from 4 cores on; larger batches only lose more work on a kill. CUDA: about one window per
    GiB of free GPU memory, 4 to 32.
    """
    if whisper_batch > 0:
        return whisper_batch
    if device in ("cuda", "auto"):
        free = _cuda_free_gib()
        if free is not None:
            return max(4, min(32, int(free)))
    return 4 if (os.cpu_count() or 1) <= 2 else 8


def _cuda_free_gib() -> float | None:
    try:
        import ctranslate2

        if ctranslate2.get_cuda_device_count() < 1:
            return None
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return float(out.split()[0]) / 1024
    except Exception:
        return None  # no driver tool or no GPU: fall back to the CPU rule


def windows_of(speech: list[dict]) -> list[list[int]]:
    """Consecutive speech segments (indexes) packed up to 30 s of speech: faster_whisper's collect_chunks."""
    windows: list[list[int]] = []
    filled = 0
    for i, s in enumerate(speech):
        n = s["end"] - s["start"]
        if not windows or filled + n > WINDOW:
            windows.append([])
            filled = 0
        windows[-1].append(i)
        filled += n
    return windows


def main_pieces(log: PieceLog) -> list[dict]:
    """The pieces of the mode's own pass; refills of dropped speech (`fill_gaps`) come after them."""
    return [p for p in log.pieces if "fill" not in p]


def fill_gaps(model, audio: np.ndarray, log: PieceLog, *, mode: str, language: str, record: Callable,
              offset: float) -> list[tuple[float, float]]:
    """Decode again, each on its own and sequentially, the stretches of heard speech that no word covers.

    The stretches come from the VAD speech in the log's header and the words of the mode's own pieces
    (absolute times, `offset` = the chunk's start), so a resumed chunk finds the same ones and skips
    those already refilled. A refill keeps only words inside its stretch: the audio around it is
    decoded for context, and its words are in the transcript already. Returns the stretches refilled.
    """
    from clipforge.stages.coverage import SLACK, uncovered

    # The batched VAD splits at 160-ms pauses: a sequential chunk's own segments (2-s pauses, 400-ms
    # pads) would count a long pause inside a segment as speech without words.
    fine = log.header["speech"] if mode == "batched" else find_speech(audio, "batched")
    speech = [(s["start"] / RATE, s["end"] / RATE) for s in fine]
    words = [(w["start"] - offset, w["end"] - offset)
             for p in main_pieces(log) for s in p["segments"] for w in s["words"]]
    done = {tuple(p["fill"]) for p in log.pieces if "fill" in p}
    holes = uncovered(speech, words)
    for a, b in holes:
        if (a, b) in done:
            continue
        lo, hi = max(0.0, a - FILL_CONTEXT), min(len(audio) / RATE, b + FILL_CONTEXT)
        found, _ = model.transcribe(audio[int(lo * RATE):int(hi * RATE)], language=language or None,
                                    word_timestamps=True, beam_size=5, vad_filter=False,
                                    condition_on_previous_text=False)
        keep_lo, keep_hi = a + offset - SLACK / 2, b + offset + SLACK / 2
        segments = []
        for seg in found:
            if seg.no_speech_prob > NO_SPEECH:
                continue  # VAD heard a cough or a chair: Whisper's "Thank you." over it is not speech
            rec = record(seg, lo)
            inside = [w for w in rec["words"] if keep_lo <= (w["start"] + w["end"]) / 2 <= keep_hi]
            if inside:
                text = rec["text"] if len(inside) == len(rec["words"]) else " ".join(w["text"] for w in inside)
                segments.append({**rec, "start": inside[0]["start"], "end": inside[-1]["end"], "text": text,
                                 "words": inside})
        log.append({"fill": [a, b], "segments": segments, "language": language})
    return holes


def _groups(todo: list[int], size: int) -> list[list[int]]:
    """Runs of consecutive windows cut into batches from each run's start: a resumed chunk batches
    its remaining windows exactly as the uninterrupted run did."""
    runs: list[list[int]] = []
    for w in todo:
        if runs and runs[-1][-1] == w - 1:
            runs[-1].append(w)
        else:
            runs.append([w])
    return [run[i:i + size] for run in runs for i in range(0, len(run), size)]


def decode_batched(model, audio: np.ndarray, log: PieceLog, *, batch: int, language: str,
                   record: Callable, progress: Callable[[float], None]) -> None:
    from faster_whisper import BatchedInferencePipeline
    from faster_whisper.transcribe import restore_speech_timestamps

    speech = log.header["speech"]
    windows = windows_of(speech)
    done = {w for p in main_pieces(log) for w in p["windows"]}
    for group in _groups([w for w in range(len(windows)) if w not in done], batch):
        used = [speech[i] for w in group for i in windows[w]]
        packed = np.concatenate([audio[s["start"]:s["end"]] for s in used])
        clips, at = [], 0
        for w in group:
            n = sum(speech[i]["end"] - speech[i]["start"] for i in windows[w])
            clips.append({"start": at / RATE, "end": (at + n) / RATE})
            at += n
        # A fresh pipeline per piece: it carries the last word's time across calls, which would
        # make a piece's word times depend on whether the previous piece ran in this process.
        found, info = BatchedInferencePipeline(model).transcribe(
            packed, language=language or None, clip_timestamps=clips, batch_size=len(clips),
            word_timestamps=True, beam_size=5)
        segments = [record(s) for s in restore_speech_timestamps(found, used, RATE)]
        log.append({"windows": group, "language": info.language, "segments": segments})
        progress(used[-1]["end"] / RATE)


def decode_sequential(model, audio: np.ndarray, log: PieceLog, *, language: str,
                      record: Callable, progress: Callable[[float], None]) -> None:
    """Fill any gap left by a damaged line, then continue after the last piece."""
    speech = log.header["speech"]
    if not speech:
        return
    packed = np.concatenate([audio[s["start"]:s["end"]] for s in speech])  # what vad_filter decodes
    while gap := _first_gap(main_pieces(log)):
        numbers, start, end = gap
        found = list(_sequential(model, packed, speech, clip=[start, end], prompt=_prompt(main_pieces(log), numbers[0]),
                                 language=language))
        log.append({"n": numbers, "at": start, "end": end, "temperature": max([f[4] for f in found], default=0.0),
                    "tokens": [tok for f in found for tok in f[2]],
                    "segments": [record(seg) for seg, *_ in found], "language": language})
    top = max((n for p in main_pieces(log) for n in p["n"]), default=-1)
    last = next((p for p in main_pieces(log) if top in p["n"]), None)
    start = last["end"] if last else 0.0
    for n, (seg, at, tokens, end, temperature, seek) in enumerate(
            _sequential(model, packed, speech, clip=[start], prompt=_prompt(main_pieces(log), top + 1),
                        language=language),
            start=top + 1):
        # seek: the 30-s window (in 10-ms frames) the segment came from; segments arrive a window at a time.
        log.append({"n": [n], "at": at, "end": end, "seek": seek, "temperature": temperature, "tokens": tokens,
                    "segments": [record(seg)], "language": language})
        progress(seg.end)


def _sequential(model, packed, speech, *, clip: list[float], prompt: list[int], language: str) -> Iterable[tuple]:
    from faster_whisper.transcribe import restore_speech_timestamps

    found, _ = model.transcribe(packed, language=language or None, word_timestamps=True, beam_size=5,
                                vad_filter=False, clip_timestamps=clip, initial_prompt=prompt or None,
                                condition_on_previous_text=True)
    for seg in found:
        at, end, tokens, temperature, seek = seg.start, seg.end, list(seg.tokens), seg.temperature, seg.seek
        restored = next(iter(restore_speech_timestamps([seg], speech, RATE)))
        yield restored, at, tokens, end, temperature, seek


def _first_gap(pieces: list[dict]) -> tuple[list[int], float, float] | None:
    """The first run of segment numbers missing before the last piece: (numbers, from, to) in packed seconds."""
    by_number = {n: p for p in pieces for n in p["n"]}
    top = max(by_number, default=-1)
    missing = [n for n in range(top + 1) if n not in by_number]
    if not missing:
        return None
    run = [missing[0]]
    while run[-1] + 1 in missing:
        run.append(run[-1] + 1)
    before = by_number.get(run[0] - 1)
    return run, before["end"] if before else 0.0, by_number[run[-1] + 1]["at"]


def _prompt(pieces: list[dict], upto: int) -> list[int]:
    """The tokens the decoder conditions on before segment number `upto` (reset after a hot window)."""
    tokens: list[int] = []
    for p in sorted((p for p in pieces if p["n"][0] < upto), key=lambda p: p["n"][0]):
        tokens = [] if p["temperature"] > PROMPT_RESET else tokens + p["tokens"]
    return tokens[-PROMPT_TOKENS:]
