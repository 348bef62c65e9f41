"""URL inputs: yt-dlp downloads from a real HTTP server on 127.0.0.1, and no secret of the URL is ever written."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.helpers import MEDIA, SAMPLE, make_project, run_ok

TOKEN = "SECRET123"
PASSWORD = "hunter2pw"
USER = "alice_cf"


class _Handler(SimpleHTTPRequestHandler):
    """Serves a folder; remembers every request line and Authorization header it saw."""

    def log_message(self, fmt, *args):  # keep pytest's output clean
        pass

    def do_GET(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        super().do_GET()

    def do_HEAD(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        super().do_HEAD()


class _QueryHandler(_Handler):
    """`/get.mp4?file=NAME` serves FILES[NAME]: what is downloaded depends on a query value only."""

    FILES = {"a": "talk.mp4", "b": "tone.webm"}

    def translate_path(self, path):
        query = parse_qs(urlsplit(path).query)
        name = self.FILES.get((query.get("file") or [""])[0], "missing")
        return super().translate_path("/" + name)


class MediaServer:
    def __init__(self, folder: Path, handler=_Handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
        self.httpd.seen = []
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def seen(self) -> list:
        return self.httpd.seen

    def url(self, path: str, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    shutil.copy(SAMPLE, root / "talk.mp4")  # the remote name; clipforge must not reuse it
    shutil.copy(MEDIA / "tone_vp9.webm", root / "tone.webm")
    srv = MediaServer(root)
    yield srv
    srv.close()


def files_mentioning(root: Path, *needles: str) -> list[str]:
    """Every file under `root` whose name or bytes contain one of `needles`."""
    hits = []
    for path in root.rglob("*"):
        rel = str(path.relative_to(root))
        if any(n in rel for n in needles):
            hits.append(f"name: {rel}")
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(n.encode() in data for n in needles):
                hits.append(f"content: {rel}")
    return hits


def executed(out: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^\.  (\S+)$", out, re.M)}


def test_url_with_token_downloads_and_never_persists_the_token(tmp_path, server):
    p = make_project(tmp_path / "proj")
    url = server.url(f"talk.mp4?token={TOKEN}&v=abc")

    # Stop before render: the state file and every temp file are still there to inspect.
    r = run_ok(p.doit("extract", f"input={url}"))
    assert {"download", "segment", "extract:seg001"} <= executed(r.stdout), r.stdout
    assert any(path.startswith("/talk.mp4") and TOKEN in path for _, path, _ in server.seen), \
        "the download did not use the URL as given (with its token)"
    assert TOKEN not in r.stdout + r.stderr
    assert p.state_file.exists()
    assert TOKEN not in p.state()["input_source"]
    assert files_mentioning(p.path, TOKEN) == []

    # The download is stored under a hash, never under the remote file name.
    media = [f.name for f in p.temp().iterdir() if f.is_file() and f.suffix == ".media"]
    assert len(media) == 1 and re.fullmatch(r"source_[0-9a-f]{12}\.media", media[0]), media
    assert not [f for f in p.temp().rglob("*") if "talk" in f.name]
    assert hashlib.sha256(p.temp(media[0]).read_bytes()).hexdigest() == \
        hashlib.sha256(SAMPLE.read_bytes()).hexdigest()

    # Finish the run (the URL is passed again, as a user would).
    r = run_ok(p.doit(f"input={url}"))
    assert TOKEN not in r.stdout + r.stderr
    manifest = p.manifest()
    source = manifest["input"]["source"]
    assert TOKEN not in source and f"token={TOKEN}" not in source
    assert source.startswith(f"http://127.0.0.1:{server.port}/talk.mp4"), source
    assert "v=abc" in source
    assert manifest["input"]["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert manifest["clips"] and all((p.path / "clips" / c["file"]).is_file() for c in manifest["clips"])
    assert files_mentioning(p.path, TOKEN) == []


def test_url_credentials_are_not_persisted(tmp_path, server):
    p = make_project(tmp_path / "proj")
    url = server.url("tone.webm", userinfo=f"{USER}:{PASSWORD}@")
    opts = ("min_len=1", "max_len=4")

    r = run_ok(p.doit("extract", f"input={url}", *opts))
    assert "download" in executed(r.stdout)
    assert any(path == "/tone.webm" for _, path, _ in server.seen)
    assert USER not in p.state()["input_source"] and PASSWORD not in p.state()["input_source"]
    assert files_mentioning(p.path, USER, PASSWORD) == []

    r = run_ok(p.doit(f"input={url}", *opts))
    out = r.stdout + r.stderr
    assert PASSWORD not in out and USER not in out
    source = p.manifest()["input"]["source"]
    assert source == f"http://127.0.0.1:{server.port}/tone.webm", source
    assert p.manifest()["clips"]
    assert files_mentioning(p.path, USER, PASSWORD) == []


def test_url_404_is_download_failed_without_the_token(tmp_path, server):
    p = make_project(tmp_path / "proj")
    url = server.url(f"missing.mp4?token={TOKEN}")
    r = p.doit(f"input={url}", timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 13, out
    errors = [ln for ln in out.splitlines() if ln.startswith("clipforge: error")]
    assert len(errors) == 1, out
    assert errors[0].startswith("clipforge: error DOWNLOAD_FAILED") and " -- " in errors[0]
    assert "missing.mp4" in errors[0]
    assert TOKEN not in out
    assert "Traceback" not in out
    # The failure is recorded for `doit --retry`, without the token.
    assert p.state()["failure_point"]["code"] == "DOWNLOAD_FAILED"
    assert files_mentioning(p.path, TOKEN) == []


def test_urls_differing_only_in_a_redacted_query_value_are_different_inputs(tmp_path, server):
    """Redaction is for what is written down: `?file=a` and `?file=b` must not share an identity."""
    root = Path(server.httpd.RequestHandlerClass.keywords["directory"])
    srv = MediaServer(root, handler=_QueryHandler)
    try:
        p = make_project(tmp_path / "proj")
        opts = ("clips=1", "min_len=1", "max_len=4")
        url_a, url_b = srv.url("get.mp4?file=a"), srv.url("get.mp4?file=b")
        run_ok(p.doit(f"input={url_a}", *opts))
        assert p.manifest()["input"]["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
        assert "file=REDACTED" in p.manifest()["input"]["source"]

        r = run_ok(p.doit(f"input={url_b}", *opts))
        out = r.stdout + r.stderr
        assert "nothing to do" not in out
        assert "download" in executed(r.stdout), out
        tone = (root / "tone.webm").read_bytes()
        assert p.manifest()["input"]["sha256"] == hashlib.sha256(tone).hexdigest()
        assert [path for _, path, _ in srv.seen if path.startswith("/get.mp4")][-1].endswith("file=b")

        # The same URL again is the same input: nothing to do.
        again = run_ok(p.doit(f"input={url_b}", *opts))
        assert "nothing to do" in again.stderr

        # The key behind the identities is private to this folder and never committed.
        key = p.path / ".clipforge-key"
        assert key.stat().st_mode & 0o077 == 0
        assert ".clipforge-key" in (Path(__file__).resolve().parents[2] / ".gitignore").read_text().split()
        assert files_mentioning(p.path, "file=a", "file=b") == []
    finally:
        srv.close()
