#!/usr/bin/env python3
"""Write docs/review.png: a screenshot of the review page (clips/index.html), for the README.

Usage:  python3 tools/make_review_screenshot.py [PAGE]
Without PAGE it runs the sample (`doit clips=2 min_len=8 max_len=25`) in a throw-away project
folder first. Needs /usr/bin/chromium (apt-get install -y chromium) and playwright (pip).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import browser, missing  # noqa: E402
from tests.helpers import make_project, run_ok  # noqa: E402


def shoot(page_file: Path, out: Path) -> None:
    with browser(width=1100, height=900) as ctx:
        page = ctx.new_page()
        page.goto(page_file.resolve().as_uri())
        page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 1)")
        out.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(out), full_page=True)


def main(argv: list[str]) -> None:
    why = missing()
    if why:
        raise SystemExit(f"make_review_screenshot: {why}")
    out = ROOT / "docs" / "review.png"
    if argv:
        shoot(Path(argv[0]), out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            project = make_project(Path(tmp) / "sample", options={})  # full-size frames, as a user gets
            run_ok(project.doit("clips=2", "min_len=8", "max_len=25"))
            shoot(project.path / "clips" / "index.html", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
