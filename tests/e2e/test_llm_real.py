"""The LLM segmenter against a real llama.cpp server (tests/llama_server.py) with a real small model.

Qwen2.5-Coder-0.5B-Instruct (from PyPI, split in six packages) titles and labels the candidates the
program proposes; llama.cpp enforces the reply's json_schema while it generates, so these runs
exercise the real openai client, the real server's grammar and our checks on what a real model
writes. The input is one of our own talks (tests/media/talk_*.opus), with dull passages between
its topics. One finished run is shared by the module's checks; a second run is killed during the
titling requests and resumed. Skipped, with how to install them, where the packages are missing.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.helpers import make_project, wait_for
from tests.llama_server import LlamaServer, missing
from tests.talks import clip_problems, script, talk_project

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")

OPTS = ["segmenter=llm", "clips=2", "min_len=8", "max_len=30", "llm_timeout=120", "keep=yes"]


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


def settle(server: LlamaServer, timeout: float = 60) -> None:
    """Until every completion the server started has ended (its log has a release line for each)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.log()
        if log.count("launch_slot_") == log.count("stop processing"):
            return
        time.sleep(0.1)
    raise AssertionError("the server is still busy with a request from the killed run")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LlamaServer(tmp_path_factory.mktemp("llama") / "server.log") as srv:
        yield srv


@pytest.fixture(scope="module")
def finished(server, tmp_path_factory):
    """One whole run on talk_plain (question, long pause and vocabulary change as topic signals)."""
    project = make_project(tmp_path_factory.mktemp("real") / "proj")
    before = server.completions()
    start = time.monotonic()
    result = project.doit(*OPTS, *talk_project(project, "talk_plain"), env={"OPENAI_BASE_URL": server.url},
                          timeout=600)
    return project, result, time.monotonic() - start, server.completions() - before


def test_real_model_run_succeeds_with_valid_clips(finished):
    project, result, took, _ = finished
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Traceback" not in out
    manifest = project.manifest()
    assert manifest["segmenter"] == "llm" and len(manifest["clips"]) == 2
    sections = script("talk_plain")
    for clip in manifest["clips"]:
        assert not clip_problems(clip, sections), clip_problems(clip, sections)
        assert 8 <= clip["duration"] <= 31 and clip["reason"]
        assert (project.path / "clips" / clip["file"]).stat().st_size > 0
    usage = manifest["llm_usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert took < 400, f"the run took {took:.0f} s"


def test_every_request_is_in_the_ledger_and_sent_once(finished):
    project, result, _, completions = finished
    records = ledger(project)
    assert records and completions == len(records), "every completion the server ran is in the ledger"
    accepted = [r for r in records if not r.get("rejected")]
    assert len({r["key"] for r in accepted}) == len(accepted), "no request answered twice"
    for r in records:
        assert r["usage"]["prompt_tokens"] > 0 and r["usage"]["completion_tokens"] > 0, r
    for r in accepted:
        assert set(r["reply"]) == {"title", "kind"}, r  # a label: no time, no sentence number, no quote
    assert f"{completions} request(s), 0 from the ledger" in result.stdout


def test_killed_during_titling_then_retry_resends_no_recorded_request(server, tmp_path):
    project = make_project(tmp_path / "proj")
    env = {"OPENAI_BASE_URL": server.url}
    proc = project.popen(*OPTS, *talk_project(project, "talk_cues"), env=env)
    assert wait_for(lambda: len(ledger(project)) >= 1, proc, timeout=300), proc.stdout.read()
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # doit and whatever it started, between two titling requests
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    before = ledger(project)
    answered = {r["key"] for r in before if not r.get("rejected")}
    settle(server)  # the request in flight at the kill is cancelled or finished, not counted twice
    sent_before = server.completions()

    result = project.doit("--retry", env=env, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    after = ledger(project)
    assert after[:len(before)] == before, "the kill or the retry lost a recorded reply"
    new = after[len(before):]
    assert not {r["key"] for r in new} & answered, "a request with an accepted reply was sent again"
    sent = {(r["key"], r.get("attempt", 0)) for r in before}
    assert not {(r["key"], r.get("attempt", 0)) for r in new} & sent, "a recorded request (or re-ask) was sent again"
    assert server.completions() - sent_before == len(new), "every request of the retry is in the ledger"
    assert f"{len(answered)} from the ledger" in result.stdout
    sections = script("talk_cues")
    for clip in project.manifest()["clips"]:
        assert not clip_problems(clip, sections), clip_problems(clip, sections)
