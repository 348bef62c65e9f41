"""broll: match the user's own B-roll folder to what is said, and plan cutaway/PiP inserts (NN.broll.json).

Nothing is fetched: assets come only from the folder the user names. An asset is used only when its
tags (file-name words plus an optional NAME.txt / NAME.tags sidecar) share a word stem with the clip's
speech (or with `extra_terms`); inserts start on a word start and end on a word end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from clipforge.errors import ClipforgeError, ErrorCode, OptionError

VIDEO_EXT = frozenset({".mp4", ".mov", ".mkv", ".webm", ".m4v"})
IMAGE_EXT = frozenset({".jpg", ".jpeg", ".png", ".webp"})
MODES = ("cutaway", "pip")
NO_MATCH = "no asset matched what is said"

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing done down during each even ever every few for from further get gets got
had has have having he her here hers herself him himself his how i if in into is it its itself just know let like
lot lots made make many may me might more most much must my myself no nor not now of off oh ok okay on once one
only or other our ours ourselves out over own really right same say said see she should so some something such
than that the their theirs them themselves then there these they thing things think this those through to too
under until up us very want was way we well were what when where which while who whom why will with would yeah
yes you your yours yourself yourselves um uh going gonna actually basically kind sort maybe quite still back
""".split())


@dataclass(frozen=True, kw_only=True)
class BrollOptions:
    max_inserts: int = 2
    max_len: float = 3.0  # seconds per insert
    min_len: float = 1.0
    protect: float = 2.0  # opening seconds kept on the speaker (the hook)
    max_share: float = 0.3  # of the clip's duration covered by inserts, at most
    mode: str = "cutaway"  # or "pip"

    def __post_init__(self):
        bad = []
        if self.max_inserts < 0:
            bad.append(f"max_inserts={self.max_inserts} (>= 0)")
        if not 0 < self.min_len <= self.max_len:
            bad.append(f"min_len={self.min_len}/max_len={self.max_len} (0 < min_len <= max_len)")
        if self.protect < 0:
            bad.append(f"protect={self.protect} (>= 0)")
        if not 0 <= self.max_share <= 1:
            bad.append(f"max_share={self.max_share} (0..1)")
        if self.mode not in MODES:
            bad.append(f"mode={self.mode!r} ({' or '.join(MODES)})")
        if bad:
            raise OptionError("b-roll: " + "; ".join(bad), code=ErrorCode.BAD_OPTION)


@dataclass(frozen=True, kw_only=True)
class Asset:
    path: str  # absolute
    kind: str  # "image" | "video"
    duration: float | None = None  # video only
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Keyword:
    stem: str
    text: str  # the word as said, lower case
    start: float
    end: float


def stem(word: str) -> str:
    """A light suffix stripper: enough for "breads"/"bread" and "baking"/"bakes"/"bake" to meet."""
    w = word.lower().strip("'")
    w = re.sub(r"'s$", "", w)
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # running -> run, but falling -> fall
            break
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]  # bake / baking / baked -> bak
    return w


def _tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z][a-z']*", text.lower()) if len(t) >= 3 and t.strip("'") not in STOPWORDS]


def keywords(words) -> list[Keyword]:
    """Content words of `words` (records.Word or dicts), in order, with their stems and times."""
    out = []
    for w in words:
        text, start, end = (w["text"], w["start"], w["end"]) if isinstance(w, dict) else (w.text, w.start, w.end)
        for tok in _tokens(text):
            out.append(Keyword(stem=stem(tok), text=tok, start=float(start), end=float(end)))
    return out


def _sidecar_tags(media: Path) -> list[str]:
    tags = []
    for side in (media.with_suffix(".txt"), media.with_suffix(".tags"), Path(f"{media}.txt")):
        if side.is_file():
            tags += _tokens(side.read_text(encoding="utf-8", errors="replace").replace(",", " "))
    return tags


def _probe(path: Path, kind: str) -> float | None:
    """Decode one frame (so a broken file fails now, not in compose); a video's duration in seconds."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ClipforgeError(f"b-roll {path.name} has no picture", code=ErrorCode.BROLL_INVALID)
            stream = container.streams.video[0]
            next(container.decode(stream))
            if kind == "image":
                return None
            if container.duration:
                return container.duration / 1_000_000
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            return None
    except ClipforgeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, StopIteration) as err:
        raise ClipforgeError(f"b-roll {path.name} is not a readable {kind} ({err.__class__.__name__})",
                             code=ErrorCode.BROLL_INVALID) from None


def scan_assets(folder: str | Path) -> list[Asset]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ClipforgeError(f"b-roll folder {folder} does not exist or is not a folder", code=ErrorCode.BROLL_INVALID)
    assets = []
    for p in sorted(folder.iterdir()):
        ext = p.suffix.lower()
        # Dot files include macOS "._name.mp4" resource forks, which are never media.
        if p.name.startswith(".") or not p.is_file() or ext not in VIDEO_EXT | IMAGE_EXT:
            continue
        kind = "video" if ext in VIDEO_EXT else "image"
        duration = _probe(p, kind)
        if kind == "video" and duration is not None and duration <= 0:
            raise ClipforgeError(f"b-roll {p.name} has no duration", code=ErrorCode.BROLL_INVALID)
        tags = tuple(dict.fromkeys(_tokens(p.stem.replace("_", " ").replace("-", " ")) + _sidecar_tags(p)))
        assets.append(Asset(path=str(p.resolve()), kind=kind, duration=duration, tags=tags))
    if not assets:
        raise ClipforgeError(f"b-roll folder {folder} holds no video ({', '.join(sorted(VIDEO_EXT))}) or image "
                             f"({', '.join(sorted(IMAGE_EXT))}) file", code=ErrorCode.BROLL_INVALID)
    return assets


def _word_times(words) -> list[tuple[float, float]]:
    return sorted((float(w["start"]), float(w["end"])) if isinstance(w, dict) else (float(w.start), float(w.end))
                  for w in words)


def _place(at: float, times, taken, *, cap: float, opts: BrollOptions, clip_duration: float):
    """An insert [start, end] from the first word start >= at, ending on the last word end within cap."""
    for start, _ in times:
        if start < at - 1e-9 or start < opts.protect:
            continue
        ends = [e for _, e in times if opts.min_len <= e - start <= cap + 1e-9 and e <= clip_duration + 1e-9]
        ends = [e for e in ends if all(e <= a or start >= b for a, b in taken)]
        if ends:
            return start, max(ends)
        return None  # only the matched word's own start (or the first after the opening) is acceptable
    return None


def plan_broll(*, words, clip_duration: float, assets: list[Asset], opts: BrollOptions = BrollOptions(),
               extra_terms=()) -> dict:
    kws = keywords(words)
    listed = list(dict.fromkeys(k.text for k in kws))
    spoken = {k.stem for k in kws}
    extra = {stem(t) for term in extra_terms for t in _tokens(str(term))}
    ranked = []
    for asset in assets:
        tag_stems = {stem(t): t for t in asset.tags}
        said, proposed = spoken & tag_stems.keys(), (extra - spoken) & tag_stems.keys()
        if said or proposed:
            hits = sum(1 for k in kws if k.stem in said)
            # Distinct spoken matches weigh most, repetitions a little, LLM-proposed terms least.
            first = min((k.start for k in kws if k.stem in said), default=clip_duration)
            ranked.append((-(3 * len(said) + min(hits, 5) + len(proposed)), first, asset.path, asset, said))
    ranked.sort(key=lambda r: r[:3])  # best score, then said first, then by name: deterministic
    if not ranked:
        return {"inserts": [], "note": NO_MATCH, "keywords": listed}
    times = _word_times(words)
    taken: list[tuple[float, float]] = []
    budget = opts.max_share * clip_duration
    inserts = []
    for *_, asset, said in ranked:
        if len(inserts) >= opts.max_inserts:
            break
        cap = min(opts.max_len, budget - sum(b - a for a, b in taken))
        if asset.kind == "video" and asset.duration:
            cap = min(cap, asset.duration)
        if cap < opts.min_len:
            continue
        moments = [k for k in kws if k.stem in said] or [None]  # None: a proposed term, no spoken moment
        for k in moments:
            placed = _place(k.start if k else opts.protect, times, taken, cap=cap, opts=opts,
                            clip_duration=clip_duration)
            if placed:
                start, end = placed
                taken.append(placed)
                tags = ", ".join(asset.tags[:6])
                why = f"said '{k.text}' at {k.start:.1f} s" if k else "proposed term"
                inserts.append({"asset": asset.path, "kind": asset.kind, "start": round(start, 3),
                                "end": round(end, 3), "in": 0.0, "mode": opts.mode, "why": f"{why}; tags: {tags}"})
                break
    inserts.sort(key=lambda i: i["start"])
    if inserts:
        note = f"{len(inserts)} insert(s) from {len(ranked)} matching asset(s)"
    else:
        note = f"{len(ranked)} asset(s) matched but none fits the limits (protect, min_len, max_share)"
    return {"inserts": inserts, "note": note, "keywords": listed}


def pip_place(platform: str) -> dict:
    """Where a picture-in-picture goes: the top right corner of the platform's safe zone (fractions
    of the output's width and height), clear of the apps' tabs and buttons."""
    from clipforge.platforms import safe_zone

    safe = safe_zone(platform)
    return {"pip_right": max(safe.right, 0.04), "pip_top": max(safe.top, 0.04)}


def asset_files(options) -> list[str]:
    """The folder's media and tag files: inputs of the broll stage, so editing the folder re-plans."""
    folder = Path(getattr(options, "broll", "") or "")
    if not str(folder) or str(folder) == "." or not folder.is_dir():
        return []  # run() reports a missing folder with its hint
    wanted = VIDEO_EXT | IMAGE_EXT | {".txt", ".tags"}
    return [str(p.resolve()) for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in wanted]


def run(job) -> None:
    """Per-clip stage (clipforge.stagelist "broll"): one ClipJob in, NN.broll.json out."""
    from clipforge.fsutil import write_json

    global _said_none
    o = job.options
    if not o.get("broll"):
        if not _said_none:
            _said_none = True
            print("  broll: no broll= folder given: no B-roll (pass broll=DIR, a folder of your own videos/images)")
        write_json(job.output(".broll.json"), {"inserts": [], "note": "broll= not set", "keywords": []})
        return
    opts = BrollOptions(max_inserts=int(o["broll_max"]), max_len=float(o["broll_max_len"]),
                        min_len=min(1.0, float(o["broll_max_len"])), protect=float(o["broll_protect"]),
                        max_share=float(o["broll_share"]), mode=o["broll_mode"])
    # Inserts are placed on the tightened timeline (the published clip's), so words move first.
    from clipforge.fsutil import read_json
    from clipforge.timeline import Timeline, decision_words

    cuts = job.inputs.get("tighten.cuts.json")
    decision = read_json(cuts) if cuts else None
    timeline = Timeline.from_decision(decision, job.clip.duration, label=f"tighten/{job.clip.id}.cuts.json")
    plan = plan_broll(words=timeline.map_words(decision_words(decision, job.words)), clip_duration=timeline.duration,
                      assets=scan_assets(o["broll"]), opts=opts)
    plan["inserts"] = [{**i, **pip_place(o.get("platform", "none"))} if i["mode"] == "pip" else i
                       for i in plan["inserts"]]
    write_json(job.output(".broll.json"), plan)
    names = ", ".join(Path(i["asset"]).name for i in plan["inserts"]) or "none (nothing matched what is said)"
    print(f"  broll: {job.clip.id}: {names}")


_said_none = False  # per process: the missing folder is said once, not once per clip
