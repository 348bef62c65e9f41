"""render: publish the final clips as clips/NN-<slug>.mp4 (with .srt/.vtt beside them) and clips/manifest.json.

Clips an earlier manifest named are replaced only if it was for this same input; another
input's clips and manifest are moved, never deleted, into clips/<stem>-<id>/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

from clipforge import __version__
from clipforge.config import input_identity
from clipforge.errors import FFmpegError
from clipforge.fsutil import atomic_path, fsync_dir, read_json, sha256_file, slugify, write_json
from clipforge.records import ClipPlan
from clipforge.state.finished import CLIPS_DIR, MANIFEST, PAGE


def clip_name(index: int, plan: ClipPlan, suffix: str = ".mp4") -> str:
    return f"{index:02d}-{slugify(plan.title)}{suffix}"


def _publish(src: str, dest: Path) -> dict:
    with atomic_path(dest, dest.suffix) as tmp:
        shutil.copyfile(src, tmp)
    st = dest.stat()
    return {"file": dest.name, "sha256": sha256_file(dest), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _poster(clip: Path, duration: float) -> dict | None:
    """clips/NN-slug.jpg: a frame from early in the published clip, for the review page; None without video."""
    from clipforge.media import run_ffmpeg

    dest = clip.with_suffix(".jpg")
    at = max(min(1.0, duration / 3), 0.0)
    try:
        with atomic_path(dest, ".jpg") as tmp:
            run_ffmpeg(["-ss", f"{at:.3f}", "-i", str(clip), "-map", "0:v:0", "-frames:v", "1", "-q:v", "4",
                        "-update", "1", "-f", "image2", str(tmp)], what=f"poster frame of {clip.name}", timeout=120)
    except (FFmpegError, FileNotFoundError):
        return None  # an audio-only clip has no frame to show
    st = dest.stat()
    return {"file": dest.name, "sha256": sha256_file(dest), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def stage_timings(render_seconds: float) -> dict[str, float]:
    """Seconds per stage, in pipeline order: the state file's task records, plus render so far."""
    from clipforge.stagelist import STAGES
    from clipforge.state import CURRENT

    try:
        recorded = CURRENT.stage_seconds()
    except Exception:  # no state file (a unit test): only this stage is known
        recorded = {}
    recorded["render"] = round(render_seconds, 3)
    return {s.name: recorded[s.name] for s in STAGES if s.name in recorded}


def _decisions(ctx, plan: ClipPlan) -> dict:
    """What the per-clip stages decided for the manifest: frame, captions, B-roll."""
    reframe = _read(ctx.unit_file("vfx", plan.id, ".reframe.json"))
    broll = _read(ctx.unit_file("broll", plan.id, ".broll.json"))
    return {
        **_platform_and_pace(ctx, plan),
        "aspect": reframe.get("aspect"), "reframe": reframe.get("mode"), "detector": reframe.get("detector"),
        "face_coverage": reframe.get("coverage"), "frame": reframe.get("output"),
        "faces": reframe.get("faces"), **_sound(ctx, plan),
        "broll": [{k: i.get(k) for k in ("asset", "start", "end", "mode", "why")} for i in broll.get("inserts", [])],
        "captions_burned": ctx.opts.captions == "burn" and _has_events(ctx.unit_file("subtitles", plan.id, ".ass")),
    }


def _sound(ctx, plan: ClipPlan) -> dict:
    """The clip's loudness decision and its warnings (too quiet, clipped, silent) for the manifest."""
    sound = _read(ctx.unit_file("loudness", plan.id, ".loudness.json"))
    if not sound:
        return {}
    keep = ("target", "track", "channels", "measured", "gain_db")
    return {"loudness": {k: sound.get(k) for k in keep}, "warnings": list(sound.get("warnings") or [])}


def _source_frame(info: dict) -> dict:
    """How the source is shown (display, the frame every decision is in) and how it is stored."""
    display = {"w": info.get("width"), "h": info.get("height")} if info.get("has_video") else None
    return {"frame": "display", "display": display, "stored": info.get("stored"),
            "rotation": info.get("rotation", 0), "sar": info.get("sar", "1:1"),
            "audio_track": info.get("audio_track", 0), "audio_tracks": info.get("audio_tracks", 1),
            "audio_track_why": info.get("audio_track_why")}


def _has_events(ass: str) -> bool:
    """True if the clip's .ass (what extract burns) holds a caption: one clip may have none (the editor's
    captions off, or no timed words)."""
    try:
        with open(ass, encoding="utf-8", errors="replace") as f:
            return any(line.startswith("Dialogue:") for line in f)
    except OSError:
        return False


def _platform_and_pace(ctx, plan: ClipPlan) -> dict:
    """The clip's platform preset, caption style, hook and what tightening removed (manifest and review page).

    `duration` becomes the published clip's (the kept ranges back to back); `span` stays the source
    span's. The loudness target is the preset's figure: the audio chain's loudness option applies it.
    """
    from clipforge.platforms import PLATFORMS

    cuts = _read(ctx.unit_file("tighten", plan.id, ".cuts.json"))
    kept = [(float(r["start"]), float(r["end"])) for r in cuts.get("kept") or []] or [(0.0, plan.duration)]
    duration = sum(b - a for a, b in kept)
    p = PLATFORMS.get(ctx.opts.platform)
    style = ctx.opts.caption_style
    return {
        "duration": round(duration, 3), "span": round(plan.duration, 3),
        "platform": ctx.opts.platform,
        "platform_preset": {"max_len": p.max_len, "safe_zone": vars(p.safe), "loudness_target_lufs": p.loudness,
                            "frame": reframe_size(ctx.opts)} if p else None,
        "caption_style": style if not style.endswith(".ass") else Path(style).name,
        "hook": ctx.opts.hook,
        "tightened": {"kept": [{"start": round(a, 3), "end": round(b, 3)} for a, b in kept],
                      "removed_seconds": round(plan.duration - duration, 3),
                      "removed_share": round((plan.duration - duration) / plan.duration, 4) if plan.duration else 0.0,
                      "cuts": len(cuts.get("removed") or []), "fillers_found": cuts.get("fillers_found") or [],
                      "enabled": ctx.opts.tighten == "yes"},
    }


def reframe_size(opts) -> str:
    from clipforge.stages.camera import output_size

    w, h = output_size(opts.aspect, opts.height) if opts.aspect != "source" else (0, opts.height)
    return f"{w}x{h}"


def _read(path: str) -> dict:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return {}


def run(*, ctx, last) -> None:
    """Copy each clip's final file (the last per-clip stage's) and its sidecars into clips/, then the manifest."""
    from clipforge.stagelist import per_clip_stages
    from clipforge.stages.review import write_page
    from clipforge.stages.segment import load_plans

    began = time.monotonic()
    CLIPS_DIR.mkdir(exist_ok=True)
    source_info, segments = read_json(ctx.source_info), read_json(ctx.segments)
    input_id = input_identity(ctx.opts.input)
    old = _previous_manifest()
    previous: set[str] = set()
    if old is not None:
        if _same_input(old, input_id, source_info.get("sha256")):
            previous = _named_files(old)
        else:
            kept = _archive(old)
            print(f"  render: the previous input's clips and manifest were moved to {kept}/")
    entries = []
    approved = set(segments.get("approved", []))  # marked in `doit edit`
    for i, plan in enumerate(load_plans(ctx.segments), 1):
        entry = {**plan.to_dict(), **_publish(ctx.unit_file(last.name, plan.id, last.outputs[0]),
                                              CLIPS_DIR / clip_name(i, plan))}
        sidecars = [_publish(src, CLIPS_DIR / clip_name(i, plan, sfx))
                    for st in per_clip_stages() for sfx in st.publish
                    if os.path.exists(src := ctx.unit_file(st.name, plan.id, sfx))]
        captions = [s["file"] for s in sidecars]
        entry = {**entry, **_decisions(ctx, plan)}
        poster = (_same_poster(old, entry) if previous else None) or _poster(CLIPS_DIR / entry["file"],
                                                                             float(entry.get("duration") or 0.0))
        if poster:
            sidecars.append(poster)
        entries.append({**entry, "approved": plan.id in approved,
                        "sidecars": sidecars, "captions": captions,
                        "poster": poster["file"] if poster else None})
    manifest = {
        "tool": "clipforge", "version": __version__, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "run_key": ctx.run_key(), "plan_sha256": sha256_file(ctx.segments),
        "input": {"source": source_info["input"], "sha256": source_info["sha256"],
                  "duration": source_info["duration"], "id": input_id, **_source_frame(source_info)},
        "segmenter": segments["segmenter"],
        "models": {"whisper": _read(ctx.transcript).get("model", ctx.opts.whisper_model),
                   "llm": segments.get("llm_model")},
        "llm_usage": segments.get("llm_usage"),
        # What may be wrong in every clip (a transcript in another language, a decoding loop): said
        # here and on the review page, not only in a log the user may never read.
        "warnings": _read(ctx.transcript).get("warnings", []),
        # What the segment stage could not do cleanly (a clip holding a dull passage, a candidate
        # without a usable LLM label) and which candidates a model labelled dull.
        "segment_warnings": segments.get("warnings") or [],
        "vetoed": segments.get("vetoed") or [],
        "clips": entries,
    }
    manifest["timings"] = stage_timings(time.monotonic() - began)
    page = write_page(CLIPS_DIR, manifest, manifest["timings"])
    st = page.stat()
    manifest["page"] = {"file": page.name, "sha256": sha256_file(page), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    write_json(MANIFEST, manifest)
    published = ({e["file"] for e in entries} | {s["file"] for e in entries for s in e["sidecars"]}
                 | {manifest["page"]["file"]})
    for stale in previous - published:
        # Only files an earlier manifest for this same input named are ours to remove (a re-run with
        # other options replaces that input's clips); never anything else in clips/.
        with_path = CLIPS_DIR / stale
        if with_path.parent == CLIPS_DIR and with_path.is_file():
            os.unlink(with_path)
    print(f"  render: {len(entries)} clip(s), {MANIFEST} and the review page {CLIPS_DIR / PAGE}")


def _same_poster(old: dict, entry: dict) -> dict | None:
    """The earlier manifest's poster of this very clip file (same name and sha256), if it is intact: an
    edit that re-encodes one clip then makes one poster, not one per clip."""
    from clipforge.state.finished import _intact

    for clip in old.get("clips", []) if isinstance(old.get("clips"), list) else []:
        if not isinstance(clip, dict) or clip.get("file") != entry["file"] or clip.get("sha256") != entry["sha256"]:
            continue
        name = Path(str(entry["file"])).with_suffix(".jpg").name
        poster = next((s for s in clip.get("sidecars", []) if isinstance(s, dict) and s.get("file") == name), None)
        try:
            return poster if poster and _intact(poster, quick=True) else None
        except (OSError, KeyError, TypeError):
            return None
    return None


def _previous_manifest() -> dict | None:
    try:
        data = read_json(MANIFEST)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _named_files(manifest: dict) -> set[str]:
    try:
        page = manifest.get("page")
        return ({Path(f["file"]).name for c in manifest.get("clips", []) for f in [c, *c.get("sidecars", [])]}
                | ({Path(page["file"]).name} if isinstance(page, dict) else set()))
    except (KeyError, TypeError, AttributeError):
        return set()


def _same_input(manifest: dict, input_id: str, sha256: str | None) -> bool:
    old = manifest.get("input") if isinstance(manifest.get("input"), dict) else {}
    if old.get("id") and input_id:
        return old["id"] == input_id
    return bool(sha256) and old.get("sha256") == sha256  # a manifest from before input ids


def _archive(manifest: dict) -> Path:
    """Move another input's clips and manifest into clips/<stem>-<shortid>/; return that folder."""
    old = manifest.get("input") if isinstance(manifest.get("input"), dict) else {}
    source = str(old.get("source") or "input")
    stem = slugify(Path(urlsplit(source).path or source).stem, limit=24)
    short = hashlib.sha256(str(old.get("id") or old.get("sha256") or source).encode()).hexdigest()[:8]
    folder, n = CLIPS_DIR / f"{stem}-{short}", 1
    # A folder left by an archive that was interrupted (no manifest yet) is reused, never merged into.
    while folder.exists() and (folder.is_symlink() or (folder / "manifest.json").exists()):
        n += 1
        folder = CLIPS_DIR / f"{stem}-{short}-{n}"
    folder.mkdir(exist_ok=True)
    for name in _named_files(manifest):
        src = CLIPS_DIR / name
        if src.is_file() and not src.is_symlink():
            os.replace(src, folder / name)
    os.replace(MANIFEST, folder / "manifest.json")
    fsync_dir(folder)
    fsync_dir(CLIPS_DIR)
    return folder
