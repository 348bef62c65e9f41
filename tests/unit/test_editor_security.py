"""The editor is a server: each rule of its security model refuses a request that breaks it.

The real Starlette app (clipforge.editor.app) is driven through Starlette's TestClient, in a project
folder with a manifest whose title is hostile, a clip file, a file outside clips/ and a link out of it.
"""

from __future__ import annotations

import json
import os

import pytest
from starlette.testclient import TestClient

from clipforge.editor.app import create_app
from clipforge.editor.builds import Builder
from clipforge.editor.security import COOKIE, CSP, CSRF_HEADER, Guard

PORT = 48123
BASE = f"http://127.0.0.1:{PORT}"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "01-a.mp4").write_bytes(b"not really a video")
    (tmp_path / "secret.txt").write_text("outside clips/")
    os.symlink(tmp_path / "secret.txt", tmp_path / "clips" / "link.txt")
    manifest = {"input": {"source": "talk.mp4"}, "clips": [
        {"id": "seg001", "title": HOSTILE, "start": 1.0, "end": 20.0, "duration": 19.0, "file": "01-a.mp4",
         "flags": [HOSTILE]}]}
    (tmp_path / "clips" / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def guard():
    return Guard.new(PORT)


@pytest.fixture
def client(folder, guard):
    app = create_app(root=folder, guard=guard, builder=Builder(folder))
    return TestClient(app, base_url=BASE, follow_redirects=False)


@pytest.fixture
def session(client, guard):
    """A client that opened the printed address: it holds the cookie."""
    resp = client.get(f"/?token={guard.token}")
    assert resp.status_code == 303
    return client


def _post(client, guard, body: dict, **headers):
    h = {CSRF_HEADER: guard.csrf, "content-type": "application/json", **headers}
    return client.post("/api/edit", content=json.dumps(body), headers=h)


def test_the_printed_address_sets_a_strict_cookie_and_drops_the_token(client, guard):
    resp = client.get(f"/?token={guard.token}")
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP and "default-src 'none'" in CSP
    assert guard.token not in page.text  # the page carries the CSRF token, never the session token


def test_no_cookie_is_refused_everywhere(client):
    for path in ("/", "/api/status", "/static/editor.js", "/media/clips/01-a.mp4"):
        assert client.get(path).status_code == 403, path


def test_a_wrong_token_or_cookie_is_refused(client, guard):
    assert client.get("/?token=" + "x" * 43).status_code == 403
    client.cookies.set(COOKIE, guard.token[:-1] + "A")
    assert client.get("/").status_code == 403


def test_another_host_header_is_refused_even_with_the_cookie(session):
    # DNS rebinding: evil.example resolving to 127.0.0.1 still sends its own name as Host.
    for host in ("evil.example", f"evil.example:{PORT}", "127.0.0.1", f"127.0.0.1:{PORT + 1}"):
        assert session.get("/", headers={"host": host}).status_code == 421, host
    assert session.get("/", headers={"host": f"localhost:{PORT}"}).status_code == 200


def test_a_post_without_the_csrf_token_is_refused(session, guard):
    body = json.dumps({"action": "drop", "clip": "seg001"})
    assert session.post("/api/edit", content=body, headers={"content-type": "application/json"}).status_code == 403
    assert _post(session, guard, {"action": "drop", "clip": "seg001"}, **{CSRF_HEADER: "0" * 64}).status_code == 403


def test_a_cross_origin_or_form_post_is_refused(session, guard):
    body = {"action": "drop", "clip": "seg001"}
    assert _post(session, guard, body, origin="http://evil.example").status_code == 403
    assert _post(session, guard, body, **{"content-type": "application/x-www-form-urlencoded"}).status_code == 415


def test_state_changes_only_by_post(session):
    assert session.get("/api/edit?action=drop&clip=seg001").status_code == 405
    for method in ("PUT", "DELETE", "PATCH"):
        assert session.request(method, "/api/edit").status_code == 405, method


def test_an_edit_without_kept_decisions_changes_nothing(session, guard, folder):
    before = (folder / "clips" / "manifest.json").read_text()
    resp = _post(session, guard, {"action": "nonsense", "clip": "seg001"})
    assert resp.status_code == 400
    assert (folder / "clips" / "manifest.json").read_text() == before


def test_files_only_from_inside_clips(session, folder):
    assert session.get("/media/clips/01-a.mp4").content == b"not really a video"
    for path in ("/media/clips/../secret.txt", "/media/clips/%2e%2e/secret.txt", "/media/clips/..%2fsecret.txt",
                 "/media/clips/link.txt", "/media/clips//etc/passwd", "/media/clips/manifest.json%00.mp4"):
        resp = session.get(path)
        assert resp.status_code == 404, path
        assert b"outside clips/" not in resp.content and b"root:" not in resp.content, path


def test_only_the_two_bundled_files_are_static(session):
    assert session.get("/static/editor.js").headers["content-type"].startswith("text/javascript")
    for name in ("__init__.py", "..%2fapp.py", "editor.js.map"):
        assert session.get(f"/static/{name}").status_code == 404, name


def test_everything_shown_is_escaped(session):
    page = session.get("/").text
    assert HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>" not in page and "<script " in page  # only the bundled script tag, no inline code
    assert 'src="/static/editor.js"' in page


def test_the_server_binds_loopback_and_bad_ports_get_one_line(tmp_path):
    from clipforge.editor.command import HOST, _bind, _port
    from clipforge.errors import OptionError

    assert HOST == "127.0.0.1"
    sock = _bind(0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] > 0
    finally:
        sock.close()
    assert _port({}) == 0 and _port({"port": "8765"}) == 8765
    for bad in ({"port": "abc"}, {"port": "70000"}, {"host": "0.0.0.0"}):
        with pytest.raises(OptionError) as err:
            _port(bad)
        assert "\n" not in err.value.one_line()
