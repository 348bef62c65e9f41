"""Bad inputs and options: a documented code, one line with a hint, no traceback, and nothing done is lost."""

from __future__ import annotations

import shutil
import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clipforge.errors import ErrorCode
from tests.helpers import MEDIA, make_project, run_ok


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass


@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    """A real HTTP server on 127.0.0.1 serving an empty folder: every file is a 404."""
    root = tmp_path_factory.mktemp("www_empty")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def check_failure(result, code: str) -> str:
    out = result.stdout + result.stderr
    assert result.returncode == ErrorCode[code].exit_status, f"exit {result.returncode}\n{out}"
    errors = [ln for ln in out.splitlines() if ln.startswith("clipforge: error")]
    assert len(errors) == 1, out
    line = errors[0]
    assert line.startswith(f"clipforge: error {code} ("), line
    what, sep, hint = line.partition(" -- ")
    assert sep and hint.strip() and what.split("): ", 1)[1].strip(), line
    assert "Traceback" not in out, out
    return line


def copy_media(project, name: str, as_name: str | None = None) -> str:
    dest = project.path / (as_name or name)
    shutil.copy(MEDIA / name, dest)
    return dest.name


def test_missing_file(project):
    line = check_failure(project.doit("input=no_such_video.mp4", timeout=60), "INPUT_NOT_FOUND")
    assert "no_such_video.mp4" in line


def test_directory(project):
    (project.path / "videos").mkdir()
    line = check_failure(project.doit("input=videos", timeout=60), "NOT_MEDIA")
    assert "videos" in line


@pytest.mark.parametrize("name", ["empty.mp4", "text.mp4", "truncated.mp4"])
def test_not_media(project, name):
    check_failure(project.doit(f"input={copy_media(project, name)}", timeout=60), "NOT_MEDIA")
    # Nothing was produced from it.
    assert not (project.path / "clips").exists()


def test_video_without_audio(project):
    line = check_failure(project.doit(f"input={copy_media(project, 'noaudio.mp4')}", timeout=60), "NO_AUDIO")
    assert "noaudio.mp4" in line


def test_silent_audio(project):
    check_failure(project.doit(f"input={copy_media(project, 'silent.mp4')}", timeout=120), "NO_AUDIO")
    assert not (project.path / "clips").exists()


def test_unreachable_url(project):
    check_failure(project.doit(f"input=http://127.0.0.1:{closed_port()}/talk.mp4", timeout=60), "DOWNLOAD_FAILED")


def test_url_404(project, http_root):
    line = check_failure(project.doit(f"input={http_root}/nothing_here.mp4", timeout=60), "DOWNLOAD_FAILED")
    assert "nothing_here.mp4" in line


@pytest.mark.parametrize("args", [
    ("foo=1",),
    ("clips=0",),
    ("clips=many",),
    ("cut=sideways",),
    ("min_len=90", "max_len=10"),
    ("segmenter=llm",),
])
def test_bad_option(project, args):
    line = check_failure(project.doit(*args, timeout=60), "BAD_OPTION")
    assert args[0].split("=")[0] in line
    # Stopped before anything ran: no state, no temp files.
    assert not project.state_file.exists()
    assert not project.temp().exists() or not any(project.temp().iterdir())


def test_a_bad_run_loses_nothing_already_done(tmp_path):
    """A finished `doit extract`, then bad runs: the saved work and the temp files survive, and the
    good run finishes from them without redoing any stage."""
    p = make_project(tmp_path / "proj")
    run_ok(p.doit("extract"))
    before = {f: f.stat().st_mtime_ns for f in p.temp().rglob("*") if f.is_file()}
    assert any(f.suffix == ".mp4" for f in before)

    check_failure(p.doit("clips=0", timeout=60), "BAD_OPTION")
    check_failure(p.doit("foo=1", timeout=60), "BAD_OPTION")
    assert p.state_file.exists()
    assert {f: f.stat().st_mtime_ns for f in p.temp().rglob("*") if f.is_file()} == before

    r = run_ok(p.doit())
    ran = [ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith(".  ")]
    assert ran == ["render"], r.stdout
    assert p.manifest()["clips"]
