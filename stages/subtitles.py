"""subtitles: captions from word timings, as SRT/VTT cues and word-highlighted ASS for burning in.

Times here are clip-relative (0 = clip start). Cues and highlight chunks follow the same
sentence boundaries as the cut planner (boundary_words.split_sentences), so a caption
never straddles the end of a sentence the clip was cut around.

Everything but write_captions is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import pysubs2

from clipforge.fsutil import atomic_path
from clipforge.records import Word
from clipforge.stages.segment.boundary_words import CLAUSE_PAUSE_RATIO, CLOSERS, split_sentences

_CLAUSE_END = (",", ";", ":", "—", "–")


@dataclass(frozen=True, kw_only=True)
class CaptionOptions:
    max_chars_per_line: int = 32  # SRT/VTT cue lines; the usual subtitle guideline
    max_lines: int = 2
    chunk_words: int = 3  # words per highlighted chunk, 1..4
    pause: float = 0.6  # a silence this long ends a sentence (the cut planner's value)
    min_cue_seconds: float = 0.8  # short cues are held this long, but only into silence
    font_name: str = "DejaVu Sans"  # family of the font shipped in clipforge/fonts
    bold: bool = True  # the shipped file is DejaVuSans-Bold.ttf
    font_size: float = 0.055  # fraction of the frame height
    base_colour: str = "#FFFFFF"
    highlight_colour: str = "#FFE600"
    outline_colour: str = "#000000"
    outline: float = 0.08  # outline width as a fraction of the font size
    margin_bottom: float = 0.22  # fraction of the frame height; clears the 9:16 apps' own buttons
    margin_side: float = 0.06  # fraction of the frame width (left, and right unless margin_right is set)
    margin_right: float | None = None  # fraction of the frame width; the apps' buttons cover the right edge
    margin_top: float = 0.05  # fraction of the frame height (hook, and captions placed high)
    # The look (stages.caption_styles): how events are made and where they sit.
    kind: str = "highlight"  # highlight (chunk, spoken word coloured), pop (one word at a time), cue (lines)
    alignment: int = 2  # ASS numpad alignment: 2 bottom centre, 1 bottom left, 5 middle centre
    border_style: int = 1  # 1 outline, 3 opaque box (in outline_colour)
    box_alpha: int = 0  # the box's transparency, 0 opaque .. 255 clear
    shadow: float = 0.0  # shadow depth as a fraction of the font size
    uppercase: bool = False
    raise_by: float = 0.0  # extra height above the bottom margin, fraction of the frame (pop sits higher)

    def __post_init__(self) -> None:
        if not 1 <= self.chunk_words <= 4:
            raise ValueError(f"chunk_words must be 1..4, not {self.chunk_words}")
        if self.max_chars_per_line < 1 or self.max_lines < 1:
            raise ValueError("max_chars_per_line and max_lines must be positive")


@dataclass(frozen=True, kw_only=True)
class Cue:
    """One SRT/VTT cue: whole words, already wrapped into lines."""

    start: float
    end: float
    lines: list[str]
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """A few words shown together while each is highlighted in turn."""

    words: list[Word]

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end


# --- pure helpers ------------------------------------------------------------


def clip_words(words: list[Word], start: float, end: float) -> list[Word]:
    """Words overlapping [start, end], shifted to clip-relative times and clamped to [0, end - start]."""
    span = end - start
    out = []
    for w in words:
        if w.end > start and w.start < end and w.text.strip():
            out.append(replace(w, start=min(max(w.start - start, 0.0), span), end=min(max(w.end - start, 0.0), span)))
    return out


def _clean(words: list[Word]) -> list[Word]:
    return [w for w in words if isinstance(w.text, str) and w.text.strip()]


def _ends_clause(w: Word) -> bool:
    return w.text.strip().rstrip(CLOSERS).endswith(_CLAUSE_END)


def _sentences(words: list[Word], pause: float) -> list[list[Word]]:
    return [s.words for s in split_sentences(_clean(words), pause)]


def wrap_lines(words: list[Word], max_chars: int) -> list[str]:
    """Greedy wrap at word boundaries; two lines are rebalanced so neither is much longer.

    A word longer than max_chars gets a line of its own rather than being broken.
    """
    texts = [w.text.strip() for w in words]
    lines: list[list[str]] = []
    for t in texts:
        if lines and len(" ".join([*lines[-1], t])) <= max_chars:
            lines[-1].append(t)
        else:
            lines.append([t])
    if len(lines) == 2:
        # Greedy fills the top line; a balanced pair reads faster and covers less picture.
        best = min(range(1, len(texts)), key=lambda k: max(len(" ".join(texts[:k])), len(" ".join(texts[k:]))))
        top, bottom = " ".join(texts[:best]), " ".join(texts[best:])
        if max(len(top), len(bottom)) <= max_chars:
            return [top, bottom]
    return [" ".join(line) for line in lines]


def _fits(words: list[Word], opts: CaptionOptions) -> bool:
    return len(words) == 1 or len(wrap_lines(words, opts.max_chars_per_line)) <= opts.max_lines


def _breaks_well(words: list[Word], i: int, opts: CaptionOptions) -> bool:
    """True if a cue may end before words[i] without cutting a clause: punctuation or a breath."""
    return _ends_clause(words[i - 1]) or words[i].start - words[i - 1].end >= opts.pause * CLAUSE_PAUSE_RATIO


def _sentence_cues(words: list[Word], opts: CaptionOptions) -> list[list[Word]]:
    """Split one sentence into the fewest cues that fit, balanced in length, preferring clause breaks.

    Dynamic programming over cut positions: (cues, badness) is minimised, where badness is the
    squared unused room of each cue plus a fixed price for a cut that is not at a clause break.
    """
    n = len(words)
    room = opts.max_lines * opts.max_chars_per_line
    off_clause = (room / 3) ** 2
    best: list[tuple[int, float, int]] = [(0, 0.0, 0)] + [(n + 1, math.inf, 0)] * n
    for i in range(1, n + 1):
        for j in range(i - 1, -1, -1):
            part = words[j:i]
            if not _fits(part, opts):
                break  # a longer part fits even less
            chars = len(" ".join(w.text.strip() for w in part))
            cost = best[j][1] + max(room - chars, 0) ** 2
            if i < n and not _breaks_well(words, i, opts):
                cost += off_clause
            cand = (best[j][0] + 1, cost, j)
            if cand[:2] < best[i][:2]:
                best[i] = cand
    parts, i = [], n
    while i > 0:
        j = best[i][2]
        parts.append(words[j:i])
        i = j
    return parts[::-1]


def caption_cues(words: list[Word], *, opts: CaptionOptions = CaptionOptions()) -> list[Cue]:
    """Sentence-sized cues of at most max_lines x max_chars_per_line, never across a sentence end."""
    groups = [part for sent in _sentences(words, opts.pause) for part in _sentence_cues(sent, opts)]
    cues = []
    for i, ws in enumerate(groups):
        start, end = ws[0].start, ws[-1].end
        nxt = groups[i + 1][0].start if i + 1 < len(groups) else math.inf
        # Hold a short cue long enough to read, but only into the silence before the next one.
        end = max(end, min(start + opts.min_cue_seconds, nxt))
        cues.append(Cue(start=start, end=end, lines=wrap_lines(ws, opts.max_chars_per_line), words=ws))
    return cues


def _even_runs(run: list[Word], size: int) -> list[list[Word]]:
    """Split a run into ceil(n/size) near-equal pieces (4 words at size 3 -> 2+2, not 3+1)."""
    n = len(run)
    pieces = math.ceil(n / size)
    bounds = [round(k * n / pieces) for k in range(pieces + 1)]
    return [run[a:b] for a, b in zip(bounds, bounds[1:])]


def highlight_chunks(words: list[Word], *, opts: CaptionOptions = CaptionOptions()) -> list[Chunk]:
    """Chunks of 1..chunk_words words; never across a sentence end, clause punctuation or a breath."""
    clause_gap = opts.pause * CLAUSE_PAUSE_RATIO
    chunks = []
    for sent in _sentences(words, opts.pause):
        run: list[Word] = []
        for i, w in enumerate(sent):
            run.append(w)
            last = i + 1 == len(sent)
            if last or _ends_clause(w) or sent[i + 1].start - w.end >= clause_gap:
                chunks.extend(Chunk(words=piece) for piece in _even_runs(run, opts.chunk_words))
                run = []
    return chunks


# --- ASS ---------------------------------------------------------------------


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    if len(h) != 6:
        raise ValueError(f"colour must be #RRGGBB, not {hex_colour!r}")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def ass_colour_tag(hex_colour: str) -> str:
    """The ASS override tag that sets the primary colour (ASS writes colours as &HBBGGRR&)."""
    r, g, b = _rgb(hex_colour)
    return f"{{\\c&H{b:02X}{g:02X}{r:02X}&}}"


def _ass_text(text: str) -> str:
    # Braces open override blocks and backslashes start tags: words must not smuggle in either.
    return text.strip().replace("{", "(").replace("}", ")").replace("\\", "/")


def _style(frame: tuple[int, int], opts: CaptionOptions) -> pysubs2.SSAStyle:
    w, h = frame
    size = max(8, round(opts.font_size * h))
    right = opts.margin_side if opts.margin_right is None else opts.margin_right
    top = opts.alignment in (7, 8, 9)
    pad = math.ceil((opts.outline + opts.shadow) * size) + 1
    return pysubs2.SSAStyle(
        fontname=opts.font_name, fontsize=size, bold=opts.bold,
        primarycolor=pysubs2.Color(*_rgb(opts.base_colour)),
        secondarycolor=pysubs2.Color(*_rgb(opts.highlight_colour)),
        outlinecolor=pysubs2.Color(*_rgb(opts.outline_colour), opts.box_alpha if opts.border_style == 3 else 0),
        backcolor=pysubs2.Color(0, 0, 0, 128),
        borderstyle=opts.border_style, outline=round(opts.outline * size, 1), shadow=round(opts.shadow * size, 1),
        alignment=pysubs2.Alignment(opts.alignment),
        # The outline (or box) and the shadow are drawn outside the text: the margins make room for them.
        marginl=round(opts.margin_side * w + pad), marginr=round(right * w + pad),
        marginv=round((opts.margin_top if top else opts.margin_bottom + opts.raise_by) * h + pad),
    )


def highlight_events(chunks: list[Chunk], opts: CaptionOptions) -> list[pysubs2.SSAEvent]:
    """Per chunk, one event per word: the spoken word coloured, the rest of the chunk in the base colour."""
    tag = ass_colour_tag(opts.highlight_colour)
    events = []
    for chunk in chunks:
        ws = chunk.words
        for i, w in enumerate(ws):
            end = ws[i + 1].start if i + 1 < len(ws) else w.end
            if round(end * 100) <= round(w.start * 100):
                # ASS times are centiseconds; a zero-length event makes libass drop the whole
                # track in the bundled ffmpeg. The word stays visible in its chunk's other events.
                continue
            parts = [_ass_text(x.text) for x in ws]
            parts[i] = f"{tag}{parts[i]}{{\\r}}"
            events.append(pysubs2.SSAEvent(start=pysubs2.make_time(s=w.start), end=pysubs2.make_time(s=end),
                                           style="Default", text=" ".join(parts)))
    return events


def _ass_file(frame: tuple[int, int], opts: CaptionOptions, events: list[pysubs2.SSAEvent], *,
              style: pysubs2.SSAStyle | None = None) -> pysubs2.SSAFile:
    subs = pysubs2.SSAFile()
    # libass lays text out in PlayRes pixels: equal to the frame, sizes above are real pixels.
    subs.info.update({"PlayResX": str(frame[0]), "PlayResY": str(frame[1]), "WrapStyle": "0",
                      "ScaledBorderAndShadow": "yes"})
    subs.styles = {"Default": style or _style(frame, opts)}
    subs.events = events
    return subs


def _cue_file(cues: list[Cue]) -> pysubs2.SSAFile:
    subs = pysubs2.SSAFile()
    subs.events = [pysubs2.SSAEvent(start=pysubs2.make_time(s=c.start), end=pysubs2.make_time(s=c.end),
                                    text=r"\N".join(_ass_text(line) for line in c.lines)) for c in cues]
    return subs


def _save(subs: pysubs2.SSAFile, target: Path, fmt: str) -> None:
    with atomic_path(target, f".{fmt}") as tmp:
        subs.save(str(tmp), encoding="utf-8", format_=fmt)


def write_captions(*, words: list[Word], frame: tuple[int, int], opts: CaptionOptions = CaptionOptions(),
                   ass_out: Path | None = None, srt_out: Path | None = None, vtt_out: Path | None = None,
                   style: pysubs2.SSAStyle | None = None) -> dict:
    """Write the clip's captions (each output is optional) and return a small summary.

    No words writes valid empty files: an ASS header without events, an empty SRT, a bare WEBVTT.
    `style` replaces the style made from `opts` (a user's own .ass style, already scaled to the frame).
    """
    from clipforge.stages.caption_styles import style_events

    cues = caption_cues(words, opts=opts)
    chunks = highlight_chunks(words, opts=opts)
    events = style_events(chunks=chunks, cues=cues, opts=opts, frame=frame)
    if ass_out is not None:
        _save(_ass_file(frame, opts, events, style=style), Path(ass_out), "ass")
    cue_subs = _cue_file(cues)
    if srt_out is not None:
        _save(cue_subs, Path(srt_out), "srt")
    if vtt_out is not None:
        _save(cue_subs, Path(vtt_out), "vtt")
    first = [events[0].start / 1000, events[0].end / 1000] if events else None
    return {"cues": len(cues), "chunks": len(chunks), "events": len(events),
            "words": sum(len(c.words) for c in chunks), "first_event": first}


def frame_for(*, aspect: str, reframe: str, height: int, source_info: dict) -> tuple[int, int]:
    """The output frame the captions are laid out for: the same rule as the vfx stage's output size."""
    from clipforge.stages.camera import output_size

    src = (source_info.get("width") or 0, source_info.get("height") or 0)
    if source_info.get("has_video") and src[0] and src[1] and aspect == "source":
        return src
    if source_info.get("has_video") and src[0] and src[1] and reframe == "off":
        return output_size("source", height, src)
    return output_size("9:16" if aspect == "source" else aspect, height)


def run(job) -> None:
    """Per-clip stage (clipforge.stagelist "subtitles"): the clip's words in, NN.ass/.srt/.vtt/.hook.ass out.

    The words are mapped onto the tightened timeline first (tighten/NN.cuts.json), so every caption
    lands on the instant the published clip says its word. With captions=off the caption files are
    still written, empty, so the stages after it need no special case.
    """
    from clipforge.fsutil import read_json
    from clipforge.stages import caption_styles
    from clipforge.timeline import Timeline, decision_words

    o = job.options
    frame = frame_for(aspect=o["aspect"], reframe=o["reframe"], height=int(o["height"]), source_info=job.source_info)
    opts, style = caption_styles.options_for(str(o["caption_style"]), frame=frame, platform=str(o["platform"]),
                                             base=CaptionOptions(max_chars_per_line=int(o["caption_chars"]),
                                                                 chunk_words=int(o["caption_words"])))
    cuts = job.inputs.get("tighten.cuts.json")
    decision = read_json(cuts) if cuts else None
    timeline = Timeline.from_decision(decision, job.clip.duration, label=f"tighten/{job.clip.id}.cuts.json")
    words = timeline.map_words(decision_words(decision, job.words)) if o["captions"] != "off" else []
    summary = write_captions(words=words, frame=frame, opts=opts, ass_out=Path(job.output(".ass")),
                             srt_out=Path(job.output(".srt")), vtt_out=Path(job.output(".vtt")), style=style)
    caption_styles.write_hook(title=job.clip.title if o["hook"] == "title" else "", frame=frame, opts=opts,
                              duration=timeline.duration, out=Path(job.output(".hook.ass")))
    if words and not summary["events"]:
        print(f"  subtitles: {job.clip.id} has no timed words: no captions")
