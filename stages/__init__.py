"""One module per pipeline stage (installed as clipforge.stages); clipforge.stagelist lists them in order.

Adding a per-clip stage: write `stages/<name>.py` with `run(job: ClipJob)` that writes each
of `job.outputs` atomically, then add one Stage record to clipforge.stagelist.STAGES.
The `segment` stage is a package of its own, stages/segment/: the stage itself in its __init__,
and its helper modules (llm, llm_protocol, ledger, offline, boundaries, boundary_words).
"""
