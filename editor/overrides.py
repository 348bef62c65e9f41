"""A clip's hand-made frame and B-roll choices: kept in temp_processing/editor/overrides.json and made
again, for the clip's new span, whenever its plan changes (a trim, a title, a fixed word). Without
this the stages would plan those files afresh for the new span and silently drop what the user chose.

Each choice is applied the same way whether it is new or re-applied: the stage's own function writes
the decision file for the current plan (with the chosen frame mode), the choice is laid over it
(a keyframe, inserts removed or added), and the task is recorded exactly as its doit step records it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

from clipforge.editor.decisions import EditError, find_clip, load_segments, load_words
from clipforge.errors import ClipforgeError
from clipforge.fsutil import read_json, write_json
from clipforge.pipeline import Context
from clipforge.records import ClipPlan
from clipforge.state import CURRENT

FRAME_MODES = ("face", "center", "fit")  # modes with the same output frame, so the captions still fit
ADDED = "added in the editor"


def _file(ctx: Context) -> str:
    return ctx.unit_file("editor", "overrides", ".json")


def load(ctx: Context) -> dict:
    try:
        data = read_json(_file(ctx))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(ctx: Context, data: dict) -> None:
    write_json(_file(ctx), data)


def forget(ctx: Context, clip_id: str) -> None:
    data = load(ctx)
    if data.pop(clip_id, None) is not None:
        _save(ctx, data)


# -- the step of one per-clip stage --------------------------------------------------------------

def _clip_step(ctx: Context, clip_id: str, stage_name: str, *, seen: str | None):
    """The step and job of one per-clip stage for the clip's current plan, once the decisions it reads
    (an earlier per-clip stage's files, e.g. tighten's cuts.json) are current for that plan."""
    from clipforge.cliptasks import clip_step, clip_words, read_or
    from clipforge.stagelist import stage

    _, clip = find_clip(load_segments(ctx), clip_id, seen)
    plan = ClipPlan.from_dict(clip)
    words = clip_words(read_or(ctx.transcript, {}), plan)
    source_info = read_or(ctx.source_info, {})
    _bring_up_to_date(ctx, stage(stage_name), plan, words=words, source_info=source_info, seen=set())
    return clip_step(stage(stage_name), ctx, plan, words=words, source_info=source_info)


def _bring_up_to_date(ctx: Context, st, plan: ClipPlan, *, words, source_info: dict, seen: set[str]) -> None:
    """Run (as its doit step would) each earlier per-clip stage `st` reads whose decision for this clip is
    not current: after a trim, the old span's decision (tighten's kept ranges) no longer fits the new span,
    and the stage's own function would fail on it or plan against it. A current decision, a user's edit
    of it included (keep=yes, as the doit task accepts it), is kept as it is."""
    from clipforge.cliptasks import clip_step
    from clipforge.stagelist import per_clip_stages, stage
    from clipforge.tasks import execute

    for name in st.reads:
        if name in seen:
            continue
        seen.add(name)
        before = stage(name)
        _bring_up_to_date(ctx, before, plan, words=words, source_info=source_info, seen=seen)
        step, _ = clip_step(before, ctx, plan, words=words, source_info=source_info)
        if CURRENT.is_current(step.task, step.config_hash, targets=step.targets, inputs=step.inputs(),
                              accept_edits=before.editable and ctx.opts.keep == "yes"):
            continue
        failed = execute(step)
        if failed is not None:
            raise EditError(str(failed).strip().splitlines()[-1][:300])
        after = [s.name for s in per_clip_stages()]
        for later in after[after.index(name) + 1:]:
            CURRENT.forget_units(later, [plan.id])
        CURRENT.save()


def _rewrite(step, write) -> None:
    """Run `write` in place of the stage's own work, then record the task exactly as its step does."""
    from clipforge.stagelist import per_clip_stages
    from clipforge.tasks import execute

    failed = execute(dataclasses.replace(step, run=write))
    if failed is not None:
        raise EditError(str(failed).strip().splitlines()[-1][:300])
    after = [s.name for s in per_clip_stages()]
    for name in after[after.index(step.stage) + 1:]:
        CURRENT.forget_units(name, [step.unit])
    CURRENT.save()


# -- frame ---------------------------------------------------------------------------------------

def _keyframe(decision: dict, x: float, y: float) -> dict:
    src, crop = decision.get("source"), decision.get("crop")
    if not (src and crop):
        raise EditError("this clip's frame has no crop window to move", hint="set its frame mode to face or center")
    left = min(max(x * src["w"] - crop["w"] / 2, 0), src["w"] - crop["w"])
    top = min(max(y * src["h"] - crop["h"] / 2, 0), src["h"] - crop["h"])
    return {**decision, "mode": "center", "path": [{"t": 0.0, "x": round(left, 1), "y": round(top, 1), "cut": False}],
            "note": f"manual keyframe from the editor at {x:.2f}, {y:.2f} of the frame"}


def _apply_frame(ctx: Context, clip_id: str, choice: dict, *, seen: str | None = None) -> None:
    from clipforge.stagelist import stage
    from clipforge.stages.vfx import write_reframe

    step, job = _clip_step(ctx, clip_id, "vfx", seen=seen)
    key = choice.get("keyframe")
    mode = "center" if key else choice.get("mode", job.options["reframe"])
    job = dataclasses.replace(job, options={**job.options, "reframe": mode})
    path = job.output(".reframe.json")

    def write():
        stage("vfx").function()(job)
        if key:
            write_reframe(path, _keyframe(read_json(path), key["x"], key["y"]))

    _rewrite(step, write)


def set_frame(ctx: Context, clip_id: str, *, mode: str, seen: str | None) -> str:
    """Reframe this clip with another mode (the vfx stage's own planner, this clip only)."""
    if mode not in FRAME_MODES:
        raise EditError(f"frame mode {mode!r} is not one of {', '.join(FRAME_MODES)}")
    if ctx.opts.reframe not in FRAME_MODES:
        raise EditError(f"this run's reframe={ctx.opts.reframe} has another frame size",
                        hint="run `doit keep=yes reframe=face` to change every clip")
    data = load(ctx)
    choice = {"mode": mode}
    _apply_frame(ctx, clip_id, choice, seen=seen)
    data.setdefault(clip_id, {})["frame"] = choice
    _save(ctx, data)
    return f"{clip_id}: frame mode {mode}"


def set_keyframe(ctx: Context, clip_id: str, *, x: float, y: float, seen: str | None) -> str:
    """Centre the crop window on (x, y), fractions of the source frame: one keyframe for the whole clip."""
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise EditError("the point must lie inside the frame")
    _, job = _clip_step(ctx, clip_id, "vfx", seen=seen)
    _keyframe(read_json(job.output(".reframe.json")), x, y)  # refuses a frame without a crop window
    data = load(ctx)
    choice = {"keyframe": {"x": round(x, 4), "y": round(y, 4)}}
    _apply_frame(ctx, clip_id, choice, seen=seen)
    data.setdefault(clip_id, {})["frame"] = choice
    _save(ctx, data)
    return f"{clip_id}: frame centred at {x:.0%} {y:.0%}"


# -- captions ------------------------------------------------------------------------------------

# Caption styles a clip can take (CaptionOptions fields over the run's own); "off" burns and writes none.
CAPTION_STYLES: dict[str, dict | None] = {
    "bold": {},  # the run's own style: white words, the spoken chunk in yellow
    "large": {"font_size": 0.075, "chunk_words": 2},
    "plain": {"highlight_colour": "#FFFFFF"},
    "off": None,
}


def _apply_captions(ctx: Context, clip_id: str, choice: dict, *, seen: str | None = None) -> None:
    """The subtitles stage's own writer for this clip, in the chosen style."""
    from clipforge.stages.subtitles import CaptionOptions, frame_for, write_captions

    step, job = _clip_step(ctx, clip_id, "subtitles", seen=seen)
    o = job.options
    style = CAPTION_STYLES[choice["style"]]
    words = job.words if style is not None and o["captions"] != "off" else []
    fields = {"max_chars_per_line": int(o["caption_chars"]), "chunk_words": int(o["caption_words"]), **(style or {})}
    frame = frame_for(aspect=o["aspect"], reframe=o["reframe"], height=int(o["height"]), source_info=job.source_info)
    _rewrite(step, lambda: write_captions(words=words, frame=frame, opts=CaptionOptions(**fields),
                                          ass_out=Path(job.output(".ass")), srt_out=Path(job.output(".srt")),
                                          vtt_out=Path(job.output(".vtt"))))


def set_captions(ctx: Context, clip_id: str, *, style: str, seen: str | None) -> str:
    if style not in CAPTION_STYLES:
        raise EditError(f"caption style {style!r} is not one of {', '.join(CAPTION_STYLES)}")
    data = load(ctx)
    choice = {"style": style}
    _apply_captions(ctx, clip_id, choice, seen=seen)
    data.setdefault(clip_id, {})["captions"] = choice
    _save(ctx, data)
    return f"{clip_id}: captions {style}"


# -- B-roll --------------------------------------------------------------------------------------

def broll_assets(ctx: Context) -> list[str]:
    """The `broll=` folder's media (what the broll stage would consider), by absolute path; [] without one."""
    from clipforge.stages.broll import scan_assets

    if not ctx.opts.broll:
        return []
    try:
        return [a.path for a in scan_assets(ctx.opts.broll)]
    except ClipforgeError:  # the run itself reports a bad folder (BROLL_INVALID)
        return []


def _place(ctx: Context, job, inserts: list[dict], added: dict) -> dict | None:
    """The insert for an added asset at source time added["at"], placed by the broll stage's rule (from
    that word's start to the last word end within broll_max_len, over no other insert); None: no room."""
    from clipforge.stages import broll as b

    assets = {Path(a.path).name: a for a in b.scan_assets(ctx.opts.broll)} if ctx.opts.broll else {}
    a = assets.get(added["asset"])
    at = float(added["at"]) - job.clip.start
    if a is None or not 0 <= at < job.clip.duration:
        return None
    most = float(ctx.opts.broll_max_len)
    opts = b.BrollOptions(max_inserts=99, max_len=most, min_len=min(1.0, most), protect=0.0, max_share=1.0,
                          mode=ctx.opts.broll_mode)
    cap = min(opts.max_len, a.duration) if a.kind == "video" and a.duration else opts.max_len
    taken = [(float(i["start"]), float(i["end"])) for i in inserts]
    placed = b._place(at, b._word_times(job.words), taken, cap=cap, opts=opts, clip_duration=job.clip.duration)
    if placed is None:
        return None
    return {"asset": a.path, "kind": a.kind, "start": round(placed[0], 3), "end": round(placed[1], 3), "in": 0.0,
            "mode": opts.mode, "why": f"{ADDED} at '{added.get('word', '')}'"}


def _apply_broll(ctx: Context, clip_id: str, choice: dict, *, seen: str | None = None) -> list[str]:
    """The stage's plan for the clip, less the assets removed, plus those added; names of those that no
    longer fit (left out, and said)."""
    from clipforge.stagelist import stage

    step, job = _clip_step(ctx, clip_id, "broll", seen=seen)
    path = job.output(".broll.json")
    left_out: list[str] = []

    def write():
        stage("broll").function()(job)
        plan = read_json(path)
        removed = set(choice.get("removed", []))
        inserts = [i for i in plan.get("inserts", []) if Path(i["asset"]).name not in removed]
        for added in choice.get("added", []):
            insert = _place(ctx, job, inserts, added)
            if insert is None:
                left_out.append(added["asset"])
            else:
                inserts.append(insert)
        plan["inserts"] = sorted(inserts, key=lambda i: i["start"])
        write_json(path, plan)

    _rewrite(step, write)
    return left_out


def add_broll(ctx: Context, clip_id: str, *, asset: str, index: int, seen: str | None) -> str:
    words = load_words(ctx).doc.words
    if not 0 <= index < len(words):
        raise EditError(f"word {index} is not in the transcript")
    if asset not in {Path(p).name for p in broll_assets(ctx)}:
        raise EditError(f"{asset!r} is not a file of the broll= folder", hint="run with broll=DIR to add B-roll")
    data = load(ctx)
    choice = data.get(clip_id, {}).get("broll", {"added": [], "removed": []})
    new = {"asset": asset, "at": round(words[index].start, 3), "word": words[index].text.strip()}
    choice = {"added": [*choice["added"], new], "removed": [r for r in choice["removed"] if r != asset]}
    if asset in _apply_broll(ctx, clip_id, choice, seen=seen):
        raise EditError(f"no room for {asset} at '{new['word']}' (another insert there, less than a second of "
                        "speech left, or outside the clip)", hint="pick another word")
    data.setdefault(clip_id, {})["broll"] = choice
    _save(ctx, data)
    return f"{clip_id}: B-roll {asset} at '{new['word']}'"


def remove_broll(ctx: Context, clip_id: str, *, index: int, seen: str | None) -> str:
    _, job = _clip_step(ctx, clip_id, "broll", seen=seen)
    inserts = read_json(job.output(".broll.json")).get("inserts", [])
    if not 0 <= index < len(inserts):
        raise EditError(f"clip {clip_id} has no B-roll insert {index + 1}")
    gone = inserts[index]
    name = Path(gone["asset"]).name
    data = load(ctx)
    choice = data.get(clip_id, {}).get("broll", {"added": [], "removed": []})
    if str(gone.get("why", "")).startswith(ADDED):
        at = job.clip.start + float(gone["start"])
        choice["added"] = [a for a in choice["added"] if not (a["asset"] == name and abs(a["at"] - at) < 0.01)]
    else:
        choice["removed"] = sorted({*choice["removed"], name})
    _apply_broll(ctx, clip_id, choice, seen=seen)
    data.setdefault(clip_id, {})["broll"] = choice
    _save(ctx, data)
    return f"{clip_id}: B-roll {name} removed"


# -- after a plan change -------------------------------------------------------------------------

def reapply(ctx: Context, clip_id: str) -> list[str]:
    """Make a changed clip's hand-made choices again for its new plan; notes for what no longer fits."""
    choice = load(ctx).get(clip_id)
    if not choice:
        return []
    notes = []
    if choice.get("captions"):
        _apply_captions(ctx, clip_id, choice["captions"])
        notes.append(f"captions stay {choice['captions']['style']}")
    if choice.get("frame"):
        _apply_frame(ctx, clip_id, choice["frame"])
        notes.append("your frame choice is kept")
    if choice.get("broll"):
        lost = _apply_broll(ctx, clip_id, choice["broll"])
        notes.append(f"B-roll {', '.join(lost)} no longer fits and was left out" if lost else
                     "your B-roll choices are kept")
    return notes


def source_frame(ctx: Context, clip_id: str) -> str | None:
    """A frame of the source (not of the reframed clip) at the clip's middle, to click the subject on;
    made once per span into temp_processing/editor/, None when the clip or the picture is missing."""
    from clipforge.fsutil import atomic_path
    from clipforge.media import run_ffmpeg

    clip = next((c for c in load_segments(ctx)["clips"] if c["id"] == clip_id), None)
    if clip is None or not _safe_info(ctx).get("has_video"):
        return None
    at = (float(clip["start"]) + float(clip["end"])) / 2
    dest = f"{ctx.unit_file('editor', clip_id, '')}-{at:.2f}.jpg"
    with contextlib.suppress(FileNotFoundError):
        return dest if os.path.getsize(dest) > 0 else None
    with atomic_path(dest, ".jpg") as tmp:
        run_ffmpeg(["-ss", f"{at:.3f}", "-i", ctx.media, "-map", "0:v:0", "-frames:v", "1", "-vf", "scale=480:-2",
                    "-q:v", "5", "-f", "image2", str(tmp)], what=f"a source frame for {clip_id}", timeout=60)
    return dest


def _safe_info(ctx: Context) -> dict:
    try:
        return read_json(ctx.source_info)
    except (OSError, ValueError):
        return {}
