"""The review page clips/index.html in a real browser: headless Chromium from Debian through Playwright.

One sample run (`doit clips=2 min_len=8 max_len=25`) is shared by the module; the page must load from
file:// with no console error and no request that is not a file, every video must load its metadata
(duration as in the manifest, within a frame) and its poster, captions come as a <track>, and a hostile
title is shown as text and runs nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clipforge.stages.review import build_page
from tests.browser import browser, missing
from tests.helpers import Project, make_project, run_ok

pytestmark = pytest.mark.skipif(missing() is not None, reason=f"no browser for the review page: {missing()}")

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Project:
    project = make_project(tmp_path_factory.mktemp("review") / "proj")
    run_ok(project.doit("clips=2", "min_len=8", "max_len=25"))
    return project


@pytest.fixture(scope="module")
def ctx():
    with browser() as context:
        yield context


def _open(ctx, page_file: Path) -> tuple:
    """Load `page_file`; return the page and what it logged, requested and popped up."""
    page = ctx.new_page()
    seen = {"errors": [], "requests": [], "dialogs": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))

    def dialog(d):
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(page_file.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, seen


def _fps(path: Path) -> float:
    import av

    with av.open(str(path)) as box:
        return float(box.streams.video[0].average_rate)


def test_a_repeated_run_is_a_no_op_and_the_manifest_records_the_page(sample):
    m = sample.manifest()
    assert m["page"]["file"] == "index.html" and (sample.path / "clips" / "index.html").is_file()
    assert set(m["timings"]) >= {"transcribe", "extract", "render"}
    for clip in m["clips"]:
        assert clip["poster"] == Path(clip["file"]).with_suffix(".jpg").name
        assert clip["poster"] in {s["file"] for s in clip["sidecars"]}
        assert clip["poster"] not in clip["captions"]
    out = run_ok(sample.doit("clips=2", "min_len=8", "max_len=25")).stdout
    assert "-- render" in out and ".  " not in out


def test_the_page_loads_from_disk_with_no_error_and_no_network(sample, ctx):
    page, seen = _open(ctx, sample.path / "clips" / "index.html")
    page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 1)")
    page.wait_for_timeout(300)  # late console messages (a refused track or image) arrive after load
    assert seen["errors"] == []
    assert seen["requests"] and all(u.startswith("file://") for u in seen["requests"]), seen["requests"]
    assert page.locator("script").count() == 0
    csp = page.locator('meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    assert "default-src 'none'" in csp and "script-src" not in csp
    page.close()


def test_every_video_loads_its_metadata_poster_and_captions(sample, ctx):
    m = sample.manifest()
    page, seen = _open(ctx, sample.path / "clips" / "index.html")
    got = page.evaluate("""() => Promise.all([...document.querySelectorAll('video')].map(v => {
        const meta = v.readyState >= 1 ? Promise.resolve() : new Promise(r => v.addEventListener('loadedmetadata', r));
        const img = new Image();
        img.src = v.poster;
        const poster = img.decode().then(() => img.naturalWidth, () => 0);
        return Promise.all([meta, poster]).then(([, width]) => ({
            src: v.getAttribute('src'), duration: v.duration, poster: width,
            tracks: [...v.querySelectorAll('track')].map(t => ({kind: t.kind, file: t.dataset.file})),
            mode: v.textTracks.length ? v.textTracks[0].mode : null}));
    }))""")
    by_file = {c["file"]: c for c in m["clips"]}
    ranked = sorted(m["clips"], key=lambda c: -c["score"])
    assert [g["src"] for g in got] == [c["file"] for c in ranked], "cards are not best score first"
    for g in got:
        clip = by_file[g["src"]]
        frame = 1 / _fps(sample.path / "clips" / g["src"])
        assert abs(g["duration"] - clip["duration"]) <= frame + 1e-3, (g, clip["duration"])
        assert g["poster"] > 0, f"poster of {g['src']} did not load"
        vtt = [c for c in clip["captions"] if c.endswith(".vtt")]
        assert vtt, "the sample run makes captions"
        assert g["tracks"] and g["tracks"][0]["kind"] == "captions" and g["tracks"][0]["file"] == vtt[0]
        # Burned-in captions: the track is there but not shown by default (no second copy on screen);
        # asking for it (mode "hidden") must still load the sidecar's cues.
        assert g["mode"] == ("disabled" if clip.get("captions_burned") else "showing"), g
        page.evaluate("([i]) => { const t = document.querySelectorAll('track')[i];"
                      " if (t.track.mode === 'disabled') t.track.mode = 'hidden'; }", [got.index(g)])
        page.wait_for_function("([i]) => document.querySelectorAll('track')[i].readyState === 2",
                               arg=[got.index(g)])
    assert seen["errors"] == []
    page.close()


def test_a_screenshot_shows_one_card_per_clip(sample, ctx, tmp_path):
    import cv2
    import numpy as np

    page, _ = _open(ctx, sample.path / "clips" / "index.html")
    page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 1)")
    assert page.locator("section.card").count() == len(sample.manifest()["clips"]) == 2
    assert page.locator(".overview .mark").count() == 2
    png = page.screenshot(full_page=True)
    (tmp_path / "review.png").write_bytes(png)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image.shape[0] >= 600 and image.shape[1] >= 1000
    assert float(image.var()) > 200, "the screenshot is (nearly) blank"
    page.close()


def test_a_hostile_title_is_shown_as_text_and_runs_nothing(sample, ctx, tmp_path):
    folder = tmp_path / "clips"
    shutil.copytree(sample.path / "clips", folder)
    m = json.loads((folder / "manifest.json").read_text())
    m["clips"][0].update(title=HOSTILE, reason="<script>alert(2)</script>", text="</div><b onclick=alert(3)>x")
    (folder / "hostile.html").write_text(build_page(m, {"render": 0.1}, folder))
    page, seen = _open(ctx, folder / "hostile.html")
    page.wait_for_timeout(500)
    assert seen["dialogs"] == [] and seen["errors"] == []
    assert page.get_by_text(HOSTILE, exact=True).is_visible()
    assert page.get_by_text("<script>alert(2)</script>", exact=True).is_visible()
    assert page.locator("img, script, [onclick], [onerror]").count() == 0
    page.close()
