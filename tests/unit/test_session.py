"""The resume decision as a table: state, flags, terminal and answers in; action, options and notes out."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from doit import doit_cmd

from clipforge import session
from clipforge.config import input_display, input_identity, url_identity
from clipforge.errors import ErrorCode
from clipforge.session import Action, Decision, Env, act, decide
from clipforge.state import RunState

OTHER_PID = 999_999_999
TOKEN_URL = "https://host.example/v.mp4?token=tok-abcdef-123&v=7"
CRED_URL = "https://alice:pw-secret-9@host.example/v.mp4"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the identity key (.clipforge-key) is per folder
    doit_cmd.reset_vars()
    yield
    doit_cmd.reset_vars()


def saved(kind: str, raw: str = "/videos/talk.mp4") -> RunState | None:
    if kind == "none":
        return None
    st = RunState(input_source=input_display(raw), input_id=input_identity(raw), config_hash="h",
                  options={"clips": "1", "min_len": "8", "input": input_display(raw)})
    if kind == "failed":
        st.failure_point = {"stage": "segment", "segment": None, "code": "INJECTED", "time": "t"}
    elif kind == "killed":
        st.active_run = {"pid": OTHER_PID, "started_at": "t"}
        st.current_stage = "transcript"
    elif kind == "failed_download":
        st.failure_point = {"stage": "download", "segment": None, "code": "DOWNLOAD_FAILED", "time": "t"}
    return st


@dataclass
class Row:
    name: str
    state: str  # none, clean, failed, killed, failed_download
    given: dict = field(default_factory=dict)
    retry: bool = False
    nocache: bool = False
    terminal: bool = False
    answers: list = field(default_factory=list)  # what the user types, in order
    raw: str = "/videos/talk.mp4"
    # expected
    action: Action = Action.RESUME
    apply: set | None = None  # names of the saved options applied
    asked: int = 0
    note: str | None = None  # a substring of one note
    code: ErrorCode | None = None


ROWS = [
    Row("no state", "none", action=Action.FRESH, apply=set()),
    Row("retry without state", "none", retry=True, action=Action.FRESH, note="no previous run to resume"),
    Row("nocache", "failed", nocache=True, terminal=True, action=Action.DISCARD, apply=set()),
    Row("failed run + retry", "failed", retry=True, terminal=True, apply={"clips", "min_len", "input"},
        note="--retry: resuming the previous run (failed at segment (INJECTED))"),
    Row("failed run, terminal, y", "failed", terminal=True, answers=[True], asked=1,
        apply={"clips", "min_len", "input"}, note="resuming"),
    Row("failed run, terminal, n: options NOT kept", "failed", terminal=True, answers=[False], asked=1,
        action=Action.DISCARD, apply=set()),
    Row("killed run, no terminal: resumes and says so", "killed", apply={"clips", "min_len", "input"},
        note="no terminal to ask"),
    Row("given options win over saved ones", "failed", given={"clips": "3"}, apply={"min_len", "input"}),
    Row("clean saved run: quietly continued", "clean", apply={"clips", "min_len", "input"}),
    Row("other input, terminal, y", "failed", given={"input": "/videos/other.mp4"}, terminal=True, answers=[True],
        asked=1, action=Action.DISCARD, apply=set()),
    Row("other input, terminal, n", "failed", given={"input": "/videos/other.mp4"}, terminal=True, answers=[False],
        asked=1, action=Action.REFUSE, code=ErrorCode.INPUT_MISMATCH),
    Row("other input, no terminal", "failed", given={"input": "/videos/other.mp4"}, action=Action.REFUSE,
        code=ErrorCode.INPUT_MISMATCH),
    Row("other input even with --retry", "failed", given={"input": "/videos/other.mp4"}, retry=True,
        action=Action.REFUSE, code=ErrorCode.INPUT_MISMATCH),
    Row("same input spelled differently", "failed", given={"input": "/videos/./talk.mp4"}, retry=True,
        apply={"clips", "min_len"}),
    Row("URL token differs: another input", "failed", raw=TOKEN_URL,
        given={"input": TOKEN_URL.replace("tok-abcdef-123", "tok-zzzzzz-999")}, action=Action.REFUSE,
        code=ErrorCode.INPUT_MISMATCH),
    Row("URL with its token given again: same input", "failed", raw=TOKEN_URL, given={"input": TOKEN_URL},
        retry=True, apply={"clips", "min_len"}),
    Row("URL with removed credentials: note", "failed_download", raw=CRED_URL, retry=True,
        apply={"clips", "min_len", "input"}, note="credentials or tokens removed"),
    Row("URL with removed token: note", "failed", raw=TOKEN_URL, apply={"clips", "min_len", "input"},
        note="credentials or tokens removed"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_decision_table(row: Row):
    asked: list[str] = []
    answers = list(row.answers)

    def ask(question: str):
        asked.append(question)
        return answers.pop(0) if answers else None

    env = Env(interactive=row.terminal, ask=ask, say=lambda m: None, state=saved(row.state, row.raw),
              given=row.given, retry=row.retry, nocache=row.nocache, pid=12345)
    d = decide(env)
    assert d.action is row.action, d
    assert len(asked) == row.asked, asked
    if row.apply is not None:
        assert set(d.apply) == row.apply, d.apply
    if row.note:
        assert any(row.note in n for n in d.notes) or row.note in d.discard_note, d
    if row.code:
        assert d.error is not None and d.error.code is row.code
    if row.action is not Action.RESUME:
        assert d.apply == {}  # only a resumed run takes the saved options
    assert not any("REDACTED" in n or "tok-abcdef" in n or "pw-secret" in n for n in d.notes)


def test_a_resumed_url_run_is_named_by_its_redacted_form_but_keeps_its_identity():
    st = saved("failed", TOKEN_URL)
    env = Env(interactive=False, ask=lambda q: None, say=lambda m: None, state=st, given={}, retry=True,
              nocache=False, pid=1)
    d = decide(env)
    assert d.apply["input"] == st.input_source and "tok-abcdef" not in st.input_source
    assert url_identity(st.input_source) != st.input_id  # the redacted text is another URL...
    act(d, env)
    assert input_identity(doit_cmd.get_var("input")) == st.input_id  # ...but names the saved run here


def test_answering_no_applies_none_of_the_discarded_runs_options(tmp_path):
    """Item: `n` at the prompt used to keep the discarded run's options (set before asking)."""
    said: list[str] = []
    env = Env(interactive=True, ask=lambda q: False, say=said.append, state=saved("failed"), given={},
              retry=False, nocache=False, pid=1)
    act(decide(env), env)
    assert doit_cmd.get_var("clips") is None and doit_cmd.get_var("min_len") is None
    assert any(m.startswith("starting fresh") for m in said)
    assert session.pipeline.FRESH is True
    session.pipeline.FRESH = False


def test_refusal_changes_nothing():
    env = Env(interactive=False, ask=lambda q: None, say=lambda m: None, state=saved("failed"),
              given={"input": "/videos/other.mp4"}, retry=False, nocache=False, pid=1)
    d = decide(env)
    with pytest.raises(Exception) as err:
        act(d, env)
    assert getattr(err.value, "code", None) is ErrorCode.INPUT_MISMATCH
    assert doit_cmd.get_var("clips") is None


def test_decision_records_are_keyword_only():
    with pytest.raises(TypeError):
        Decision(Action.FRESH)  # type: ignore[misc]
