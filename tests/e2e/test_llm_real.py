"""The LLM segmenter against a real llama.cpp server (tests/llama_server.py) with a real small model.

llama.cpp enforces response_format's json_schema while it generates, so these runs exercise the
real openai client, the real server's grammar and our checks on what a real model writes. The
model is tiny (SmolLM2-135M, the only small instruct GGUF found on PyPI) and its replies fail our
checks: it loops inside a string until max_tokens, or, with strings bounded, copies no quote and
numbers sentences outside its window. So each test accepts both outcomes a real model can give,
a finished run or LLM_REPLY_INVALID, and asserts what must hold either way; with this model the
"no accepted window asked again" check has nothing to bite on until a better model is at hand.
Skipped, with how to install them, where the packages are missing.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.helpers import wait_for
from tests.llama_server import LlamaServer, missing

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")

# 600 characters: the sample's 26 sentences make 4 windows, so a kill can land between two.
OPTS = ["segmenter=llm", "clips=2", "min_len=8", "max_len=30", "llm_window_chars=600", "llm_timeout=60"]
INVALID = 31  # LLM_REPLY_INVALID: every pick of a window failed our checks, retries spent


def ledger(project) -> list[dict]:
    """The ledger's whole records (a line being written, or torn by the kill, is not one yet)."""
    path = project.temp("llm_ledger.jsonl")
    records = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def check_outcome(project, result, ledger_before: int = 0) -> list[dict]:
    """What holds whatever the model wrote; returns this run's ledger records."""
    out = result.stdout + result.stderr
    assert "Traceback" not in out and "LLM_UNREACHABLE" not in out, out  # no timeout, no crash
    assert result.returncode in (0, INVALID), out
    records = ledger(project)[ledger_before:]
    assert records, "the server was asked nothing"
    for r in records:
        assert r["usage"]["prompt_tokens"] > 0 and r["usage"]["completion_tokens"] > 0, r
    if result.returncode == 0:
        manifest = project.manifest()
        assert manifest["segmenter"] == "llm" and 1 <= len(manifest["clips"]) <= 2
        for clip in manifest["clips"]:
            assert clip["title"].strip() and clip["reason"].strip() and 0 <= clip["score"] <= 100
            assert 8 <= clip["end"] - clip["start"] <= 30 + 1
    else:
        assert "LLM_REPLY_INVALID" in out
        assert project.state()["failure_point"]["stage"] == "segment"
        assert project.temp("transcript.json").exists(), "finished work is kept"
        assert records[-1].get("rejected"), "the reply that ended the run is in the ledger with its reason"
    return records


def settle(server: LlamaServer, timeout: float = 60) -> None:
    """Until every completion the server started has ended (its log has a release line for each)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.log()
        if log.count("launch_slot_") == log.count("stop processing"):
            return
        time.sleep(0.1)
    raise AssertionError("the server is still busy with a request from the killed run")


def test_real_server_one_request_per_window_no_timeout(project, tmp_path):
    with LlamaServer(tmp_path / "server.log") as server:
        start = time.monotonic()
        result = project.doit(*OPTS, "llm_retries=0", env={"OPENAI_BASE_URL": server.url}, timeout=300)
        took = time.monotonic() - start
        records = check_outcome(project, result)
        # One request per window: no hidden client retry, nothing sent twice, every answer recorded.
        assert server.completions() == len(records)
        assert len({r["key"] for r in records}) == len(records)
    if result.returncode == 0:
        assert f"{len(records)} request(s), 0 from the ledger" in result.stdout
    assert took < 240, f"the run took {took:.0f} s"


def test_killed_mid_request_then_retry_resends_no_answered_window(project, tmp_path):
    with LlamaServer(tmp_path / "server.log") as server:
        env = {"OPENAI_BASE_URL": server.url}
        proc = project.popen(*OPTS, "llm_retries=2", env=env)
        assert wait_for(lambda: len(ledger(project)) >= 1, proc, timeout=240), proc.stdout.read()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # doit and whatever it started, mid-way through the windows
        except ProcessLookupError:
            pass  # it ended on its own first: --retry must still send nothing that was answered
        proc.wait(timeout=30)
        before = ledger(project)
        answered = {r["key"] for r in before if not r.get("rejected")}
        settle(server)  # the request in flight at the kill is cancelled or finished, not counted twice
        sent_before = server.completions()

        result = project.doit("--retry", env=env, timeout=300)
        records = check_outcome(project, result, ledger_before=len(before))
        assert ledger(project)[:len(before)] == before, "the kill or the retry lost a recorded reply"
        resent = {r["key"] for r in records} & answered
        assert not resent, "a window with an accepted reply was asked again"
        assert server.completions() - sent_before == len(records), "every request of the retry is in the ledger"
    if answered:
        assert f"{len(answered)} from the ledger" in result.stdout or result.returncode == INVALID
