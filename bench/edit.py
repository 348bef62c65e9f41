"""edit: `doit edit`, from an edit (a trim by one word, POSTed as the page does) to the updated clip
published, vs a full re-run of the pipeline (`doit --nocache`) on the same input and options.

The sample is a 2-minute talk; clips of 12-18 s (the issue's "15 s clip of a 2-minute talk").
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.core import SAMPLE, Row, add, doit_env, median, project_folder, say, spread

OPTS = ["clips=3", "min_len=12", "max_len=18", "keep=yes"]
NAME = "edit a clip in `doit edit` (trim by a word) until it is published, vs a full re-run"


class Client:
    """What the editor page does, with urllib: open the printed address (cookie), read the page, POST."""

    def __init__(self, url: str):
        self.base = url.split("/?")[0]
        self.http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.http.open(url, timeout=30).read()

    def page(self) -> str:
        return self.http.open(self.base + "/", timeout=60).read().decode()

    def status(self) -> dict:
        return json.loads(self.http.open(self.base + "/api/status", timeout=30).read())

    def post(self, body: dict, csrf: str) -> None:
        req = urllib.request.Request(self.base + "/api/edit", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-Clipforge-CSRF": csrf})
        self.http.open(req, timeout=30).read()


def _card(page: str, clip: str) -> dict:
    m = re.search(rf'data-clip="{clip}" data-version="([^"]+)"\s+data-first="(\d+)" data-last="(\d+)"', page)
    return {"version": m.group(1), "first": int(m.group(2)), "last": int(m.group(3))}


def _edit_once(client: Client) -> float:
    """Move seg001's start one word later (each full run puts it back); seconds until its build is done."""
    page = client.page()
    csrf = re.search(r'<meta name="csrf" content="([^"]+)"', page).group(1)
    card = _card(page, "seg001")
    first = card["first"] + 1  # shorter: a longer clip could pass max_len
    before = client.status()
    builds, last = before["builds"], before["messages"][-1:]
    t = time.perf_counter()
    client.post({"action": "trim", "clip": "seg001", "version": card["version"], "first": first,
                 "last": card["last"]}, csrf)
    while True:
        st = client.status()
        refused = [m for m in st["messages"][-1:] if m not in last and "not applied" in m]
        if refused or time.perf_counter() - t > 600:
            raise RuntimeError(f"the edit was not built: {refused or st}")
        if st["builds"] > builds and st["state"] == "idle":
            if st["last_rc"] != 0:
                raise RuntimeError("the edit's build failed: " + " | ".join(st["log"][-3:]))
            return time.perf_counter() - t
        time.sleep(0.05)


def run(tmp: Path, n: int) -> None:
    say(f"[edit] {NAME}")
    proj = project_folder(tmp / "edit" / "proj")
    (proj / "sample").mkdir()
    shutil.copy(SAMPLE, proj / "sample" / SAMPLE.name)

    def doit(*args: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "doit", *args], cwd=proj, env=doit_env(), capture_output=True,
                       check=True, stdin=subprocess.DEVNULL, timeout=1800)
        return time.perf_counter() - t

    doit(*OPTS)  # warm-up: the model and the page cache, as both sides then have them
    server = subprocess.Popen([sys.executable, "-m", "doit", "edit"], cwd=proj, env=doit_env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    full: list[float] = []
    edits: list[float] = []
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", server.stderr.readline()).group(0)
        client = Client(url)
        _edit_once(client)  # warms the server up
        # Interleaved, so that both sides meet the same load on a shared machine.
        for _ in range(n):
            full.append(doit("--nocache", *OPTS))
            edits.append(_edit_once(client))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    manifest = json.loads((proj / "clips" / "manifest.json").read_text())
    length = next(c["duration"] for c in manifest["clips"] if c["id"] == "seg001")
    add(Row(name=f"{NAME} ({length:.0f} s clip of {manifest['input']['duration']:.0f} s)", ours=median(edits),
            base=median(full), unit="s", goal=0.1,
            note=f"edit {spread(edits)}, full run {spread(full)}",
            extra={"edit_s": edits, "full_s": full, "clip_s": length}))
