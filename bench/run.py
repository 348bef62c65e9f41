#!/usr/bin/env python3
"""Kept for `python3 bench/run.py [flags]`: the benchmarks are the `bench` package now (`python -m bench`)."""

import sys
from pathlib import Path

_here = Path(__file__).resolve().parent
# Run as a script, bench/ itself is sys.path[0]: its modules (extract, transcribe, ...) must not be
# importable as top-level names, and the repository root must be, for `import bench`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
sys.path.insert(0, str(_here.parent))

from bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
