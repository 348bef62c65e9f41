"""The review page: clips/index.html, one static page beside the manifest (render writes it).

It works opened straight from disk (file://): no server, no script, no network request.
The CSS is inline, the videos, posters and caption tracks are the files beside it, and a
Content-Security-Policy forbids anything else (no script-src at all). Everything that came
from outside (LLM titles and reasons, transcript text, file names, the input's name) is
escaped with html.escape before it goes in.
"""

from __future__ import annotations

import base64
import math
from html import escape
from pathlib import Path

PAGE = "index.html"
# media-src data: only for the caption tracks: a browser treats every file:// URL as its own origin and
# refuses <track src="clip.vtt"> from disk, so the sidecar's text goes in as a data: URL (no network either way).
CSP = ("default-src 'none'; media-src 'self' data:; img-src 'self'; style-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")

_CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5d6677; --line: #d9dee8; --accent: #e8590c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       background: #f3f5f9; }
header { background: #1d2330; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 6px; font-size: 22px; }
header .src { color: #c8d0e0; word-break: break-all; }
main { padding: 20px 28px 40px; max-width: 1200px; }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 14px; margin-bottom: 18px; }
.box { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.box h2 { margin: 0 0 6px; font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.box table { border-collapse: collapse; width: 100%; }
.box td { padding: 1px 6px 1px 0; vertical-align: top; }
.box td.n { text-align: right; font-variant-numeric: tabular-nums; }
.timeline { position: relative; height: 22px; background: #e6eaf2; border-radius: 4px; overflow: hidden; }
.timeline .mark { position: absolute; top: 0; bottom: 0; background: #9aa8c2; border-left: 1px solid #fff;
                  font-size: 11px; color: #fff; text-align: center; overflow: hidden; }
.timeline .mark.this { background: var(--accent); }
.overview { margin-bottom: 22px; }
.overview .timeline { height: 30px; }
.overview .timeline .mark { line-height: 30px; background: var(--accent); }
.scale { display: flex; justify-content: space-between; color: var(--muted); font-size: 12px; }
.card { display: grid; grid-template-columns: 260px 1fr; gap: 20px; background: #fff; border: 1px solid var(--line);
        border-radius: 10px; padding: 16px; margin-bottom: 18px; }
.card video { width: 260px; max-height: 462px; background: #000; border-radius: 6px; }
.warn { color: #8a4b00; background: #fff4e0; border: 1px solid #f0c070; border-radius: 6px; padding: 6px 6px 6px 24px; }
.card h3 { margin: 0 0 4px; font-size: 19px; }
.meta { color: var(--muted); margin-bottom: 8px; }
.score { display: inline-block; background: var(--accent); color: #fff; border-radius: 12px; padding: 0 9px;
         font-weight: 600; margin-right: 6px; }
.flag { display: inline-block; background: #fff4e6; color: #a6420a; border: 1px solid #ffd8a8; border-radius: 10px;
        padding: 0 7px; font-size: 12px; margin: 0 4px 4px 0; }
.reason { margin: 6px 0 10px; }
.warnings { background: #fff4e6; border-color: #ffa94d; color: #7a2e00; margin-bottom: 14px; }
.text { background: #f7f8fb; border-left: 3px solid var(--line); padding: 8px 10px; white-space: pre-wrap;
        max-height: 180px; overflow: auto; }
.dl { margin-top: 10px; }
.dl a { color: #1864ab; }
"""


def _num(value, default: float = 0.0) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def clock(seconds) -> str:
    """m:ss (h:mm:ss from an hour on), with tenths below a minute of precision that matters."""
    s = max(_num(seconds), 0.0)
    whole = int(s)
    h, rest = divmod(whole, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _dur(seconds) -> str:
    s = _num(seconds)
    return f"{s:.1f} s" if s < 60 else f"{clock(s)} ({s:.0f} s)"


def _pct(x: float) -> str:
    return f"{min(max(x, 0.0), 100.0):.3f}%"


def _marks(clips: list[dict], total: float, *, this: str | None = None, numbers: bool = False) -> str:
    out = []
    for n, c in enumerate(clips, 1):
        start, end = _num(c.get("start")), _num(c.get("end"))
        left, width = start / total * 100, max((end - start) / total * 100, 0.4)
        cls = "mark this" if this is not None and c.get("id") == this else "mark"
        label = escape(str(n)) if numbers else ""
        tip = escape(f"{c.get('title', '')} ({clock(start)}-{clock(end)})")
        out.append(f'<div class="{cls}" style="left:{_pct(left)};width:{_pct(width)}" title="{tip}">{label}</div>')
    return "".join(out)


def _file(name) -> str:
    """A published file's name as an attribute value: only the base name, never a path or a scheme."""
    return escape(Path(str(name)).name, quote=True)


def _track(vtt: str | None, folder: Path | None, *, default: bool = True) -> str:
    """The captions <track>: the sidecar .vtt inlined as a data: URL (file:// pages may not load a file's
    neighbour as a track), or its name when it cannot be read; data-file names the sidecar."""
    if not vtt:
        return ""
    src = _file(vtt)
    if folder is not None:
        try:
            raw = (folder / Path(str(vtt)).name).read_bytes()
            src = "data:text/vtt;base64," + base64.b64encode(raw).decode("ascii")
        except OSError:
            pass
    # Not `default` when the captions are burned in: the player would draw them a second time.
    on = " default" if default else ""
    return f'<track kind="captions" src="{src}" data-file="{_file(vtt)}" srclang="en" label="Captions"{on}>'


def _card(n: int, clip: dict, *, clips: list[dict], total: float, folder: Path | None = None) -> str:
    name = _file(clip.get("file", ""))
    poster = clip.get("poster")
    vtt = next((c for c in clip.get("captions") or [] if str(c).endswith(".vtt")), None)
    track = _track(vtt, folder, default=not clip.get("captions_burned"))
    captions = " ".join(f'<a href="{_file(c)}" download="{_file(c)}">{escape(Path(str(c)).name)}</a>'
                        for c in clip.get("captions") or [])
    poster_attr = f' poster="{_file(poster)}"' if poster else ""
    flags = "".join(f'<span class="flag">{escape(str(f))}</span>' for f in clip.get("flags") or [])
    start, end = _num(clip.get("start")), _num(clip.get("end"))
    shown = escape(Path(str(clip.get("file", ""))).name)
    seconds = _num(clip.get("duration"))
    video = f'<video controls preload="metadata" src="{name}"{poster_attr} data-duration="{seconds:.3f}">'
    timeline = _marks(clips, total, this=clip.get("id"))
    return f"""
<section class="card" id="clip-{n}" data-clip="{escape(str(clip.get('id', '')), quote=True)}">
  <div>{video}{track}</video></div>
  <div>
    <h3>{escape(str(clip.get('title', '')))}</h3>
    <div class="meta"><span class="score">{_num(clip.get('score')):.2f}</span>
      {_dur(clip.get('duration'))} &middot; {clock(start)}&ndash;{clock(end)} in the source
      ({start:.2f}&ndash;{end:.2f} s)</div>
    <div class="timeline" aria-label="where this clip sits in the source">{timeline}</div>
    <div class="meta pace">{_pace(clip)}</div>
    <p class="reason">{escape(str(clip.get('reason', '')))}</p>
    <div>{flags}</div>{_warnings(clip)}
    <div class="text">{escape(str(clip.get('text', '')))}</div>
    <div class="dl">Download: <a href="{name}" download="{name}">{shown}</a>
      {"&middot; captions: " + captions if captions else ""}</div>
  </div>
</section>"""


def _run_warnings(warnings) -> str:
    """The run's warnings (a transcript in another language, a decoding loop): at the top, for every clip."""
    items = [w for w in warnings or [] if isinstance(w, dict)]
    if not items:
        return ""
    rows = "".join(f'<li><b>{escape(str(w.get("code", "")))}</b>: {escape(str(w.get("message", "")))}</li>'
                   for w in items)
    return f'<div class="box warnings" role="alert"><h2>Warnings</h2><ul>{rows}</ul></div>'


def _warnings(clip: dict) -> str:
    """The clip's warnings (e.g. a recording too quiet or clipped to fix) where the editor looks."""
    items = "".join(f"<li>{escape(str(w))}</li>" for w in clip.get("warnings") or [])
    return f'<ul class="warn" role="alert">{items}</ul>' if items else ""


def _pace(clip: dict) -> str:
    """Platform, caption style, hook and what tightening took out, in one line."""
    tight = clip.get("tightened") if isinstance(clip.get("tightened"), dict) else {}
    removed, share = _num(tight.get("removed_seconds")), _num(tight.get("removed_share"))
    if not tight.get("enabled", True):
        cut = "tightening off"
    else:
        fillers = len(tight.get("fillers_found") or [])
        cut = (f"tightened: {removed:.1f} s removed ({share * 100:.0f} %) in {int(_num(tight.get('cuts')))} cut(s)"
               + (f", {fillers} filler(s) heard" if fillers else ""))
    parts = [f"platform: {escape(str(clip.get('platform') or 'none'))}",
             f"captions: {escape(str(clip.get('caption_style') or 'bold'))}",
             f"hook: {escape(str(clip.get('hook') or 'off'))}", cut]
    return " &middot; ".join(f'<span class="{k}">{v}</span>'
                             for k, v in zip(("platform", "style", "hook", "tightened"), parts))


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><td>{k}</td><td class=\"n\">{v}</td></tr>" for k, v in pairs)


def _usage(usage) -> str:
    if not isinstance(usage, dict) or not usage:
        return "<p>no LLM was used</p>"
    return "<table>" + _rows([(escape(str(k)), escape(str(v))) for k, v in usage.items()]) + "</table>"


def _timings(timings) -> str:
    if not isinstance(timings, dict) or not timings:
        return "<p>not recorded</p>"
    pairs = [(escape(str(k)), _dur(v)) for k, v in timings.items()]
    total = sum(_num(v) for v in timings.values())
    return "<table>" + _rows(pairs + [("<b>total</b>", f"<b>{_dur(total)}</b>")]) + "</table>"


def build_page(manifest: dict, timings: dict | None = None, folder: Path | None = None) -> str:
    """The whole page as text, clips best score first; every outside string is escaped.

    `folder` holds the published files (their caption sidecars are inlined into the tracks).
    """
    inp = manifest.get("input") if isinstance(manifest.get("input"), dict) else {}
    clips = [c for c in manifest.get("clips") or [] if isinstance(c, dict)]
    total = max(_num(inp.get("duration")), max((_num(c.get("end")) for c in clips), default=0.0), 1e-6)
    ranked = sorted(clips, key=lambda c: -_num(c.get("score")))
    models = manifest.get("models") if isinstance(manifest.get("models"), dict) else {}
    source = escape(str(inp.get("source", "")))
    run_rows = _rows([
        ("input", source),
        ("duration", _dur(inp.get("duration"))),
        ("segmenter", escape(str(manifest.get("segmenter", "")))),
        ("whisper", escape(str(models.get("whisper") or "-"))),
        ("LLM", escape(str(models.get("llm") or "-"))),
        ("clips", str(len(clips))),
        *([("vetoed as dull", escape(", ".join(f"{v.get('candidate')}: {v.get('kind')}" for v in manifest["vetoed"]
                                               if isinstance(v, dict))))] if manifest.get("vetoed") else []),
        *[("warning", escape(str(w))) for w in manifest.get("segment_warnings") or []],
    ])
    cards = "".join(_card(n, c, clips=ranked, total=total, folder=folder) for n, c in enumerate(ranked, 1))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clipforge review: {escape(Path(str(inp.get('source', ''))).name)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>clipforge review &middot; {len(clips)} clip(s)</h1><div class="src">{source}</div></header>
<main>
{_run_warnings(manifest.get("warnings"))}
<div class="summary">
  <div class="box"><h2>Run</h2><table>{run_rows}</table></div>
  <div class="box"><h2>LLM tokens</h2>{_usage(manifest.get('llm_usage'))}</div>
  <div class="box"><h2>Time per stage</h2>{_timings(timings)}</div>
</div>
<div class="overview box"><h2>Clips in the source</h2>
  <div class="timeline">{_marks(ranked, total, numbers=True)}</div>
  <div class="scale"><span>0:00</span><span>{clock(total / 2)}</span><span>{clock(total)}</span></div>
</div>
{cards}
</main>
</body>
</html>
"""


def write_page(folder: Path, manifest: dict, timings: dict | None = None) -> Path:
    """Write folder/index.html atomically; return its path."""
    from clipforge.fsutil import atomic_path

    dest = folder / PAGE
    with atomic_path(dest, dest.suffix) as tmp:
        Path(tmp).write_text(build_page(manifest, timings, folder), encoding="utf-8")
    return dest
