"""Shared benchmark machinery: rows and the table, medians of interleaved repeats, the ffmpeg hang guard,
the environment header and the JSON report. Group modules (noop, extract, transcribe, memory, shorts)
import from here only; nothing here imports a stage."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample" / "talk.mp4"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------------------------- rows

@dataclass(kw_only=True)
class Row:
    name: str
    ours: float | None
    base: float | None
    unit: str  # "s", "MB", "%", "n" (a count) or "x" (a ratio measured directly, e.g. CPU seconds per clip second)
    goal: float | None  # ratio goal (ours/base <= goal); None: informational
    note: str = ""
    diff_goal: float | None = None  # a goal on ours - base instead (e.g. WER points), when a ratio means nothing
    skipped: str = ""
    group: str = ""
    extra: dict = field(default_factory=dict)  # more figures for the JSON report (cpu, spreads, counts)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.base:
            return None
        return self.ours / self.base

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "SKIP"
        if self.diff_goal is not None and self.ours is not None and self.base is not None:
            return "PASS" if self.ours - self.base <= self.diff_goal else "MISS"
        if self.goal is None or self.ratio is None:
            return "info"
        return "PASS" if self.ratio <= self.goal else "MISS"

    def goal_text(self) -> str:
        if self.diff_goal is not None:
            return f"diff <= {self.diff_goal:+.1f}"
        return f"<= {self.goal:.2f}x" if self.goal is not None else "info"

    def ratio_text(self) -> str:
        if self.diff_goal is not None and self.ours is not None and self.base is not None:
            return f"{self.ours - self.base:+.1f}"
        return f"{self.ratio:.2f}x" if self.ratio is not None else "-"

    def to_json(self) -> dict:
        d = asdict(self)
        d["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        d["verdict"] = self.verdict
        return d


ROWS: list[Row] = []
NOTES: list[str] = []
OUT = sys.stdout  # the real stdout, even while measured code is silenced
_group = ""


def set_group(name: str) -> None:
    global _group
    _group = name


def say(msg: str = "") -> None:
    OUT.write(msg + "\n")
    OUT.flush()


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "x":
        return f"{value:.3f}"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "n":
        return f"{value:g}"
    return f"{value:.3f} s" if value < 10 else f"{value:.2f} s"


def add(row: Row) -> None:
    row.group = row.group or _group
    ROWS.append(row)
    if row.skipped:
        say(f"  -> {row.name}: {row.skipped}")
    else:
        say(f"  -> {row.name}: ours {fmt(row.ours, row.unit)}, baseline {fmt(row.base, row.unit)}, "
            f"ratio {row.ratio_text()} (goal {row.goal_text()}) {row.verdict}")


def table() -> None:
    headers = ("name", "ours", "baseline", "ratio", "goal", "")
    lines = []
    for r in ROWS:
        if r.skipped:
            lines.append((r.name, "-", "-", "-", r.goal_text(), "SKIP"))
            continue
        lines.append((r.name, fmt(r.ours, r.unit), fmt(r.base, r.unit), r.ratio_text(), r.goal_text(), r.verdict))
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


def write_json(path: Path, *, env: dict, args: dict, seconds: float) -> None:
    data = {"environment": env, "args": args, "seconds": round(seconds, 1),
            "rows": [r.to_json() for r in ROWS], "notes": list(NOTES)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
    say(f"results written to {path}")


# --------------------------------------------------------------------------------------------- timing

def median(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(times: list[float]) -> str:
    return f"{min(times):.3f}-{max(times):.3f} s over {len(times)}"


class Sample(NamedTuple):
    wall: float
    cpu: float  # this process (all threads) + waited-for children, user + system


def _cpu_now() -> float:
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


@contextlib.contextmanager
def clock():
    """`with clock() as c: ...` then c.wall / c.cpu (CPU includes children reaped inside the block)."""
    box = type("Clock", (), {})()
    w, c = time.perf_counter(), _cpu_now()
    try:
        yield box
    finally:
        box.wall, box.cpu = time.perf_counter() - w, _cpu_now() - c


def measured(fn):
    """A side for interleaved() that returns Sample(wall, cpu) of one fn() call."""
    def side():
        with clock() as c:
            fn()
        return Sample(c.wall, c.cpu)
    return side


def interleaved(sides: dict, n: int, warmup: bool = True) -> dict[str, list]:
    """Call each side n times, rotating the order every round; one untimed warm-up each.

    A side returns its own timing (seconds, or a Sample); the lists come back per side.
    """
    names = list(sides)
    if warmup:
        for name in names:
            sides[name]()
    times: dict[str, list] = {name: [] for name in names}
    for i in range(n):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            times[name].append(sides[name]())
    return times


def medians(samples: list[Sample]) -> Sample:
    return Sample(median([s.wall for s in samples]), median([s.cpu for s in samples]))


# --------------------------------------------------------------------------------------------- ffmpeg

def ffmpeg() -> str:
    from clipforge.media import ffmpeg_exe

    return ffmpeg_exe()


def ff(*args: str, timeout: float = 600) -> None:
    """Generate an input with clipforge's own runner (not measured); raises FFmpegError on failure."""
    from clipforge.media import run_ffmpeg

    run_ffmpeg(list(args), what="bench input", timeout=timeout)


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
    audio+video with an output-side -t; run_ffmpeg's timeout is minutes long, so without this a hang
    would cost minutes per repeat. A killed run is thrown away and repeated; the count goes into the notes.
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


# --------------------------------------------------------------------------------------------- processes

def project_folder(folder: Path) -> Path:
    """A new project folder as a user has one: this checkout's dodo.py and pyproject.toml."""
    import shutil

    folder.mkdir(parents=True)
    for name in ("dodo.py", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    return folder


def doit_env(*, bench_importable: bool = False) -> dict:
    """The environment for child interpreters: no API keys or clipforge settings.

    `bench_importable` puts the repository on PYTHONPATH (for `python -m bench.X` children only: the
    doit runs keep the user's sys.path, so the no-op row measures what a user gets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CLIPFORGE_"))}
    env["PYTHONUNBUFFERED"] = "1"
    # Bytecode cached as on a user's machine: with PYTHONDONTWRITEBYTECODE set (some shells and CI
    # images set it) every run would recompile clipforge from source, while the bare side's doit
    # has the .pyc files pip wrote at install.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bench_importable:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


# --------------------------------------------------------------------------------------------- environment

def environment() -> dict:
    """Print the header and return the same facts for the JSON report."""
    import doit

    env: dict = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    say("clipforge benchmarks")
    say(f"  cpus: {env['cpus']}  python: {env['python']}  platform: {env['platform']}")
    try:
        line = subprocess.run([ffmpeg(), "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        line = "ffmpeg: not found"
    env["ffmpeg"], env["ffmpeg_path"] = line, ffmpeg()
    say(f"  {line}  ({ffmpeg()})")
    for mod in ("faster_whisper", "moviepy", "cv2", "av"):
        try:
            env[mod] = getattr(__import__(mod), "__version__", "?")
        except ImportError:
            env[mod] = "not installed"
    env["doit"] = ".".join(map(str, doit.__version__)) if isinstance(doit.__version__, tuple) else doit.__version__
    say(f"  faster-whisper {env['faster_whisper']}  doit {env['doit']}  moviepy {env['moviepy']}  "
        f"opencv {env['cv2']}  PyAV {env['av']}")
    try:
        env["loadavg"] = [round(x, 2) for x in os.getloadavg()]
        say(f"  load average at start: {' '.join(f'{x:.2f}' for x in env['loadavg'])}")
    except OSError:
        pass
    return env
