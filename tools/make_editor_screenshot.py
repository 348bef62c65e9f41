#!/usr/bin/env python3
"""Write docs/editor.png: a screenshot of `doit edit` in a browser, for the README.

Usage:  python3 tools/make_editor_screenshot.py
It runs the sample (`doit clips=2 min_len=8 max_len=25 keep=yes`) in a throw-away project folder,
starts the real editor there, trims the first clip by clicking a word (so the shot shows an edited
clip and its flags), then shoots the page. Needs /usr/bin/chromium (apt-get install -y chromium)
and playwright (pip).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import browser, missing  # noqa: E402
from tests.e2e.test_editor import open_page, start_editor, until, wait_builds  # noqa: E402
from tests.helpers import make_project, run_ok  # noqa: E402


def main() -> None:
    why = missing()
    if why:
        raise SystemExit(f"make_editor_screenshot: {why}")
    out = ROOT / "docs" / "editor.png"
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp) / "sample", options={"height": 640})
        run_ok(project.doit("clips=2", "min_len=8", "max_len=25", "keep=yes"))
        ed = start_editor(project)
        try:
            with browser(width=1200, height=1000) as ctx:
                page = open_page(ctx, ed)
                page.locator("#clip-seg001 .words .w.in").nth(3).click()
                wait_builds(page, ed, 1)
                until(page, "() => [...document.querySelectorAll('video')].every(v => v.readyState >= 1)")
                page.locator("#clip-seg002 input[value=fix]").check()
                page.locator("#clip-seg002 .words .w.in").nth(2).click()
                time.sleep(0.3)
                page.evaluate("() => window.scrollTo(0, 0)")
                out.parent.mkdir(exist_ok=True)
                page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1200, "height": 1000})
        finally:
            ed.kill()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
