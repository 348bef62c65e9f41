"""Each edit the editor makes: a decision file rewritten (atomically, by the stages' own code) and recorded
in the state file as the stage that owns it would record it, so the next `doit keep=yes` rebuilds only
what the edit touched and a later `doit` is a no-op.

The decisions, and who owns them:
  temp_processing/segments.json   the clips (title, span, drop, add): the segment stage
  temp_processing/transcript.json the words (a misheard word fixed): the transcript stage; the clips
                                  holding the word get new words, so their captions are made again
  segments.json "approved"        the clips marked approved (render copies it into the manifest)
A clip's own decision files (captions style, frame, B-roll) are clipforge.editor.overrides.

Every function here runs inside `editing()`: the project's run lock is held (no `doit` runs meanwhile,
and two tabs' edits are applied one after the other), and the state file is freshly read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterator

from clipforge.config import load_options, source_key
from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.fsutil import read_json, write_json
from clipforge.lock import RunLock
from clipforge.pipeline import Context
from clipforge.records import ClipPlan, Span, Transcript, Word
from clipforge.state import CURRENT

ADDED_REASON = "added in the editor"


class EditError(ClipforgeError):
    """An edit that cannot be applied as asked (a bad span, an unknown clip): nothing was changed."""

    code = ErrorCode.BAD_OPTION

    def __init__(self, message: str, *, hint: str = "reload the editor page and try again"):
        super().__init__(message, hint=hint)


class StaleError(EditError):
    """The clip changed since the page showed it (another tab edited it): refused, not merged."""


def context_of(st) -> Context:
    """The saved run's options (pyproject plus the run's `doit key=value`), with keep=yes."""
    opts = load_options({**st.options, "keep": "yes"})
    return Context(opts=opts, source_key=source_key(opts.input))


@contextlib.contextmanager
def editing() -> Iterator[Context]:
    """Hold the run lock (LockedError if a run holds it) over a freshly read state file."""
    lock = RunLock()
    lock.acquire(note=lambda msg: None)
    try:
        st = CURRENT.reload()
        if st is None:
            raise EditError("the last run did not keep its decisions (temp_processing/ and the state file)",
                            hint="press 'Make editable' in the editor, or run `doit keep=yes`")
        yield context_of(st)
    finally:
        lock.release()


def version(plan: dict) -> str:
    """What the page was showing of a clip: an edit made against another version is refused."""
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:12]


# -- the words ---------------------------------------------------------------------------------

@dataclasses.dataclass(kw_only=True)
class Words:
    """The transcript as the cut planner sees it (repaired, clipped to the media), with each word's
    place in transcript.json, so a click on word n means the same word to the planner and the file."""

    doc: object  # stages.segment.boundary_words.Doc
    where: list[tuple[int, int]]  # doc word n -> (segment, word) in transcript.json
    duration: float


def load_words(ctx: Context) -> Words:
    from clipforge.stages.segment.boundaries import BoundaryOptions
    from clipforge.stages.segment.boundary_words import prepare_doc

    data = read_json(ctx.transcript)
    transcript = Transcript.from_dict(data)
    where = [(s, k) for s, seg in enumerate(data.get("segments", [])) for k, w in enumerate(seg.get("words", []))
             if isinstance(w.get("text"), str) and w["text"].strip()]
    doc = prepare_doc(transcript.words(), transcript.duration, BoundaryOptions().pause)
    return Words(doc=doc, where=where[:len(doc.words)], duration=transcript.duration)


# -- segments.json -----------------------------------------------------------------------------

def load_segments(ctx: Context) -> dict:
    return read_json(ctx.segments)


def find_clip(data: dict, clip_id: str, seen: str | None) -> tuple[int, dict]:
    for n, c in enumerate(data["clips"]):
        if c["id"] == clip_id:
            if seen is not None and seen != version(c):
                raise StaleError(f"clip {clip_id} was changed meanwhile (another tab?); your edit was not applied")
            return n, c
    raise EditError(f"there is no clip {clip_id!r} in this run")


def _record(ctx: Context, task: str, *, targets: list[str], inputs: list[str]) -> None:
    """Record a stage's task as current for its rewritten outputs, keeping the seconds it took."""
    old = CURRENT.state.tasks.get(task, {})
    stage_hash = ctx.opts.stage_hash(task.split(":")[0])
    CURRENT.record_task(task, stage_hash, targets=targets, inputs=inputs, seconds=old.get("seconds"))


def save_segments(ctx: Context, data: dict, *, changed: list[str]) -> list[str]:
    """Write segments.json as the segment stage does, record it, and queue the changed clips' stages;
    the hand-made frame and B-roll choices of a changed clip are made again for its new span (notes)."""
    from clipforge.stagelist import per_clip_stages

    data["clips"].sort(key=lambda c: c["start"])
    write_json(ctx.segments, data)
    _record(ctx, "segment", targets=[ctx.segments], inputs=[ctx.transcript])
    units = [{"id": c["id"], "start": c["start"], "end": c["end"]} for c in data["clips"]]
    live = {u["id"] for u in units}
    st = CURRENT.state
    for stage in per_clip_stages():
        CURRENT.set_queue(stage.name, units)
        CURRENT.forget_units(stage.name, [c for c in changed if c in live])
    for name in [t for t in st.tasks if ":" in t and t.split(":")[1] not in live and t.split(":")[0] != "transcribe"]:
        del st.tasks[name]  # a dropped clip's records: `doit status` and the timings should not count it
    CURRENT.save()
    from clipforge.editor import overrides

    return [note for c in changed for note in overrides.reapply(ctx, c)]


def set_title(ctx: Context, clip_id: str, *, title: str, seen: str | None) -> str:
    title = " ".join(str(title).split())[:200]
    if not title:
        raise EditError("a title cannot be empty")
    data = load_segments(ctx)
    _, clip = find_clip(data, clip_id, seen)
    clip["title"] = title
    return _said(f"{clip_id}: title set", save_segments(ctx, data, changed=[clip_id]))


def set_approved(ctx: Context, clip_id: str, *, approved: bool, seen: str | None) -> str:
    """Approval is a list beside the clips in segments.json: no clip's plan changes, so nothing is encoded
    again; render writes it into the manifest ("approved") for whoever posts the clips."""
    data = load_segments(ctx)
    find_clip(data, clip_id, seen)
    ids = set(data.get("approved", [])) - {clip_id} | ({clip_id} if approved else set())
    data["approved"] = sorted(ids)
    save_segments(ctx, data, changed=[])
    return f"{clip_id}: {'approved' if approved else 'no longer approved'}"


def drop_clip(ctx: Context, clip_id: str, *, seen: str | None) -> str:
    data = load_segments(ctx)
    n, clip = find_clip(data, clip_id, seen)
    if len(data["clips"]) == 1:
        raise EditError("this is the only clip; a run needs at least one", hint="add a clip first, then drop this one")
    del data["clips"][n]
    # Kept (not lost) so a later version may offer to restore it; the stages read only "clips".
    data.setdefault("removed_in_editor", []).append(clip)
    save_segments(ctx, data, changed=[])
    from clipforge.editor import overrides

    overrides.forget(ctx, clip_id)
    return f"{clip_id}: dropped"


def cut_plan(words: Words, *, first: int, last: int, ctx: Context) -> tuple[float, float, dict]:
    """Words first..last as a clip, cut by the pipeline's planner: its checks (validate_span), padding
    into silence only (never into a neighbour word), and its sentence flags when a cut is mid-sentence."""
    from clipforge.stages.segment import boundaries as b
    from clipforge.stages.segment.boundary_words import join_words

    doc = words.doc
    if not (0 <= first <= last < len(doc.words)):
        raise EditError(f"words {first}-{last} are not in the transcript (0-{len(doc.words) - 1})")
    w = doc.words
    why = b.validate_span(Span(w[first].start, w[last].end), w, words.duration)
    if why:
        raise EditError(f"that span is impossible: {why}")
    opts = b.BoundaryOptions(min_len=ctx.opts.min_len, max_len=ctx.opts.max_len, padding=ctx.opts.padding)
    cut = b._Cut(index=0, span=Span(w[first].start, w[last].end), first=first, last=last, i0=first, j0=last)
    start, end = b._cut_points(doc, cut, max(0.0, opts.padding))
    if end - start > opts.max_len:
        raise EditError(f"{end - start:.1f} s is longer than max_len={opts.max_len:g} s",
                        hint="pick a later start or an earlier end word, or run with a larger max_len=")
    if end - start < 1.0:
        raise EditError(f"{end - start:.1f} s is too short for a clip", hint="pick at least a second of speech")
    flags = b._flags(doc, first, last, f=first, last=last, lv=doc.sent, opts=opts)
    flags += [b.FLAG_REPAIRED] if any(doc.repaired[first:last + 1]) and b.FLAG_REPAIRED not in flags else []
    text = join_words(w[first:last + 1])
    return start, end, {"text": text, "first_word": w[first].text.strip(), "last_word": w[last].text.strip(),
                        "flags": flags}


def _said(message: str, notes: list[str]) -> str:
    return "; ".join([message, *notes])


def _speech_note(start: float, end: float, ctx: Context) -> str:
    d = end - start
    return f" ({d:.1f} s, shorter than min_len={ctx.opts.min_len:g} s)" if d < ctx.opts.min_len else f" ({d:.1f} s)"


def trim(ctx: Context, clip_id: str, *, first: int, last: int, seen: str | None) -> str:
    data = load_segments(ctx)
    _, clip = find_clip(data, clip_id, seen)
    start, end, fields = cut_plan(load_words(ctx), first=first, last=last, ctx=ctx)
    plan = ClipPlan.from_dict({**clip, **fields, "start": start, "end": end})
    clip.clear()
    clip.update(plan.to_dict())
    notes = save_segments(ctx, data, changed=[clip_id])
    return _said(f"{clip_id}: now {start:.2f}-{end:.2f} s{_speech_note(start, end, ctx)}", notes)


def add_clip(ctx: Context, *, first: int, last: int, title: str) -> str:
    data = load_segments(ctx)
    start, end, fields = cut_plan(load_words(ctx), first=first, last=last, ctx=ctx)
    taken = {c["id"] for c in data["clips"]} | {c["id"] for c in data.get("removed_in_editor", [])}
    n = 1
    while f"seg{n:03d}" in taken:
        n += 1
    title = " ".join(str(title).split())[:200] or " ".join(fields["text"].split()[:6])
    plan = ClipPlan(id=f"seg{n:03d}", start=start, end=end, title=title, reason=ADDED_REASON, score=0, **fields)
    data["clips"].append(plan.to_dict())
    save_segments(ctx, data, changed=[plan.id])
    return f"{plan.id}: added, {start:.2f}-{end:.2f} s{_speech_note(start, end, ctx)}"


# -- transcript.json: a word fixed -------------------------------------------------------------

def fix_word(ctx: Context, clip_id: str, *, index: int, text: str, seen: str | None) -> str:
    """Correct word `index` in transcript.json; every clip holding it gets its captions made again."""
    from clipforge.stages.segment.boundary_words import join_words

    new = " ".join(str(text).split())
    if not new:
        raise EditError("a caption word cannot be empty", hint="trim the clip to leave a word out")
    data = load_segments(ctx)
    find_clip(data, clip_id, seen)
    words = load_words(ctx)
    if not 0 <= index < len(words.where):
        raise EditError(f"word {index} is not in the transcript")
    s, k = words.where[index]
    transcript = read_json(ctx.transcript)
    word = transcript["segments"][s]["words"][k]
    old = word["text"]
    lead = old[: len(old) - len(old.lstrip())]  # whisper words carry their leading space
    word["text"] = lead + new
    seg = transcript["segments"][s]
    seg["text"] = "".join(w["text"] for w in seg["words"]) if lead else " ".join(w["text"] for w in seg["words"])
    write_json(ctx.transcript, transcript)
    chunk_files = [ctx.chunk_file(c["id"]) for c in read_json(ctx.chunks)["chunks"]]
    _record(ctx, "transcript", targets=[ctx.transcript], inputs=[ctx.chunks, *chunk_files])
    at = words.doc.words[index]
    changed = []
    fixed = load_words(ctx).doc.words
    for clip in data["clips"]:
        if at.end > clip["start"] and at.start < clip["end"]:
            inside = [n for n, w in enumerate(fixed) if w.end > clip["start"] and w.start < clip["end"]]
            ws = fixed[inside[0]:inside[-1] + 1]
            clip.update(text=join_words(ws), first_word=ws[0].text.strip(), last_word=ws[-1].text.strip())
            changed.append(clip["id"])
    notes = save_segments(ctx, data, changed=changed)
    return _said(f"{clip_id}: {old.strip()!r} is now {new!r}", notes)


def word_list(ctx: Context) -> list[Word]:
    return load_words(ctx).doc.words
