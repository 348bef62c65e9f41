"""The LLM segmenter against a real openai client and a loopback server (no mocks)."""

from __future__ import annotations

import time

import pytest

from clipforge.errors import ErrorCode, LLMError, LLMReplyError
from clipforge.records import Transcript, TranscriptSegment, Word
from clipforge.stages.segment.ledger import Ledger
from clipforge.stages.segment.llm import LLMOptions, propose_spans
from clipforge.stages.segment.llm_protocol import numbered_lines, sentences_of, split_windows
from tests.llm_server import LLMServer, llm_server  # noqa: F401  (fixture)

KEY = "sk-test-SUPERSECRET-0123456789"
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november".split()


def make_transcript(segments: int, seg_len: float = 5.0) -> Transcript:
    """One sentence per segment, timed word by word (the LLM protocol numbers sentences)."""
    segs = []
    for i in range(segments):
        texts = [f"line{i}", *(WORDS[(i + j) % len(WORDS)] for j in range(8))]
        texts[-1] += "."
        step = (seg_len - 0.2) / len(texts)
        words = [Word(text=f" {t}", start=i * seg_len + k * step, end=i * seg_len + (k + 1) * step - 0.02)
                 for k, t in enumerate(texts)]
        segs.append(TranscriptSegment(start=i * seg_len, end=(i + 1) * seg_len - 0.2, text=" ".join(texts),
                                      words=words))
    return Transcript(language="en", duration=segments * seg_len, segments=segs)


def lines_of(tr: Transcript) -> list[str]:
    return numbered_lines(sentences_of(tr))


def opts_for(srv: LLMServer, **kw) -> LLMOptions:
    base = dict(model="test-model", base_url=srv.url, api_key=KEY, timeout=5.0, retries=2, backoff=0.01)
    return LLMOptions(**{**base, **kw})


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run(transcript, opts, ledger, **kw):
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("log", lambda _msg: None)
    return propose_spans(transcript, opts, ledger, **kw)


def no_heavy_overlap(spans):
    for i, a in enumerate(spans):
        for b in spans[i + 1:]:
            overlap = min(a.end, b.end) - max(a.start, b.start)
            assert overlap <= min(a.end - a.start, b.end - b.start) / 2, (a, b)


def test_structured_reply_becomes_spans(llm_server, tmp_path):
    tr = make_transcript(24)  # 2 minutes: one window
    result = run(tr, opts_for(llm_server), Ledger(tmp_path / "l.jsonl"))
    assert len(llm_server.requests) == 1
    body = llm_server.requests[0]
    assert body["model"] == "test-model" and body["temperature"] == 0.2
    rf = body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    clips = rf["json_schema"]["schema"]["properties"]["clips"]
    clip_schema = clips["items"]
    assert clip_schema["additionalProperties"] is False
    assert set(clip_schema["required"]) == {"first_sentence", "last_sentence", "title", "reason", "score", "quote"}
    user = body["messages"][-1]["content"]
    assert "1: [0.0-4.8] line0 alpha" in user and "120.0" in user  # numbered sentences and duration
    assert "15" in body["messages"][0]["content"] and "60" in body["messages"][0]["content"]
    assert llm_server.auth[0] == f"Bearer {KEY}"
    spans = result.spans
    assert sorted(s.start for s in spans) == [0.0, 30.0, 60.0, 90.0]
    spans = sorted(spans, key=lambda s: s.start)
    assert all(20 <= s.end - s.start <= 40 for s in spans)
    assert spans[0].quote == "line0 alpha bravo charlie delta" and spans[0].title and spans[0].reason
    assert all(0 <= s.score <= 100 for s in spans)
    u = result.usage
    assert u["requests"] == 1 and u["cached"] == 0 and u["total_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


def test_long_transcript_is_windowed_with_overlap_and_merged(llm_server, tmp_path):
    tr = make_transcript(200)  # 1000 s, ~14k characters of lines
    opts = opts_for(llm_server, window_chars=3000, overlap_chars=600, clips=10)  # every grid clip fits maxItems
    result = run(tr, opts, Ledger(tmp_path / "l.jsonl"))
    lines = lines_of(tr)
    windows = [[lines[k] for k in w] for w in split_windows(lines, 3000, 600)]
    assert len(windows) >= 4 and len(llm_server.requests) == len(windows)
    sent = [set(b["messages"][-1]["content"].splitlines()[1:]) for b in llm_server.requests]
    assert set().union(*sent) == set(lines)  # every line was seen
    for a, b in zip(sent, sent[1:]):
        shared = a & b
        assert shared and 300 <= sum(len(s) + 1 for s in shared) <= 600  # about overlap_chars
    assert all(sum(len(s) + 1 for s in w) <= 3000 for w in sent)
    spans = result.spans
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)  # ranked over the talk
    spans = sorted(spans, key=lambda s: s.start)
    no_heavy_overlap(spans)
    assert [s.start for s in spans] == [30.0 * k for k in range(len(spans))]  # grid clips, each once
    assert spans[-1].end > 950 and result.usage["requests"] == len(windows)


def test_merge_keeps_higher_score_and_ranks_across_windows():
    from clipforge.stages.segment.llm_protocol import Pick, merge_picks

    def pick(a, b, score):
        return Pick(first=a, last=b, title="t", reason="r", score=score, quote="q")

    picks = [pick(0, 5, 50), pick(1, 6, 80), pick(5, 11, 10), pick(20, 22, 1), pick(30, 33, 90)]
    assert [(p.first, p.score) for p in merge_picks(picks)] == [(30, 90), (1, 80), (5, 10), (20, 1)]


def test_ledger_reuse_sends_nothing(llm_server, tmp_path):
    tr, path = make_transcript(100), tmp_path / "l.jsonl"
    opts = opts_for(llm_server, window_chars=2500, overlap_chars=400)
    first = run(tr, opts, Ledger(path))
    n = len(llm_server.requests)
    assert n >= 2
    second = run(tr, opts, Ledger(path))
    assert len(llm_server.requests) == n  # nothing sent twice
    assert second.spans == first.spans
    assert second.usage["requests"] == 0 and second.usage["cached"] == n and second.usage["run_tokens"] == 0
    # Issue item 5: the replies reused from the ledger still count in the totals.
    assert second.usage["total_tokens"] == first.usage["total_tokens"] > 0
    assert second.usage["prompt_tokens"] == first.usage["prompt_tokens"]


def test_killed_run_resumes_with_missing_windows_only(tmp_path):
    tr, path = make_transcript(100), tmp_path / "l.jsonl"
    with LLMServer(script=["smart", "smart"], default="error500") as srv:
        opts = opts_for(srv, window_chars=2000, overlap_chars=300, retries=2)
        total = len(split_windows(lines_of(tr), 2000, 300))
        assert total >= 4
        with pytest.raises(LLMError) as ei:
            run(tr, opts, Ledger(path))
        assert ei.value.code is ErrorCode.LLM_UNREACHABLE
        assert len(Ledger(path)) == 2 and len(srv.requests) == 2 + 3  # 2 good, then 1 + 2 retries
        srv.set_script([], default="smart")  # the server is healthy again
        before = len(srv.requests)
        result = run(tr, opts, Ledger(path))
        assert len(srv.requests) - before == total - 2
        assert result.usage["cached"] == 2 and len(Ledger(path)) == total
        sent_again = {b["messages"][-1]["content"] for b in srv.requests[before:]}
        assert not sent_again & {b["messages"][-1]["content"] for b in srv.requests[:2]}


def test_rate_limit_honours_retry_after(tmp_path):
    with LLMServer(script=["rate_limit"]) as srv:
        sleeps = Sleeps()
        result = run(make_transcript(12), opts_for(srv, backoff=5.0), Ledger(tmp_path / "l.jsonl"), sleep=sleeps)
    assert sleeps == [pytest.approx(1.0)]  # Retry-After: 1, not backoff 5
    assert len(srv.requests) == 2 and result.spans and result.usage["requests"] == 2


def test_retry_after_is_capped(tmp_path):
    with LLMServer(script=["rate_limit"]) as srv:
        sleeps = Sleeps()
        run(make_transcript(12), opts_for(srv, backoff_cap=0.25), Ledger(tmp_path / "l.jsonl"), sleep=sleeps)
    assert sleeps == [0.25]


def test_timeout_becomes_unreachable(tmp_path):
    with LLMServer(default="slow", slow_seconds=2.0) as srv:
        t0 = time.monotonic()
        with pytest.raises(LLMError) as ei:
            run(make_transcript(12), opts_for(srv, timeout=0.5, retries=1), Ledger(tmp_path / "l.jsonl"))
        assert time.monotonic() - t0 < 1.9
    assert ei.value.code is ErrorCode.LLM_UNREACHABLE and not isinstance(ei.value, LLMReplyError)
    assert "APITimeoutError" in ei.value.message and srv.url in ei.value.message
    assert len(srv.requests) == 2


def test_500_forever_retries_with_backoff_then_fails(tmp_path):
    path = tmp_path / "l.jsonl"
    with LLMServer(default="error500") as srv:
        sleeps = Sleeps()
        with pytest.raises(LLMError) as ei:
            run(make_transcript(12), opts_for(srv, retries=4, backoff=1.0, backoff_cap=5.0), Ledger(path),
                sleep=sleeps)
    assert sleeps == [1.0, 2.0, 4.0, 5.0]  # exponential, capped
    assert len(srv.requests) == 5
    assert ei.value.code is ErrorCode.LLM_UNREACHABLE and "InternalServerError" in ei.value.message
    assert not path.exists() or len(Ledger(path)) == 0


def test_unreachable_port(tmp_path):
    srv = LLMServer()
    url = srv.url
    srv.stop()  # nothing listens there now
    with pytest.raises(LLMError) as ei:
        propose_spans(make_transcript(6), LLMOptions(base_url=url, retries=1, timeout=2), Ledger(tmp_path / "l"),
                      sleep=lambda s: None, log=lambda m: None)
    assert "APIConnectionError" in ei.value.message and ei.value.code is ErrorCode.LLM_UNREACHABLE


@pytest.mark.parametrize("mode", ["bad_json", "schema"])
def test_invalid_reply_is_reasked_then_fails(mode, tmp_path):
    path = tmp_path / "l.jsonl"
    with LLMServer(default=mode) as srv:
        with pytest.raises(LLMReplyError) as ei:
            run(make_transcript(12), opts_for(srv, retries=2), Ledger(path))
    assert ei.value.code is ErrorCode.LLM_REPLY_INVALID
    assert len(srv.requests) == 3
    assert "invalid" in srv.requests[1]["messages"][-1]["content"]  # the re-ask says why
    assert "\n" not in ei.value.message and len(ei.value.message) < 400
    assert len(Ledger(path)) == 0  # nothing invalid is ever reused...
    assert len(path.read_text().splitlines()) == 3  # ...but each is recorded as rejected, with its tokens


def test_invalid_then_valid_reply_recovers(tmp_path):
    path = tmp_path / "l.jsonl"
    tr = make_transcript(12)
    with LLMServer(script=["bad_json"]) as srv:
        opts = opts_for(srv)
        result = run(tr, opts, Ledger(path))
        assert result.spans and len(srv.requests) == 2
        run(tr, opts, Ledger(path))  # keyed by the original request, so reused
        assert len(srv.requests) == 2


def test_fenced_json_is_accepted(tmp_path):
    with LLMServer(default="fenced") as srv:
        result = run(make_transcript(24), opts_for(srv), Ledger(tmp_path / "l.jsonl"))
    assert len(result.spans) == 4 and len(srv.requests) == 1


@pytest.mark.parametrize("mode, status", [("unauthorized", 401), ("not_found", 404)])
def test_client_errors_fail_at_once(mode, status, tmp_path):
    with LLMServer(default=mode) as srv:
        sleeps = Sleeps()
        with pytest.raises(LLMError) as ei:
            run(make_transcript(12), opts_for(srv, retries=4), Ledger(tmp_path / "l.jsonl"), sleep=sleeps)
    assert len(srv.requests) == 1 and sleeps == []
    assert f"server rejected the request: {status}" in ei.value.message
    assert not isinstance(ei.value, LLMReplyError)


def test_api_key_never_leaks(tmp_path):
    path = tmp_path / "l.jsonl"
    with LLMServer(script=["smart"], default="unauthorized") as srv:
        opts = opts_for(srv, window_chars=1500, overlap_chars=200)
        with pytest.raises(LLMError) as ei:
            run(make_transcript(60), opts, Ledger(path))
        assert srv.auth[-1] == f"Bearer {KEY}"  # the server did get it, and echoed it back
    assert KEY not in ei.value.message and KEY not in ei.value.one_line() and KEY not in str(ei.value)
    text = path.read_text()
    assert len(Ledger(path)) == 1 and KEY not in text and "SUPERSECRET" not in text
    with LLMServer(default="error500") as srv:
        with pytest.raises(LLMError) as ei:
            run(make_transcript(6), opts_for(srv, base_url=srv.url.replace("//", f"//u:{KEY}@"), retries=1),
                Ledger(path))
    assert KEY not in ei.value.message and "u:" not in ei.value.message


def test_empty_transcript_sends_nothing(llm_server, tmp_path):
    result = run(Transcript(language="en", duration=10.0), opts_for(llm_server), Ledger(tmp_path / "l"))
    assert result.spans == [] and llm_server.requests == [] and result.usage["requests"] == 0


def test_models_endpoint(llm_server):
    import openai
    client = openai.OpenAI(base_url=llm_server.url, api_key="x", max_retries=0)
    assert [m.id for m in client.models.list()] == ["test-model"]


def test_a_server_without_json_schema_support_gets_json_mode(tmp_path):
    with LLMServer(default="no_json_schema") as srv:
        notes = []
        result = run(make_transcript(20), opts_for(srv, window_chars=100000), Ledger(tmp_path / "l.jsonl"),
                     log=notes.append)
        kinds = [b.get("response_format", {}).get("type") for b in srv.requests]
    assert result.spans
    assert kinds == ["json_schema", "json_object"]
    assert any("JSON mode" in n for n in notes)


def test_a_thinking_block_before_the_json_is_ignored():
    from clipforge.stages.segment.llm import parse_reply
    from clipforge.stages.segment.llm_protocol import schema

    assert parse_reply('<think>which moments?\n</think>\n```json\n{"clips": []}\n```', schema(3)) == {"clips": []}


# --- the defects, one regression test each -------------------------------------------

def test_every_request_is_bounded_by_clips(llm_server, tmp_path):
    """Item 1: maxItems = clips and max_tokens sized from clips, so a small model cannot run on."""
    from clipforge.stages.segment.llm_protocol import max_tokens

    run(make_transcript(24), opts_for(llm_server, clips=3), Ledger(tmp_path / "l.jsonl"))
    body = llm_server.requests[0]
    assert body["response_format"]["json_schema"]["schema"]["properties"]["clips"]["maxItems"] == 3
    assert body["max_tokens"] == max_tokens(3) < max_tokens(5)


def test_prompt_has_no_example_values_to_copy(llm_server, tmp_path):
    """Item 2: no example numbers or "..." placeholders in what the model sees."""
    run(make_transcript(6), opts_for(llm_server), Ledger(tmp_path / "l.jsonl"))
    system = llm_server.requests[0]["messages"][0]["content"]
    assert "12.3" not in system and "45.6" not in system and '"..."' not in system and "{" not in system


def test_placeholder_picks_are_dropped_retried_then_fail(tmp_path):
    """Item 2: a copied "..." title/reason/quote never passes; the window is re-asked, rejected replies
    are ledgered as rejected and never reused."""
    path = tmp_path / "l.jsonl"
    notes: list[str] = []
    with LLMServer(default="placeholder") as srv:
        with pytest.raises(LLMReplyError) as ei:
            run(make_transcript(12), opts_for(srv, retries=1), Ledger(path), log=notes.append)
    assert len(srv.requests) == 2 and "empty or punctuation only" in ei.value.message
    assert any("dropped pick 1" in n and "punctuation only" in n for n in notes)
    assert len(Ledger(path)) == 0 and len(path.read_text().splitlines()) == 2
    with LLMServer(script=["placeholder"]) as srv:  # a bad reply, then a good one
        result = run(make_transcript(12), opts_for(srv, retries=1), Ledger(path))
    assert result.spans and len(srv.requests) == 2 and len(Ledger(path)) == 1


def test_picks_outside_the_window_or_with_a_wrong_quote_are_dropped():
    """Item 2: spans are checked against the window they were proposed for, and quotes against them."""
    from clipforge.stages.segment.llm_protocol import check_reply

    sents = sentences_of(make_transcript(20))
    def clip(a, b, quote, title="A title"):
        return {"first_sentence": a, "last_sentence": b, "title": title, "reason": "Stands alone.",
                "score": 70, "quote": quote}
    reply = {"clips": [clip(11, 14, "line10 kilo lima"),       # fine
                       clip(2, 5, "line1 bravo charlie"),      # outside window 11-20
                       clip(15, 17, "nothing like it at all"),  # quote does not open sentence 15
                       clip(12, 13, "line11 lima mike"),       # overlaps the first pick
                       clip(18, 19, "...")]}                   # placeholder quote
    kept, dropped = check_reply(reply, range(10, 20), sents)
    assert [(p.first, p.last) for p in kept] == [(10, 13)]
    assert ["outside" in dropped[0], "does not open" in dropped[1], "overlaps" in dropped[2],
            "punctuation only" in dropped[3]] == [True] * 4


def test_context_overflow_gets_its_own_code_and_hint(tmp_path):
    """Item 3: a 400 for a too-long prompt is not read as "no json_schema support"."""
    with LLMServer(default="context_overflow") as srv:
        with pytest.raises(LLMError) as ei:
            run(make_transcript(12), opts_for(srv, retries=3), Ledger(tmp_path / "l.jsonl"))
        kinds = [b["response_format"]["type"] for b in srv.requests]
    assert kinds == ["json_schema"]  # no JSON-mode downgrade, no retries
    assert ei.value.code is ErrorCode.LLM_CONTEXT_EXCEEDED
    assert "exceeds the available context size" in ei.value.message and "llm_window_chars" in ei.value.hint


def test_timeout_gets_its_own_hint(tmp_path):
    """Item 3: a timeout says to raise llm_timeout or use a faster model, not to check the URL/key."""
    with LLMServer(default="slow", slow_seconds=2.0) as srv:
        with pytest.raises(LLMError) as ei:
            run(make_transcript(6), opts_for(srv, timeout=0.3, retries=0), Ledger(tmp_path / "l.jsonl"))
    assert "llm_timeout" in ei.value.hint and "faster model" in ei.value.hint
    assert "OPENAI_API_KEY" not in ei.value.hint


def test_a_short_api_key_does_not_mangle_messages(tmp_path, monkeypatch):
    """Item 4: OPENAI_API_KEY=x must not turn every "x" of an error into a redaction."""
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    with LLMServer(default="context_overflow") as srv:
        with pytest.raises(LLMError) as ei:
            run(make_transcript(6), opts_for(srv, api_key="x"), Ledger(tmp_path / "l.jsonl"))
    assert "exceeds the available context size" in ei.value.message
    assert "exceeds the available context size" in ei.value.one_line()


def test_windows_shrink_to_the_context_the_server_reports(tmp_path):
    """llama.cpp reports n_ctx at /props: windows are sized to fit it; too small a context fails early."""
    notes: list[str] = []
    with LLMServer(n_ctx=2048) as srv:
        run(make_transcript(100), opts_for(srv, window_chars=100000), Ledger(tmp_path / "l.jsonl"),
            log=notes.append)
        assert len(srv.requests) > 1 and any("context is 2048 tokens" in n for n in notes)
        assert all(len(b["messages"][-1]["content"]) < 2048 * 3 for b in srv.requests)
    with LLMServer(n_ctx=600) as srv:
        with pytest.raises(LLMError) as ei:
            run(make_transcript(10), opts_for(srv), Ledger(tmp_path / "m.jsonl"))
        assert ei.value.code is ErrorCode.LLM_CONTEXT_EXCEEDED and srv.requests == []
