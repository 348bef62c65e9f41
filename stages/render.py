"""render: publish the final clips as clips/NN-<slug>.mp4 and write clips/manifest.json."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

from clipforge import __version__
from clipforge.fsutil import atomic_path, fsync_dir, read_json, sha256_file, write_json
from clipforge.records import ClipPlan

CLIPS_DIR = Path("clips")
MANIFEST = CLIPS_DIR / "manifest.json"


def slugify(title: str, limit: int = 48) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "clip"


def clip_name(index: int, plan: ClipPlan) -> str:
    return f"{index:02d}-{slugify(plan.title)}.mp4"


def run(plans: list[ClipPlan], clip_files: list[str], source_info: dict, segments: dict,
        transcript_model: str, run_key: str, plan_sha256: str, input_id: str = "") -> None:
    """Publish the clips. Clips an earlier manifest named are replaced only if it was for this same
    input; another input's clips and manifest are moved, never deleted, into clips/<stem>-<id>/."""
    CLIPS_DIR.mkdir(exist_ok=True)
    old = _previous_manifest()
    previous: set[str] = set()
    if old is not None:
        if _same_input(old, input_id, source_info.get("sha256")):
            previous = _named_files(old)
        else:
            kept = _archive(old)
            print(f"  render: the previous input's clips and manifest were moved to {kept}/")
    entries = []
    for i, (plan, src) in enumerate(zip(plans, clip_files), 1):
        dest = CLIPS_DIR / clip_name(i, plan)
        with atomic_path(dest, ".mp4") as tmp:
            shutil.copyfile(src, tmp)
        st = dest.stat()
        entries.append({**plan.to_dict(), "file": dest.name, "sha256": sha256_file(dest),
                        "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    manifest = {
        "tool": "clipforge", "version": __version__, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "run_key": run_key, "plan_sha256": plan_sha256,
        "input": {"source": source_info["input"], "sha256": source_info["sha256"],
                  "duration": source_info["duration"], "id": input_id},
        "segmenter": segments["segmenter"],
        "models": {"whisper": transcript_model, "llm": segments.get("llm_model")},
        "llm_usage": segments.get("llm_usage"),
        "clips": entries,
    }
    write_json(MANIFEST, manifest)
    for stale in previous - {e["file"] for e in entries}:
        # Only files an earlier manifest for this same input named are ours to remove (a re-run with
        # other options replaces that input's clips); never anything else in clips/.
        with_path = CLIPS_DIR / stale
        if with_path.parent == CLIPS_DIR and with_path.is_file():
            os.unlink(with_path)
    print(f"  render: {len(entries)} clip(s) and {MANIFEST}")


def _previous_manifest() -> dict | None:
    try:
        data = read_json(MANIFEST)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _named_files(manifest: dict) -> set[str]:
    try:
        return {Path(c["file"]).name for c in manifest.get("clips", [])}
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


def outputs_current(run_key: str, plan_sha256: str | None = None, quick: bool = False) -> bool:
    """True if clips/manifest.json was made by this run key and every clip it names is intact.

    `quick` trusts an unchanged size and mtime, as doit's own checker does, so a no-op run stays fast.
    """
    try:
        manifest = read_json(MANIFEST)
        if manifest.get("run_key") != run_key:
            return False
        if plan_sha256 is not None and manifest.get("plan_sha256") != plan_sha256:
            return False
        for clip in manifest["clips"]:
            path = CLIPS_DIR / Path(clip["file"]).name
            st = path.stat()
            if st.st_size != clip["size"]:
                return False
            if quick and st.st_mtime_ns == clip.get("mtime_ns"):
                continue
            if sha256_file(path) != clip["sha256"]:
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
