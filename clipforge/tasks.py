"""Turn a stage function into a doit task whose freshness and failures live in the state file."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from clipforge import hooks
from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.media import is_disk_full, is_not_writable, not_writable_error
from clipforge.redact import scrub


@dataclass(kw_only=True)
class Step:
    """What one doit task does: call `run()`, then record `targets` against `inputs` in the state file."""

    task: str  # doit task name, "extract:seg002"
    run: Callable[[], None]
    targets: list[str]
    inputs: Callable[[], list[str]]  # files whose checksums the result depends on
    config_hash: str  # the options (and, per clip, the clip's plan and words) it was made from
    after: Callable[[], None] | None = None  # e.g. queue the next per-clip stage
    secrets: tuple[str, ...] = field(default=())

    @property
    def stage(self) -> str:
        return self.task.split(":")[0]

    @property
    def unit(self) -> str | None:
        return self.task.split(":")[1] if ":" in self.task else None


def classify(err: BaseException) -> ClipforgeError:
    if isinstance(err, ClipforgeError):
        return err
    if isinstance(err, KeyboardInterrupt):
        return ClipforgeError("interrupted", code=ErrorCode.INTERRUPTED)
    if is_disk_full(err):
        return ClipforgeError(f"disk full while writing ({err.strerror})", code=ErrorCode.DISK_FULL)
    if is_not_writable(err):
        return not_writable_error(err)
    return ClipforgeError(f"unexpected {err.__class__.__name__}: {str(err)[:200]}", code=ErrorCode.INTERNAL)


def execute(step: Step):
    """The python-action of every task: run, then checkpoint; on failure record it and keep temp files."""
    from doit.exceptions import TaskFailed

    from clipforge import progress
    from clipforge.state import CURRENT

    hooks.current_task = step.task
    progress.task_starting(step.stage, step.unit)
    try:
        began = time.monotonic()
        step.run()
        seconds = time.monotonic() - began
        hooks.before_record()
        CURRENT.record_task(step.task, step.config_hash, targets=step.targets, inputs=step.inputs(), seconds=seconds)
        if step.unit:
            CURRENT.finish_unit(step.stage, step.unit)
        else:
            CURRENT.state.current_stage = step.stage
        if step.after:
            step.after()
        CURRENT.state.failure_point = None
        CURRENT.state.error_log.clear()
        CURRENT.save()
        progress.task_finished(step.stage, step.unit)
    except BaseException as err:
        error = classify(err)
        message = scrub(error.message, *step.secrets)
        try:
            CURRENT.record_failure(step.stage, step.unit, code=error.code.name, message=message)
        except Exception:  # the disk may be full: the failure line must still reach the user
            pass
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        if os.environ.get("CLIPFORGE_DEBUG"):
            traceback.print_exc()
        return TaskFailed(scrub(error.one_line(), *step.secrets))
    finally:
        hooks.current_task = None


class StateSaysCurrent:
    """doit's one up-to-date check for every clipforge task: ask the state file.

    Tasks declare no `file_dep`, so doit's own database never decides freshness (it is
    written only when a run ends, doit #463); the state file, written after every task,
    does: the task finished with these options, its inputs have the recorded checksums,
    and every target still has its recorded size and sha256.
    """

    def __init__(self, step: Step, accept_edits: bool = False):
        self.step = step
        self.accept_edits = accept_edits  # decision files a user may edit (keep=yes)

    def __call__(self) -> bool:
        from clipforge.state import CURRENT

        s = self.step
        return CURRENT.is_current(s.task, s.config_hash, targets=s.targets, inputs=s.inputs(),
                                  accept_edits=self.accept_edits)


def doit_task(step: Step, *, doc: str, task_dep: list[str] = (), accept_edits: bool = False, **extra) -> dict:
    """A doit task dict for `step`; ordering comes from task_dep, freshness from StateSaysCurrent."""
    name = step.task.split(":")
    task = {
        "actions": [(execute, [], {"step": step})],  # doit's (callable, args, kwargs): the step passed by name
        "targets": list(step.targets),
        "task_dep": list(task_dep),
        "uptodate": [StateSaysCurrent(step, accept_edits)],
        "doc": doc,
        "verbosity": 2,
        **extra,
    }
    if len(name) == 2:
        task["name"] = name[1]
    return task


def done_task(doc: str) -> dict:
    """A task that is up to date because the final outputs for these inputs and options already exist."""
    return {"actions": None, "uptodate": [True], "doc": doc}
