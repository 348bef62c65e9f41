"""LLM segmenter: a model titles and labels the candidates the program proposes, and may re-rank them.

Any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp). The protocol is in
stages.segment.llm_protocol: one short request per shortlisted candidate ({"title", "kind"},
bounded by an enum and max_tokens), a dull kind vetoes the candidate; with `choose` (llm_choose=yes,
for strong models) RANK_ROUNDS requests rank the survivors by id, each listing them in its own
shuffled order. Every reply is written to the ledger before use, so a killed or failed run
resumes by sending only the requests it has no accepted reply for.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from clipforge.config import DEFAULTS
from clipforge.errors import ErrorCode, LLMError, LLMReplyError
from clipforge.redact import MIN_SECRET
from clipforge.stages.segment import llm_protocol as proto
from clipforge.stages.segment.ledger import Ledger, redact_url, request_key
from clipforge.stages.segment.offline import Shortlisted

DEFAULT_ENDPOINT = "https://api.openai.com/v1"
# For servers without structured output (older llama.cpp, some proxies): JSON mode, the shape
# spelled out in the prompt, and the same jsonschema check on the reply.
JSON_MODE = {"type": "json_object"}
# Error-body phrases of a prompt too long for the model (llama.cpp, OpenAI, vLLM).
_CONTEXT_OVERFLOW = ("exceeds the available context size", "exceed_context_size", "maximum context length",
                     "context_length_exceeded", "context window")
# Error-body words of a server refusing the response_format (so JSON mode is worth a try).
_FORMAT_REFUSED = ("response_format", "json_schema", "schema", "structured", "grammar")
# A re-ask sends the same messages (never our rejection text: small models paste it into the next
# title) with another seed and more temperature, so the model takes another path.
REASK_TEMPERATURE = 0.8


def response_format(schema: dict, name: str) -> dict:
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


@dataclass(kw_only=True)
class LLMOptions:
    model: str = DEFAULTS.llm_model
    base_url: str | None = None
    api_key: str | None = None
    choose: bool = False  # llm_choose=yes: the model re-ranks the shortlist too
    temperature: float = 0.2
    timeout: float = DEFAULTS.llm_timeout
    retries: int = DEFAULTS.llm_retries
    backoff: float = 1.0
    backoff_cap: float = 30.0


@dataclass(kw_only=True)
class LLMResult:
    spans: list  # Span, best first: the candidates no dull label vetoed, titled by the model
    vetoed: list[tuple[str, str]] = field(default_factory=list)  # (candidate id, dull kind)
    warnings: list[str] = field(default_factory=list)
    # prompt_tokens/completion_tokens/total_tokens: every reply the result rests on, this run's
    # and those reused from the ledger (rejected replies included); run_tokens: this run's only;
    # requests: sent by this run (every attempt); cached: requests answered from the ledger.
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

    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "reply"
        raise ValueError(f"schema violation at {where}: {_short(e.message)}") from None
    return data


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(kw_only=True)
class _Session:
    """What every request of one run shares."""

    client: object
    opts: LLMOptions
    ledger: Ledger
    endpoint: str
    secret: str
    sleep: Callable[[float], None]
    log: Callable[[str], None]
    usage: dict
    keys: list[str]
    fmt: list[dict]  # downgraded once, for every later request, if the server refuses json_schema


def choose_spans(cands: list[Shortlisted], opts: LLMOptions, ledger: Ledger, *, client=None,
                 sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] = print) -> LLMResult:
    """Title and label each candidate (best first), drop the dull ones, re-rank if opts.choose."""
    if client is None:
        import openai  # heavy: imported only when an LLM is actually used

        # Without an explicit key fall back to the usual variable; local servers need none.
        client = openai.OpenAI(base_url=opts.base_url,
                               api_key=opts.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
                               timeout=opts.timeout, max_retries=0)
    # The client's own base_url also reflects OPENAI_BASE_URL when opts.base_url is unset.
    endpoint = str(getattr(client, "base_url", "") or opts.base_url or DEFAULT_ENDPOINT).rstrip("/")
    ses = _Session(client=client, opts=opts, ledger=ledger, endpoint=endpoint,
                   secret=opts.api_key or getattr(client, "api_key", None) or "", sleep=sleep, log=log,
                   usage={"requests": 0, "cached": 0, "run_tokens": 0}, keys=[], fmt=[])
    result = LLMResult(spans=[])
    kept, failed = [], []
    for c in cands:
        try:
            title, kind = _label(ses, c)
        except LLMReplyError as e:
            failed.append(e)
            result.warnings.append(f"candidate {c.id}: no usable label ({e.message}); kept with its offline title")
            log(f"llm: WARNING: {result.warnings[-1]}")
            title, kind = c.span.title, ""
        if kind in proto.DULL_KINDS:
            result.vetoed.append((c.id, kind))
            log(f"llm: {c.id} ({c.span.start:.1f}-{c.span.end:.1f}s) labelled {kind!r}: vetoed")
            continue
        reason = f"{kind}: {c.span.reason}" if kind else c.span.reason
        kept.append((c, replace(c.span, title=title, reason=reason)))
    if cands and len(failed) == len(cands):
        raise failed[-1]  # not one usable reply: the model or server cannot do this at all
    if opts.choose and len(kept) > 1:
        order = _rank(ses, kept)
        n = len(order)
        by_id = dict((c.id, span) for c, span in kept)
        result.spans = [replace(by_id[cid], score=round(100 * (n - k) / n)) for k, cid in enumerate(order)]
    else:
        result.spans = [span for _, span in kept]
    totals = {f: 0 for f in ("prompt_tokens", "completion_tokens", "total_tokens")}
    for key in dict.fromkeys(ses.keys):
        for f, v in ledger.spent(key).items():
            totals[f] += v
    result.usage = {**totals, **ses.usage}
    return result


def _label(ses: _Session, c: Shortlisted) -> tuple[str, str]:
    """(title, kind) for one candidate; a title that copies the clip's opening is asked again and,
    past the retries, replaced by the offline title (key terms of the clip)."""
    schema = proto.label_schema()
    tag = f"llm: {c.id} ({c.span.start:.1f}-{c.span.end:.1f}s)"

    def check(reply: dict, last: bool) -> tuple[str, str]:
        title, kind, problem = proto.check_label(reply, c.text)
        if problem and kind not in proto.DULL_KINDS:
            if not last:
                raise ValueError(f"title {title!r}: {problem}")
            ses.log(f"{tag}: title {title!r} {problem}; the offline title {c.span.title!r} instead")
            title = c.span.title
        return title, kind

    title, kind = _request(ses, proto.label_messages(c.text), schema=schema, name="label",
                           max_tokens=proto.LABEL_MAX_TOKENS, check=check, tag=tag)
    ses.log(f"{tag}: {kind}, {title!r}")
    return title, kind


def _rank(ses: _Session, kept: list) -> list[str]:
    """Candidate ids best first: the mean position over RANK_ROUNDS shuffled rank requests."""
    ids = [c.id for c, _ in kept]
    texts = [c.text for c, _ in kept]
    schema = proto.rank_schema(ids)
    total = {cid: 0.0 for cid in ids}
    for r in range(proto.RANK_ROUNDS):
        order = proto.shuffled(ids, texts, r)
        items = [(ids[k], kept[k][1].title, texts[k]) for k in order]
        got = _request(ses, proto.rank_messages(items), schema=schema, name="rank",
                       max_tokens=proto.rank_max_tokens(len(ids)),
                       check=lambda reply, last: proto.check_rank(reply, ids), tag=f"llm: rank {r + 1}")
        ses.log(f"llm: rank {r + 1}/{proto.RANK_ROUNDS}: {' > '.join(got)}")
        for pos, cid in enumerate(got):
            total[cid] += pos
    return sorted(ids, key=lambda cid: (total[cid], ids.index(cid)))


def _request(ses: _Session, messages: list[dict], *, schema: dict, name: str, max_tokens: int, check, tag: str):
    """One request through the ledger: a recorded accepted reply is reused, never paid again."""
    opts = ses.opts
    key = request_key(opts.model, messages, schema=schema, temperature=opts.temperature, endpoint=ses.endpoint)
    ses.keys.append(key)
    entry = ses.ledger.get(key)
    if entry is not None:
        try:
            value = check(parse_reply(json.dumps(entry["reply"]), schema), True)
            ses.usage["cached"] += 1
            ses.log(f"{tag}: reused from the ledger")
            return value
        except (ValueError, TypeError):
            pass  # a hand-edited or stale entry: ask again rather than trust it
    if not ses.fmt:
        ses.fmt.append(response_format(schema, name))
    elif ses.fmt[0]["type"] == "json_schema":
        ses.fmt[0] = response_format(schema, name)

    def record(reply, used: dict, *, rejected: str | None = None, attempt: int = 0) -> None:
        # durable before use; `attempt` (the re-ask number) tells the requests of one key apart
        ses.ledger.append(key, reply, usage=used, model=opts.model, rejected=rejected, attempt=attempt)

    # Re-asks already recorded (a run killed mid-way) are not sent again: the next one is.
    done = min(ses.ledger.rejected(key), opts.retries)
    reply, value, used, attempt = _ask(ses, messages, schema=schema, max_tokens=max_tokens, check=check,
                                       record=record, done=done)
    record(reply, used, attempt=attempt)
    return value


def _ask(ses: _Session, messages: list[dict], *, schema: dict, max_tokens: int, check, record, done: int = 0):
    """Send until a usable reply, within opts.retries retries of any kind; `done` re-asks are already spent."""
    import openai

    opts, endpoint, usage, fmt = ses.opts, ses.endpoint, ses.usage, ses.fmt
    # Servers may echo the key or the Authorization header in error bodies. redact.scrub knows the
    # key from the environment; a key passed in opts is added here, but only one long enough to be
    # a secret: replacing a 1-letter key everywhere would mangle the message itself.
    extra = [ses.secret] if len(ses.secret) >= MIN_SECRET else []

    def scrub(text: str) -> str:
        from clipforge.redact import scrub as scrub_known

        for s in extra:
            text = text.replace(s, "REDACTED")
        return _short(scrub_known(text, endpoint))

    where = redact_url(endpoint)
    attempt = reasks = done
    while True:
        last = attempt == opts.retries
        usage["requests"] += 1
        more = {"seed": reasks, "temperature": REASK_TEMPERATURE} if reasks else {"temperature": opts.temperature}
        try:
            resp = ses.client.chat.completions.create(model=opts.model, messages=messages, response_format=fmt[0],
                                                      max_tokens=max_tokens, **more)
        except openai.APIStatusError as e:
            body = _error_text(e)
            if e.status_code in (400, 413, 422) and any(p in body.lower() for p in _CONTEXT_OVERFLOW):
                raise LLMError(f"the prompt does not fit the model's context at {where}: {scrub(body)}",
                               code=ErrorCode.LLM_CONTEXT_EXCEEDED) from None
            if (e.status_code in (400, 422) and fmt[0]["type"] == "json_schema"
                    and any(p in body.lower() for p in _FORMAT_REFUSED)):
                ses.log(f"llm: {where} refused json_schema output ({e.status_code}: {scrub(body)}); using JSON mode")
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
                    raise ValueError(f"reply cut off at max_tokens={max_tokens}")
                reply = parse_reply(content, schema)
                return reply, check(reply, last), used, reasks
            except ValueError as e:
                # never re-used; its tokens still count
                record(content, used, rejected=_short(str(e), 300), attempt=reasks)
                if last:
                    raise LLMReplyError(f"invalid reply from {opts.model} at {where}: {scrub(str(e))}") from None
                attempt += 1
                reasks += 1
                continue
        if last:
            raise LLMError(f"LLM endpoint {where} unreachable after {attempt + 1} attempts "
                           f"(last error: {type(error).__name__})", hint=_transport_hint(error, opts)) from None
        wait = delay if delay is not None else opts.backoff * 2 ** attempt
        ses.sleep(min(wait, opts.backoff_cap))
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
