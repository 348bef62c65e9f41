"""LLM segmenter: ask any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp) for clips.

The protocol (stages.segment.llm_protocol): numbered sentences in, sentence ranges out. The transcript
is sent in overlapping windows, one request per window, every request bounded (maxItems and
max_tokens from `clips`; windows shrunk to the server's context when it reports one). Each
reply is schema-checked and its picks checked against the window; a reply with no usable pick
is recorded in the ledger as rejected and the window asked again. Accepted replies are written
to the ledger before use, so a killed or failed run resumes by sending only the windows it has
no accepted reply for.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from clipforge.config import DEFAULTS
from clipforge.errors import ErrorCode, LLMError, LLMReplyError
from clipforge.records import Span, Transcript
from clipforge.redact import MIN_SECRET
from clipforge.stages.segment import llm_protocol as proto
from clipforge.stages.segment.ledger import Ledger, redact_url, request_key

DEFAULT_ENDPOINT = "https://api.openai.com/v1"
# For servers without structured output (older llama.cpp, some proxies): JSON mode, the shape
# spelled out in the prompt, and the same jsonschema check on the reply.
JSON_MODE = {"type": "json_object"}
# Error-body phrases of a prompt too long for the model (llama.cpp, OpenAI, vLLM).
_CONTEXT_OVERFLOW = ("exceeds the available context size", "exceed_context_size", "maximum context length",
                     "context_length_exceeded", "context window")
# Error-body words of a server refusing the response_format (so JSON mode is worth a try).
_FORMAT_REFUSED = ("response_format", "json_schema", "schema", "structured", "grammar")


def response_format(schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "clips", "strict": True, "schema": schema}}


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
class LLMResult:
    spans: list[Span]  # best first, de-duplicated across windows
    # prompt_tokens/completion_tokens/total_tokens: every reply the result rests on, this run's
    # and those reused from the ledger (rejected replies included); run_tokens: this run's only;
    # requests: sent by this run (every attempt); cached: windows served from the ledger.
    usage: dict = field(default_factory=dict)


_FENCE = re.compile(r"^\s*```[\w-]*\s*\n?(.*?)\n?\s*```\s*$", re.S)
# Reasoning models served through Ollama or vLLM may prefix their answer with a thinking block.
_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.S)


def parse_reply(content: str | None, schema: dict) -> dict:
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

    cap = schema["properties"]["clips"].get("maxItems")
    if isinstance(data, dict) and isinstance(data.get("clips"), list) and cap is not None:
        data["clips"] = data["clips"][:cap]  # JSON mode has no grammar to stop at maxItems; best come first

    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "reply"
        raise ValueError(f"schema violation at {where}: {_short(e.message)}") from None
    return data


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def propose_spans(transcript: Transcript, opts: LLMOptions, ledger: Ledger, *, client=None,
                  sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print) -> LLMResult:
    """Ask the LLM for clips, window by window, reusing accepted ledgered replies."""
    if client is None:
        import openai  # heavy: imported only when an LLM is actually used

        # Without an explicit key fall back to the usual variable; local servers need none.
        client = openai.OpenAI(base_url=opts.base_url,
                               api_key=opts.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
                               timeout=opts.timeout, max_retries=0)
    # The client's own base_url also reflects OPENAI_BASE_URL when opts.base_url is unset.
    endpoint = str(getattr(client, "base_url", "") or opts.base_url or DEFAULT_ENDPOINT).rstrip("/")
    secret = opts.api_key or getattr(client, "api_key", None) or ""
    usage = {"requests": 0, "cached": 0, "run_tokens": 0}
    sents = proto.sentences_of(transcript)
    lines = proto.numbered_lines(sents)
    schema = proto.schema(opts.clips)
    window_chars = _fit_context(opts, endpoint, secret=secret, log=log) if lines else opts.window_chars
    windows = proto.split_windows(lines, max(1, window_chars), max(0, min(opts.overlap_chars, window_chars // 4)))
    picks: list[proto.Pick] = []
    keys: list[str] = []
    fmt = [response_format(schema)]  # downgraded once, for every later window, if the server refuses it
    for i, window in enumerate(windows, 1):
        messages = proto.build_messages(lines, window, transcript.duration, clips=opts.clips,
                                        min_len=opts.min_len, max_len=opts.max_len)
        key = request_key(opts.model, messages, schema=schema, temperature=opts.temperature, endpoint=endpoint)
        keys.append(key)
        tag = f"llm: window {i}/{len(windows)} (sentences {window.start + 1}-{window.stop})"

        def check(reply: dict, window=window, tag=tag) -> list[proto.Pick]:
            """The reply's usable picks; ValueError when it has picks and none is usable."""
            kept, dropped = proto.check_reply(reply, window, sents)
            for why in dropped:
                log(f"{tag}: dropped {why}")
            if dropped and not kept:
                raise ValueError("no usable clip: " + "; ".join(dropped))
            return kept

        cached = _cached(ledger.get(key), schema, check)
        if cached is not None:
            usage["cached"] += 1
            log(f"{tag}: reused from ledger")
            picks.extend(cached)
            continue

        def record(reply, used: dict, *, rejected: str | None = None, key=key) -> None:
            ledger.append(key, reply, usage=used, model=opts.model, rejected=rejected)  # durable before use

        reply, kept, used = _ask(client, messages, opts, endpoint=endpoint, secret=secret, sleep=sleep, usage=usage,
                                 fmt=fmt, log=log, schema=schema, check=check, record=record)
        record(reply, used)
        log(f"{tag}: {len(kept)} of {len(reply['clips'])} clips kept, {used['total_tokens']} tokens")
        picks.extend(kept)
    totals = {f: 0 for f in ("prompt_tokens", "completion_tokens", "total_tokens")}
    for key in dict.fromkeys(keys):
        for f, v in ledger.spent(key).items():
            totals[f] += v
    spans = [proto.to_span(p, sents) for p in proto.merge_picks(picks)]
    return LLMResult(spans=spans, usage={**totals, **usage})


def _cached(entry: dict | None, schema: dict, check) -> list[proto.Pick] | None:
    if entry is None:
        return None
    import jsonschema

    try:
        jsonschema.validate(entry["reply"], schema)
        return check(entry["reply"])
    except (jsonschema.ValidationError, ValueError):
        return None  # a hand-edited or stale entry: ask again rather than trust it


def _props_n_ctx(endpoint: str, secret: str, timeout: float) -> int | None:
    """The context size llama.cpp's server reports at /props; None where a server has no such route."""
    import urllib.error
    import urllib.request

    root = re.sub(r"/v1$", "", endpoint)
    req = urllib.request.Request(f"{root}/props", headers={"Authorization": f"Bearer {secret}"} if secret else {})
    try:
        with urllib.request.urlopen(req, timeout=min(5.0, timeout)) as resp:  # noqa: S310 (the configured server)
            data = json.loads(resp.read())
        settings = data.get("default_generation_settings") or {}
        n_ctx = settings.get("n_ctx") or data.get("n_ctx")
        return int(n_ctx) if n_ctx else None
    except (OSError, urllib.error.URLError, ValueError, TypeError, AttributeError):
        return None  # no /props (OpenAI, vLLM, Ollama): skip the check


def _fit_context(opts: LLMOptions, endpoint: str, *, secret: str, log: Callable[[str], None]) -> int:
    """opts.window_chars, shrunk to the server's context where the server reports it (llama.cpp)."""
    if endpoint == DEFAULT_ENDPOINT:
        return opts.window_chars  # OpenAI reports no context size; its models' contexts are large
    n_ctx = _props_n_ctx(endpoint, secret, opts.timeout)
    if n_ctx is None:
        return opts.window_chars
    system = len(proto.SYSTEM_PROMPT) + 200
    fit = proto.context_fit(n_ctx, opts.clips, system)
    if fit < 500:
        raise LLMError(f"the server's context ({n_ctx} tokens at {redact_url(endpoint)}) cannot hold the prompt "
                       f"and {proto.max_tokens(opts.clips)} reply tokens for clips={opts.clips}",
                       code=ErrorCode.LLM_CONTEXT_EXCEEDED)
    if fit < opts.window_chars:
        log(f"llm: the server's context is {n_ctx} tokens: windows of at most {fit} characters "
            f"(llm_window_chars={opts.window_chars})")
        return fit
    return opts.window_chars


def _ask(client, messages: list[dict], opts: LLMOptions, *, endpoint: str, secret: str,
         sleep: Callable[[float], None], usage: dict, fmt: list[dict], log: Callable[[str], None],
         schema: dict, check, record) -> tuple[dict, list[proto.Pick], dict]:
    """One window: send until a reply with usable picks, within opts.retries retries of any kind."""
    import openai

    # Servers may echo the key or the Authorization header in error bodies. redact.scrub knows the
    # key from the environment; a key passed in opts is added here, but only one long enough to be
    # a secret: replacing a 1-letter key everywhere would mangle the message itself.
    extra = [secret] if len(secret) >= MIN_SECRET else []

    def scrub(text: str) -> str:
        from clipforge.redact import scrub as scrub_known

        for s in extra:
            text = text.replace(s, "REDACTED")
        return _short(scrub_known(text, endpoint))

    where = redact_url(endpoint)
    sent = list(messages)
    limit = proto.max_tokens(opts.clips)
    attempt = 0
    while True:
        last = attempt == opts.retries
        usage["requests"] += 1
        try:
            resp = client.chat.completions.create(model=opts.model, messages=sent, temperature=opts.temperature,
                                                  response_format=fmt[0], max_tokens=limit)
        except openai.APIStatusError as e:
            body = _error_text(e)
            if e.status_code in (400, 413, 422) and any(p in body.lower() for p in _CONTEXT_OVERFLOW):
                raise LLMError(f"the prompt does not fit the model's context at {where}: {scrub(body)}",
                               code=ErrorCode.LLM_CONTEXT_EXCEEDED) from None
            if (e.status_code in (400, 422) and fmt[0]["type"] == "json_schema"
                    and any(p in body.lower() for p in _FORMAT_REFUSED)):
                log(f"llm: {where} refused json_schema output ({e.status_code}: {scrub(body)}); using JSON mode")
                fmt[0] = JSON_MODE
                continue  # not the server's fault twice: this does not count as a retry
            if e.status_code not in (408, 429) and e.status_code < 500:  # 408: the server timed out
                raise LLMError(f"server rejected the request: {e.status_code} {scrub(body)} ({where})",
                               hint=_REJECT_HINTS.get(e.status_code)) from None
            error, delay = e, _retry_after(e)
        except (openai.APIConnectionError, openai.APITimeoutError) as e:
            error, delay = e, None
        except openai.APIError as e:  # e.g. a 200 whose body is not a completion at all
            raise LLMReplyError(f"unusable response from {where}: {type(e).__name__}: {scrub(str(e))}") from None
        else:
            used = _usage_of(resp)
            usage["run_tokens"] += used["total_tokens"]
            choice = resp.choices[0] if resp.choices else None
            content = choice.message.content if choice else None
            try:
                if choice is not None and choice.finish_reason == "length":
                    raise ValueError(f"reply cut off at max_tokens={limit}: shorter titles, reasons and quotes")
                reply = parse_reply(content, schema)
                return reply, check(reply), used
            except ValueError as e:
                record(content, used, rejected=_short(str(e), 300))  # never re-used; its tokens still count
                if last:
                    raise LLMReplyError(f"invalid reply from {opts.model} at {where}: {scrub(str(e))}") from None
                # Re-ask with the reason; the ledger key stays that of the original request.
                sent = [*messages, {"role": "user", "content":
                                    f"Your previous reply was invalid ({_short(str(e), 300)}). "
                                    "Reply with only a JSON object that matches the schema, "
                                    "using sentence numbers from the list above."}]
                attempt += 1
                continue
        if last:
            raise LLMError(f"LLM endpoint {where} unreachable after {attempt + 1} attempts "
                           f"(last error: {type(error).__name__})", hint=_transport_hint(error, opts)) from None
        wait = delay if delay is not None else opts.backoff * 2 ** attempt
        sleep(min(wait, opts.backoff_cap))
        attempt += 1


def _error_text(err) -> str:
    """The server's own error message (OpenAI-style {"error": {"message"}} or plain text)."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner)
        return str(inner)
    return str(getattr(err, "message", "") or err)


def _transport_hint(error, opts: LLMOptions) -> str | None:
    import openai

    if isinstance(error, openai.APITimeoutError) or getattr(error, "status_code", None) == 408:
        return (f"the server did not answer within llm_timeout={opts.timeout:g} s: raise llm_timeout=, "
                "use a faster model, or lower clips=; then `doit --retry`")
    return None

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
