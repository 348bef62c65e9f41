"""`doit edit [port=N]`: serve the editor on 127.0.0.1 until Ctrl-C; it opens nothing by itself."""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

from doit.cmd_base import Command

from clipforge.errors import ClipforgeError, ErrorCode, OptionError

HOST = "127.0.0.1"  # loopback only: never another interface, whatever the options say


def _port(variables: dict[str, str]) -> int:
    unknown = sorted(set(variables) - {"port"})
    if unknown:
        raise OptionError(f"doit edit: unknown option {unknown[0]!r}", hint="doit edit [port=N]")
    raw = variables.get("port", "0")
    try:
        port = int(raw)
    except ValueError:
        raise OptionError(f"port={raw!r} is not a number", hint="doit edit port=8765, or leave port= out") from None
    if not 0 <= port <= 65535:
        raise OptionError(f"port={port} is out of range", hint="pick 1024-65535, or leave port= out for a free one")
    return port


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
        sock.listen(64)  # before the address is printed: a browser opened at once is queued, not refused
    except OSError as err:
        sock.close()
        raise ClipforgeError(f"cannot listen on {HOST}:{port} ({err.strerror})", code=ErrorCode.BAD_OPTION,
                             hint="pick another port=, or leave port= out for a free one") from None
    return sock


def serve(variables: dict[str, str], args: list[str]) -> int:
    import uvicorn

    from clipforge.editor.app import create_app
    from clipforge.editor.builds import Builder
    from clipforge.editor.security import Guard

    if args:
        raise OptionError(f"doit edit: unknown argument {args[0]!r}", hint="doit edit [port=N]")
    root = Path.cwd()
    if not (root / "dodo.py").exists() or not (root / "pyproject.toml").exists():
        raise OptionError("doit edit runs in a clipforge project folder (dodo.py and pyproject.toml)",
                          hint=f"cd to the project folder; {root} is not one")
    sock = _bind(_port(variables))
    guard = Guard.new(sock.getsockname()[1])
    builder = Builder(root)
    builder.start()
    app = create_app(root=root, guard=guard, builder=builder)
    print(f"clipforge: the editor is at {guard.url()}  (only this machine can reach it; Ctrl-C stops it)",
          file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        if builder.child is not None:  # a build the editor started stops with it, and records that
            builder.child.send_signal(signal.SIGINT)
            builder.child.wait(timeout=30)
        sock.close()
    return 0


class Edit(Command):
    """`doit edit [port=N]` (README, "The editor")."""

    name = "edit"
    doc_purpose = "edit the last run's clips in the browser (a local server on 127.0.0.1)"
    doc_usage = "[port=N]"
    doc_description = None
    cmd_options = ()

    def execute(self, params, args):
        from clipforge.cli import guarded
        from clipforge.config import cmdline_vars

        return guarded(lambda: serve(cmdline_vars(), list(args)))
