#!/usr/bin/env python3
"""Write docs/still.png: one frame of a finished clip, for the README.

Usage (after `doit` on the sample):  python3 tools/make_still.py [CLIP] [SECONDS]
Defaults: the first clip in clips/manifest.json, 1.2 s in (a word is highlighted there).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from clipforge.media import run_ffmpeg


def main(argv: list[str]) -> None:
    first = json.loads(Path("clips/manifest.json").read_text())["clips"][0]["file"] if not argv else None
    clip = Path(argv[0]) if argv else Path("clips") / first
    at = float(argv[1]) if len(argv) > 1 else 1.2
    out = Path("docs/still.png")
    out.parent.mkdir(exist_ok=True)
    run_ffmpeg(["-ss", f"{at:.3f}", "-i", str(clip), "-frames:v", "1", "-vf", "scale=-2:480", str(out)],
               what="still for the README", timeout=60)
    print(f"wrote {out} from {clip} at {at:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
