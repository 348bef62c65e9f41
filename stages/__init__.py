"""One module per pipeline stage (installed as clipforge.stages); clipforge.stagelist lists them in order.

Adding a per-clip stage: write `stages/<name>.py` with `run(job: ClipJob)` that writes each
of `job.outputs` atomically, then add one Stage record to clipforge.stagelist.STAGES.
The segmenter's modules (segment, llm, ledger, offline, boundaries, boundary_words)
together make the `segment` stage.
"""
