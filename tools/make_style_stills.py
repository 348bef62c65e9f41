#!/usr/bin/env python3
"""Write docs/styles.png: one frame of the sample's first clip in each caption style, side by side.

Usage (in the project folder):  python3 tools/make_style_stills.py [SECONDS]
Runs the real pipeline (`doit platform=tiktok caption_style=S`) in a throw-away copy of this
project for each preset; only the caption and encode stages re-run between styles. The frame is
taken SECONDS (default 1.2) into the clip, while the hook title is still on.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from clipforge.media import run_ffmpeg
from clipforge.stages.caption_styles import PRESETS

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> None:
    at = float(argv[0]) if argv else 1.2
    out = ROOT / "docs" / "styles.png"
    with tempfile.TemporaryDirectory(prefix="clipforge-styles-") as tmp:
        proj = Path(tmp) / "proj"
        proj.mkdir()
        for name in ("dodo.py", "pyproject.toml"):
            shutil.copy(ROOT / name, proj / name)
        (proj / "sample").mkdir()
        shutil.copy(ROOT / "sample" / "talk.mp4", proj / "sample" / "talk.mp4")
        stills = []
        for style in PRESETS:
            subprocess.run([sys.executable, "-m", "doit", "platform=tiktok", "height=640", "clips=1", "keep=yes",
                            f"caption_style={style}"], cwd=proj, check=True, capture_output=True, timeout=900)
            clip = sorted((proj / "clips").glob("01-*.mp4"))[0]
            still = Path(tmp) / f"{style}.png"
            run_ffmpeg(["-ss", f"{at:.3f}", "-i", str(clip), "-frames:v", "1",
                        "-vf", f"drawtext=text='{style}':x=8:y=h-28:fontsize=20:fontcolor=white:box=1:"
                               f"boxcolor=black@0.6:fontfile='{ROOT / 'clipforge/fonts/DejaVuSans-Bold.ttf'}'",
                        str(still)], what=f"still of {style}", timeout=60)
            stills.append(still)
        out.parent.mkdir(exist_ok=True)
        inputs = [a for s in stills for a in ("-i", str(s))]
        run_ffmpeg([*inputs, "-filter_complex", f"hstack=inputs={len(stills)}", str(out)], what="styles.png",
                   timeout=60)
    print(f"wrote {out}: {', '.join(PRESETS)} at {at:.1f} s (platform=tiktok)")


if __name__ == "__main__":
    main(sys.argv[1:])
