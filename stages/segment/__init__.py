"""segment: a segmenter proposes spans; stages.segment.boundaries decides the cuts; write segments.json."""

from __future__ import annotations

import os
from dataclasses import dataclass

from clipforge.errors import ClipforgeError, ErrorCode, LLMReplyError
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
    llm_window_chars: int


def run(transcript_file: str, segments_out: str, ledger_file: str, *, opts: SegmentOptions) -> None:
    transcript = load_transcript(transcript_file)
    usage, model = None, None
    if opts.segmenter == "llm":
        spans, usage, model = _llm_spans(transcript, ledger_file, opts)
    else:
        from clipforge.stages.segment.offline import OfflineOptions, propose_spans

        spans = propose_spans(transcript, OfflineOptions(clips=opts.clips, min_len=opts.min_len, max_len=opts.max_len))
    bounds = BoundaryOptions(min_len=opts.min_len, max_len=opts.max_len, padding=opts.padding)
    plans, dropped = plan_clips(transcript.words(), spans, transcript.duration, opts=bounds)
    invalid = [d for d in dropped if d.code == ErrorCode.LLM_REPLY_INVALID.name]
    for d in dropped:
        print(f"  segment: dropped span {d.span.start:.1f}-{d.span.end:.1f}s: {d.reason}")
    if opts.segmenter == "llm" and spans and len(invalid) == len(spans):
        raise LLMReplyError(f"every span the LLM proposed is impossible (first: {invalid[0].reason})")
    plans = sorted(plans, key=lambda p: -p.score)[: opts.clips]
    plans = _renumber(sorted(plans, key=lambda p: p.start))
    if not plans:
        raise ClipforgeError(
            f"no clip of {opts.min_len:g}-{opts.max_len:g} s fits this transcript "
            f"({transcript.duration:.0f} s of media)", code=ErrorCode.NO_CLIPS)
    print(f"  segment: {opts.segmenter} segmenter chose {len(plans)} clip(s)")
    write_json(segments_out, {
        "segmenter": opts.segmenter,
        "llm_model": model,
        "llm_usage": usage,
        "clips": [p.to_dict() for p in plans],
        "dropped": [{"start": d.span.start, "end": d.span.end, "reason": d.reason, "code": d.code} for d in dropped],
    })


def _renumber(plans):
    for i, p in enumerate(plans, 1):
        p.id = f"seg{i:03d}"
    return plans


def _llm_spans(transcript, ledger_file: str, opts: SegmentOptions):
    from clipforge.stages.segment.ledger import Ledger
    from clipforge.stages.segment.llm import LLMOptions, propose_spans

    base_url = os.environ.get("OPENAI_BASE_URL") or None
    llm = LLMOptions(model=opts.llm_model, base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY"),
                     clips=opts.clips, min_len=opts.min_len, max_len=opts.max_len,
                     window_chars=opts.llm_window_chars, overlap_chars=min(1500, opts.llm_window_chars // 8),
                     timeout=opts.llm_timeout, retries=opts.llm_retries)
    result = propose_spans(transcript, llm, Ledger(ledger_file))
    print(f"  segment: LLM {opts.llm_model} at {redact_url(base_url or 'https://api.openai.com/v1')}: "
          f"{result.usage.get('requests', 0)} request(s), {result.usage.get('cached', 0)} from the ledger")
    return result.spans, result.usage, opts.llm_model


def load_plans(segments_file: str):
    from clipforge.fsutil import read_json
    from clipforge.records import ClipPlan

    return [ClipPlan.from_dict(c) for c in read_json(segments_file)["clips"]]
