"""batch: `doit batch` throughput on 1 vs 2 single-threaded Dask workers, and its per-video overhead.

Four short videos (100-s spans of the sample talk). The overhead row compares a 1-worker batch with
plain `doit input=...` runs of the same videos, one after another, with the same thread settings
the batch gives each video (one thread), so only the batch's own work (Dask, workspaces, the
record) is measured. The per-minute cost it prints is what the README's catalogue estimate uses.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.core import SAMPLE, Row, add, doit_env, ff, project_folder, say
from clipforge.batchrun import THREAD_VARS

OPTS = ["clips=1", "min_len=5", "max_len=15", "height=320", "segmenter=offline"]
# Four short talks (overlapping spans of the sample): long enough that the cluster's ~1 s of start-up
# and shut-down is not most of what a worker does.
SPANS = [(0.0, 100.0), (3.0, 100.0), (6.0, 100.0), (9.0, 100.0)]


def _doit(cwd: Path, *args: str, threads: int | None = None, timeout: float = 900) -> float:
    env = doit_env()
    if threads:
        env.update({k: str(threads) for k in THREAD_VARS})
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "doit", *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"doit {' '.join(args)} failed in {cwd}: {(r.stdout + r.stderr)[-400:]}")
    return time.perf_counter() - t0


def run(tmp: Path, quick: bool) -> None:
    say(f"[batch] `doit batch` of {len(SPANS)} videos ({SPANS[0][1]:g} s each): 2 workers vs 1, and 1 worker vs "
        "plain runs, one thread per video throughout")
    media = tmp / "batch-media"
    media.mkdir(parents=True)
    videos = []
    for i, (start, length) in enumerate(SPANS):
        out = media / f"talk{i}.mp4"
        ff("-ss", str(start), "-t", str(length), "-i", str(SAMPLE), "-c:v", "libx264", "-preset", "ultrafast",
           "-c:a", "aac", str(out))
        videos.append(out)
    listing = "\n".join(str(v) for v in videos) + "\n"

    times = {}
    for workers in (1, 2):
        proj = project_folder(tmp / f"batch-{workers}")
        (proj / "videos.txt").write_text(listing)
        # One thread per video on both sides: the row measures Dask spreading videos, not threads.
        times[workers] = _doit(proj, "batch", "list=videos.txt", f"workers={workers}", "threads=1", *OPTS)
    plain = 0.0
    for v in videos:
        proj = project_folder(tmp / f"plain-{v.stem}")
        plain += _doit(proj, f"input={v}", *OPTS, threads=1)
    minutes = sum(length for _, length in SPANS) / 60

    add(Row(name="batch 4 videos: 2 workers vs 1 (throughput, goal >= 1.6x)", ours=times[2], base=times[1], unit="s",
            goal=1 / 1.6,
            note=f"1 worker {times[1]:.1f} s, 2 workers {times[2]:.1f} s: {times[1] / times[2]:.2f}x throughput"))
    add(Row(name="batch overhead per video: 1-worker batch vs plain runs", ours=times[1], base=plain, unit="s",
            goal=1.1, note=f"plain doit runs, one thread each, {plain:.1f} s in all"))
    per_minute = plain / minutes
    say(f"  cost: {per_minute:.1f} s of one CPU core per minute of input (tiny.en, 320 px output, this machine)")
    add(Row(name="cost per input minute, one core (s)", ours=per_minute, base=None, unit="s", goal=None,
            note="1,000 hours = 60,000 min: at this rate N one-core workers take 60,000 x cost / N seconds"))
