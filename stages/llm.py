"""LLM segmenter: ask any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp) for clips.

The transcript is sent in overlapping windows, one request per window; each reply is
validated against SCHEMA and written to the ledger before use, so a killed or failed
run resumes by sending only the windows it has no reply for.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from clipforge.config import DEFAULTS
from clipforge.errors import LLMError, LLMReplyError
from clipforge.records import Span, Transcript
from clipforge.stages.ledger import Ledger, redact_url, request_key

DEFAULT_ENDPOINT = "https://api.openai.com/v1"

_CLIP = {
    "type": "object",
    "properties": {
        "start": {"type": "number", "description": "clip start, seconds from the start of the video"},
        "end": {"type": "number", "description": "clip end, seconds from the start of the video"},
        "title": {"type": "string", "description": "short catchy title"},
        "reason": {"type": "string", "description": "one line: why this moment works on its own"},
        "score": {"type": "integer", "description": "0-100, how engaging the clip is alone"},
        "quote": {"type": "string", "description": "the clip's first few words, verbatim"},
    },
    "required": ["start", "end", "title", "reason", "score", "quote"],
    "additionalProperties": False,
}
# Strict-mode rules: every property required, no extra properties. The 0-100 bound on
# score lives in the description and is clamped on our side, because minimum/maximum
# are not honoured by every server's grammar engine and a re-ask is dearer than a clamp.
SCHEMA = {
    "type": "object",
    "properties": {"clips": {"type": "array", "items": _CLIP}},
    "required": ["clips"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "clips", "strict": True, "schema": SCHEMA}}
# For servers without structured output (older llama.cpp, some proxies): JSON mode, the shape
# spelled out in the prompt, and the same jsonschema check on the reply.
JSON_MODE = {"type": "json_object"}

SYSTEM_PROMPT = """\
You pick short clips from a long video, using its transcript.
Choose self-contained, engaging moments that make sense without the rest of the video: \
a complete thought, story, joke, insight or answer, with a clear start and end.
Each clip must last {length_rule} seconds.
Use only times that appear in the transcript lines, which look like "[start-end] text" in seconds.
For each clip give: start and end (seconds), a short title, a one-line reason, \
a score from 0 to 100 (how engaging it is on its own), and quote: the clip's first few words, verbatim.
Return up to {clips} clips for this part of the transcript, best first; fewer if few moments qualify.
Reply with JSON only, shaped like \
{{"clips": [{{"start": 12.3, "end": 45.6, "title": "...", "reason": "...", "score": 80, "quote": "..."}}]}}."""


@dataclass
class LLMOptions:
    model: str = DEFAULTS.llm_model
    base_url: str | None = None
    api_key: str | None = None
    clips: int = DEFAULTS.clips
    min_len: float = DEFAULTS.min_len
    max_len: float = DEFAULTS.max_len
    window_chars: int = DEFAULTS.llm_window_chars  # transcript characters per request
    overlap_chars: int = 1500
    temperature: float = 0.2
    timeout: float = DEFAULTS.llm_timeout
    retries: int = DEFAULTS.llm_retries
    backoff: float = 1.0
    backoff_cap: float = 30.0


@dataclass
class LLMResult:
    spans: list[Span]
    # prompt_tokens/completion_tokens/total_tokens spent by this call, requests sent
    # (every attempt), cached (windows served from the ledger).
    usage: dict = field(default_factory=dict)


def transcript_lines(transcript: Transcript) -> list[str]:
    return [f"[{s.start:.2f}-{s.end:.2f}] {' '.join(s.text.split())}"
            for s in transcript.segments if s.text.strip()]


def split_windows(lines: list[str], window_chars: int, overlap_chars: int) -> list[list[str]]:
    """Consecutive lines of about window_chars each; neighbours share about overlap_chars."""
    windows, start, n = [], 0, len(lines)
    while start < n:
        end, size = start, 0
        while end < n and (end == start or size + len(lines[end]) + 1 <= window_chars):
            size += len(lines[end]) + 1
            end += 1
        windows.append(lines[start:end])
        if end >= n:
            break
        nxt, back = end, 0  # step back so a moment cut by the edge is whole in the next window
        while nxt - 1 > start and back + len(lines[nxt - 1]) + 1 <= overlap_chars:
            nxt -= 1
            back += len(lines[nxt]) + 1
        start = nxt
    return windows


def build_messages(window: list[str], transcript: Transcript, opts: LLMOptions) -> list[dict]:
    rule = (f"at least {opts.min_len:g}" if opts.max_len == float("inf")  # max_len=inf: no maximum
            else f"between {opts.min_len:g} and {opts.max_len:g}")
    system = SYSTEM_PROMPT.format(length_rule=rule, clips=opts.clips)
    user = f"Video duration: {transcript.duration:.2f} seconds.\nTranscript:\n" + "\n".join(window)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


_FENCE = re.compile(r"^\s*```[\w-]*\s*\n?(.*?)\n?\s*```\s*$", re.S)
# Reasoning models served through Ollama or vLLM may prefix their answer with a thinking block.
_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.S)


def parse_reply(content: str | None) -> dict:
    """JSON-decode and schema-check one reply; raise ValueError with a short reason."""
    if not content:
        raise ValueError("empty reply")
    content = _THINK.sub("", content)
    m = _FENCE.match(content)  # weaker servers wrap JSON in ```json fences
    text = m.group(1) if m else content
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg} at char {e.pos}): {_short(content)}") from None
    import jsonschema  # ~60 ms; only paid when an LLM is used

    try:
        jsonschema.validate(data, SCHEMA)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "reply"
        raise ValueError(f"schema violation at {where}: {_short(e.message)}") from None
    return data


def to_spans(reply: dict) -> list[Span]:
    return [Span(start=float(c["start"]), end=float(c["end"]), title=" ".join(c["title"].split()),
                 reason=" ".join(c["reason"].split()), score=max(0, min(100, int(round(c["score"])))),
                 quote=c["quote"].strip())
            for c in reply["clips"]]


def merge_spans(spans: list[Span]) -> list[Span]:
    """Drop spans overlapping a better one by more than half the shorter; sort by start.

    Everything else is kept (not cut to `clips`): boundaries validates spans against the
    media and rejects some, so ranking and trimming to the final count happen after it.
    """
    kept: list[Span] = []
    for s in sorted(spans, key=lambda s: (-s.score, s.start)):
        if not any(_dup(s, k) for k in kept):
            kept.append(s)
    return sorted(kept, key=lambda s: (s.start, s.end))


def _dup(a: Span, b: Span) -> bool:
    overlap = min(a.end, b.end) - max(a.start, b.start)
    shorter = max(0.0, min(a.end - a.start, b.end - b.start))
    return overlap > 0 and overlap > shorter / 2


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def propose_spans(transcript: Transcript, opts: LLMOptions, ledger: Ledger, client=None,
                  sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print) -> LLMResult:
    """Ask the LLM for clip spans, window by window, reusing ledgered replies."""
    if client is None:
        import openai  # heavy: imported only when an LLM is actually used

        # Without an explicit key fall back to the usual variable; local servers need none.
        client = openai.OpenAI(base_url=opts.base_url,
                               api_key=opts.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
                               timeout=opts.timeout, max_retries=0)
    # The client's own base_url also reflects OPENAI_BASE_URL when opts.base_url is unset.
    endpoint = str(getattr(client, "base_url", "") or opts.base_url or DEFAULT_ENDPOINT).rstrip("/")
    secret = opts.api_key or getattr(client, "api_key", None) or ""
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "requests": 0, "cached": 0}
    windows = split_windows(transcript_lines(transcript), max(1, opts.window_chars), max(0, opts.overlap_chars))
    spans: list[Span] = []
    fmt = [RESPONSE_FORMAT]  # downgraded once, for every later window, if the server refuses it
    for i, window in enumerate(windows, 1):
        messages = build_messages(window, transcript, opts)
        key = request_key(opts.model, messages, SCHEMA, opts.temperature, endpoint)
        entry = ledger.get(key)
        reply = _cached_reply(entry)
        if reply is not None:
            usage["cached"] += 1
            log(f"llm: window {i}/{len(windows)}: reused from ledger")
        else:
            reply, used = _ask(client, messages, opts, endpoint, secret, sleep, usage, fmt, log)
            ledger.append(key, reply, used, opts.model)  # durable before the reply is used
            log(f"llm: window {i}/{len(windows)}: {len(reply['clips'])} clips, {used['total_tokens']} tokens")
        spans.extend(to_spans(reply))
    return LLMResult(spans=merge_spans(spans), usage=usage)


def _cached_reply(entry: dict | None) -> dict | None:
    if entry is None:
        return None
    import jsonschema

    try:
        jsonschema.validate(entry["reply"], SCHEMA)
    except jsonschema.ValidationError:
        return None  # a hand-edited or stale entry: ask again rather than trust it
    return entry["reply"]


def _ask(client, messages: list[dict], opts: LLMOptions, endpoint: str, secret: str,
         sleep: Callable[[float], None], usage: dict, fmt: list[dict], log: Callable[[str], None]
         ) -> tuple[dict, dict]:
    """One window: send until a valid reply, within opts.retries retries of any kind."""
    import openai

    def scrub(text: str) -> str:  # servers may echo the key or the Authorization header in error bodies
        from clipforge.redact import scrub as scrub_known

        return _short(scrub_known(text.replace(secret, "***") if secret else text, endpoint))

    where = redact_url(endpoint)
    sent = list(messages)
    attempt = 0
    while True:
        last = attempt == opts.retries
        usage["requests"] += 1
        try:
            resp = client.chat.completions.create(model=opts.model, messages=sent, temperature=opts.temperature,
                                                  response_format=fmt[0])
        except openai.APIStatusError as e:
            if e.status_code in (400, 422) and fmt[0] is RESPONSE_FORMAT:
                log(f"llm: {where} refused json_schema output ({e.status_code}); using JSON mode")
                fmt[0] = JSON_MODE
                continue  # not the server's fault twice: this does not count as a retry
            if e.status_code not in (408, 429) and e.status_code < 500:  # 408: the server timed out
                raise LLMError(f"server rejected the request: {e.status_code} {scrub(e.message)} ({where})",
                               hint=_REJECT_HINTS.get(e.status_code)) from None
            error, delay = e, _retry_after(e)
        except (openai.APIConnectionError, openai.APITimeoutError) as e:
            error, delay = e, None
        except openai.APIError as e:  # e.g. a 200 whose body is not a completion at all
            raise LLMReplyError(f"unusable response from {where}: {type(e).__name__}: {scrub(str(e))}") from None
        else:
            used = _usage_of(resp)
            for f in ("prompt_tokens", "completion_tokens", "total_tokens"):
                usage[f] += used[f]
            choice = resp.choices[0] if resp.choices else None
            try:
                if choice is not None and choice.finish_reason == "length":
                    raise ValueError("reply cut off by the token limit")
                return parse_reply(choice.message.content if choice else None), used
            except ValueError as e:
                if last:
                    raise LLMReplyError(f"invalid reply from {opts.model} at {where}: {scrub(str(e))}") from None
                # Re-ask with the reason; the ledger key stays that of the original request.
                sent = [*messages, {"role": "user", "content":
                                    f"Your previous reply was invalid ({_short(str(e), 120)}). "
                                    "Reply with only a JSON object that matches the schema."}]
                attempt += 1
                continue
        if last:
            raise LLMError(f"LLM endpoint {where} unreachable after {attempt + 1} attempts "
                           f"(last error: {type(error).__name__})") from None
        wait = delay if delay is not None else opts.backoff * 2 ** attempt
        sleep(min(wait, opts.backoff_cap))
        attempt += 1


_REJECT_HINTS = {
    401: "check OPENAI_API_KEY (or api_key) for this server",
    403: "check that this API key may use this model",
    404: "check llm_model= and OPENAI_BASE_URL (the server has no such model or route)",
}


def _retry_after(err) -> float | None:
    """Seconds from Retry-After (or retry-after-ms); None if absent or an HTTP date."""
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if headers.get("retry-after") is not None:
            return max(0.0, float(headers["retry-after"]))
    except (TypeError, ValueError):
        pass
    return None


def _usage_of(resp) -> dict:
    u = getattr(resp, "usage", None)
    return {f: int(getattr(u, f, 0) or 0) for f in ("prompt_tokens", "completion_tokens", "total_tokens")}
