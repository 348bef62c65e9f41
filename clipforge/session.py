"""Before and after a run: resume or start fresh, then clean up or report the failure.

Flags win over prompts; without a terminal nothing is ever deleted unless a flag says so.
"""

from __future__ import annotations

import os
import sys
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
from clipforge.state.store import now


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


def prepare(retry: bool, nocache: bool) -> None:
    given = cmdline_vars()
    load_options(given)  # a bad option is reported before anything is touched
    if temp_dir_is_link():
        # Writing through the link would put our files elsewhere, and cleaning up would then have to
        # delete through it: refuse before anything is written or deleted.
        raise ClipforgeError(f"{TEMP_DIR}/ is a link to {os.path.realpath(TEMP_DIR)}; clipforge only writes and "
                             "deletes in a real temp_processing/ folder", code=ErrorCode.TEMP_LINKED)
    if nocache:
        removed = discard()
        pipeline.FRESH = True
        say(f"--nocache: removed the state file and {removed} temp file(s); starting fresh")
        st = None
    else:
        st = CURRENT.state
    if st is not None:
        _resume_or_discard(st, given, retry)
    elif retry:
        say("--retry: there is no previous run to resume; starting a normal run")
    remove_partials(TEMP_DIR, warn=say)
    _remove_root_partials()
    if CURRENT.state is None and pipeline.load_context().done():
        return  # nothing will run: do not write a state file only to delete it
    opts = load_options(cmdline_vars())
    st = CURRENT.ensure(input_display(opts.input), opts.config_hash(), input_identity(opts.input))
    st.active_run = {"pid": os.getpid(), "started_at": now()}
    st.options = {k: (input_display(v) if k == "input" else str(v)) for k, v in cmdline_vars().items()}
    CURRENT.save()


def _resume_or_discard(st, given: dict, retry: bool) -> None:
    if "input" in given and not _same_input(st, given["input"]):
        question = (f"The unfinished run is for {st.input_source}, not {input_display(given['input'])}. "
                    "Discard it and start fresh? [y/n] ")
        if interactive() and ask(question):
            discard()
            pipeline.FRESH = True
            return
        raise ClipforgeError(f"the unfinished run in this folder is for {st.input_source}, not "
                             f"{input_display(given['input'])}", code=ErrorCode.INPUT_MISMATCH)
    # Resuming means the same video and options: unless given again, take them from the state.
    # A URL's token was never saved, so the user passes input= again if the download must be redone.
    secrets_removed = is_url(st.input_source) and st.input_id and url_identity(st.input_source) != st.input_id
    if "input" not in given and st.input_id:
        remember_identity(st.input_source, st.input_id)
    for name, value in {**st.options, "input": st.input_source}.items():
        if name not in given:
            doit_cmd.set_var(name, value)
    unfinished = st.failure_point is not None or (st.active_run and st.active_run.get("pid") != os.getpid())
    if not unfinished:
        return
    if retry:
        say(f"--retry: resuming the previous run ({_describe(st)})")
    elif interactive():
        say(f"the previous run {_describe(st)}")
        answer = ask("Previous session failed. Resume? [y/n] ")
        if answer is False:
            removed = discard()
            pipeline.FRESH = True
            say(f"starting fresh: removed the state file and {removed} temp file(s)")
        else:
            say("resuming")
    else:
        say(f"resuming the previous run ({_describe(st)}); no terminal to ask. `doit --nocache` starts fresh")
    if (secrets_removed or "REDACTED" in st.input_source) and "input" not in given:
        say("the saved URL had its credentials removed; if the download must be redone, pass input=URL again")


ROOT_PARTIAL_STEMS = (".temp_clips", ".doit-db", ".clipforge-key")  # state file, backup, doit db, key


def _same_input(st, raw: str) -> bool:
    if st.input_id is None:  # a state file from before input_id: its input_source was the identity
        return input_display(raw) == st.input_source
    return input_identity(raw) == st.input_id


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
    from clipforge.stages.render import outputs_current

    st = CURRENT.state
    ctx = pipeline.load_context()
    if rc == 0 and st is None and ctx.done():
        say("nothing to do: clips/ already holds this input's clips for these options")
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
            CURRENT.record_failure(st.current_stage or "start", None, ErrorCode.INTERRUPTED.name, "interrupted")
        st.active_run = None
        CURRENT.save()
    err = ClipforgeError("interrupted; finished work is saved", code=ErrorCode.INTERRUPTED)
    print(err.one_line(), file=sys.stderr)
    return err.code.exit_status
