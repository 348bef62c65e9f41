"""The tightened timeline of a clip: which parts of the source span are kept, and where they land.

The tighten stage writes the kept ranges (clip-relative source seconds, on the source's frame grid)
into tighten/segNNN.cuts.json. compose plays them back to back in one encode; the stages that place
things in time (captions, camera path, B-roll) map their times through `Timeline` so they land on
the same instants of the published clip. Pure: no I/O but `load`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.records import Word

_EPS = 1e-6


@dataclass(frozen=True, kw_only=True)
class Timeline:
    kept: tuple[tuple[float, float], ...]  # clip-relative source times, sorted, not overlapping
    span: float  # the source span's duration (the untightened clip)

    @classmethod
    def whole(cls, span: float) -> Timeline:
        return cls(kept=((0.0, span),), span=span)

    @classmethod
    def from_decision(cls, decision: dict | None, span: float, *, label: str = "cuts") -> Timeline:
        """The kept ranges of a cuts.json (a user may have edited it: checked, one clear line if wrong)."""
        if not decision or not decision.get("kept"):
            return cls.whole(span)
        try:
            kept = tuple((float(r["start"]), float(r["end"])) for r in decision["kept"])
        except (KeyError, TypeError, ValueError):
            raise ClipforgeError(f"{label}: each kept range needs numeric start and end",
                                 code=ErrorCode.BAD_OPTION) from None
        prev = 0.0
        for a, b in kept:
            if not (prev - _EPS <= a < b <= span + 0.05):
                raise ClipforgeError(f"{label}: kept ranges must be increasing, non-overlapping and inside "
                                     f"0..{span:.3f} s (found {a:.3f}-{b:.3f})", code=ErrorCode.BAD_OPTION)
            prev = b
        return cls(kept=tuple((a, min(b, span)) for a, b in kept), span=span)

    @property
    def duration(self) -> float:
        return sum(b - a for a, b in self.kept)

    @property
    def removed(self) -> float:
        return max(0.0, self.span - self.duration)

    @property
    def is_whole(self) -> bool:
        return len(self.kept) == 1 and self.kept[0][0] <= _EPS and self.kept[0][1] >= self.span - _EPS

    def offsets(self) -> list[float]:
        """Where each kept range starts on the output timeline."""
        out, at = [], 0.0
        for a, b in self.kept:
            out.append(at)
            at += b - a
        return out

    def to_output(self, t: float, *, late: bool = False) -> float:
        """Output time of source time t. A t inside a removed part maps to the cut: the start of the
        next kept range (`late`=False) or the end of the previous one (`late`=True)."""
        prev_end = 0.0
        for (a, b), o in zip(self.kept, self.offsets()):
            if t < a:
                return prev_end if late else o
            if t <= b:
                return o + (t - a)
            prev_end = o + (b - a)
        return prev_end

    def keeps(self, start: float, end: float) -> bool:
        """True if any of [start, end] survives the cuts."""
        return any(min(b, end) - max(a, start) > _EPS for a, b in self.kept)

    def map_words(self, words: list[Word]) -> list[Word]:
        """The words that survive, with output times (a removed filler word is dropped)."""
        out = []
        for w in words:
            if not self.keeps(w.start, w.end):
                continue
            start, end = self.to_output(w.start), self.to_output(w.end, late=True)
            out.append(replace(w, start=round(start, 3), end=round(max(end, start), 3)))
        return out

    def map_path(self, path: list[dict], position_at) -> list[dict]:
        """A camera path (keyframes t/x/y/cut in source time) on the output timeline.

        Each kept range opens with the window where it was at that source instant (a cut: the
        picture itself jumps there) and closes with where it was at the range's end, so a pan
        inside a range keeps its speed; `position_at(t)` reads the source path.
        """
        if not path or self.is_whole:
            return path
        out: list[dict] = []
        for i, ((a, b), o) in enumerate(zip(self.kept, self.offsets())):
            x, y = position_at(a)
            out.append({"t": round(o, 3), "x": round(x), "y": round(y), "cut": i > 0})
            out += [{**k, "t": round(o + k["t"] - a, 3)} for k in path if a < float(k["t"]) < b - 0.002]
            x, y = position_at(b - 0.001)
            end = round(o + b - a - 0.001, 3)
            if end > out[-1]["t"]:
                out.append({"t": end, "x": round(x), "y": round(y), "cut": False})
        return out


def decision_words(decision: dict | None, words: list[Word]) -> list[Word]:
    """The tighten decision's words (edges checked against the audio) when it has them, else `words`."""
    listed = (decision or {}).get("words")
    if not listed or len(listed) != len(words):
        return words  # an old or hand-edited decision: the transcript's own timings
    return [replace(w, start=float(d["start"]), end=float(d["end"])) for w, d in zip(words, listed)]
