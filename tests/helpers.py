"""Shared test helpers: a throw-away copy of the project in which tests run real `doit` commands,
and ways to read what a run printed and to kill it at an observable moment."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "tests" / "media"
SAMPLE = ROOT / "sample" / "talk.mp4"


@dataclass
class Project:
    """A folder holding dodo.py and pyproject.toml, like a user's checkout."""

    path: Path

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CLIPFORGE_"))}
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra)
        return env

    def doit(self, *args: str, env: dict | None = None, timeout: float = 300, stdin=subprocess.DEVNULL
             ) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "doit", *args], cwd=self.path, env=self.env(**(env or {})),
                              capture_output=True, text=True, timeout=timeout, stdin=stdin)

    def popen(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=self.path, env=self.env(**(env or {})),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def state_file(self) -> Path:
        return self.path / ".temp_clips.json"

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def manifest(self) -> dict:
        return json.loads((self.path / "clips" / "manifest.json").read_text())

    def temp(self, rel: str = "") -> Path:
        return self.path / "temp_processing" / rel


# Small output frames keep the many end-to-end runs quick; the sample run in test_pipeline uses the defaults.
FAST = {"height": 320}


def make_project(dest: Path, options: dict | None = None) -> Project:
    """A project folder like a user's checkout, with `options` as its [tool.clipforge] defaults."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dodo.py", dest / "dodo.py")
    text = (ROOT / "pyproject.toml").read_text()
    lines = [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in (FAST if options is None
                                                                                  else options).items()]
    (dest / "pyproject.toml").write_text(text.replace("[tool.clipforge]\n", "[tool.clipforge]\n" + "".join(
        line.replace("'", '"') + "\n" for line in lines), 1))
    (dest / "sample").mkdir(exist_ok=True)
    shutil.copy(SAMPLE, dest / "sample" / SAMPLE.name)
    return Project(dest)



def save_snapshot(project: Project, root: Path) -> Path:
    """Copy a project (its state file, temp_processing/, clips) aside, to start several tests from
    the same moment of a run instead of re-running up to it in each; returns the snapshot's root."""
    shutil.copytree(project.path, root / "snapshot", symlinks=True)
    (root / "at").write_text(str(project.path))
    return root


def restore_snapshot(root: Path) -> Project:
    """The snapshot put back where it was taken: the state file's absolute paths stay valid."""
    path = Path((root / "at").read_text())
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(root / "snapshot", path, symlinks=True)
    return Project(path)


def run_ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def executed(output: str) -> set[str]:
    return set(re.findall(r"^\.  (\S+)", output, re.M))


def skipped(output: str) -> set[str]:
    return set(re.findall(r"^-- (\S+)", output, re.M))


def clip_summary(manifest: dict) -> list[tuple]:
    return [(c["id"], c["start"], c["end"], c["title"], c["text"], c["sha256"]) for c in manifest["clips"]]


def children_in(folder: Path) -> list[str]:
    """Processes (other than pytest) whose working directory is `folder`: orphaned ffmpeg would be here."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if os.readlink(f"/proc/{pid}/cwd") == str(folder):
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except OSError:
            continue
    return found


def wait_for(predicate, proc, timeout=120.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def kill9(project, proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)  # the doit process only, as `kill -9 PID` would
    proc.wait(timeout=30)
    deadline = time.time() + 5
    while children_in(project.path) and time.time() < deadline:
        time.sleep(0.05)  # the kernel delivers the children's death signal asynchronously
    assert children_in(project.path) == [], "orphaned child processes after kill -9"


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(ref: list[str], hyp: list[str]) -> float:
    """Word error rate: edit distance over the reference length."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / max(1, len(ref))
