"""Which stretches of heard speech the decoded words do not cover.

faster-whisper's batched path can drop a whole VAD window's first sentence (SYSTRAN/faster-whisper
#1179, #1351: it decodes without timestamps and without the previous text), and any decoder can skip
a phrase after a hallucinated or hot window. The VAD's speech segments are an independent record of
where someone spoke; a stretch of them that no word overlaps was heard and dropped, and is decoded
again on its own. Pure arithmetic on seconds, so it is table-tested.
"""

from __future__ import annotations

# Seconds of uncovered speech that count as dropped: "Not quite." lasts 0.7 s; a breath or a word's
# tail past Whisper's late or early time (SLACK) is shorter.
MIN_GAP = 0.6
SLACK = 0.3  # seconds either side of a word counted as covered: word times are off by up to ~0.2 s


def uncovered(speech: list[tuple[float, float]], words: list[tuple[float, float]], *,
              min_gap: float = MIN_GAP, slack: float = SLACK) -> list[tuple[float, float]]:
    """The stretches of `speech` (start, end) that no word (start, end), widened by `slack`, overlaps,
    merged across the silences between speech segments, and at least `min_gap` long in speech time."""
    covered = sorted((a - slack, b + slack) for a, b in words)
    holes: list[tuple[float, float]] = []
    for s_start, s_end in sorted(speech):
        at = s_start
        for a, b in covered:
            if b <= at or a >= s_end:
                continue
            if a > at:
                holes.append((at, a))
            at = max(at, b)
        if at < s_end:
            holes.append((at, s_end))
    # Holes in neighbouring speech segments with no word between them are one dropped stretch.
    merged: list[list[float]] = []
    for a, b in holes:
        if merged and not any(merged[-1][1] <= (x + y) / 2 <= a for x, y in words):
            merged[-1][1] = b
            merged[-1][2] += b - a
        else:
            merged.append([a, b, b - a])
    return [(round(a, 3), round(b, 3)) for a, b, spoken in merged if spoken >= min_gap]
