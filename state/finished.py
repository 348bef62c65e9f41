"""The record of a finished run: clips/manifest.json and the clips it names.

After a successful run the state file and temp files are gone; the manifest is what
says the outputs for an input and its options exist, so a repeated `doit` is a quick no-op.
"""

from __future__ import annotations

from pathlib import Path

from clipforge.fsutil import read_json, sha256_file

CLIPS_DIR = Path("clips")
MANIFEST = CLIPS_DIR / "manifest.json"
PAGE = "index.html"  # the review page beside it (clipforge.stages.review), recorded as manifest["page"]


def outputs_current(run_key: str, plan_sha256: str | None = None, quick: bool = False) -> bool:
    """True if clips/manifest.json was made by this run key and every file it names is intact.

    `quick` trusts an unchanged size and mtime, as doit's own checker does, so a no-op run stays fast.
    """
    try:
        manifest = read_json(MANIFEST)
        if manifest.get("run_key") != run_key:
            return False
        if plan_sha256 is not None and manifest.get("plan_sha256") != plan_sha256:
            return False
        if Path(manifest["page"]["file"]).name != PAGE:
            return False
        entries = [manifest["page"], *(entry for clip in manifest["clips"] for entry in _files(clip))]
        return all(_intact(entry, quick) for entry in entries)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _files(clip: dict) -> list[dict]:
    return [clip, *clip.get("sidecars", [])]


def _intact(entry: dict, quick: bool) -> bool:
    path = CLIPS_DIR / Path(entry["file"]).name
    st = path.stat()
    if st.st_size != entry["size"]:
        return False
    if quick and st.st_mtime_ns == entry.get("mtime_ns"):
        return True
    return sha256_file(path) == entry["sha256"]
