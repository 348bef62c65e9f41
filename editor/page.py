"""The editor's HTML: one page, rendered on the server, every value from outside escaped.

It has no inline script or style (the CSP forbids both): behaviour is /static/editor.js, looks are
/static/editor.css, and the page hands them what they need in data- attributes.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from clipforge.stages.review import clock

CONTEXT_SECONDS = 12.0  # transcript shown before and after a clip, to extend it


def _a(value) -> str:
    return escape(str(value), quote=True)


def _media(name) -> str:
    return "/media/clips/" + _a(Path(str(name)).name)


def _words(words, *, lo: float, hi: float, start: float, end: float) -> str:
    out = []
    for n, w in enumerate(words):
        if w.end < lo or w.start > hi:
            continue
        inside = w.end > start and w.start < end
        cls = "w in" if inside else "w"
        out.append(f'<span class="{cls}" data-i="{n}" data-t="{w.start:.2f}" title="{w.start:.2f} s">'
                   f"{escape(w.text.strip())}</span>")
    return " ".join(out)


def _span_of(words, start: float, end: float) -> tuple[int, int]:
    inside = [n for n, w in enumerate(words) if w.end > start and w.start < end]
    return (inside[0], inside[-1]) if inside else (-1, -1)


def _card(clip: dict, *, entry: dict, words, frame: dict, broll: dict, version: str, editable: bool,
          assets: list[str]) -> str:
    start, end = float(clip["start"]), float(clip["end"])
    first, last = _span_of(words, start, end)
    video = ""
    v = _a(str(entry.get("sha256", ""))[:12])  # a new encode is a new address: no stale cached video
    if entry.get("file"):
        poster = f' poster="{_media(entry["poster"])}?v={v}"' if entry.get("poster") else ""
        video = (f'<video controls preload="metadata" src="{_media(entry["file"])}?v={v}"'
                 f'{poster} data-duration="{_a(entry.get("duration", ""))}"></video>')
    flags = "".join(f'<span class="flag">{escape(str(f))}</span>' for f in clip.get("flags") or [])
    modes = "".join(f'<option value="{m}"{" selected" if frame.get("mode") == m else ""}>{m}</option>'
                    for m in ("face", "center", "fit"))
    styles = "".join(f'<option value="{m}"{" selected" if frame.get("captions") == m else ""}>{m}</option>'
                     for m in ("bold", "large", "plain", "off"))
    inserts = "".join(
        f'<li>{escape(Path(str(i.get("asset", ""))).name)} at {float(i.get("start", 0)):.1f} s '
        f'<button data-act="broll_remove" data-index="{n}">Remove</button></li>'
        for n, i in enumerate(broll.get("inserts", [])))
    off = "" if editable else " disabled"
    yes = bool(clip.get("approved"))
    label = "Approved &#10003;" if yes else "Approve"
    approve = (f'<button class="approve{" on" if yes else ""}" data-act="approve" '
               f'data-approved="{"no" if yes else "yes"}"{off}>{label}</button>')
    broll_mode = ""
    if assets:
        options = "".join(f'<option value="{_a(a)}">{escape(a)}</option>' for a in assets)
        broll_mode = (f'<label><input type="radio" name="mode-{_a(clip["id"])}" value="broll"{off}> put B-roll '
                      f'</label><select class="asset"{off}>{options}</select> there')
    keyframe = ""
    if frame.get("crop") and frame.get("source") and frame.get("mode") in ("face", "center"):
        keyframe = (f'<div class="keyframe">Click the subject to centre the frame on it:<br>'
                    f'<img class="frame" alt="the source at the middle of the clip" '
                    f'src="/frame/{_a(clip["id"])}?at={start:.2f}-{end:.2f}"></div>')
    words_html = _words(words, lo=start - CONTEXT_SECONDS, hi=end + CONTEXT_SECONDS, start=start, end=end)
    return f"""
<section class="card" id="clip-{_a(clip['id'])}" data-clip="{_a(clip['id'])}" data-version="{_a(version)}"
         data-first="{first}" data-last="{last}">
  <div class="media">{video}</div>
  <div class="body">
    <div class="row"><input class="title" name="title" value="{_a(clip.get('title', ''))}" maxlength="200"{off}>
      <button data-act="title"{off}>Save title</button>
      {approve}
      <button class="drop" data-act="drop"{off}>Drop clip</button></div>
    <div class="meta"><span class="id">{escape(clip['id'])}</span> &middot;
      <span class="span">{clock(start)}&ndash;{clock(end)}</span> &middot;
      <span class="duration">{end - start:.1f} s</span> {flags}</div>
    <div class="row tools">Click a word to:
      <label><input type="radio" name="mode-{_a(clip['id'])}" value="start" checked{off}> start there</label>
      <label><input type="radio" name="mode-{_a(clip['id'])}" value="end"{off}> end there</label>
      <label><input type="radio" name="mode-{_a(clip['id'])}" value="fix"{off}> fix the word</label>
      {broll_mode}
      <span class="fix" hidden><input class="fixtext" maxlength="60"><button data-act="fix">Save word</button></span>
    </div>
    <div class="words">{words_html}</div>
    <div class="row nudge">Start
      <button data-act="nudge" data-edge="first" data-step="-1"{off}>&larr; a word earlier</button>
      <button data-act="nudge" data-edge="first" data-step="1"{off}>a word later &rarr;</button> &middot;
      End <button data-act="nudge" data-edge="last" data-step="-1"{off}>&larr; a word earlier</button>
      <button data-act="nudge" data-edge="last" data-step="1"{off}>a word later &rarr;</button></div>
    <div class="row">Captions: <select class="captionstyle" data-act="captions"{off}>{styles}</select>
      Frame: <select class="framemode" data-act="frame"{off}>{modes}</select>
      {escape(str(frame.get('note', '')))}</div>
    {keyframe}
    <div class="broll">B-roll: {f'<ul>{inserts}</ul>' if inserts else 'none'}</div>
  </div>
</section>"""


def build(*, clips: list[dict], entries: dict, words, frames: dict, brolls: dict, versions: dict, assets: list[str],
          editable: bool, banner: str, csrf: str, source: str, offer_keep: bool = False) -> str:
    cards = "".join(_card(c, entry=entries.get(c["id"], {}), words=words, frame=frames.get(c["id"], {}),
                          broll=brolls.get(c["id"], {}), version=versions.get(c["id"], ""), editable=editable,
                          assets=assets)
                    for c in clips)
    all_words = " ".join(f'<span class="w" data-i="{n}" data-t="{w.start:.2f}">{escape(w.text.strip())}</span>'
                         for n, w in enumerate(words))
    add = "" if not editable else f"""
<section class="add card" id="add">
  <div class="body"><h2>Add a clip</h2>
  <p>Click the first word, then the last word of the new clip in the transcript below.</p>
  <div class="row"><input class="title" name="newtitle" placeholder="title (optional)" maxlength="200">
    <span class="selection">nothing selected</span> <button data-act="add" disabled>Add clip</button></div>
  <div class="words transcript">{all_words}</div></div>
</section>"""
    make = '<button id="make-editable" data-act="make_editable">Make editable (runs doit keep=yes)</button>' \
        if offer_keep else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta name="csrf" content="{_a(csrf)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clipforge editor: {escape(Path(source).name)}</title>
<link rel="stylesheet" href="/static/editor.css">
<script src="/static/editor.js" defer></script>
</head>
<body data-editable="{'yes' if editable else 'no'}">
<header><h1>clipforge editor &middot; {len(clips)} clip(s)</h1><div class="src">{escape(source)}</div>
<div id="status" aria-live="polite">idle</div></header>
<main>
{f'<div id="banner">{escape(banner)} {make}</div>' if banner else ''}
<ul id="messages"></ul>
{cards}
{add}
<details id="log"><summary>Build log</summary><pre></pre></details>
</main>
</body>
</html>
"""
