"""What the LLM segmenter sends and what it accepts: numbered sentences in, sentence ranges out.

The model never writes a time. It sees the transcript as numbered sentences (with times for
context) and picks clips as sentence ranges, so every clip starts and ends on a sentence by
construction and its times come from the word timestamps. Each pick is checked (range inside
the window it was asked about, real words in title/reason/quote, the quote opens the chosen
sentences, no overlap with another pick of the same reply) before it is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from clipforge.records import Span, Transcript
from clipforge.stages.segment.boundaries import BoundaryOptions
from clipforge.stages.segment.boundary_words import Sentence, quote_opens, repair_word_timings, split_sentences

# Output bound: JSON keys and numbers of one pick plus a short title, reason and quote come to
# about 80 tokens with common tokenizers; the rest is slack for wordier models.
TOKENS_PER_CLIP = 150
TOKENS_OVERHEAD = 64
# Prompt size estimate for the context check: English runs ~4 characters a token, numbered
# lines with times fewer; 3 keeps the estimate on the safe side.
CHARS_PER_TOKEN = 3


def max_tokens(clips: int) -> int:
    return TOKENS_OVERHEAD + TOKENS_PER_CLIP * max(1, clips)


def schema(clips: int) -> dict:
    """Strict-mode JSON schema (every property required, no extras), at most `clips` picks."""
    pick = {
        "type": "object",
        "properties": {
            "first_sentence": {"type": "integer", "description": "number of the clip's first sentence"},
            "last_sentence": {"type": "integer", "description": "number of the clip's last sentence"},
            "title": {"type": "string", "description": "short catchy title, at most 8 words"},
            "reason": {"type": "string", "description": "one short line: why this moment works on its own"},
            "score": {"type": "integer", "description": "0-100, how engaging the clip is on its own"},
            "quote": {"type": "string", "description": "the first 3 to 6 words of the first sentence, verbatim"},
        },
        "required": ["first_sentence", "last_sentence", "title", "reason", "score", "quote"],
        "additionalProperties": False,
    }
    # The 0-100 bound on score lives in the description and is clamped on our side: minimum and
    # maximum are not honoured by every server's grammar engine, and a re-ask is dearer than a clamp.
    return {
        "type": "object",
        "properties": {"clips": {"type": "array", "items": pick, "maxItems": max(1, clips)}},
        "required": ["clips"],
        "additionalProperties": False,
    }


# No example values anywhere: a small model copies an example verbatim, and a copied example
# could pass the checks. The shape is spelled out in words instead.
SYSTEM_PROMPT = """\
You pick short clips from a long video, using its transcript.
The transcript is a list of numbered sentences; each line is the sentence number, its time \
span in seconds in brackets, and the sentence.
Choose self-contained, engaging moments that make sense without the rest of the video: \
a complete thought, story, joke, insight or answer, with a clear start and end.
A clip is a run of consecutive sentences and must last {length_rule} seconds \
(from the start of its first sentence to the end of its last one).
For each clip give: first_sentence and last_sentence (sentence numbers from the list), \
title (a short catchy title), reason (one short line: why it works on its own), \
score (a whole number from 0 to 100: how engaging it is on its own), \
and quote (the first few words of the first sentence, copied exactly).
Clips must not overlap. Return at most {clips} clips, best first; fewer if few moments qualify.
Reply with JSON only: an object whose only key "clips" holds the list of clips, \
each an object with exactly the keys first_sentence, last_sentence, title, reason, score and quote."""


def sentences_of(transcript: Transcript) -> list[Sentence]:
    """The sentences clips are cut on (the same split stages.segment.boundaries uses), or segments without words."""
    words = repair_word_timings(transcript.words())
    if words:
        return split_sentences(words, BoundaryOptions().pause)
    # A transcript without word timestamps: its segments are the units (and quotes are checked on them).
    return [Sentence(words=[], start=s.start, end=s.end, text=" ".join(s.text.split()))
            for s in transcript.segments if s.text.strip()]


def numbered_lines(sents: list[Sentence]) -> list[str]:
    return [f"{n}: [{s.start:.1f}-{s.end:.1f}] {' '.join(s.text.split())}" for n, s in enumerate(sents, 1)]


def split_windows(lines: list[str], window_chars: int, overlap_chars: int) -> list[range]:
    """Index ranges of consecutive lines of about window_chars each; neighbours share about overlap_chars."""
    windows, start, n = [], 0, len(lines)
    while start < n:
        end, size = start, 0
        while end < n and (end == start or size + len(lines[end]) + 1 <= window_chars):
            size += len(lines[end]) + 1
            end += 1
        windows.append(range(start, end))
        if end >= n:
            break
        nxt, back = end, 0  # step back so a moment cut by the edge is whole in the next window
        while nxt - 1 > start and back + len(lines[nxt - 1]) + 1 <= overlap_chars:
            nxt -= 1
            back += len(lines[nxt]) + 1
        start = nxt
    return windows


def length_rule(min_len: float, max_len: float) -> str:
    return (f"at least {min_len:g}" if max_len == float("inf")  # max_len=inf: no maximum
            else f"between {min_len:g} and {max_len:g}")


def build_messages(lines: list[str], window: range, duration: float, *, clips: int, min_len: float,
                   max_len: float) -> list[dict]:
    system = SYSTEM_PROMPT.format(length_rule=length_rule(min_len, max_len), clips=clips)
    user = (f"Video duration: {duration:.1f} seconds. Sentences {window.start + 1} to {window.stop}:\n"
            + "\n".join(lines[k] for k in window))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@dataclass(frozen=True, kw_only=True)
class Pick:
    """A checked clip proposal: sentence indices (0-based, inclusive) and its texts."""

    first: int
    last: int
    title: str
    reason: str
    score: int
    quote: str


def _has_words(text: str) -> bool:
    return any(c.isalnum() for c in text)


def check_reply(reply: dict, window: range, sents: list[Sentence]) -> tuple[list[Pick], list[str]]:
    """Picks that pass every check, and one reason per pick dropped (numbers as the model wrote them)."""
    kept: list[Pick] = []
    dropped: list[str] = []
    for n, c in enumerate(reply["clips"], 1):
        a, b = c["first_sentence"], c["last_sentence"]
        where = f"pick {n} (sentences {a}-{b})"
        texts = {k: " ".join(str(c[k]).split()) for k in ("title", "reason", "quote")}
        if not (window.start + 1 <= a <= b <= window.stop):
            why = ("last sentence before first" if a > b else
                   f"outside sentences {window.start + 1}-{window.stop} it was shown")
        elif empty := [k for k, v in texts.items() if not _has_words(v)]:
            why = f"{' and '.join(empty)} empty or punctuation only"
        elif not quote_opens(texts["quote"], sents[a - 1:b]):
            why = f"quote {texts['quote'][:60]!r} does not open sentence {a}"
        elif clash := next((k for k in kept if k.first <= b - 1 and a - 1 <= k.last), None):
            why = f"overlaps sentences {clash.first + 1}-{clash.last + 1} picked before it"
        else:
            kept.append(Pick(first=a - 1, last=b - 1, title=texts["title"], reason=texts["reason"],
                             score=max(0, min(100, int(c["score"]))), quote=texts["quote"]))
            continue
        dropped.append(f"{where}: {why}")
    return kept, dropped


def merge_picks(picks: list[Pick]) -> list[Pick]:
    """Across overlapping windows: drop a pick sharing more than half the shorter one's sentences
    with a better one; the rest ranked best first over the whole talk (ties: earlier first)."""
    kept: list[Pick] = []
    for p in sorted(picks, key=lambda p: (-p.score, p.first, p.last)):
        if not any(_shared(p, k) * 2 > min(p.last - p.first, k.last - k.first) + 1 for k in kept):
            kept.append(p)
    return kept


def _shared(a: Pick, b: Pick) -> int:
    return max(0, min(a.last, b.last) - max(a.first, b.first) + 1)


def to_span(p: Pick, sents: list[Sentence]) -> Span:
    """Times from the word timestamps of the chosen sentences."""
    return Span(start=sents[p.first].start, end=sents[p.last].end, title=p.title, reason=p.reason,
                score=p.score, quote=p.quote)


def context_fit(n_ctx: int, clips: int, system_chars: int) -> int:
    """Transcript characters per window that fit a server context of n_ctx tokens (may be <= 0)."""
    return (n_ctx - max_tokens(clips) - TOKENS_OVERHEAD) * CHARS_PER_TOKEN - system_chars
