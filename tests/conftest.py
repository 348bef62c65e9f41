"""Shared fixtures: a throw-away copy of the project in which tests run real `doit` commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def make_project(dest: Path) -> Project:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dodo.py", "pyproject.toml"):
        shutil.copy(ROOT / name, dest / name)
    (dest / "sample").mkdir(exist_ok=True)
    shutil.copy(SAMPLE, dest / "sample" / SAMPLE.name)
    return Project(dest)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj")


def run_ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result
