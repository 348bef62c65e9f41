"""segment: the program proposes and ranks spans, a model (if any) names them; boundaries decides the cuts.

segmenter=offline: stages.segment.offline ranks sentence-aligned candidates inside one topic and
titles them with key terms. segmenter=llm: the same shortlist (a few more than `clips`), each
candidate titled and labelled by the model (a dull label vetoes), re-ranked by it with
llm_choose=yes. Writes segments.json.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.fsutil import write_json
from clipforge.redact import redact_url
from clipforge.stages.segment.boundaries import BoundaryOptions, plan_clips
from clipforge.stages.transcribe import load_transcript


@dataclass(frozen=True, kw_only=True)
class SegmentOptions:
    """Built from the run's options by clipforge.config.pick (no defaults of its own)."""

    segmenter: str  # "llm" or "offline" (already resolved from "auto")
    clips: int
    min_len: float
    max_len: float
    padding: float
    llm_model: str
    llm_timeout: float
    llm_retries: int
    llm_choose: str  # "yes": the model re-ranks the shortlist (strong models); "no": the offline order


# Candidates the model labels beyond `clips`: room for its dull vetoes without a request too many.
SHORTLIST_EXTRA = 3


def run(transcript_file: str, segments_out: str, ledger_file: str, *, opts: SegmentOptions) -> None:
    from clipforge.stages.segment.offline import OfflineOptions, shortlist

    transcript = load_transcript(transcript_file)
    offline = OfflineOptions(clips=opts.clips, min_len=opts.min_len, max_len=opts.max_len)
    llm = opts.segmenter == "llm"
    cands = shortlist(transcript, offline, opts.clips + SHORTLIST_EXTRA if llm else opts.clips)
    warnings = [f"clip {c.span.start:.1f}-{c.span.end:.1f}s holds a dull passage ({c.dull}): nothing else fits "
                f"min_len={opts.min_len:g}/max_len={opts.max_len:g}" for c in cands if c.dull]
    usage, model, vetoed = None, None, []
    if llm:
        result = _llm_choice(cands, ledger_file, opts)
        spans, usage, model, vetoed = result.spans, result.usage, opts.llm_model, result.vetoed
        warnings += result.warnings
    else:
        spans = [c.span for c in cands]
    for w in warnings:
        print(f"  segment: WARNING: {w}")
    bounds = BoundaryOptions(min_len=opts.min_len, max_len=opts.max_len, padding=opts.padding)
    plans, dropped = plan_clips(transcript.words(), spans, transcript.duration, opts=bounds)
    for d in dropped:
        print(f"  segment: dropped span {d.span.start:.1f}-{d.span.end:.1f}s: {d.reason}")
    plans = sorted(plans, key=lambda p: -p.score)[: opts.clips]
    plans = _renumber(sorted(plans, key=lambda p: p.start))
    if not plans:
        why = (f"the model labelled every candidate dull ({', '.join(k for _, k in vetoed)})" if vetoed
               else f"no clip of {opts.min_len:g}-{opts.max_len:g} s fits this transcript "
                    f"({transcript.duration:.0f} s of media)")
        raise ClipforgeError(why, code=ErrorCode.NO_CLIPS)
    print(f"  segment: {opts.segmenter} segmenter chose {len(plans)} clip(s)")
    write_json(segments_out, {
        "segmenter": opts.segmenter,
        "llm_model": model,
        "llm_usage": usage,
        "clips": [p.to_dict() for p in plans],
        "vetoed": [{"candidate": cid, "kind": kind} for cid, kind in vetoed],
        "warnings": warnings,
        "dropped": [{"start": d.span.start, "end": d.span.end, "reason": d.reason, "code": d.code} for d in dropped],
    })


def _renumber(plans):
    for i, p in enumerate(plans, 1):
        p.id = f"seg{i:03d}"
    return plans


def _llm_choice(cands, ledger_file: str, opts: SegmentOptions):
    from clipforge.stages.segment.ledger import Ledger
    from clipforge.stages.segment.llm import LLMOptions, choose_spans

    base_url = os.environ.get("OPENAI_BASE_URL") or None
    llm = LLMOptions(model=opts.llm_model, base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY"),
                     choose=opts.llm_choose == "yes", timeout=opts.llm_timeout,
                     retries=opts.llm_retries)
    result = choose_spans(cands, llm, Ledger(ledger_file))
    print(f"  segment: LLM {opts.llm_model} at {redact_url(base_url or 'https://api.openai.com/v1')}: "
          f"{len(cands)} candidate(s), {len(result.vetoed)} vetoed as dull; "
          f"{result.usage.get('requests', 0)} request(s), {result.usage.get('cached', 0)} from the ledger")
    return result


def load_plans(segments_file: str):
    from clipforge.fsutil import read_json
    from clipforge.records import ClipPlan

    return [ClipPlan.from_dict(c) for c in read_json(segments_file)["clips"]]
