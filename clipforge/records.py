"""Records that cross a stage boundary, saved as JSON with dataclasses.asdict.

Like every function here, a record takes at most three fields by position (the ones that read
naturally so: `Word("so", 0.0, 0.3)`, `Span(12.0, 40.0)`); the rest, after KW_ONLY, only by name.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, asdict, dataclass, field


@dataclass
class Word:
    text: str
    start: float
    end: float
    _: KW_ONLY
    probability: float = 1.0


@dataclass
class TranscriptSegment:
    start: float
    end: float
    text: str
    _: KW_ONLY
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    language: str
    duration: float
    segments: list[TranscriptSegment] = field(default_factory=list)
    _: KW_ONLY
    model: str = ""
    warnings: list[dict] = field(default_factory=list)  # [{"code", "message"}]: stages/transcript_checks.py

    def words(self) -> list[Word]:
        return [w for seg in self.segments for w in seg.words]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Transcript:
        segments = [
            TranscriptSegment(
                start=s["start"], end=s["end"], text=s["text"],
                words=[Word(**w) for w in s.get("words", [])],
            )
            for s in data.get("segments", [])
        ]
        return cls(language=data.get("language", ""), duration=data["duration"],
                   segments=segments, model=data.get("model", ""), warnings=data.get("warnings", []))


@dataclass
class Span:
    """A proposed clip: what a segmenter (LLM or offline) suggests, before snapping."""

    start: float
    end: float
    _: KW_ONLY
    title: str = ""
    reason: str = ""
    score: int = 0
    quote: str = ""  # the clip's opening words as the proposer saw them (used to catch hallucinations)


@dataclass(kw_only=True)
class ClipPlan:
    """A clip whose cut points were decided from word timings (stages.segment.boundaries)."""

    id: str
    start: float
    end: float
    title: str
    reason: str
    score: int
    text: str
    first_word: str
    last_word: str
    flags: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        d = asdict(self)
        d["start"], d["end"] = round(self.start, 3), round(self.end, 3)
        d["duration"] = round(self.duration, 3)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> ClipPlan:
        data = {k: v for k, v in data.items() if k != "duration"}
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class ClipJob:
    """Everything a per-clip stage may read for one clip (clipforge.cliptasks builds it)."""

    clip: ClipPlan  # times in the source
    words: list[Word]  # the clip's words, times relative to the clip's start
    source: str  # the source media in temp_processing/
    source_info: dict  # source.json: duration, has_video, width, height, fps
    inputs: dict[str, str]  # earlier per-clip stages' files for this clip, by "<stage><suffix>"
    extra: list[str]  # the stage's extra input files (a font, B-roll assets)
    outputs: dict[str, str]  # this stage's files for this clip, by suffix
    options: dict[str, object]  # only the options the stage declares

    def output(self, suffix: str | None = None) -> str:
        return self.outputs[suffix] if suffix else next(iter(self.outputs.values()))
