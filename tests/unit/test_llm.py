"""The LLM segmenter against a real openai client and a loopback server (no mocks).

The program proposes the candidates; the model only titles and labels them (and ranks them by id
with choose). The stand-in (tests/llm_server.py) answers labels with "All About <longest word>"."""

from __future__ import annotations

import json
import time

import pytest

from clipforge.errors import ErrorCode, LLMError, LLMReplyError
from clipforge.records import Span
from clipforge.stages.segment import llm_protocol as proto
from clipforge.stages.segment.features import title_problem
from clipforge.stages.segment.ledger import Ledger
from clipforge.stages.segment.llm import LLMOptions, choose_spans, parse_reply
from clipforge.stages.segment.offline import Shortlisted
from tests.llm_server import LLMServer, llm_server  # noqa: F401  (fixture)

KEY = "sk-test-SUPERSECRET-0123456789"
TOPICS = ["Bread rises because yeast turns sugar into carbon dioxide bubbles inside the dough.",
          "The sky looks blue because air scatters short wavelengths of sunlight far more than long ones.",
          "A moving bicycle stays upright because steering corrects every small lean automatically.",
          "Glaciers carve wide valleys by grinding bedrock with boulders frozen into their ice.",
          "Honeybees dance to tell the hive where flowers are, measuring the angle against the sun."]


def make_cands(n: int) -> list[Shortlisted]:
    """n candidates, best first by offline score, ids in time order."""
    return [Shortlisted(id=f"c{k + 1}", span=Span(start=20.0 * k, end=20.0 * k + 15, title=f"Offline Title {k + 1}",
                                                 reason="self-contained topic block", score=90 - 10 * k),
                        text=TOPICS[k % len(TOPICS)], dull="") for k in range(n)]


def opts_for(srv: LLMServer, **kw) -> LLMOptions:
    base = dict(model="test-model", base_url=srv.url, api_key=KEY, timeout=5.0, retries=2, backoff=0.01)
    return LLMOptions(**{**base, **kw})


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run(cands, opts, ledger, **kw):
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("log", lambda _msg: None)
    return choose_spans(cands, opts, ledger, **kw)


def schema_of(body: dict) -> dict:
    return body["response_format"]["json_schema"]["schema"]


def listed(body: dict) -> list[str]:
    import re

    return re.findall(r"^id (\S+):", body["messages"][-1]["content"], re.M)


def test_each_candidate_gets_one_short_bounded_label_request(llm_server, tmp_path):
    result = run(make_cands(3), opts_for(llm_server), Ledger(tmp_path / "l.jsonl"))
    assert len(llm_server.requests) == 3 and result.usage["requests"] == 3
    for body, text in zip(llm_server.requests, TOPICS):
        assert body["max_tokens"] == proto.LABEL_MAX_TOKENS
        assert text in body["messages"][-1]["content"]
        assert set(schema_of(body)["properties"]["kind"]["enum"]) == {*proto.KINDS, *proto.DULL_KINDS}
    assert [s.title for s in result.spans] == ["All About Dioxide", "All About Wavelengths", "All About Automatically"]
    assert all(s.reason.startswith("insight: ") for s in result.spans)
    assert [s.start for s in result.spans] == [0.0, 20.0, 40.0], "no time is ever written by a model"
    assert result.usage["total_tokens"] == result.usage["prompt_tokens"] + result.usage["completion_tokens"] > 0


STRICT_KEYWORDS = {"type", "properties", "required", "additionalProperties", "enum", "items", "minItems",
                   "maxItems", "description"}


def _walk(schema: dict):
    yield schema
    for sub in (schema.get("properties") or {}).values():
        yield from _walk(sub)
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"])


@pytest.mark.parametrize("schema", [proto.label_schema(), proto.rank_schema(["c1", "c2", "c3"])])
def test_schemas_stay_inside_openai_strict_mode(schema):
    """No maxLength (strict mode rejects it): length is bounded by max_tokens; every object closed."""
    for node in _walk(schema):
        assert set(node) <= STRICT_KEYWORDS, set(node) - STRICT_KEYWORDS
        if node.get("type") == "object":
            assert node["additionalProperties"] is False and set(node["required"]) == set(node["properties"])


def test_a_dull_label_vetoes_the_candidate(tmp_path):
    with LLMServer(script=["sponsor"]) as srv:
        result = run(make_cands(3), opts_for(srv), Ledger(tmp_path / "l.jsonl"))
    assert result.vetoed == [("c1", "sponsor read")]
    assert [s.start for s in result.spans] == [20.0, 40.0]


@pytest.mark.parametrize("title, problem", [
    ("Bread rises because yeast", "copies"), ("bread rises", "copies"), ("Yeast turns sugar into", "copies"),
    ("...", "no real words"), ("12 34", "no real words"), ("word " * 11, "11 words"),
    ("How Yeast Makes Bread Rise", None), ("Bread", None), ("Carbon Dioxide Bubbles", None)])
def test_title_problems(title, problem):
    found = title_problem(title, TOPICS[0])
    assert (found is None) if problem is None else (problem in found), found


def test_copied_title_is_asked_again_with_nothing_of_ours_added(tmp_path):
    path = tmp_path / "l.jsonl"
    with LLMServer(script=["copy"]) as srv:
        result = run(make_cands(1), opts_for(srv), Ledger(path))
        first, again = srv.requests
    assert again["messages"] == first["messages"], "a re-ask never echoes our rejection text"
    assert again["temperature"] > first["temperature"] and again["seed"] == 1
    assert result.spans[0].title == "All About Dioxide"
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert entries[0]["rejected"].endswith("copies the clip's opening words") and "rejected" not in entries[1]


def test_a_run_killed_after_a_rejected_reply_asks_on_with_the_next_re_ask(tmp_path):
    """The rejected reply is in the ledger: the resumed run sends the next re-ask, not the request again."""
    path = tmp_path / "l.jsonl"
    with LLMServer(default="copy") as srv:
        run(make_cands(1), opts_for(srv, retries=0), Ledger(path))  # one reply, rejected... and used as last
        lines = path.read_text().splitlines()
        assert len(lines) == 1
        # As if killed after the first, rejected reply of a run with retries left: keep it as rejected only.
        entry = json.loads(lines[0])
        path.write_text(json.dumps({**entry, "rejected": "title 'x': copies the clip's opening words"}) + "\n")
        srv.set_script([], default="smart")
        result = run(make_cands(1), opts_for(srv, retries=2), Ledger(path))
        again = srv.requests[1:]
    assert len(again) == 1 and again[0]["seed"] == 1, "the original request is not sent again"
    assert json.loads(path.read_text().splitlines()[-1])["attempt"] == 1
    assert result.spans[0].title == "All About Dioxide"


def test_a_model_that_always_copies_gets_the_offline_title_and_is_not_asked_again(tmp_path):
    path = tmp_path / "l.jsonl"
    with LLMServer(default="copy") as srv:
        result = run(make_cands(2), opts_for(srv, retries=1), Ledger(path))
        assert len(srv.requests) == 4
        assert [s.title for s in result.spans] == ["Offline Title 1", "Offline Title 2"]
        again = run(make_cands(2), opts_for(srv, retries=1), Ledger(path))
        assert len(srv.requests) == 4 and again.usage["cached"] == 2
    assert [s.title for s in again.spans] == ["Offline Title 1", "Offline Title 2"]


def test_placeholder_title_is_asked_again(tmp_path):
    with LLMServer(script=["placeholder"]) as srv:
        result = run(make_cands(1), opts_for(srv), Ledger(tmp_path / "l.jsonl"))
    assert len(srv.requests) == 2 and result.spans[0].title == "All About Dioxide"


def test_ledger_reuse_sends_nothing(llm_server, tmp_path):
    path = tmp_path / "l.jsonl"
    first = run(make_cands(3), opts_for(llm_server), Ledger(path))
    sent = len(llm_server.requests)
    again = run(make_cands(3), opts_for(llm_server), Ledger(path))
    assert len(llm_server.requests) == sent and again.usage["cached"] == 3 and again.usage["requests"] == 0
    assert [s.title for s in again.spans] == [s.title for s in first.spans]
    assert again.usage["total_tokens"] == first.usage["total_tokens"], "the work's cost includes reused replies"


def test_killed_run_resumes_with_the_missing_requests_only(llm_server, tmp_path):
    path = tmp_path / "l.jsonl"
    run(make_cands(2), opts_for(llm_server), Ledger(path))  # as if killed after two answers
    answered = [json.dumps(b["messages"]) for b in llm_server.requests]
    run(make_cands(4), opts_for(llm_server), Ledger(path))
    resent = [json.dumps(b["messages"]) for b in llm_server.requests[2:]]
    assert len(resent) == 2 and not set(resent) & set(answered)


def test_choose_ranks_by_id_over_shuffled_requests_and_resumes_from_the_ledger(llm_server, tmp_path):
    path = tmp_path / "l.jsonl"
    result = run(make_cands(5), opts_for(llm_server, choose=True), Ledger(path))
    ranks = llm_server.requests[5:]
    assert len(ranks) == proto.RANK_ROUNDS
    orders = [listed(b) for b in ranks]
    for body, order in zip(ranks, orders):
        assert sorted(order) == ["c1", "c2", "c3", "c4", "c5"], "every candidate listed once"
        assert sorted(schema_of(body)["properties"]["order"]["items"]["enum"]) == sorted(order)
    assert len({tuple(o) for o in orders}) == len(orders), f"each request lists them in another order: {orders}"
    # The stand-in ranks the highest id first, whatever the order it was shown.
    assert [s.start for s in result.spans] == [80.0, 60.0, 40.0, 20.0, 0.0]
    assert [s.score for s in result.spans] == sorted((s.score for s in result.spans), reverse=True)
    sent = len(llm_server.requests)
    again = run(make_cands(5), opts_for(llm_server, choose=True), Ledger(path))
    assert len(llm_server.requests) == sent, "the same shuffles on resume: the ledger answers them all"
    assert [s.start for s in again.spans] == [s.start for s in result.spans]


def test_shuffled_orders_are_seeded_by_the_candidates():
    ids, texts = ["c1", "c2", "c3", "c4"], TOPICS[:4]
    rounds = [proto.shuffled(ids, texts, r) for r in range(3)]
    assert rounds == [proto.shuffled(ids, texts, r) for r in range(3)]
    assert all(sorted(o) == [0, 1, 2, 3] for o in rounds)
    assert rounds[0] != rounds[1] != rounds[2]
    assert proto.shuffled(ids, [*texts[:3], "other words"], 0) != rounds[0] or \
        proto.shuffled(ids, [*texts[:3], "other words"], 1) != rounds[1]


def test_a_rank_reply_with_repeats_keeps_each_id_once():
    assert proto.check_rank({"order": ["c2", "c2", "c3"]}, ["c1", "c2", "c3"]) == ["c2", "c3", "c1"]


def test_no_candidates_sends_nothing(llm_server, tmp_path):
    result = run([], opts_for(llm_server), Ledger(tmp_path / "l"))
    assert result.spans == [] and llm_server.requests == [] and result.usage["requests"] == 0


def test_models_endpoint(llm_server):
    import openai
    client = openai.OpenAI(base_url=llm_server.url, api_key="x", max_retries=0)
    assert [m.id for m in client.models.list()] == ["test-model"]


def test_rate_limit_honours_retry_after(tmp_path):
    with LLMServer(script=["rate_limit"]) as srv:
        sleeps = Sleeps()
        result = run(make_cands(1), opts_for(srv, backoff=5.0), Ledger(tmp_path / "l.jsonl"), sleep=sleeps)
    assert sleeps == [pytest.approx(1.0)]  # Retry-After: 1, not backoff 5
    assert len(srv.requests) == 2 and result.spans and result.usage["requests"] == 2


def test_retry_after_is_capped(tmp_path):
    with LLMServer(script=["rate_limit"]) as srv:
        sleeps = Sleeps()
        run(make_cands(1), opts_for(srv, backoff_cap=0.25), Ledger(tmp_path / "l.jsonl"), sleep=sleeps)
    assert sleeps == [0.25]


def test_timeout_becomes_unreachable(tmp_path):
    with LLMServer(default="slow", slow_seconds=2.0) as srv:
        t0 = time.monotonic()
        with pytest.raises(LLMError) as ei:
            run(make_cands(1), opts_for(srv, timeout=0.5, retries=1), Ledger(tmp_path / "l.jsonl"))
        assert time.monotonic() - t0 < 1.9
    assert ei.value.code is ErrorCode.LLM_UNREACHABLE and not isinstance(ei.value, LLMReplyError)
    assert "APITimeoutError" in ei.value.message and srv.url in ei.value.message
    assert len(srv.requests) == 2


def test_500_forever_retries_with_backoff_then_fails(tmp_path):
    path = tmp_path / "l.jsonl"
    with LLMServer(default="error500") as srv:
        sleeps = Sleeps()
        with pytest.raises(LLMError) as ei:
            run(make_cands(1), opts_for(srv, retries=4, backoff=1.0, backoff_cap=5.0), Ledger(path),
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
        choose_spans(make_cands(1), LLMOptions(base_url=url, retries=1, timeout=2), Ledger(tmp_path / "l"),
                      sleep=lambda s: None, log=lambda m: None)
    assert "APIConnectionError" in ei.value.message and ei.value.code is ErrorCode.LLM_UNREACHABLE


@pytest.mark.parametrize("mode", ["bad_json", "schema"])
def test_invalid_reply_is_reasked_then_fails(mode, tmp_path):
    path = tmp_path / "l.jsonl"
    with LLMServer(default=mode) as srv:
        with pytest.raises(LLMReplyError) as ei:
            run(make_cands(1), opts_for(srv, retries=2), Ledger(path))
    assert ei.value.code is ErrorCode.LLM_REPLY_INVALID
    assert len(srv.requests) == 3
    assert srv.requests[1]["messages"] == srv.requests[0]["messages"]  # the re-ask adds nothing of ours
    assert "\n" not in ei.value.message and len(ei.value.message) < 400
    assert len(Ledger(path)) == 0  # nothing invalid is ever reused...
    assert len(path.read_text().splitlines()) == 3  # ...but each is recorded as rejected, with its tokens


def test_invalid_then_valid_reply_recovers(tmp_path):
    path = tmp_path / "l.jsonl"
    tr = make_cands(1)
    with LLMServer(script=["bad_json"]) as srv:
        opts = opts_for(srv)
        result = run(tr, opts, Ledger(path))
        assert result.spans and len(srv.requests) == 2
        run(tr, opts, Ledger(path))  # keyed by the original request, so reused
        assert len(srv.requests) == 2


def test_fenced_json_is_accepted(tmp_path):
    with LLMServer(default="fenced") as srv:
        result = run(make_cands(4), opts_for(srv), Ledger(tmp_path / "l.jsonl"))
    assert len(result.spans) == 4 and len(srv.requests) == 4


@pytest.mark.parametrize("mode, status", [("unauthorized", 401), ("not_found", 404)])
def test_client_errors_fail_at_once(mode, status, tmp_path):
    with LLMServer(default=mode) as srv:
        sleeps = Sleeps()
        with pytest.raises(LLMError) as ei:
            run(make_cands(1), opts_for(srv, retries=4), Ledger(tmp_path / "l.jsonl"), sleep=sleeps)
    assert len(srv.requests) == 1 and sleeps == []
    assert f"server rejected the request: {status}" in ei.value.message
    assert not isinstance(ei.value, LLMReplyError)


def test_api_key_never_leaks(tmp_path):
    path = tmp_path / "l.jsonl"
    with LLMServer(script=["smart"], default="unauthorized") as srv:
        opts = opts_for(srv)
        with pytest.raises(LLMError) as ei:
            run(make_cands(3), opts, Ledger(path))
        assert srv.auth[-1] == f"Bearer {KEY}"  # the server did get it, and echoed it back
    assert KEY not in ei.value.message and KEY not in ei.value.one_line() and KEY not in str(ei.value)
    text = path.read_text()
    assert len(Ledger(path)) == 1 and KEY not in text and "SUPERSECRET" not in text
    with LLMServer(default="error500") as srv:
        with pytest.raises(LLMError) as ei:
            run(make_cands(1), opts_for(srv, base_url=srv.url.replace("//", f"//u:{KEY}@"), retries=1),
                Ledger(path))
    assert KEY not in ei.value.message and "u:" not in ei.value.message


def test_models_endpoint(llm_server):
    import openai
    client = openai.OpenAI(base_url=llm_server.url, api_key="x", max_retries=0)
    assert [m.id for m in client.models.list()] == ["test-model"]


def test_a_server_without_json_schema_support_gets_json_mode(tmp_path):
    with LLMServer(default="no_json_schema") as srv:
        notes = []
        result = run(make_cands(1), opts_for(srv), Ledger(tmp_path / "l.jsonl"),
                     log=notes.append)
        kinds = [b.get("response_format", {}).get("type") for b in srv.requests]
    assert result.spans
    assert kinds == ["json_schema", "json_object"]
    assert any("JSON mode" in n for n in notes)


def test_a_thinking_block_before_the_json_is_ignored():
    reply = parse_reply('<think>which title?\n</think>\n```json\n{"title": "Yeast", "kind": "fact"}\n```',
                        proto.label_schema())
    assert reply == {"title": "Yeast", "kind": "fact"}


def test_prompt_has_no_example_values_to_copy(llm_server, tmp_path):
    run(make_cands(1), opts_for(llm_server), Ledger(tmp_path / "l.jsonl"))
    system = llm_server.requests[0]["messages"][0]["content"]
    assert '"..."' not in system and "{" not in system


def test_one_candidate_without_a_usable_label_keeps_its_offline_title_with_a_warning(tmp_path):
    with LLMServer(script=["bad_json", "bad_json"]) as srv:
        result = run(make_cands(2), opts_for(srv, retries=1), Ledger(tmp_path / "l.jsonl"))
    assert [s.title for s in result.spans] == ["Offline Title 1", "All About Wavelengths"]
    assert len(result.warnings) == 1 and "c1" in result.warnings[0]


def test_context_overflow_gets_its_own_code_and_hint(tmp_path):
    """Item 3: a 400 for a too-long prompt is not read as "no json_schema support"."""
    with LLMServer(default="context_overflow") as srv:
        with pytest.raises(LLMError) as ei:
            run(make_cands(2), opts_for(srv, retries=3), Ledger(tmp_path / "l.jsonl"))
        kinds = [b["response_format"]["type"] for b in srv.requests]
    assert kinds == ["json_schema"]  # no JSON-mode downgrade, no retries
    assert ei.value.code is ErrorCode.LLM_CONTEXT_EXCEEDED
    assert "exceeds the available context size" in ei.value.message and "max_len" in ei.value.hint


def test_timeout_gets_its_own_hint(tmp_path):
    """Item 3: a timeout says to raise llm_timeout or use a faster model, not to check the URL/key."""
    with LLMServer(default="slow", slow_seconds=2.0) as srv:
        with pytest.raises(LLMError) as ei:
            run(make_cands(1), opts_for(srv, timeout=0.3, retries=0), Ledger(tmp_path / "l.jsonl"))
    assert "llm_timeout" in ei.value.hint and "faster model" in ei.value.hint
    assert "OPENAI_API_KEY" not in ei.value.hint


def test_a_short_api_key_does_not_mangle_messages(tmp_path, monkeypatch):
    """Item 4: OPENAI_API_KEY=x must not turn every "x" of an error into a redaction."""
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    with LLMServer(default="context_overflow") as srv:
        with pytest.raises(LLMError) as ei:
            run(make_cands(1), opts_for(srv, api_key="x"), Ledger(tmp_path / "l.jsonl"))
    assert "exceeds the available context size" in ei.value.message
    assert "exceeds the available context size" in ei.value.one_line()


