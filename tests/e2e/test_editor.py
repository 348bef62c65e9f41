"""`doit edit` in a real browser (Debian's Chromium through Playwright) over one real finished run.

The module makes one keep=yes run of the sample (2 clips, height=320 so each encode is cheap) and a
snapshot of it; each test puts the snapshot back, starts the real editor server (`doit edit`) and
clicks through the page as a user would, then checks what a user would: the clip's duration, its
captions (.srt, .vtt, the .ass the encode burns), the manifest and the review page.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser import browser, missing
from tests.helpers import executed, restore_snapshot, run_ok, save_snapshot

pytestmark = pytest.mark.skipif(missing() is not None, reason=f"no browser for the editor: {missing()}")

# A B-roll folder whose one image matches nothing said: the run plans no insert; a test adds one by hand.
RUN = ("clips=2", "min_len=8", "max_len=25", "keep=yes", "broll=broll")


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    import shutil

    from tests.helpers import MEDIA, make_project

    project = make_project(tmp_path_factory.mktemp("editor") / "proj")
    (project.path / "broll").mkdir()
    shutil.copy(MEDIA / "face.png", project.path / "broll" / "zzqx.png")
    run_ok(project.doit(*RUN))
    return save_snapshot(project, tmp_path_factory.mktemp("editor-snapshot"))


@pytest.fixture(scope="module")
def ctx():
    with browser(width=1280, height=1000) as context:
        yield context


class Editor:
    def __init__(self, project, proc, url):
        self.project, self.proc, self.url = project, proc, url
        self.base = url.split("/?")[0]

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the server and the build it started
            self.proc.wait(timeout=30)


def start_editor(project) -> Editor:
    proc = subprocess.Popen([sys.executable, "-m", "doit", "edit"], cwd=project.path, env=project.env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    line = proc.stderr.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]+)", line)
    assert m, f"no address printed: {line!r}"
    return Editor(project, proc, m.group(1))


@pytest.fixture
def editor(snapshot):
    project = restore_snapshot(snapshot)
    ed = start_editor(project)
    yield ed
    ed.kill()


def open_page(ctx, ed: Editor):
    page = ctx.new_page()
    seen = {"errors": [], "foreign": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: r.url.startswith(ed.base) or seen["foreign"].append(r.url))
    page.on("response", lambda r: r.status >= 400 and seen["errors"].append(f"{r.status} {r.url}"))
    page.goto(ed.url)
    page.wait_for_selector("#status[data-state]")
    page.seen = seen
    return page


def until(page, js: str, timeout: float = 30):
    """Poll `js` (an arrow function) from Python: Playwright's wait_for_function evaluates its predicate
    with eval, which the editor's CSP (no 'unsafe-eval') rightly refuses."""
    deadline = time.time() + timeout
    while True:
        try:
            got = page.evaluate(js)
        except Exception:  # the page is between two documents (a reload)
            got = None
        if got:
            return got
        assert time.time() < deadline, f"timed out waiting for {js}"
        time.sleep(0.05)


def status(page, ed: Editor) -> dict:
    return page.request.get(ed.base + "/api/status").json()


def wait_builds(page, ed: Editor, n: int, timeout: float = 120) -> dict:
    """Until the server has finished build n, and the page has reloaded to show it."""
    page.evaluate("window.beforeBuild = true")
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = status(page, ed)
        if st["builds"] >= n and st["state"] == "idle":
            assert st["last_rc"] == 0, st["log"]
            until(page, "() => window.beforeBuild === undefined && document.readyState === 'complete'")
            page.wait_for_selector("#status[data-state]")
            return st
        time.sleep(0.2)
    raise AssertionError(f"no build {n} within {timeout} s: {status(page, ed)}")


def clip(project, clip_id: str) -> dict:
    return next(c for c in project.manifest()["clips"] if c["id"] == clip_id)


def media_duration(path: Path) -> float:
    import av

    with av.open(str(path)) as box:
        return box.duration / 1e6


def first_caption_word(srt: Path) -> str:
    import pysubs2

    return pysubs2.load(str(srt)).events[0].plaintext.split()[0]


def word_at(page, clip_id: str, nth: int):
    return page.locator(f"#clip-{clip_id} .words .w.in").nth(nth)


def test_trim_by_clicking_words(editor, ctx):
    page = open_page(ctx, editor)
    before = editor.project.manifest()
    other = clip(editor.project, "seg002")
    start_word = word_at(page, "seg001", 5)
    text, t0 = start_word.inner_text(), float(start_word.get_attribute("data-t"))
    start_word.click()
    wait_builds(page, editor, 1)
    page.locator("#clip-seg001 input[value=end]").check()
    end_word = word_at(page, "seg001", -4)
    end_text = end_word.inner_text()
    end_word.click()
    wait_builds(page, editor, 2)
    c = clip(editor.project, "seg001")
    padding = 0.2
    assert t0 - padding - 0.01 <= c["start"] <= t0 + 1e-3
    old = next(x for x in before["clips"] if x["id"] == "seg001")
    assert c["duration"] < old["duration"] - 1.0
    mp4 = editor.project.path / "clips" / c["file"]
    assert abs(media_duration(mp4) - c["duration"]) < 0.15, "the published clip is not the new span"
    srt = mp4.with_suffix(".srt")
    assert first_caption_word(srt).lower().strip(",.") == text.lower().strip(",.")
    assert c["first_word"] == text and c["last_word"] == end_text
    assert c["flags"] and set(c["flags"]) <= {"crossed_sentence_start", "crossed_sentence_end"}
    # Only the trimmed clip was encoded again.
    assert clip(editor.project, "seg002")["sha256"] == other["sha256"]
    # The page shows the new clip: its card's video is the new file, at the new duration.
    until(page, "() => document.querySelector('#clip-seg001 video').readyState >= 1")
    shown = page.evaluate("document.querySelector('#clip-seg001 video').duration")
    assert abs(shown - c["duration"]) < 0.15
    assert page.seen["errors"] == [] and page.seen["foreign"] == []


def test_fix_a_caption_word(editor, ctx):
    import pysubs2

    page = open_page(ctx, editor)
    page.locator("#clip-seg002 input[value=fix]").check()
    target = word_at(page, "seg002", 2)
    old = target.inner_text()
    target.click()
    page.locator("#clip-seg002 .fixtext").fill("Zanzibar")
    page.locator("#clip-seg002 button[data-act=fix]").click()
    wait_builds(page, editor, 1)
    c = clip(editor.project, "seg002")
    srt = editor.project.path / "clips" / c["file"].replace(".mp4", ".srt")
    vtt = srt.with_suffix(".vtt")
    assert "Zanzibar" in srt.read_text() and "Zanzibar" in vtt.read_text()
    # The .ass is what the encode burns in: its events' text (not pixels) carries the fix.
    ass = pysubs2.load(str(editor.project.temp("subtitles/seg002.ass")))
    assert any("Zanzibar" in e.plaintext for e in ass.events)
    assert "Zanzibar" in c["text"] and old not in c["text"].split()[2:3]
    assert page.locator("#clip-seg002 .words .w", has_text="Zanzibar").count() == 1


def test_drop_a_clip_and_doit_is_then_a_no_op(editor, ctx):
    page = open_page(ctx, editor)
    gone = clip(editor.project, "seg002")
    page.locator("#clip-seg002 button[data-act=drop]").click()
    wait_builds(page, editor, 1)
    m = editor.project.manifest()
    assert [c["id"] for c in m["clips"]] == ["seg001"]
    assert not (editor.project.path / "clips" / gone["file"]).exists()
    review = (editor.project.path / "clips" / "index.html").read_text()
    assert gone["file"] not in review
    assert page.locator("#clip-seg002").count() == 0
    editor.kill()
    out = run_ok(editor.project.doit()).stdout
    assert executed(out) == set(), out
    assert editor.project.manifest()["clips"] == m["clips"]


def test_add_a_clip_from_a_selection(editor, ctx):
    page = open_page(ctx, editor)
    seg2 = clip(editor.project, "seg002")
    words = page.locator("#add .w")
    times = [float(t) for t in words.evaluate_all("ws => ws.map(w => w.dataset.t)")]
    first = next(i for i, t in enumerate(times) if t > seg2["end"] + 1.0)
    last = max(i for i, t in enumerate(times) if t < times[first] + 9.0)
    page.locator("#add input.title").fill("Added by hand")
    words.nth(first).click()
    words.nth(last).click()
    page.locator("#add button[data-act=add]").click()
    wait_builds(page, editor, 1)
    m = editor.project.manifest()
    assert len(m["clips"]) == 3
    added = next(c for c in m["clips"] if c["title"] == "Added by hand")
    assert added["reason"] == "added in the editor"
    assert times[first] - 0.21 <= added["start"] <= times[first] + 1e-3
    mp4 = editor.project.path / "clips" / added["file"]
    assert abs(media_duration(mp4) - added["duration"]) < 0.15
    assert "Added by hand" in (editor.project.path / "clips" / "index.html").read_text()


def test_edits_during_a_build_queue_and_a_stale_tab_is_refused(editor, ctx):
    page = open_page(ctx, editor)
    # What a second tab still showing the old clip would send (a tab reloads itself after each build,
    # but one may post before it does).
    seen = page.locator("#clip-seg001").get_attribute("data-version")
    csrf = page.locator('meta[name="csrf"]').get_attribute("content")
    page.locator("#clip-seg001 input.title").fill("First edit")
    page.locator("#clip-seg001 button[data-act=title]").click()
    deadline = time.time() + 60
    while status(page, editor)["state"] != "building":
        assert time.time() < deadline, status(page, editor)
        time.sleep(0.02)
    page.locator("#clip-seg002 input.title").fill("Second edit")
    page.locator("#clip-seg002 button[data-act=title]").click()
    st = status(page, editor)
    assert st["queued"] == ["title seg002"] or st["builds"] >= 1, st
    wait_builds(page, editor, 2)
    titles = {c["id"]: c["title"] for c in editor.project.manifest()["clips"]}
    assert titles == {"seg001": "First edit", "seg002": "Second edit"}
    resp = page.request.post(editor.base + "/api/edit", headers={"X-Clipforge-CSRF": csrf,
                             "Content-Type": "application/json"},
                             data={"action": "title", "clip": "seg001", "version": seen, "title": "Stale tab"})
    assert resp.status == 202
    deadline = time.time() + 30
    while not any("changed meanwhile" in m for m in status(page, editor)["messages"]):
        assert time.time() < deadline, status(page, editor)
        time.sleep(0.1)
    assert clip(editor.project, "seg001")["title"] == "First edit"


def test_read_only_while_another_run_holds_the_folder(editor, ctx):
    from clipforge.lock import RunLock

    lock = RunLock(editor.project.path / ".temp_clips.lock")
    lock.acquire()  # exactly what a `doit` run in a terminal holds
    try:
        page = open_page(ctx, editor)
        assert "read-only" in page.locator("#banner").inner_text()
        assert page.locator("#clip-seg001 button[data-act=title]").is_disabled()
        csrf = page.locator('meta[name="csrf"]').get_attribute("content")
        resp = page.request.post(editor.base + "/api/edit", data={"action": "drop", "clip": "seg001"},
                                 headers={"X-Clipforge-CSRF": csrf, "Content-Type": "application/json"})
        assert resp.status == 409
    finally:
        lock.release()
    page.reload()
    assert page.locator("#banner").count() == 0
    assert len(editor.project.manifest()["clips"]) == 2


def test_kill_the_server_during_a_build_then_retry(editor, ctx):
    page = open_page(ctx, editor)
    word = word_at(page, "seg001", 4)
    t0 = float(word.get_attribute("data-t"))
    word.click()
    deadline = time.time() + 60
    while not status(page, editor)["task"].startswith(("subtitles:seg001", "vfx:seg001", "broll:seg001",
                                                        "extract:seg001")):
        assert time.time() < deadline, status(page, editor)
        time.sleep(0.02)
    page.close()
    editor.kill()  # kill -9 of the editor and the build it started
    out = run_ok(editor.project.doit("--retry")).stdout
    assert "extract:seg001" in executed(out) and "extract:seg002" not in executed(out)
    c = clip(editor.project, "seg001")
    assert t0 - 0.21 <= c["start"] <= t0 + 1e-3
    assert abs(media_duration(editor.project.path / "clips" / c["file"]) - c["duration"]) < 0.15
    assert executed(run_ok(editor.project.doit()).stdout) == set()


def test_the_server_listens_on_loopback_only(editor):
    port = int(editor.base.rsplit(":", 1)[1])
    addrs = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    for addr in addrs:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((addr, port)) != 0, f"the editor answers on {addr}"
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_click_the_subject_in_a_source_frame_moves_the_crop(editor, ctx):
    import json

    page = open_page(ctx, editor)
    before = clip(editor.project, "seg001")
    img = page.locator("#clip-seg001 img.frame")
    until(page, "() => { const i = document.querySelector('#clip-seg001 img.frame'); "
                "return i.complete && i.naturalWidth > 0; }")
    box = img.bounding_box()
    img.click(position={"x": box["width"] * 0.95, "y": box["height"] / 2})  # far right of the source
    wait_builds(page, editor, 1)
    decision = json.loads(editor.project.temp("vfx/seg001.reframe.json").read_text())
    src, crop = decision["source"], decision["crop"]
    assert decision["path"] == [{"t": 0.0, "x": float(src["w"] - crop["w"]), "y": 0.0, "cut": False}]
    after = clip(editor.project, "seg001")
    assert after["reframe"] == "center" and after["sha256"] != before["sha256"]
    # The other clip kept its encode; a second `doit` has nothing to do.
    editor.kill()
    assert executed(run_ok(editor.project.doit()).stdout) == set()


def test_after_a_plain_run_make_editable_then_edit(tmp_path, ctx):
    """A new user's path: `doit` (decisions not kept), `doit edit`, "Make editable", then an edit."""
    from tests.helpers import make_project

    project = make_project(tmp_path / "proj")
    run_ok(project.doit("clips=2", "min_len=8", "max_len=25"))
    assert not project.state_file.exists()
    ed = start_editor(project)
    try:
        page = open_page(ctx, ed)
        assert "did not keep its decisions" in page.locator("#banner").inner_text()
        assert page.locator("#clip-seg001 button[data-act=title]").is_disabled()
        page.locator("#make-editable").click()
        wait_builds(page, ed, 1, timeout=300)
        assert project.state_file.exists() and page.locator("#banner").count() == 0
        page.locator("#clip-seg001 input.title").fill("Edited after a plain run")
        page.locator("#clip-seg001 button[data-act=title]").click()
        wait_builds(page, ed, 2)
        assert clip(project, "seg001")["title"] == "Edited after a plain run"
        assert page.locator("#clip-seg001 input.title").input_value() == "Edited after a plain run"
    finally:
        ed.kill()


def test_add_then_remove_a_broll_insert_at_a_word(editor, ctx, tmp_path):
    import json

    page = open_page(ctx, editor)
    before = clip(editor.project, "seg002")
    assert before["broll"] == []
    page.locator("#clip-seg002 input[value=broll]").check()
    page.locator("#clip-seg002 select.asset").select_option("zzqx.png")
    word = word_at(page, "seg002", 3)
    at = float(word.get_attribute("data-t")) - before["start"]
    word.click()
    wait_builds(page, editor, 1)
    plan = json.loads(editor.project.temp("broll/seg002.broll.json").read_text())
    [insert] = plan["inserts"]
    assert Path(insert["asset"]).name == "zzqx.png" and abs(insert["start"] - at) < 0.01
    assert 1.0 <= insert["end"] - insert["start"] <= 3.0 + 1e-6
    after = clip(editor.project, "seg002")
    assert [Path(i["asset"]).name for i in after["broll"]] == ["zzqx.png"] and after["sha256"] != before["sha256"]
    # The image is on screen during the insert: a frame there differs from the speaker's frame.
    from clipforge.media import ffmpeg_exe

    mp4 = editor.project.path / "clips" / after["file"]
    for name, t in (("during", (insert["start"] + insert["end"]) / 2), ("before", max(insert["start"] - 0.5, 0.05))):
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-ss", f"{t:.2f}", "-i", str(mp4), "-frames:v", "1",
                        str(tmp_path / f"{name}.png")], check=True)
    import cv2

    a, b = (cv2.imread(str(tmp_path / f"{n}.png")) for n in ("during", "before"))
    assert float(cv2.absdiff(a, b).mean()) > 20, "the B-roll image is not on screen during its insert"
    page.locator("#clip-seg002 button[data-act=broll_remove]").click()
    wait_builds(page, editor, 2)
    assert clip(editor.project, "seg002")["broll"] == []


def test_hand_made_frame_and_broll_survive_a_trim(editor, ctx):
    import json

    page = open_page(ctx, editor)
    page.locator("#clip-seg001 select.framemode").select_option("center")
    wait_builds(page, editor, 1)
    page.locator("#clip-seg001 input[value=broll]").check()
    word = word_at(page, "seg001", 8)
    at = float(word.get_attribute("data-t"))
    word.click()
    wait_builds(page, editor, 2)
    word_at(page, "seg001", 2).click()  # start two words later: a new span, so vfx and broll plan again
    wait_builds(page, editor, 3)
    c = clip(editor.project, "seg001")
    assert json.loads(editor.project.temp("vfx/seg001.reframe.json").read_text())["mode"] == "center"
    [insert] = json.loads(editor.project.temp("broll/seg001.broll.json").read_text())["inserts"]
    assert abs(c["start"] + insert["start"] - at) < 0.01, "the insert moved off its word"
    assert c["reframe"] == "center" and [Path(i["asset"]).name for i in c["broll"]] == ["zzqx.png"]
    assert any("frame choice is kept" in m and "B-roll choices are kept" in m for m in status(page, editor)["messages"])
    editor.kill()
    assert executed(run_ok(editor.project.doit()).stdout) == set()


def test_caption_style_large_then_off(editor, ctx):
    import pysubs2

    page = open_page(ctx, editor)
    ass_file = editor.project.temp("subtitles/seg002.ass")
    size = max(s.fontsize for s in pysubs2.load(str(ass_file)).styles.values())
    page.locator("#clip-seg002 select.captionstyle").select_option("large")
    wait_builds(page, editor, 1)
    large = max(s.fontsize for s in pysubs2.load(str(ass_file)).styles.values())
    assert large > size * 1.2
    assert clip(editor.project, "seg002")["captions_burned"] is True
    page.locator("#clip-seg002 select.captionstyle").select_option("off")
    wait_builds(page, editor, 2)
    assert [e for e in pysubs2.load(str(ass_file)).events if not e.is_comment] == []
    c = clip(editor.project, "seg002")
    assert c["captions_burned"] is False and clip(editor.project, "seg001")["captions_burned"] is True
    assert page.locator("#clip-seg002 select.captionstyle").input_value() == "off"


def test_the_end_a_word_later_button(editor, ctx):
    page = open_page(ctx, editor)
    before = clip(editor.project, "seg001")
    last = int(page.locator("#clip-seg001").get_attribute("data-last"))
    following = page.locator(f'#clip-seg001 .words .w[data-i="{last + 1}"]')
    word, t = following.inner_text(), float(following.get_attribute("data-t"))
    page.locator('#clip-seg001 button[data-act=nudge][data-edge=last][data-step="1"]').click()
    wait_builds(page, editor, 1)
    c = clip(editor.project, "seg001")
    assert abs(c["start"] - before["start"]) < 0.25 and c["end"] > t and c["last_word"] == word
    assert int(page.locator("#clip-seg001").get_attribute("data-last")) == last + 1


def test_approve_a_clip_without_encoding_it_again(editor, ctx):
    page = open_page(ctx, editor)
    before = clip(editor.project, "seg002")
    assert before["approved"] is False
    page.locator("#clip-seg002 button[data-act=approve]").click()
    wait_builds(page, editor, 1)
    after = clip(editor.project, "seg002")
    assert after["approved"] is True and clip(editor.project, "seg001")["approved"] is False
    assert after["sha256"] == before["sha256"], "an approval must not re-encode the clip"
    assert page.locator("#clip-seg002 button[data-act=approve]").inner_text().startswith("Approved")


def test_a_card_waits_for_its_build_before_the_next_edit(editor, ctx):
    page = open_page(ctx, editor)
    word_at(page, "seg001", 3).click()
    until(page, "() => document.querySelector('#clip-seg001 button[data-act=title]').disabled")  # until reloaded
    assert page.locator("#clip-seg002 button[data-act=title]").is_enabled()
    wait_builds(page, editor, 1)
    assert page.locator("#clip-seg001 button[data-act=title]").is_enabled()
    assert not any("not applied" in m for m in status(page, editor)["messages"])
