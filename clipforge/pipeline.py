"""The run's context, built once when dodo.py loads: options, paths, and whether all is already done.

Nothing heavy is imported here: `doit list` and a no-op `doit` must start as fast as bare doit.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from clipforge import __version__
from clipforge.config import Options, cmdline_vars, input_identity, load_options, source_key
from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.redact import is_url

TMP = "temp_processing"
# Set by `doit --nocache` before dodo.py loads: rebuild even if the final outputs are current.
FRESH = False


@dataclass
class Context:
    opts: Options
    source_key: str

    @property
    def media(self) -> str:
        return f"{TMP}/source_{self.source_key}.media"

    source_info = f"{TMP}/source.json"
    wav = f"{TMP}/audio.wav"
    chunks = f"{TMP}/chunks.json"
    transcript = f"{TMP}/transcript.json"
    segments = f"{TMP}/segments.json"
    ledger = f"{TMP}/llm_ledger.jsonl"

    @staticmethod
    def chunk_file(chunk_id: str) -> str:
        return f"{TMP}/transcribe/{chunk_id}.json"

    @staticmethod
    def unit_file(stage: str, unit: str, suffix: str) -> str:
        return f"{TMP}/{stage}/{unit}{suffix}"

    @property
    def local_input(self) -> list[str]:
        # Always the absolute path: doit compares file_dep lists by string, and a resumed run
        # names the input by the state file's absolute path.
        return [] if is_url(self.opts.input) else [input_identity(self.opts.input)]

    def run_key(self) -> str:
        """Identifies the final outputs: tool version, input (and its size/mtime when local), every option."""
        ident = input_identity(self.opts.input)
        for path in self.local_input:
            try:
                st = Path(path).stat()
                ident += f":{st.st_size}:{st.st_mtime_ns}"
            except OSError:
                ident += ":missing"
        seg = self.opts.stage_hash("segment")
        raw = f"{__version__}|{ident}|{self.opts.config_hash()}|{seg}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]

    def done(self) -> bool:
        """True when clips/ already holds this run's outputs: every task is then up to date.

        With keep=yes the decision files stay editable, so each task asks the state file instead.
        """
        if FRESH or self.opts.keep == "yes":
            return False
        from clipforge.state.finished import outputs_current

        return outputs_current(self.run_key(), quick=True)


def load_context() -> Context:
    """Options from pyproject.toml and `doit key=value`; a bad option ends the process with one line."""
    try:
        opts = load_options(cmdline_vars())
    except ClipforgeError as err:
        print(err.one_line(), file=sys.stderr)
        raise SystemExit(err.code.exit_status) from None
    from clipforge.redact import remember_secrets

    remember_secrets(opts.input)  # scrub() then knows them wherever a message is made

    return Context(opts=opts, source_key=source_key(opts.input))


def require_project_folder(dodo_file: str) -> None:
    """Stop with one line when doit runs without clipforge's commands and backend.

    doit registers them only from ./pyproject.toml: started from another folder (`doit -f
    /path/dodo.py`, `doit -k` in a subfolder) it would run without them and end in a traceback.
    The backend module is imported before any dodo.py loads when they are registered.
    """
    if "clipforge.doitdb" in sys.modules:
        return
    here = Path(dodo_file).resolve().parent
    err = ClipforgeError(f"doit was started outside the clipforge project folder {here}, so clipforge's "
                         "commands are not loaded", code=ErrorCode.BAD_OPTION, hint=f"cd {here} and run doit there")
    print(err.one_line(), file=sys.stderr)
    raise SystemExit(err.code.exit_status)
