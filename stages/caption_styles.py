"""Caption styles (`caption_style=`), the hook title, and where both sit (the platform's safe zone).

Presets, all with the bundled font:
  bold   bold white outline, the spoken word of a 1-4 word chunk in yellow (the default)
  boxed  white text on a dark translucent box, the spoken word in yellow
  pop    one word at a time, large and upper-case, each popping in (scale 70 % -> 112 % -> 100 %)
  lower  a minimal lower third: small left-aligned sentence lines with a soft shadow
`caption_style=/path/style.ass` takes the "Default" (or first) style of your own ASS file, scaled to
the frame and kept inside the safe zone; its SecondaryColour is the highlight.

libass wraps a line inside the style's margins, but cannot break a word: a word too wide for the
safe zone's width gets a smaller font size (`\\fs`) on its own event, so nothing leaves the zone.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pysubs2

from clipforge.errors import ErrorCode, OptionError
from clipforge.fsutil import atomic_path
from clipforge.platforms import safe_zone

PRESETS: dict[str, dict] = {
    "bold": {"kind": "highlight"},
    "boxed": {"kind": "highlight", "border_style": 3, "outline_colour": "#101010", "box_alpha": 0x50,
              "outline": 0.22, "highlight_colour": "#FFD400", "font_size": 0.05},
    "pop": {"kind": "pop", "font_size": 0.072, "outline": 0.1, "shadow": 0.05, "uppercase": True,
            "highlight_colour": "#FFE600", "raise_by": 0.1},
    "lower": {"kind": "cue", "font_size": 0.034, "alignment": 1, "outline": 0.06, "shadow": 0.08},
}
# DejaVu Sans Bold's widest common advance per character, in em, upper- and lower-case (a bound,
# not an average: a word measured with it fits when it really fits).
EM_UPPER, EM_LOWER = 0.80, 0.72
POP_MS = (90, 160)  # the pop: grow until 90 ms, settle by 160 ms
HOOK_SECONDS = 2.2
HOOK_SIZE = 0.052  # of the frame height


def options_for(name: str, *, frame: tuple[int, int], platform: str, base):
    """(CaptionOptions, ASS style or None) for a preset name or a path to an .ass file, inside the safe zone."""
    safe = safe_zone(platform)
    opts = replace(base, margin_bottom=safe.bottom, margin_side=safe.left, margin_right=safe.right,
                   margin_top=safe.top)
    if name in PRESETS:
        return replace(opts, **PRESETS[name]), None
    return own_style(Path(name).expanduser(), frame=frame, opts=opts)


def own_style(path: Path, *, frame: tuple[int, int], opts):
    try:
        subs = pysubs2.load(str(path), encoding="utf-8")
    except Exception as err:  # pysubs2 raises several kinds for a file that is not ASS
        raise OptionError(f"caption_style={path}: not a readable .ass file ({err})",
                          code=ErrorCode.BAD_OPTION) from None
    if not subs.styles:
        raise OptionError(f"caption_style={path}: the file has no [V4+ Styles] style", code=ErrorCode.BAD_OPTION)
    style = (subs.styles.get("Default") or next(iter(subs.styles.values()))).copy()
    w, h = frame
    # ASS sizes are in the file's PlayRes pixels (288 high when it names none); ours are the frame's.
    sy = h / float(subs.info.get("PlayResY") or 288)
    sx = w / float(subs.info.get("PlayResX") or (384 if not subs.info.get("PlayResY") else h * 4 / 3))
    style.fontsize, style.outline, style.shadow = style.fontsize * sy, style.outline * sy, style.shadow * sy
    pad = math.ceil(style.outline + style.shadow) + 1  # drawn outside the text: the margins make room
    style.marginl = max(round(style.marginl * sx), round(opts.margin_side * w + pad))
    style.marginr = max(round(style.marginr * sx), round(opts.margin_right * w + pad))
    top = int(style.alignment) in (7, 8, 9)
    style.marginv = max(round(style.marginv * sy), round((opts.margin_top if top else opts.margin_bottom) * h + pad))
    c = style.secondarycolor
    return replace(opts, highlight_colour=f"#{c.r:02X}{c.g:02X}{c.b:02X}", font_size=style.fontsize / h,
                   outline=style.outline / max(style.fontsize, 1), shadow=style.shadow / max(style.fontsize, 1),
                   alignment=int(style.alignment)), style


def _fit_tag(text: str, *, frame: tuple[int, int], opts) -> str:
    """`{\\fsN}` when the longest word of `text` is wider than the zone at the style's size, else ''."""
    w, h = frame
    right = opts.margin_side if opts.margin_right is None else opts.margin_right
    room = w * (1 - opts.margin_side - right) - 2 * ((opts.outline + opts.shadow) * opts.font_size * h + 1)
    size = opts.font_size * h
    widest = max((len(t) * (EM_UPPER if opts.uppercase or t.isupper() else EM_LOWER) for t in text.split()),
                 default=0)
    if widest * size <= room:
        return ""
    return f"{{\\fs{max(6, int(room / widest))}}}"


def _text(word: str, opts) -> str:
    from clipforge.stages.subtitles import _ass_text

    t = _ass_text(word)
    return t.upper() if opts.uppercase else t


def pop_events(chunks, opts, frame: tuple[int, int]) -> list[pysubs2.SSAEvent]:
    """One event per word, shown from its start until the next word starts (or it ends), popping in."""
    from clipforge.stages.subtitles import ass_colour_tag

    words = [w for c in chunks for w in c.words]
    grow, settle = POP_MS
    events = []
    for i, w in enumerate(words):
        end = words[i + 1].start if i + 1 < len(words) and words[i + 1].start - w.end < 0.5 else w.end
        if round(end * 100) <= round(w.start * 100):
            continue  # a zero-length event makes libass drop the whole track (see highlight_events)
        text = _text(w.text, opts)
        pop = (f"{{\\fscx70\\fscy70\\t(0,{grow},\\fscx112\\fscy112)\\t({grow},{settle},\\fscx100\\fscy100)}}")
        events.append(pysubs2.SSAEvent(start=pysubs2.make_time(s=w.start), end=pysubs2.make_time(s=end),
                                       text=_fit_tag(text, frame=frame, opts=opts) + pop
                                       + ass_colour_tag(opts.highlight_colour) + text))
    return events


def cue_events(cues, opts, frame: tuple[int, int]) -> list[pysubs2.SSAEvent]:
    """Sentence-sized lines, no highlight: the quiet look of a lower third."""
    events = []
    for c in cues:
        text = r"\N".join(_text(line, opts) for line in c.lines)
        events.append(pysubs2.SSAEvent(start=pysubs2.make_time(s=c.start), end=pysubs2.make_time(s=c.end),
                                       text=_fit_tag(text.replace(r"\N", " "), frame=frame, opts=opts) + text))
    return events


def style_events(*, chunks, cues, opts, frame: tuple[int, int] | None = None) -> list[pysubs2.SSAEvent]:
    from clipforge.stages.subtitles import highlight_events

    if opts.kind == "pop":
        return pop_events(chunks, opts, frame or (720, 1280))
    if opts.kind == "cue":
        return cue_events(cues, opts, frame or (720, 1280))
    events = highlight_events(chunks, opts)
    if frame:
        for e in events:
            tag = _fit_tag(e.plaintext, frame=frame, opts=opts)
            # `\r` (back to the style after the highlighted word) would drop the size too: keep it.
            e.text = tag + e.text.replace("{\\r}", "{\\r" + tag[1:-1] + "}") if tag else e.text
    return events


def write_hook(*, title: str, frame: tuple[int, int], opts, duration: float, out: Path) -> dict:
    """The hook: the clip's title over its first seconds, top of the safe zone, in the caption style's look.

    An empty title writes a file without events (compose then burns nothing).
    """
    from clipforge.stages.subtitles import _ass_file, _ass_text

    # The caption style's look (colours, outline or box, case), bigger, at the top of the safe zone;
    # a thin-outlined style (lower) gets a box: a title over a busy picture must read at a glance.
    look = {} if opts.border_style == 3 or opts.outline >= 0.08 else {
        "border_style": 3, "outline_colour": "#101010", "box_alpha": 0x30, "outline": 0.25, "shadow": 0.0}
    hook_opts = replace(opts, kind="highlight", alignment=8, font_size=HOOK_SIZE, raise_by=0.0, **look)
    events = []
    text = _ass_text(title)
    if text:
        end = min(HOOK_SECONDS, max(duration - 0.05, 0.5))
        fade = "{\\fad(120,250)}"
        text = text.upper() if hook_opts.uppercase else text
        events.append(pysubs2.SSAEvent(start=0, end=pysubs2.make_time(s=end), style="Default",
                                       text=fade + _fit_tag(text, frame=frame, opts=hook_opts) + text))
    with atomic_path(out, ".ass") as tmp:
        _ass_file(frame, hook_opts, events).save(str(tmp), encoding="utf-8", format_="ass")
    return {"events": len(events), "title": text}


__all__ = ["PRESETS", "options_for", "style_events", "write_hook"]
