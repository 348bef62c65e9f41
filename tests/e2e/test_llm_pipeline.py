"""The whole pipeline with an LLM: the real openai client against a loopback OpenAI-compatible server.

The stand-in (tests/llm_server.py) is the far side of the network: it answers label requests
with "All About <word>" titles and rank requests with the ids highest first."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.helpers import executed, kill9, run_ok, skipped, wait_for
from tests.llm_server import LLMServer

KEY = "sk-test-SECRET-0123456789"
OPTS = ["clips=2", "min_len=8", "max_len=30", "llm_timeout=60", "llm_retries=1"]


def llm_env(server: LLMServer) -> dict:
    return {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY}


def no_secret_anywhere(project) -> None:
    for path in project.path.rglob("*"):
        if path.is_file() and path.suffix in ("", ".json", ".jsonl", ".bak", ".corrupt", ".txt", ".log"):
            assert KEY not in path.read_text(errors="replace"), f"API key written to {path}"


def user_text(body: dict) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")


def test_llm_segmenter_makes_clips_and_totals_usage(project):
    with LLMServer() as server:
        result = run_ok(project.doit(*OPTS, env=llm_env(server)))
        labels = len(server.requests)
    # One label request per shortlisted candidate: clips=2 plus room for vetoes.
    assert 3 <= labels <= 5, labels
    assert all(b["max_tokens"] <= 64 for b in server.requests), "every reply is bounded"
    assert "llm segmenter" in result.stdout
    manifest = project.manifest()
    assert manifest["segmenter"] == "llm"
    assert manifest["models"]["llm"] == "gpt-4o-mini"
    usage = manifest["llm_usage"]
    assert usage["requests"] == labels and usage["total_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert len(manifest["clips"]) == 2
    for clip in manifest["clips"]:
        assert clip["title"].startswith("All About") and clip["reason"].startswith("insight: ")
        assert 8 <= clip["duration"] <= 31
    no_secret_anywhere(project)


def test_llm_choose_reranks_by_id_with_a_shuffled_order_per_request(project):
    with LLMServer() as server:
        run_ok(project.doit(*OPTS, "llm_choose=yes", env=llm_env(server)))
        ranks = [b for b in server.requests if "order" in b["response_format"]["json_schema"]["schema"]["properties"]]
    assert len(ranks) == 3, "three rank requests"
    listed = [re.findall(r"^id (\S+):", user_text(b), re.M) for b in ranks]
    ids = sorted(listed[0])
    for body, order in zip(ranks, listed):
        assert sorted(order) == ids, "every request lists every candidate once"
        items = body["response_format"]["json_schema"]["schema"]["properties"]["order"]
        assert sorted(items["items"]["enum"]) == ids and items["minItems"] == items["maxItems"] == len(ids)
    assert len({tuple(order) for order in listed}) > 1, f"the order sent is shuffled per request: {listed}"
    # The stand-in ranks the highest id first: the two clips are those two candidates, whatever the listing.
    titles = dict(re.findall(r"^id (\S+): (.*)$", user_text(ranks[0]), re.M))
    best = sorted(ids, key=lambda c: -int(c[1:]))[:2]
    assert {c["title"] for c in project.manifest()["clips"]} == {titles[c] for c in best}


def test_copied_title_is_asked_again_without_our_rejection_text(project):
    with LLMServer(script=["copy"]) as server:
        run_ok(project.doit(*OPTS, "keep=yes", env=llm_env(server)))
        first, again = server.requests[:2]
    assert again["messages"] == first["messages"], "the re-ask sends the request as it was, nothing of ours added"
    assert again["temperature"] > first["temperature"] and again.get("seed") is not None
    copied = " ".join(user_text(first).split("\n", 1)[1].split()[:4])
    titles = [c["title"] for c in project.manifest()["clips"]]
    assert copied not in titles and all(t.startswith("All About") for t in titles), titles
    rejected = [json.loads(line) for line in project.temp("llm_ledger.jsonl").read_text().splitlines()]
    assert rejected[0]["rejected"].endswith("copies the clip's opening words")


def test_copying_model_gets_offline_titles_and_a_dull_label_vetoes(project):
    with LLMServer(script=["sponsor"], default="copy") as server:
        run_ok(project.doit(*OPTS, "llm_retries=0", "keep=yes", env=llm_env(server)))
        vetoed_text = user_text(server.requests[0]).split("\n", 1)[1]
    segments = json.loads(project.temp("segments.json").read_text())
    assert [v["kind"] for v in segments["vetoed"]] == ["sponsor read"]
    assert project.manifest()["vetoed"] == segments["vetoed"], "the veto is in the manifest too"
    assert "vetoed as dull" in (project.path / "clips" / "index.html").read_text()
    clips = project.manifest()["clips"]
    assert len(clips) == 2
    for clip in clips:
        assert clip["text"] not in vetoed_text and vetoed_text not in clip["text"], "a vetoed candidate became a clip"
        opening = " ".join(clip["text"].split()[:4])
        assert clip["title"] != opening and len(re.findall(r"[A-Za-z]{3,}", clip["title"])) >= 1, clip["title"]


def test_killed_after_some_requests_resume_sends_no_answered_request_again(project):
    with LLMServer(script=["smart", "smart", "slow"]) as server:
        server.slow_seconds = 120
        proc = project.popen(*OPTS, env=llm_env(server))
        assert wait_for(lambda: len(server.requests) >= 3, proc, timeout=180), proc.stdout.read()
        kill9(project, proc)
        answered = [json.dumps(b["messages"], sort_keys=True) for b in server.requests[:2]]
        ledger = project.temp("llm_ledger.jsonl").read_text().splitlines()
        assert len(ledger) == 2
        server.set_script([], default="smart")
        before = len(server.requests)
        result = run_ok(project.doit("--retry", env=llm_env(server)))
        resent = [json.dumps(b["messages"], sort_keys=True) for b in server.requests[before:]]
    assert resent, "the unanswered requests must be sent"
    assert not set(answered) & set(resent), "an answered request was sent again"
    assert "2 from the ledger" in result.stdout, result.stdout
    assert {"download", "transcript"} <= skipped(result.stdout)
    no_secret_anywhere(project)


def test_server_failing_forever_is_llm_unreachable_and_keeps_answered_requests(project):
    with LLMServer(script=["smart"], default="error500") as server:
        failed = project.doit(*OPTS, env=llm_env(server))
        out = failed.stdout + failed.stderr
        assert failed.returncode == 30, out
        assert "LLM_UNREACHABLE" in out and "Traceback" not in out and KEY not in out
        st = project.state()
        assert st["failure_point"] == {**st["failure_point"], "stage": "segment", "code": "LLM_UNREACHABLE"}
        assert len(project.temp("llm_ledger.jsonl").read_text().splitlines()) == 1
        no_secret_anywhere(project)
        server.set_script([], default="smart")
        first_body = json.dumps(server.requests[0]["messages"], sort_keys=True)
        before = len(server.requests)
        result = run_ok(project.doit("--retry", env=llm_env(server)))
        assert first_body not in [json.dumps(b["messages"], sort_keys=True) for b in server.requests[before:]]
    assert "segment" in executed(result.stdout)


@pytest.mark.parametrize("behaviour", ["bad_json", "schema"])
def test_invalid_replies_fail_with_llm_reply_invalid(project, behaviour):
    with LLMServer(default=behaviour) as server:
        result = project.doit(*OPTS, env=llm_env(server))
    out = result.stdout + result.stderr
    assert result.returncode == 31, out
    assert "LLM_REPLY_INVALID" in out and "Traceback" not in out
    assert project.state()["failure_point"]["stage"] == "segment"
    assert project.temp("transcript.json").exists(), "finished work is kept"


def test_rate_limit_then_success(project):
    with LLMServer(script=["rate_limit"]) as server:
        start = time.monotonic()
        run_ok(project.doit(*OPTS, env=llm_env(server)))
        assert time.monotonic() - start > 1.0  # Retry-After: 1 was honoured
        assert server.behaviours[0] == "rate_limit"


def test_offline_segmenter_is_forced_even_with_an_llm_configured(project):
    with LLMServer() as server:
        run_ok(project.doit(*OPTS, "segmenter=offline", env=llm_env(server)))
        assert server.requests == []
    assert project.manifest()["segmenter"] == "offline"


def test_credentials_in_openai_base_url_never_reach_files_or_output(project):
    """A server that echoes the Authorization header (Basic auth from user:pass@ in the URL, base64)."""
    secret, basic = "secretpass", "dXNlcjpzZWNyZXRwYXNz"  # base64("user:secretpass")
    opts = ["clips=1", "min_len=8", "max_len=25", "segmenter=llm", "llm_retries=0", "llm_timeout=30"]
    with LLMServer(default="echo_auth_401") as server:
        env = {"OPENAI_BASE_URL": server.url.replace("http://", "http://user:secretpass@")}
        outputs = []
        failed = project.doit(*opts, env=env)
        outputs.append(failed.stdout + failed.stderr)
        assert failed.returncode == 30, outputs[-1]
        assert server.auth and basic in server.auth[-1], "the server should have seen the Basic credentials"
        assert "REDACTED" in project.state()["error_log"][-1]["message"]
        files = [project.state_file.read_text(), (project.path / ".temp_clips.json.bak").read_text()]

        server.set_script([], default="echo_auth_500")
        failed = project.doit("--retry", env=env)
        outputs.append(failed.stdout + failed.stderr)
        assert failed.returncode == 30, outputs[-1]
        files += [project.state_file.read_text(), (project.path / ".temp_clips.json.bak").read_text()]

        server.set_script([], default="smart")
        outputs.append("".join(run_ok(project.doit("--retry", env=env)).__dict__[k] for k in ("stdout", "stderr")))
    files += [p.read_text(errors="replace") for p in project.path.rglob("*") if p.is_file() and p.suffix in (
        ".json", ".jsonl", ".bak")]
    for text in outputs + files:
        assert secret not in text and basic not in text
    assert "Traceback" not in "".join(outputs)
