"""clipforge pipeline: a long video in, short clips out.  `doit list` shows the stages.

The stages are declared once, in clipforge.stagelist.STAGES; this file wires each to
its files under temp_processing/. The per-clip stages (captions, frame, B-roll, the
one encode) are generated from their records. Freshness comes from the state file
(.temp_clips.json) through clipforge.tasks.StateSaysCurrent, never from doit's database.
"""

from doit import create_after

from clipforge.cliptasks import clip_task_creators, last_clip_stage, read_or
from clipforge.config import pick
from clipforge.pipeline import load_context, require_project_folder
from clipforge.reporter import ClipforgeReporter
from clipforge.stagelist import check_creators, per_clip_stages, stage
from clipforge.state import CURRENT
from clipforge.tasks import Step, doit_task, done_task

DOIT_CONFIG = {
    "default_tasks": ["render"],  # also makes a bare `doit forget` work (doit #478)
    "backend": "checkpoint",  # doit's JSON db written atomically; never asked about freshness
    "dep_file": ".doit-db.json",
    "reporter": ClipforgeReporter,
    "verbosity": 2,
}

require_project_folder(__file__)  # a clear line, not a traceback, when started from elsewhere
C = load_context()
OPT = C.opts
DONE = C.done()



def _chunks() -> list[dict]:
    return read_or(C.chunks, {"chunks": []})["chunks"]


def _clips() -> list[dict]:
    return read_or(C.segments, {"clips": []})["clips"]


def _task(name: str, *, run, targets, inputs, after=None, secrets=(), task_dep=()) -> dict:
    st = stage(name)
    if DONE:
        return done_task(st.doc)
    step = Step(task=name, run=run, targets=targets, inputs=inputs, config_hash=OPT.stage_hash(name),
                after=after, secrets=secrets)
    return doit_task(step, doc=st.doc, task_dep=task_dep)


def task_download():
    def run():
        stage("download").function()(OPT.input, C.media, C.source_info, audio_track=OPT.audio_track)

    def remember_sha():
        CURRENT.state.input_sha256 = read_or(C.source_info, {}).get("sha256")

    return _task("download", run=run, targets=[C.media, C.source_info], inputs=lambda: C.local_input,
                 after=remember_sha, secrets=(OPT.input,))


def task_chunks():
    def run():
        from clipforge.stages import audio

        audio.extract_wav(C.media, C.wav, track=int(read_or(C.source_info, {}).get("audio_track") or 0))
        stage("chunks").function()(C.wav, C.chunks, OPT.chunk_minutes)

    def queue():
        CURRENT.set_queue("transcribe", [{"id": c["id"], "start": c["start"], "end": c["end"]} for c in _chunks()])

    return _task("chunks", run=run, targets=[C.wav, C.chunks], inputs=lambda: [C.media, C.source_info], after=queue,
                 task_dep=["download"])


@create_after(executed="chunks")
def task_transcribe():
    if DONE:
        return
    from clipforge.stages import transcribe

    model = pick(transcribe.ModelOptions, OPT)
    for c in _chunks():
        chunk = transcribe.Chunk(**c)
        out = C.chunk_file(chunk.id)
        step = Step(task=f"transcribe:{chunk.id}", targets=[out], inputs=lambda: [C.wav, C.chunks],
                    run=lambda chunk=chunk, out=out: stage("transcribe").function()(C.wav, chunk, out, opts=model),
                    config_hash=OPT.stage_hash("transcribe"))
        yield doit_task(step, doc=f"transcribe {chunk.start:.0f}-{chunk.end:.0f} s", task_dep=["chunks"])


def task_transcript():
    def chunk_files():
        return [C.chunk_file(c["id"]) for c in _chunks()]

    def run():
        stage("transcript").function()(C.chunks, chunk_files(), C.transcript, model_name=OPT.resolved_whisper_model())

    return _task("transcript", run=run, targets=[C.transcript], inputs=lambda: [C.chunks, *chunk_files()],
                 task_dep=["transcribe"])


def task_segment():
    if DONE:  # before the import: a no-op run loads nothing of the segmenter
        return done_task(stage("segment").doc)
    from clipforge.stages.segment import SegmentOptions

    opts = pick(SegmentOptions, OPT, segmenter=OPT.resolved_segmenter())

    def run():
        stage("segment").function()(C.transcript, C.segments, C.ledger, opts=opts)

    def queue():
        units = [{"id": c["id"], "start": c["start"], "end": c["end"]} for c in _clips()]
        for st in per_clip_stages():
            CURRENT.set_queue(st.name, units)

    return _task("segment", run=run, targets=[C.segments], inputs=lambda: [C.transcript], after=queue,
                 task_dep=["transcript"])


# subtitles, vfx, broll, extract: one sub-task per clip each, from their Stage records.
globals().update(clip_task_creators(C, DONE))


def task_render():
    last = last_clip_stage()

    def run():
        stage("render").function()(ctx=C, last=last)

    def inputs():
        published = [(st.name, sfx) for st in per_clip_stages() for sfx in st.publish]
        return [C.segments, C.source_info, *(C.unit_file(last.name, c["id"], last.outputs[0]) for c in _clips()),
                *(C.unit_file(name, c["id"], sfx) for c in _clips() for name, sfx in published)]

    task = _task("render", run=run, targets=[], inputs=inputs, task_dep=[last.name])
    if not DONE:
        from clipforge.state.finished import MANIFEST, outputs_current

        fresh = task["uptodate"][0]
        task["uptodate"] = [lambda: fresh() and outputs_current(C.run_key())]
        task["targets"] = [str(MANIFEST)]
    return task


check_creators(globals())
