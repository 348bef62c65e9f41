"""Before and after a run: resume or start fresh, then clean up or report the failure.

Flags win over prompts; without a terminal nothing is ever deleted unless a flag says so.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from doit import doit_cmd

from clipforge import pipeline
from clipforge.config import cmdline_vars, input_display, input_identity, load_options, remember_identity, url_identity
from clipforge.errors import ClipforgeError, ErrorCode, StateError
from clipforge.redact import is_url
from clipforge.state import (
    CURRENT,
    TEMP_DIR,
    delete_state_file,
    delete_temp_files,
    load_state_file,
    remove_partials,
    temp_dir_is_link,
)
from clipforge.state.store import RunState, now


def say(msg: str) -> None:
    print(f"clipforge: {msg}", file=sys.stderr, flush=True)


def interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def ask(question: str) -> bool | None:
    """True/False for y/n, None if no answer could be read."""
    while True:
        try:
            answer = input(question).strip().lower()
        except EOFError:
            return None
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False


def discard() -> int:
    """Delete the state file and every temp file; return how many files went."""
    try:
        st = load_state_file(warn=say)
    except StateError:
        st = None  # a corrupt record is not needed to clean up temp_processing/
    removed = delete_temp_files(st, warn=say)
    delete_state_file()
    CURRENT.forget()
    return removed


def _describe(st) -> str:
    fp = st.failure_point
    if fp:
        where = fp["stage"] + (f":{fp['segment']}" if fp.get("segment") else "")
        return f"failed at {where} ({fp['code']})"
    return f"stopped after {st.current_stage or 'the start'} (killed or still unfinished)"


# -- the decision, table-testable without doit -------------------------------------------------

class Action(enum.Enum):
    FRESH = "fresh"  # no saved run: start one
    RESUME = "resume"  # continue the saved run, with its options unless given again
    DISCARD = "discard"  # delete the saved run and its temp files, then start fresh
    REFUSE = "refuse"  # stop with `error`; nothing is touched


@dataclass(frozen=True, kw_only=True)
class Env:
    """Everything the resume decision depends on, injected so it runs without doit or a terminal."""

    interactive: bool
    ask: Callable[[str], bool | None]
    say: Callable[[str], None]
    state: RunState | None
    given: dict[str, str]
    retry: bool
    nocache: bool
    pid: int
    clock: Callable[[], str] = now


@dataclass(frozen=True, kw_only=True)
class Decision:
    action: Action
    apply: dict[str, str] = field(default_factory=dict)  # saved options to set; only ever when resuming
    identity: tuple[str, str] | None = None  # (display, input_id): what the saved input name stands for
    notes: tuple[str, ...] = ()  # said after acting
    discard_note: str = ""  # said after discarding; {removed} is the number of temp files removed
    error: ClipforgeError | None = None


def decide(env: Env) -> Decision:
    """Resume, discard, refuse or start fresh. Flags win over prompts; without a terminal nothing
    is deleted unless a flag says so. Only env.ask is called; nothing is printed or changed."""
    st, given = env.state, env.given
    if env.nocache:
        return Decision(action=Action.DISCARD,
                        discard_note="--nocache: removed the state file and {removed} temp file(s); starting fresh")
    if st is None:
        notes = ("--retry: there is no previous run to resume; starting a normal run",) if env.retry else ()
        return Decision(action=Action.FRESH, notes=notes)
    if "input" in given and not _same_input(st, given["input"]):
        other = input_display(given["input"])
        question = f"The unfinished run is for {st.input_source}, not {other}. Discard it and start fresh? [y/n] "
        if env.interactive and env.ask(question):
            return Decision(action=Action.DISCARD, discard_note=f"starting fresh with {other}: removed the "
                            "unfinished run's state file and {removed} temp file(s)")
        return Decision(action=Action.REFUSE, error=ClipforgeError(
            f"the unfinished run in this folder is for {st.input_source}, not {other}", code=ErrorCode.INPUT_MISMATCH))
    # Resuming means the same video and options: unless given again, take them from the state.
    apply = {k: v for k, v in {**st.options, "input": st.input_source}.items() if k not in given}
    identity = (st.input_source, st.input_id) if "input" in apply and st.input_id else None
    resume = Decision(action=Action.RESUME, apply=apply, identity=identity)
    unfinished = st.failure_point is not None or bool(st.active_run and st.active_run.get("pid") != env.pid)
    if not unfinished:
        return resume
    if env.retry:
        notes = [f"--retry: resuming the previous run ({_describe(st)})"]
    elif env.interactive:
        answer = env.ask(f"clipforge: the previous run {_describe(st)}\nPrevious session failed. Resume? [y/n] ")
        if answer is False:
            # The discarded run's options go with it: the fresh run uses only what was given.
            return Decision(action=Action.DISCARD,
                            discard_note="starting fresh: removed the state file and {removed} temp file(s)")
        notes = ["resuming"]
    else:
        notes = [f"resuming the previous run ({_describe(st)}); no terminal to ask. `doit --nocache` starts fresh"]
    if "input" in apply and _secrets_removed(st):
        where = "the download will run without them" if "download" not in st.tasks else "they are not needed now"
        notes.append("the saved URL had its credentials or tokens removed (they are never stored); "
                     f"{where} unless you pass input=URL again")
    return Decision(action=Action.RESUME, apply=apply, identity=identity, notes=tuple(notes))


def act(decision: Decision, env: Env) -> None:
    """Carry out a decision: the only place where it deletes, sets doit variables or raises."""
    if decision.action is Action.REFUSE:
        raise decision.error
    if decision.action is Action.DISCARD:
        removed = discard()
        pipeline.FRESH = True
        env.say(decision.discard_note.format(removed=removed))
    if decision.action is Action.RESUME:
        if decision.identity:
            remember_identity(*decision.identity)
        for name, value in decision.apply.items():
            doit_cmd.set_var(name, value)
    for note in decision.notes:
        env.say(note)


def prepare(retry: bool, nocache: bool) -> None:
    given = cmdline_vars()
    load_options(given)  # a bad option is reported before anything is touched
    if temp_dir_is_link():
        # Writing through the link would put our files elsewhere, and cleaning up would then have to
        # delete through it: refuse before anything is written or deleted.
        raise ClipforgeError(f"{TEMP_DIR}/ is a link to {os.path.realpath(TEMP_DIR)}; clipforge only writes and "
                             "deletes in a real temp_processing/ folder", code=ErrorCode.TEMP_LINKED)
    env = Env(interactive=interactive(), ask=ask, say=say, state=None if nocache else CURRENT.state, given=given,
              retry=retry, nocache=nocache, pid=os.getpid())
    act(decide(env), env)
    remove_partials(TEMP_DIR, warn=say)
    _remove_root_partials()
    opts = load_options(cmdline_vars())
    if pipeline.load_context().done():
        st = CURRENT.state
        if st is not None and not _owns(st, opts):
            say(f"an unfinished run for other options is kept ({_describe(st)}): `doit --retry` finishes it, "
                "`doit --nocache` discards it")
        return  # nothing will run: neither write a state file only to delete it, nor adopt another's
    st = CURRENT.ensure(input_display(opts.input), opts.config_hash(), input_identity(opts.input))
    # From here the saved run is this run: finishing it deletes it, so it records these options.
    st.config_hash = opts.config_hash()
    st.active_run = {"pid": os.getpid(), "started_at": now()}
    st.options = {k: (input_display(v) if k == "input" else str(v)) for k, v in cmdline_vars().items()}
    CURRENT.save()


def _owns(st, opts) -> bool:
    """True if the saved run is for these options and this input (so finishing may delete it)."""
    return st.config_hash == opts.config_hash() and _same_input(st, opts.input)


def _secrets_removed(st) -> bool:
    """True if the saved URL is not the URL the run used: its credentials or tokens were removed."""
    if not is_url(st.input_source):
        return False
    if st.input_id is None:  # a state file from before input_id
        return "REDACTED" in st.input_source
    return url_identity(st.input_source) != st.input_id


def _same_input(st, raw: str) -> bool:
    if st.input_id is None:  # a state file from before input_id: its input_source was the identity
        return input_display(raw) == st.input_source
    return input_identity(raw) == st.input_id


ROOT_PARTIAL_STEMS = (".temp_clips", ".doit-db", ".clipforge-key")  # state file, backup, doit db, key


def _remove_root_partials() -> int:
    """A kill mid-write can leave atomic_path's temporaries beside the state file and in clips/.

    Only names atomic_path makes are removed (in the project folder only those of our own files),
    never through a link: a linked clips/ is left alone, and a link is removed, not its target.
    """
    from clipforge.fsutil import partial_stem

    removed = 0
    for folder, ours in ((Path("."), lambda stem: stem.startswith(ROOT_PARTIAL_STEMS)),
                         (Path("clips"), lambda stem: True)):
        if folder.is_symlink() or not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            stem = partial_stem(entry.name)
            if stem is not None and ours(stem) and not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
    return removed


def finish(rc: int) -> int:
    from clipforge.state.finished import outputs_current

    st = CURRENT.state
    ctx = pipeline.load_context()
    if rc == 0 and (st is None or not _owns(st, ctx.opts)) and ctx.done():
        # A saved run for other options is not ours to delete: it stays, untouched.
        say("nothing to do: clips/ already holds this input's clips for these options")
        return 0
    if rc == 0 and st is not None and ctx.opts.keep == "yes" and outputs_current(ctx.run_key()):
        st.active_run = None
        CURRENT.save()
        say("done: clips are in clips/; keep=yes kept temp_processing/ and the state file: edit a decision file "
            "(subtitles/*.ass, vfx/*.reframe.json, broll/*.broll.json) and run `doit keep=yes` to re-render that clip")
        return 0
    if rc == 0 and outputs_current(ctx.run_key()):
        removed = delete_temp_files(st, warn=say)
        delete_state_file()
        CURRENT.forget()
        if removed:
            say(f"done: clips and manifest are in clips/; removed {removed} temp file(s) and the state file")
        return 0
    if st is None:
        return rc
    st.active_run = None
    CURRENT.save()
    fp = st.failure_point
    if rc != 0 and fp:
        return ErrorCode[fp["code"]].exit_status
    return rc


def interrupted() -> int:
    st = CURRENT.state
    if st is not None:
        if not st.failure_point or st.failure_point.get("code") != ErrorCode.INTERRUPTED.name:
            CURRENT.record_failure(st.current_stage or "start", None, code=ErrorCode.INTERRUPTED.name,
                                   message="interrupted")
        st.active_run = None
        CURRENT.save()
    err = ClipforgeError("interrupted; finished work is saved", code=ErrorCode.INTERRUPTED)
    print(err.one_line(), file=sys.stderr)
    return err.code.exit_status
