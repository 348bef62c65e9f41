"""A loopback OpenAI-compatible server for tests: the far side of the network.

Implements POST /v1/chat/completions and GET /v1/models. Each request takes the next
behaviour from `script` (a list), or `default` once the script is spent:

  smart        a label request gets a title made of the clip's longest word ("All About Graphite") and
               kind "insight"; a rank request gets every id listed, highest id first (a valid permutation
               that does not depend on the order the ids were listed in)
  fenced       the smart reply wrapped in ```json fences
  bad_json     text that is not JSON
  schema       JSON that breaks the schema
  no_json_schema  HTTP 400 for json_schema output (an older server), smart for JSON mode
  copy         a title made of the clip's first four words (what small models do)
  placeholder  a title of "..." (a copied example)
  sponsor      kind "sponsor read" (a dull label: the candidate is vetoed)
  context_overflow  HTTP 400 with llama.cpp's "exceeds the available context size" message
  rate_limit   HTTP 429 with Retry-After: 1
  slow         sleep `slow_seconds` (past a short client timeout), then smart
  error500     HTTP 500
  unauthorized HTTP 401, echoing the bearer token (a careless server; the client must not repeat it)
  echo_auth_401 / echo_auth_500  HTTP 401 / 500 whose body echoes the whole Authorization header
  not_found    HTTP 404 (model not found)

GET /props answers like llama.cpp's server when `n_ctx` is set (else 404, like OpenAI).

Use `with LLMServer() as srv:` (srv.url is the base URL ending in /v1), the
`llm_server` pytest fixture, or `python3 -m tests.llm_server --port 8765`.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BEHAVIOURS = ("smart", "fenced", "bad_json", "schema", "copy", "placeholder", "sponsor", "no_json_schema",
              "rate_limit", "slow", "error500", "unauthorized", "not_found", "echo_auth_401", "echo_auth_500",
              "context_overflow")
CONTEXT_OVERFLOW = "the request exceeds the available context size, try increasing it"


def clip_text(user_text: str) -> str:
    return user_text.split("\n", 1)[1] if "\n" in user_text else user_text


def smart_label(user_text: str) -> dict:
    words = re.findall(r"[A-Za-z]+", clip_text(user_text))
    top = max(words, key=lambda w: (len(w), w.lower())) if words else "nothing"
    return {"title": f"All About {top.capitalize()}", "kind": "insight"}


def smart_rank(schema: dict) -> dict:
    ids = ((schema.get("properties") or {}).get("order") or {}).get("items", {}).get("enum") or []
    return {"order": sorted(ids, key=lambda c: -int(re.sub(r"\D", "", c) or 0))}


def listed_ids(user_text: str) -> list[str]:
    """The candidate ids of a rank request, in the order the request listed them."""
    return re.findall(r"^id (\S+):", user_text, re.M)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection: simple and robust

    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to tell it

    def _error(self, status: int, message: str, type_: str, headers: dict | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": type_, "param": None, "code": type_}}, headers)

    def do_GET(self):
        if self.path.rstrip("/") == "/props" and self.server.owner.n_ctx:
            self._send(200, {"default_generation_settings": {"n_ctx": self.server.owner.n_ctx}})
        elif self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [
                {"id": self.server.owner.model, "object": "model", "created": 0, "owned_by": "tests"}]})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_POST(self):
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {self.path}", "not_found")
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            return self._error(400, "request body is not JSON", "invalid_request_error")
        owner = self.server.owner
        behaviour = owner._record(body, self.headers.get("Authorization", ""))
        if behaviour == "rate_limit":
            return self._error(429, "Rate limit reached; try again in 1s.", "rate_limit_exceeded",
                               {"Retry-After": "1"})
        if behaviour == "error500":
            return self._error(500, "The server had an error while processing your request.", "server_error")
        if behaviour == "unauthorized":
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            return self._error(401, f"Incorrect API key provided: {token}.", "invalid_api_key")
        if behaviour in ("echo_auth_401", "echo_auth_500"):
            auth = self.headers.get("Authorization", "")
            status = 401 if behaviour == "echo_auth_401" else 500
            return self._error(status, f"Refused: your request had Authorization: {auth}", "invalid_request_error")
        if behaviour == "context_overflow":
            return self._error(400, CONTEXT_OVERFLOW, "exceed_context_size_error")
        if behaviour == "not_found":
            return self._error(404, f"The model `{body.get('model')}` does not exist.", "model_not_found")
        fmt = (body.get("response_format") or {}).get("type")
        if behaviour == "no_json_schema" and fmt == "json_schema":
            return self._error(400, "response_format json_schema is not supported", "invalid_request_error")
        if behaviour == "slow" and owner._stop.wait(owner.slow_seconds):
            return  # shutting down: drop the connection
        user = "\n".join(m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user")
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
        rank = "order" in (schema.get("properties") or {}) or user.split("\n", 1)[0].endswith("candidates:")
        if rank and not schema:  # JSON mode: the ids from the listing
            schema = {"properties": {"order": {"items": {"enum": listed_ids(user)}}}}
        reply = smart_rank(schema) if rank else smart_label(user)
        if behaviour == "copy" and not rank:
            reply["title"] = " ".join(clip_text(user).split()[:4])
        elif behaviour == "placeholder" and not rank:
            reply["title"] = "..."
        elif behaviour == "sponsor" and not rank:
            reply["kind"] = "sponsor read"
        content = json.dumps(reply)
        if behaviour == "fenced":
            content = f"```json\n{content}\n```"
        elif behaviour == "bad_json":
            content = 'Sure! Here is the title: {"title": "A'
        elif behaviour == "schema":
            content = json.dumps({"title": 5, "kind": "nonsense"} if not rank else {"order": "c1"})
        prompt = sum(len(m.get("content") or "") for m in body.get("messages", [])) // 4
        completion = len(content) // 4
        self._send(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", owner.model), "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        })


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never wait for a handler still sleeping in "slow"
    owner: LLMServer


class LLMServer:
    """Threaded loopback server; `requests` holds every chat request body, in order."""

    def __init__(self, script: list[str] | None = None, default: str = "smart", *, port: int = 0,
                 slow_seconds: float = 2.0, model: str = "test-model", n_ctx: int | None = None):
        for b in [*(script or []), default]:
            if b not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {b!r}; one of {', '.join(BEHAVIOURS)}")
        self.script = list(script or [])
        self.default = default
        self.slow_seconds = slow_seconds
        self.model = model
        self.n_ctx = n_ctx  # reported at GET /props, as llama.cpp's server does
        self.requests: list[dict] = []
        self.auth: list[str] = []  # Authorization headers, parallel to requests
        self.behaviours: list[str] = []  # what each request got
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def set_script(self, script: list[str], default: str | None = None) -> None:
        with self._lock:
            self.script = list(script)
            if default is not None:
                self.default = default

    def _record(self, body: dict, auth: str) -> str:
        with self._lock:
            behaviour = self.script.pop(0) if self.script else self.default
            self.requests.append(body)
            self.auth.append(auth)
            self.behaviours.append(behaviour)
            return behaviour

    def start(self) -> LLMServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),  # fast stop()
                                        name="llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:  # shutdown() would wait forever for a loop never started
            self._httpd.shutdown()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture
def llm_server():
    """A fresh smart server per test; tests change behaviour with set_script()."""
    with LLMServer() as srv:
        yield srv


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Loopback OpenAI-compatible server for clipforge tests.")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--mode", default="smart", choices=BEHAVIOURS, help="behaviour once the script is spent")
    ap.add_argument("--script", default="", help="comma-separated behaviours for the first requests")
    ap.add_argument("--slow-seconds", type=float, default=2.0)
    args = ap.parse_args(argv)
    script = [s for s in args.script.split(",") if s]
    srv = LLMServer(script, args.mode, port=args.port, slow_seconds=args.slow_seconds)
    print(f"llm test server at {srv.url}  (e.g. OPENAI_BASE_URL={srv.url} doit ...); Ctrl-C stops", flush=True)
    try:
        srv._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv._httpd.server_close()
        print(f"served {len(srv.requests)} requests", flush=True)


if __name__ == "__main__":
    main()
