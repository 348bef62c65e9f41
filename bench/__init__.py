"""clipforge benchmarks: side-by-side ratios against bare tools (not a test; goals are printed, not asserted).

    python -m bench                   # default (~10 min on 2 cores)
    python -m bench --quick           # fewer repeats, smaller inputs (~5 min; shorts alone ~2.5 min)
    python -m bench --full            # memory row on dense speech, every chunk (adds minutes)
    python -m bench --only shorts     # one group (repeatable): noop, extract, late, transcribe, memory, shorts,
                                      # batch, segment
    python -m bench --json out.json   # where the results go as JSON (default: bench-results.json in the cwd)

Every input is generated into a temporary folder with ffmpeg (lavfi testsrc2 + sine, the bundled sample's
speech looped, or tests/media's face over a moving background) and every figure comes from real tools.
Each timing is the median of N repeats; ours and the baseline are interleaved so that load from other
processes hits both alike.

ratio = ours / baseline; PASS when ratio <= goal.

Layout: core.py (Row, table, JSON, medians, interleaving, HangGuard, environment), cli.py (flags, group
order), one module per group: noop.py, extract.py (extract + late), transcribe.py (with the held-out talk,
heldout.txt, read by espeak-ng: speed, WER, resume), memory.py, shorts.py, batch.py, segment.py (segment
stage time per real model, dull-passage picks on our own talks, each offline feature's effect).
"""
