"""noop: a no-op `python -m doit` after a finished run vs a bare dodo.py with as many tasks."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.core import NOTES, SAMPLE, HangGuard, Row, add, doit_env, interleaved, median, project_folder, say, spread


def _run_doit(cwd: Path, args: list[str], *, timeout: float, log: Path) -> tuple[int, int]:
    """`python -m doit ARGS` under a HangGuard; returns (exit status, ffmpeg kills). Kills the group on timeout."""
    import os

    with open(log, "ab") as out:
        p = subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=cwd, env=doit_env(), stdout=out,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        with HangGuard(root=p.pid) as guard:
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                rc = p.wait()
    return rc, guard.kills


BARE_DODO = '''"""A bare doit file: {n} tasks, each with one file_dep and one target (baseline for the no-op run)."""
import os
import shutil


def _copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)

'''


def run(tmp: Path, n: int) -> None:
    say("[noop] no-op `python -m doit` after a finished run vs a bare dodo.py with as many tasks")
    proj = project_folder(tmp / "noop" / "proj")
    (proj / "sample").mkdir()
    shutil.copy(SAMPLE, proj / "sample" / SAMPLE.name)
    log = tmp / "noop" / "doit.log"

    t0 = time.perf_counter()
    rc, kills = _run_doit(proj, ["segment"], timeout=600, log=log)
    if rc != 0:
        add(Row(name="no-op doit vs bare doit", ours=None, base=None, unit="s", goal=1.5,
                skipped=f"`doit segment` failed (exit {rc}), see {log}"))
        return
    total_kills = 0
    for attempt in range(6):
        rc, kills = _run_doit(proj, ["--retry"] if attempt else [], timeout=180, log=log)
        total_kills += kills
        if rc == 0:
            break
    if rc != 0 or not (proj / "clips" / "manifest.json").exists():
        add(Row(name="no-op doit vs bare doit", ours=None, base=None, unit="s", goal=1.5,
                skipped=f"the full run did not finish (exit {rc}), see {log}"))
        return
    if total_kills:
        NOTES.append(f"noop setup: ffmpeg hung {total_kills} time(s) while extracting the sample's clips "
                     "(killed after 6 s without CPU progress, then `doit --retry`)")
    say(f"  full run finished in {time.perf_counter() - t0:.1f} s")
    try:
        tasks = len(json.loads((proj / ".doit-db.json").read_text()))
    except (OSError, ValueError):
        tasks = 11
    first = subprocess.run([sys.executable, "-m", "doit"], cwd=proj, env=doit_env(), capture_output=True, text=True)
    if "nothing to do" not in first.stdout + first.stderr:
        NOTES.append("noop: clipforge's no-op run did not say 'nothing to do'")

    bare = tmp / "noop" / "bare"
    (bare / "in").mkdir(parents=True)
    src = BARE_DODO.format(n=tasks)
    for i in range(tasks):
        (bare / "in" / f"{i:02d}.txt").write_text(f"input {i}\n" * 100)
        src += (f"\ndef task_t{i:02d}():\n    return {{'actions': [(_copy, ['in/{i:02d}.txt', 'out/{i:02d}.txt'])], "
                f"'file_dep': ['in/{i:02d}.txt'], 'targets': ['out/{i:02d}.txt']}}\n")
    (bare / "dodo.py").write_text(src)
    r = subprocess.run([sys.executable, "-m", "doit"], cwd=bare, env=doit_env(), capture_output=True, text=True)
    if r.returncode != 0:
        add(Row(name="no-op doit vs bare doit", ours=None, base=None, unit="s", goal=1.5,
                skipped=f"bare doit failed: {r.stderr[-300:]}"))
        return

    def timed(cwd):
        def go():
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "doit"], cwd=cwd, env=doit_env(), capture_output=True)
            dt = time.perf_counter() - t
            if p.returncode != 0:
                raise RuntimeError(f"no-op doit in {cwd} exited {p.returncode}")
            return dt
        return go

    def python_only():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=doit_env(), capture_output=True)
        return time.perf_counter() - t

    times = interleaved({"ours": timed(proj), "bare": timed(bare), "python": python_only}, n)
    add(Row(name=f"no-op doit ({tasks} tasks) vs bare doit", ours=median(times["ours"]), base=median(times["bare"]),
            unit="s", goal=1.5,
            note=f"ours {spread(times['ours'])}, bare {spread(times['bare'])}; "
                 f"`python -c pass` alone takes {median(times['python']):.3f} s",
            extra={"ours_s": times["ours"], "bare_s": times["bare"], "python_s": times["python"], "tasks": tasks}))
