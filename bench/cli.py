"""`python -m bench`: flags, the groups in order, the table and the JSON report."""

from __future__ import annotations

import argparse
import importlib
import shutil
import tempfile
import time
from pathlib import Path

import bench
from bench import core
from bench.core import NOTES, Row, add, guarded, say

GROUPS = ("noop", "extract", "late", "transcribe", "accuracy", "memory", "shorts", "tight", "batch", "segment",
          "edit")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=bench.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller inputs")
    ap.add_argument("--full", action="store_true", help="memory row on dense speech with every chunk (slow)")
    ap.add_argument("--only", choices=GROUPS, action="append", help="run only this group (repeatable)")
    ap.add_argument("--repeats", "-n", type=int, help="repeats per timing (default 5/3, --quick 3/2)")
    ap.add_argument("--json", type=Path, default=Path("bench-results.json"), metavar="PATH",
                    help="write the results here as JSON (default: bench-results.json in the cwd)")
    ap.add_argument("--no-json", action="store_true", help="do not write the JSON report")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    a = ap.parse_args(argv)

    groups = a.only or list(GROUPS)
    env = core.environment()
    tmp = Path(tempfile.mkdtemp(prefix="clipforge-bench-"))
    say(f"  temp folder: {tmp}")
    say()
    start = time.perf_counter()
    small = a.repeats or (2 if a.quick else 3)  # heavy rows
    light = a.repeats or (3 if a.quick else 5)  # cheap rows

    def run(name: str):
        # Each group's module is imported when it runs: one that fails to import is that group's error only.
        mod = importlib.import_module(f"bench.{'extract' if name == 'late' else name}")
        return {
            "noop": lambda: mod.run(tmp, light),
            "extract": lambda: mod.run(tmp, small, a.quick),
            "late": lambda: mod.run_late(tmp, light, a.quick),
            "transcribe": lambda: (mod.run(tmp, small, a.quick), mod.run_held_out(tmp)),
            "accuracy": lambda: mod.run(tmp),
            "memory": lambda: mod.run(tmp, a.quick, a.full),
            "shorts": lambda: mod.run(tmp, small, a.quick),
            "tight": lambda: mod.run(tmp, small, a.quick),
            "batch": lambda: mod.run(tmp, a.quick),
            "segment": lambda: mod.run(tmp, a.quick),
            "edit": lambda: mod.run(tmp, small),
        }[name]()

    try:
        for g in GROUPS:
            if g not in groups:
                continue
            core.set_group(g)
            t = time.perf_counter()
            try:
                run(g)
            except Exception as err:  # one broken group must not hide the others
                add(Row(name=g, ours=None, base=None, unit="s", goal=None,
                        skipped=f"error: {err.__class__.__name__}: {str(err)[:300]}"))
            say(f"  ({g}: {time.perf_counter() - t:.0f} s)")
    finally:
        if guarded.total_kills:
            NOTES.append(f"ffmpeg hung {guarded.total_kills} time(s) during timed runs (killed after 6 s without "
                         "CPU progress; that repeat was discarded and run again)")
        NOTES.append(f"medians of N interleaved repeats (N={small} heavy / {light} light, one untimed warm-up "
                     f"each except transcribe); total {time.perf_counter() - start:.0f} s")
        core.table()
        if not a.no_json:
            core.write_json(a.json, env=env, seconds=time.perf_counter() - start,
                            args={"quick": a.quick, "full": a.full, "only": groups, "repeats": [small, light]})
        if a.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0
