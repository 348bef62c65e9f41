"""doit commands: `doit [--retry|--nocache]`, `doit forget`, `doit status`.

This is the one place that turns an exception into an exit status and one line
of output (README, "Error codes"); set CLIPFORGE_DEBUG=1 for tracebacks.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

from doit.cmd_base import Command, DoitCmdBase
from doit.cmd_forget import Forget as DoitForget
from doit.cmd_run import Run as DoitRun
from doit.cmdparse import CmdParseError
from doit.exceptions import InvalidCommand, InvalidTask

from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.lock import RunLock
from clipforge.media import is_disk_full, is_not_writable, not_writable_error


def say(msg: str) -> None:
    print(f"clipforge: {msg}", file=sys.stderr, flush=True)


def guarded(fn) -> int:
    """Run a command body; map every error to one line and its documented exit status."""
    try:
        return fn()
    except ClipforgeError as err:
        print(err.one_line(), file=sys.stderr)
        return err.code.exit_status
    except KeyboardInterrupt:
        err = ClipforgeError("interrupted", code=ErrorCode.INTERRUPTED)
        print(err.one_line(), file=sys.stderr)
        return err.code.exit_status
    except (CmdParseError, InvalidCommand, InvalidTask) as exc:
        err = ClipforgeError(str(exc).splitlines()[0], code=ErrorCode.BAD_OPTION,
                             hint="see `doit help run` and README, Options")
        print(err.one_line(), file=sys.stderr)
        return err.code.exit_status
    except Exception as exc:  # a bug or an environment problem: still one line unless asked
        if os.environ.get("CLIPFORGE_DEBUG"):
            traceback.print_exc()
        if is_not_writable(exc):
            err = not_writable_error(exc)
            print(err.one_line(), file=sys.stderr)
            return err.code.exit_status
        code = ErrorCode.DISK_FULL if is_disk_full(exc) else ErrorCode.INTERNAL
        err = ClipforgeError(f"{exc.__class__.__name__}: {str(exc)[:200]}", code=code)
        print(err.one_line(), file=sys.stderr)
        return code.exit_status


def _sigterm(signum, frame):
    # Same path as Ctrl-C: the task records the interruption and ffmpeg is killed (clipforge.media).
    raise KeyboardInterrupt


opt_retry = {"name": "retry", "long": "retry", "type": bool, "default": False,
             "help": "resume the previous (failed or interrupted) run without asking"}
opt_nocache = {"name": "nocache", "long": "nocache", "type": bool, "default": False,
               "help": "delete the state file and temp files, then start fresh"}


class Run(DoitRun):
    name = "run"
    cmd_options = DoitRun.cmd_options + (opt_retry, opt_nocache)

    def execute(self, params, args):
        return guarded(lambda: self._locked_run(params, args))

    def _locked_run(self, params, args) -> int:
        from clipforge import session

        lock = RunLock()
        lock.acquire(note=say)
        previous = signal.signal(signal.SIGTERM, _sigterm)
        try:
            session.prepare(retry=params["retry"], nocache=params["nocache"])
            try:
                rc = super().execute(params, args)
            except KeyboardInterrupt:
                return session.interrupted()
            return session.finish(rc)
        finally:
            signal.signal(signal.SIGTERM, previous)
            lock.release()

    def _execute(self, outfile, *, verbosity=None, always=False, continue_=False, reporter="console",
                 num_process=0, par_type="process", single=False, auto_delayed_regex=False,
                 force_verbosity=False, failure_verbosity=0, pdb=False, retry=False, nocache=False):
        # doit passes options by the names in this signature: doit inspects `_execute`'s signature to pick them.
        if num_process:
            # The checkpoint is one in-process record, and ffmpeg and whisper already use every core.
            say(f"-n {num_process} ignored: clipforge runs one task at a time")
            num_process = 0
        return super()._execute(outfile, verbosity, always, continue_, reporter, num_process, par_type,
                                single, auto_delayed_regex, force_verbosity, failure_verbosity, pdb)


class Forget(DoitForget):
    """`doit forget` with no task also deletes the state file and temp files."""

    name = "forget"

    def execute(self, params, args):
        if args:
            return guarded(lambda: self._forget_tasks(params, args))
        return guarded(lambda: self._forget_all(params, args))

    def _forget_all(self, params, args) -> int:
        from clipforge import session

        with RunLock():
            removed = session.discard()
            params["forget_all"] = True
            super().execute(params, args)
        say(f"forgot the run: state file and {removed} temp file(s) removed; clips/ is kept")
        return 0

    def _forget_tasks(self, params, args) -> int:
        from clipforge.state import CURRENT

        with RunLock():
            rc = super().execute(params, args)
            st = CURRENT.state
            if st is not None:
                forget_in_state(st, args)
                CURRENT.save()
        return rc or 0


def forget_in_state(st, args: list[str]) -> None:
    """Forget tasks in the state as doit forgets them: their records, and their units are queued again,
    so `doit status` and the next run see them as pending."""
    for name in list(st.tasks):
        if name in args or name.split(":")[0] in args:
            del st.tasks[name]
    for stage, done in st.completed_segments.items():
        forgotten = [u for u in done if stage in args or f"{stage}:{u['id']}" in args]
        if forgotten:
            st.completed_segments[stage] = [u for u in done if u not in forgotten]
            queue = st.segment_queue.setdefault(stage, [])
            queued = {u["id"] for u in queue}
            queue.extend(u for u in forgotten if u["id"] not in queued)
            queue.sort(key=lambda u: u["id"])


class Status(DoitCmdBase):
    """Print the stage table, segments, the failure and what `doit --retry` would do."""

    name = "status"
    doc_purpose = "show the saved run: stages, segments, failure point, next step"
    doc_usage = ""
    doc_description = None
    cmd_options = ()

    def execute(self, params, args):
        from clipforge import status

        return guarded(status.show)


class Batch(Command):
    """`doit batch list=FILE_OR_DIR [key=value...]`: every video in its own workspace, on Dask (clipforge.batch)."""

    name = "batch"
    doc_purpose = "run many videos (list=FILE_OR_DIR) on a local or remote Dask cluster; resumable"
    doc_usage = "[status] [--retry] list=FILE_OR_DIR [workers=N] [threads=N] [scheduler=tcp://HOST:8786] [key=value...]"
    doc_description = None
    cmd_options = (opt_retry,)

    def execute(self, params, args):
        from clipforge import batch
        from clipforge.config import cmdline_vars

        # SIGTERM as Ctrl-C: the cluster is closed, its workers and their videos' runs stop with it.
        previous = signal.signal(signal.SIGTERM, _sigterm)
        try:
            return guarded(lambda: batch.main(cmdline_vars(), list(args), retry_flag=params["retry"]))
        finally:
            signal.signal(signal.SIGTERM, previous)


class BatchStatus(Command):
    """`doit batch-status`: the same table as `doit batch status`."""

    name = "batch-status"
    doc_purpose = "show the batch: each video's status, error code and clips"
    doc_usage = ""
    doc_description = None
    cmd_options = ()

    def execute(self, params, args):
        from clipforge import batch

        return guarded(batch.status)
