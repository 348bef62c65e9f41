"""doit's console reporter, minus tracebacks: a failed task prints the one line its error carries."""

from __future__ import annotations

import os

from doit.reporter import ConsoleReporter

from clipforge.redact import scrub


class ClipforgeReporter(ConsoleReporter):
    def add_failure(self, task, fail) -> None:
        if not fail.report:
            return
        self.failures.append({"task": task, "exception": fail})
        if os.environ.get("CLIPFORGE_DEBUG"):
            self.write(fail.get_msg())
        msg = (fail.message if hasattr(fail, "message") else "") or fail.get_msg()
        lines = [ln for ln in str(msg).splitlines() if ln.strip()]
        line = lines[0] if lines else fail.get_name()
        if not line.startswith("clipforge:"):
            line = f"clipforge: {task.name} failed: {lines[-1] if lines else fail.get_name()}"
        self.write(scrub(line) + "\n")

    def complete_run(self) -> None:
        for msg in self.runtime_errors:
            first = next((ln for ln in str(msg).splitlines() if ln.strip()), str(msg))
            self.write(scrub(f"clipforge: doit: {first}") + "\n")
