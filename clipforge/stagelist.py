"""The pipeline, declared once: an ordered list of stage records.

dodo.py's tasks, each stage's option hash, the per-clip queues in .temp_clips.json,
`doit status`'s table and `doit list`'s docs all come from STAGES. A stage's code is
named as "module:function" and imported only when its task runs, so `doit list` and
a no-op `doit` import nothing heavy, and this base module never imports stages/.

Adding a per-clip stage: a module in stages/ with `run(job: ClipJob)` and one entry
below (README, "Adding a stage").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One step of the pipeline. Per-clip stages get one doit sub-task per planned clip."""

    name: str
    doc: str
    run: str  # "module:function"; a per-clip stage's function takes one ClipJob
    options: tuple[str, ...] = ()  # the Options fields it reads: only these can invalidate it
    per_clip: bool = False
    per_chunk: bool = False
    # Per-clip only: the files it writes for a clip, by suffix (the first is its main output) ...
    outputs: tuple[str, ...] = ()
    # ... the earlier per-clip stages whose outputs for the same clip it reads ...
    reads: tuple[str, ...] = ()
    # ... extra input files, "module:function" called with the options (a font, B-roll assets);
    # they are checksummed like every input, so editing one re-runs this stage and what follows.
    extra: str | None = None
    # ... and which of its outputs render publishes beside the clip (clips/NN-slug.srt).
    publish: tuple[str, ...] = ()
    # Its outputs are decisions a user may edit (with keep=yes): an edit is kept, and re-renders that clip.
    editable: bool = False

    def function(self) -> Callable:
        return resolve(self.run)

    def extra_files(self, options) -> list[str]:
        return sorted(resolve(self.extra)(options)) if self.extra else []


def resolve(ref: str) -> Callable:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


_S = "clipforge.stages."

STAGES: tuple[Stage, ...] = (
    Stage(
        name="download",
        doc="Fetch (yt-dlp) or link the input into temp_processing/ and probe it.",
        run=_S + "download:run",
        options=("input", "audio_track"),
    ),
    Stage(
        name="chunks",
        doc="Decode the audio and plan transcription chunks at silences.",
        run=_S + "transcribe:plan_chunks",
        options=("chunk_minutes", "audio_track"),
    ),
    Stage(
        name="transcribe",
        doc="Transcribe each chunk with faster-whisper (word timestamps, VAD), checkpointed per batch/segment.",
        run=_S + "transcribe:transcribe_chunk",
        options=("whisper_model", "device", "compute_type", "language", "whisper_mode", "whisper_batch"),
        per_chunk=True,
    ),
    Stage(
        name="transcript",
        doc="Merge the chunk transcripts into transcript.json.",
        run=_S + "transcribe:merge",
        options=("whisper_model", "device", "compute_type", "language"),
    ),
    Stage(
        name="segment",
        doc="Choose the clips: an LLM when configured, else the offline segmenter.",
        run=_S + "segment:run",
        options=("segmenter", "llm_model", "llm_choose", "clips", "min_len", "max_len", "padding"),
    ),
    Stage(
        name="tighten",
        doc="Decide what each clip keeps: pauses shortened to a breath, fillers cut (checked on the audio).",
        run=_S + "tighten:run",
        per_clip=True,
        outputs=(".cuts.json",),
        editable=True,
        options=("tighten", "tighten_pause", "tighten_breath"),
    ),
    Stage(
        name="subtitles",
        doc="Write each clip's captions (SRT/VTT sidecars, styled ASS) and its hook, on the tightened timeline.",
        run=_S + "subtitles:run",
        per_clip=True,
        outputs=(".ass", ".srt", ".vtt", ".hook.ass"),
        reads=("tighten",),
        publish=(".srt", ".vtt"),
        editable=True,
        options=("captions", "aspect", "reframe", "height", "caption_chars", "caption_words", "caption_style",
                 "platform", "hook"),
        extra="clipforge.assets:caption_files",
    ),
    Stage(
        name="vfx",
        doc="Decide each clip's frame: aspect and a face-following camera path.",
        run=_S + "vfx:run",
        per_clip=True,
        outputs=(".reframe.json",),
        reads=("tighten",),
        editable=True,
        options=("aspect", "reframe", "height"),
    ),
    Stage(
        name="broll",
        doc="Plan B-roll inserts from broll= (the user's own folder) that match what is said.",
        run=_S + "broll:run",
        per_clip=True,
        outputs=(".broll.json",),
        reads=("tighten",),
        editable=True,
        options=("broll", "broll_mode", "broll_max", "broll_max_len", "broll_protect", "broll_share", "platform"),
        extra=_S + "broll:asset_files",
    ),
    Stage(
        name="loudness",
        doc="Measure each clip's loudness once (EBU R128, 48 kHz stereo) for the encode's normalisation.",
        run=_S + "loudness:run",
        per_clip=True,
        outputs=(".loudness.json",),
        options=("loudness", "true_peak", "audio_track"),
    ),
    Stage(
        name="extract",
        doc="Cut and compose each clip in one ffmpeg encode: tightening, frame, B-roll, burned captions, hook.",
        run=_S + "extract:run",
        per_clip=True,
        outputs=(".mp4",),
        reads=("tighten", "subtitles", "vfx", "broll", "loudness"),
        options=("cut", "preset", "captions"),
        extra="clipforge.assets:font_files",
    ),
    Stage(
        name="render", doc="Publish clips/NN-<slug>.mp4 (sidecars, poster), clips/manifest.json and clips/index.html.",
        run=_S + "render:run",
    ),
)

BY_NAME = {s.name: s for s in STAGES}


def stage(name: str) -> Stage:
    return BY_NAME[name]


def per_clip_stages() -> list[Stage]:
    return [s for s in STAGES if s.per_clip]


def unit_stages() -> list[Stage]:
    """Stages whose progress is kept per unit (chunk or clip) in the state file."""
    return [s for s in STAGES if s.per_clip or s.per_chunk]


def stage_options() -> dict[str, tuple[str, ...]]:
    return {s.name: s.options for s in STAGES}


def insert(new: Stage, *, before: str) -> None:
    """Add a stage to this process's pipeline (a project's own dodo.py can add one without a fork)."""
    global STAGES, BY_NAME
    at = [s.name for s in STAGES].index(before)
    STAGES = (*STAGES[:at], new, *STAGES[at:])
    BY_NAME = {s.name: s for s in STAGES}


def check_creators(namespace: dict) -> None:
    """Every declared stage has a task creator (a stage added to STAGES but not wired fails loudly);
    `doit list` shows each stage's doc from its record."""
    missing = [s.name for s in STAGES if f"task_{s.name}" not in namespace]
    if missing:
        raise RuntimeError(f"stages without a task creator in dodo.py: {', '.join(missing)}")
    for s in STAGES:
        namespace[f"task_{s.name}"].__doc__ = s.doc


def markdown_table() -> str:
    """The README's stage table (between its `<!-- stages -->` markers); `python -m clipforge.stagelist`."""
    rows = ["| stage | unit | writes | options | what it does |", "|---|---|---|---|---|"]
    for s in STAGES:
        unit = "per clip" if s.per_clip else "per chunk" if s.per_chunk else "once"
        writes = ", ".join(f"`{s.name}/segNNN{x}`" for x in s.outputs) if s.per_clip else ""
        opts = ", ".join(f"`{o}`" for o in s.options)
        rows.append(f"| `{s.name}` | {unit} | {writes} | {opts} | {s.doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
