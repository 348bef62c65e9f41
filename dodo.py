"""clipforge pipeline: a long video in, short clips out.  `doit list` shows the stages.

Each task creator is a table row: what it runs (stages.<name>), what it reads and
what it writes under temp_processing/. Freshness comes from the state file
(.temp_clips.json) through clipforge.tasks, not from doit's database alone.
"""

import sys

from clipforge.state import CURRENT
from doit import create_after

from clipforge.errors import ClipforgeError, ErrorCode

if "clipforge.doitdb" not in sys.modules:
    # doit registers clipforge's commands and backend only from ./pyproject.toml: started from another
    # folder (`doit -f /path/dodo.py`, `doit -k` in a subfolder) it would run without them and end in
    # a traceback. The backend module is imported before any dodo.py loads when they are registered.
    from pathlib import Path

    _here = Path(__file__).resolve().parent
    _err = ClipforgeError(f"doit was started outside the clipforge project folder {_here}, so clipforge's "
                          "commands are not loaded", code=ErrorCode.BAD_OPTION, hint=f"cd {_here} and run doit there")
    print(_err.one_line(), file=sys.stderr)
    raise SystemExit(_err.code.exit_status)

from clipforge.pipeline import load_context
from clipforge.reporter import ClipforgeReporter
from clipforge.tasks import Step, doit_task, done_task

DOIT_CONFIG = {
    "default_tasks": ["render"],  # also makes a bare `doit forget` work (doit #478)
    "backend": "checkpoint",  # doit's JSON db, made durable after every task (clipforge.doitdb)
    "dep_file": ".doit-db.json",
    "reporter": ClipforgeReporter,
    "verbosity": 2,
}

C = load_context()
OPT = C.opts
# Per-segment stages in order; subtitles, VFX and B-roll slot in after "extract".
SEGMENT_STAGES = ["extract"]
DONE = C.done()


def _read(path, default):
    from clipforge.fsutil import read_json

    try:
        return read_json(path)
    except (OSError, ValueError):
        return default


def task_download():
    """Fetch (yt-dlp) or link the input into temp_processing/ and probe it."""
    if DONE:
        return done_task(task_download.__doc__)
    from clipforge.stages import download

    def remember_sha():
        CURRENT.state.input_sha256 = _read(C.source_info, {}).get("sha256")

    step = Step("download", download.run, (OPT.input, C.media, C.source_info), [C.media, C.source_info],
                lambda: C.local_input, OPT.stage_hash("download"), after=remember_sha, secrets=(OPT.input,))
    return doit_task(step, doc=task_download.__doc__, file_dep=C.local_input)


def task_chunks():
    """Decode the audio and plan transcription chunks at silences."""
    if DONE:
        return done_task(task_chunks.__doc__)
    from clipforge.stages import audio, transcribe

    def run():
        audio.extract_wav(C.media, C.wav)
        transcribe.plan_chunks(C.wav, C.chunks, OPT.chunk_minutes)

    def queue():
        CURRENT.set_queue("transcribe", [c["id"] for c in _read(C.chunks, {"chunks": []})["chunks"]])

    step = Step("chunks", run, (), [C.wav, C.chunks], lambda: [C.media], OPT.stage_hash("chunks"), after=queue)
    return doit_task(step, doc=task_chunks.__doc__, file_dep=[C.media])


@create_after(executed="chunks")
def task_transcribe():
    """Transcribe each chunk with faster-whisper (word timestamps, VAD)."""
    if DONE:
        return
    from clipforge.stages import transcribe

    model = transcribe.ModelOptions(OPT.whisper_model, OPT.device, OPT.compute_type, OPT.language)
    for c in _read(C.chunks, {"chunks": []})["chunks"]:
        chunk = transcribe.Chunk(**c)
        out = C.chunk_file(chunk.id)
        step = Step(f"transcribe:{chunk.id}", transcribe.transcribe_chunk, (C.wav, chunk, out, model), [out],
                    lambda: [C.wav], OPT.stage_hash("transcribe"))
        yield doit_task(step, doc=f"transcribe {chunk.start:.0f}-{chunk.end:.0f} s", file_dep=[C.wav, C.chunks])


def task_transcript():
    """Merge the chunk transcripts into transcript.json."""
    if DONE:
        return done_task(task_transcript.__doc__)
    from clipforge.stages import transcribe

    def chunk_files():
        return [C.chunk_file(c["id"]) for c in _read(C.chunks, {"chunks": []})["chunks"]]

    def run():
        transcribe.merge(C.chunks, chunk_files(), C.transcript, OPT.whisper_model)

    step = Step("transcript", run, (), [C.transcript], lambda: [C.chunks, *chunk_files()],
                OPT.stage_hash("transcribe"))
    return doit_task(step, doc=task_transcript.__doc__, file_dep=[C.chunks], task_dep=["transcribe"])


def task_segment():
    """Choose the clips: an LLM when configured, else the offline segmenter."""
    if DONE:
        return done_task(task_segment.__doc__)
    from clipforge.stages import segment

    opts = segment.SegmentOptions(OPT.resolved_segmenter(), OPT.clips, OPT.min_len, OPT.max_len, OPT.padding,
                                  OPT.llm_model, OPT.llm_timeout, OPT.llm_retries, OPT.llm_window_chars)

    def queue():
        ids = [c["id"] for c in _read(C.segments, {"clips": []})["clips"]]
        for stage in SEGMENT_STAGES:
            CURRENT.set_queue(stage, ids)

    step = Step("segment", segment.run, (C.transcript, C.segments, C.ledger, opts), [C.segments],
                lambda: [C.transcript], OPT.stage_hash("segment"), after=queue)
    return doit_task(step, doc=task_segment.__doc__, file_dep=[C.transcript])


def _segment_tasks(stage: str, run, *options):
    """One sub-task per planned clip: `run(input, plan, output, *options)`, where the input is the
    source for the first per-segment stage and the previous stage's file for that clip after it."""
    from clipforge.records import ClipPlan

    position = SEGMENT_STAGES.index(stage)
    for c in _read(C.segments, {"clips": []})["clips"]:
        plan = ClipPlan.from_dict(c)
        src = C.media if position == 0 else C.unit_file(SEGMENT_STAGES[position - 1], plan.id)
        out = C.unit_file(stage, plan.id)
        step = Step(f"{stage}:{plan.id}", run, (src, plan, out, *options), [out], lambda: [],
                    OPT.stage_hash(stage))
        yield doit_task(step, doc=f"{plan.start:.1f}-{plan.end:.1f} s {plan.title}", file_dep=[src, C.segments])


@create_after(executed="segment")
def task_extract():
    """Cut each clip from the source with ffmpeg (one sub-task per clip)."""
    if DONE:
        return
    from clipforge.stages import extract

    has_video = _read(C.source_info, {}).get("has_video", True)
    yield from _segment_tasks("extract", extract.run, OPT.cut, has_video, OPT.preset)


def task_render():
    """Publish clips/NN-<slug>.mp4 and clips/manifest.json."""
    if DONE:
        return done_task(task_render.__doc__)
    from clipforge.stages import render, segment

    last = SEGMENT_STAGES[-1]

    def clip_files():
        return [C.unit_file(last, c["id"]) for c in _read(C.segments, {"clips": []})["clips"]]

    def run():
        from clipforge.config import input_identity
        from clipforge.fsutil import read_json, sha256_file

        render.run(segment.load_plans(C.segments), clip_files(), read_json(C.source_info), read_json(C.segments),
                   read_json(C.transcript).get("model", OPT.whisper_model), C.run_key(), sha256_file(C.segments),
                   input_identity(OPT.input))

    step = Step("render", run, (), [], lambda: [C.segments, C.source_info, *clip_files()], OPT.stage_hash("render"))
    task = doit_task(step, doc=task_render.__doc__, file_dep=[C.segments, C.source_info], task_dep=[last])
    task["uptodate"] = [lambda: CURRENT.is_current("render", step.config_hash, [], step.inputs())
                        and render.outputs_current(C.run_key())]
    task["targets"] = [str(render.MANIFEST)]
    return task
