"""doit sub-tasks for the per-clip stages, generated from their Stage records.

A per-clip stage's function gets one ClipJob: the clip's plan, its words with
clip-relative times (from transcript.json, never re-transcribed), the source, the
outputs of the earlier per-clip stages it reads, its extra input files and its own
options. Its freshness key is its options plus that clip's plan and words, so a new
plan for one clip re-runs that clip only.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable

from doit import create_after

from clipforge.fsutil import read_json
from clipforge.pipeline import Context
from clipforge.records import ClipJob, ClipPlan, Word
from clipforge.stagelist import Stage, per_clip_stages, stage
from clipforge.tasks import Step, doit_task


def read_or(path: str, default):
    """A JSON file's content, or `default` while it does not exist yet (task creators run before their inputs)."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return default


def clip_words(transcript: dict, plan: ClipPlan) -> list[Word]:
    """The transcript's words inside the clip, with times relative to the clip's start."""
    words = []
    for seg in transcript.get("segments", []):
        for w in seg.get("words", []):
            if not (math.isfinite(w["start"]) and math.isfinite(w["end"])):
                continue  # a word whisper could not time: the captions skip it rather than guess
            if w["end"] > plan.start and w["start"] < plan.end:
                start = max(0.0, w["start"] - plan.start)
                end = min(plan.duration, w["end"] - plan.start)
                words.append(Word(text=w["text"], start=round(start, 3), end=round(max(end, start), 3),
                                  probability=w.get("probability", 1.0)))
    return words


def _key(stage_hash: str, plan: ClipPlan, words: list[Word]) -> str:
    raw = json.dumps([stage_hash, plan.to_dict(), [(w.text, w.start, w.end) for w in words]], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def clip_step(st: Stage, ctx: Context, plan: ClipPlan, *, words: list[Word], source_info: dict
              ) -> tuple[Step, ClipJob]:
    """The step (and the job it runs) of one per-clip stage for one clip: what its doit sub-task runs and
    records. The editor (clipforge.editor) records a decision it rewrote through this same step."""
    outputs = {sfx: ctx.unit_file(st.name, plan.id, sfx) for sfx in st.outputs}
    reads = {f"{r}{sfx}": ctx.unit_file(r, plan.id, sfx) for r in st.reads for sfx in stage(r).outputs}
    extra = st.extra_files(ctx.opts)
    job = ClipJob(clip=plan, words=words, source=ctx.media, source_info=source_info, inputs=reads,
                  extra=extra, outputs=outputs, options={k: getattr(ctx.opts, k) for k in st.options})
    step = Step(task=f"{st.name}:{plan.id}", run=lambda: st.function()(job), targets=list(outputs.values()),
                inputs=lambda: [ctx.media, *reads.values(), *extra],
                config_hash=_key(ctx.opts.stage_hash(st.name), plan, words))
    return step, job


def _clip_task(st: Stage, ctx: Context, plan: ClipPlan, *, words: list[Word], source_info: dict) -> dict:
    step, _ = clip_step(st, ctx, plan, words=words, source_info=source_info)
    task_dep = [f"{r}:{plan.id}" for r in st.reads] or ["segment"]
    return doit_task(step, doc=f"{plan.start:.1f}-{plan.end:.1f} s {plan.title}", task_dep=task_dep,
                     accept_edits=st.editable and ctx.opts.keep == "yes")


def _creator(st: Stage, ctx: Context, *, done: bool, after: str) -> Callable:
    def creator():
        if done:
            return
        clips = read_or(ctx.segments, {"clips": []})["clips"]
        transcript = read_or(ctx.transcript, {}) if clips else {}
        source_info = read_or(ctx.source_info, {})
        for c in clips:
            plan = ClipPlan.from_dict(c)
            yield _clip_task(st, ctx, plan, words=clip_words(transcript, plan), source_info=source_info)

    creator.__name__ = creator.__qualname__ = f"task_{st.name}"
    creator.__doc__ = st.doc
    # doit must know a task before another names it in task_dep: each per-clip stage's
    # sub-tasks are created once the stage before it has run.
    return create_after(executed=after)(creator)


def clip_task_creators(ctx: Context, done: bool) -> dict[str, Callable]:
    """`task_<name>` creators for dodo.py's namespace, one per per-clip stage, in pipeline order."""
    names = ["segment", *(st.name for st in per_clip_stages())]
    return {f"task_{st.name}": _creator(st, ctx, done=done, after=after) for st, after in zip(per_clip_stages(), names)}


def last_clip_stage() -> Stage:
    return per_clip_stages()[-1]


__all__ = ["clip_step", "clip_task_creators", "clip_words", "last_clip_stage", "read_or"]
