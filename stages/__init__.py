"""One module per pipeline stage; each exposes pure functions that dodo.py binds into doit tasks.

Adding a stage (subtitles, VFX, B-roll): write `stages/<name>.py` with a `run_segment(...)`
that reads the previous per-segment stage's file and writes its own, then add it to
`SEGMENT_STAGES` in dodo.py; the render stage always takes the last one's output.
"""
