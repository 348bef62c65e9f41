"""memory: peak RSS of the transcribe stage for 60 vs 10 minutes of input, each in a fresh interpreter.

The child is `python -m bench.memory SRC WORK MODE` (run from here; not a user command)."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.core import SAMPLE, Row, add, doit_env, ff, say
from bench.transcribe import loop_audio, ours_transcribe


def sprinkled_audio(d: Path, minutes: int) -> Path:
    """`minutes` of silence with 20 s of the sample's speech at the start of every 5 minutes."""
    block = d / "block5.m4a"
    if not block.exists():
        ff("-i", str(SAMPLE), "-f", "lavfi", "-t", "280", "-i", "anullsrc=r=44100:cl=mono", "-filter_complex",
           "[0:a:0]atrim=0:20,asetpts=PTS-STARTPTS,aformat=sample_rates=44100:channel_layouts=mono[s];"
           "[s][1:a]concat=n=2:v=0:a=1[a]", "-map", "[a]", "-c:a", "aac", "-b:a", "64k", str(block))
    out = d / f"sprinkled{minutes}m.m4a"
    lst = d / f"sprinkled{minutes}m.txt"
    lst.write_text("".join(f"file '{block.name}'\n" for _ in range(minutes // 5)))
    ff("-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", str(out))
    return out


def _mem_run(src: Path, work: Path, *, first_only: bool, timeout: float) -> dict:
    """The stage in a fresh interpreter; peak RSS from wait4 (the child and its ffmpeg, like time -v)."""
    work.mkdir(parents=True, exist_ok=True)
    result = work / "result.json"
    cmd = [sys.executable, "-m", "bench.memory", str(src), str(work), "first" if first_only else "all"]
    with open(work / "log.txt", "wb") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env=doit_env(bench_importable=True))
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(p.pid, 0)
            raise RuntimeError(f"memory child timed out after {timeout:.0f} s")
        time.sleep(0.2)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0 or not result.exists():
        tail = (work / "log.txt").read_text(errors="replace")[-400:]
        raise RuntimeError(f"memory child exited {p.returncode}: {tail}")
    data = json.loads(result.read_text())
    data["maxrss_tree_mb"] = usage.ru_maxrss / 1024
    return data


def child(src: str, work: str, mode: str) -> int:
    from clipforge.stages import transcribe

    t = time.perf_counter()
    data = ours_transcribe(Path(src), Path(work) / "run", chunk_minutes=10, opts=transcribe.ModelOptions(),
                           first_only=mode == "first")
    data["seconds"] = time.perf_counter() - t
    data["maxrss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (Path(work) / "result.json").write_text(json.dumps(data))
    return 0


def run(tmp: Path, quick: bool, full: bool) -> None:
    d = tmp / "memory"
    d.mkdir()
    if full:
        what = "dense speech (the sample looped), every chunk transcribed and merged"
        inputs = {m: loop_audio(d, f"dense{m}m", m * 60) for m in (10, 60)}
        first_only, timeout = False, 1800
    else:
        what = "mostly silence (20 s of speech every 5 min), " + (
            "VAD chunk planning over all of it + only the first 10-min chunk transcribed" if quick
            else "every chunk transcribed (VAD skips the silence) and merged")
        inputs = {m: sprinkled_audio(d, m) for m in (10, 60)}
        first_only, timeout = quick, 900
    say(f"[memory] peak RSS of the transcribe stage (extract_wav + plan_chunks + transcribe_chunk + merge, "
        f"chunk_minutes=10, model load included) for 60 vs 10 minutes of {what}")
    res = {}
    for m in (10, 60):
        res[m] = _mem_run(inputs[m], d / f"run{m}", first_only=first_only, timeout=timeout)
        say(f"  {m} min: {res[m]['maxrss_tree_mb']:.0f} MB peak (python alone {res[m]['maxrss_self_mb']:.0f} MB), "
            f"{res[m]['chunks']} chunk(s) planned, {res[m]['transcribed']} transcribed, {res[m]['words']} words, "
            f"{res[m]['seconds']:.1f} s")
    mode = "full: dense speech" if full else ("quick: plan all + 1st chunk" if quick else "sprinkled speech")
    add(Row(name=f"peak RSS 60 vs 10 min ({mode})", ours=res[60]["maxrss_tree_mb"], base=res[10]["maxrss_tree_mb"],
            unit="MB", goal=1.3,
            note=f"one fresh process each, ru_maxrss from wait4 (python + its ffmpeg children); input: {what}",
            extra={"runs": {str(k): v for k, v in res.items()}}))


if __name__ == "__main__":
    sys.exit(child(*sys.argv[1:4]))
