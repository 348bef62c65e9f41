"""One video of a batch, as a Dask task: a plain `doit --retry` in the video's own workspace.

The subprocess is the unit of recovery: the workspace holds the video's state file, so a run
on another worker after this one died resumes exactly where a single `doit --retry` would.
Nothing here raises for a video's own failure: its coded error is the task's result.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from clipforge.fsutil import read_json, write_json
from clipforge.media import THREADS_ENV

MARKER = "batch-run.json"  # who runs the video now: attempt, worker pid, host (the driver reads it)
LOG = "batch.log"  # every attempt's doit output, appended
ERROR_LINE = re.compile(r"^clipforge: error (?P<code>[A-Z_]+) \((?P<exit>\d+)\): (?P<message>.*)$", re.M)
# Thread pools a video's libraries size from the environment (Whisper's CTranslate2, numpy, OpenCV).
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", THREADS_ENV)
NANNY_ONLY = ("MALLOC_TRIM_THRESHOLD_",)  # set by Dask for its worker processes, not meant for ours


@dataclass(frozen=True, kw_only=True)
class Job:
    workspace: str  # absolute: every worker sees the same filesystem
    input: str
    options: tuple[str, ...]  # key=value, the same for every video of the batch
    threads: int  # per video: the machine's cores shared among its workers


def _start(ws: Path) -> int:
    """Record this attempt in the workspace; return its number (1 for the first)."""
    try:
        attempt = int(read_json(ws / MARKER).get("attempt", 0)) + 1
    except (OSError, ValueError, AttributeError):
        attempt = 1
    write_json(ws / MARKER, {"attempt": attempt, "pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.time(), "finished": None})
    return attempt


def video_env(base, *, threads: int) -> dict[str, str]:
    """The environment of a video's doit: the worker's, with the video's thread share, without
    what Dask set for its own worker processes."""
    env = {**base, "PYTHONUNBUFFERED": "1", **{k: str(threads) for k in THREAD_VARS}}
    # Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed.nanny.pre-spawn-environ)
    # so that long-lived workers hand memory back; inherited by a video's short-lived doit, Whisper and
    # ffmpeg, glibc trims after every large free and the video takes about 30 % longer.
    for name in NANNY_ONLY:
        env.pop(name, None)
    return env


def run_video(job: Job) -> dict:
    from clipforge.media import _die_with_parent

    ws = Path(job.workspace)
    attempt = _start(ws)
    env = video_env(os.environ, threads=job.threads)
    cmd = [sys.executable, "-m", "doit", "--retry", f"input={job.input}", *job.options]
    began = time.monotonic()
    with open(ws / LOG, "a", encoding="utf-8") as log:
        offset = log.tell()
        log.write(f"== attempt {attempt} on {socket.gethostname()} pid {os.getpid()} at {time.ctime()}\n")
        log.flush()
        # Dies with this worker (PR_SET_PDEATHSIG): a killed worker must not leave a run holding the
        # workspace's lock while Dask re-runs the video elsewhere.
        proc = subprocess.Popen(cmd, cwd=ws, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        rc = proc.wait()
    elapsed = time.monotonic() - began
    output = (ws / LOG).read_text(encoding="utf-8", errors="replace")[offset:]
    result = {"rc": rc, "attempt": attempt, "elapsed": elapsed, "code": None, "message": "", "clips": 0,
              "pid": os.getpid()}
    errors = list(ERROR_LINE.finditer(output))
    if rc != 0:
        if errors:
            last = errors[-1]
            result.update(code=last["code"], message=last["message"])
        else:
            tail = [line for line in output.splitlines() if line.strip()][-1:] or [""]
            result.update(code="INTERNAL", message=f"doit exited {rc}: {tail[0][:200]}")
    else:
        try:
            result["clips"] = len(json.loads((ws / "clips" / "manifest.json").read_text())["clips"])
        except (OSError, ValueError, KeyError):
            pass
    marker = read_json(ws / MARKER)
    write_json(ws / MARKER, {**marker, "finished": time.time(), "rc": rc})
    return result
