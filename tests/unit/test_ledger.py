"""The reply ledger: durable appends, torn-line tolerance, keys that ignore credentials."""

from __future__ import annotations

import json

import pytest

from clipforge.stages.segment.ledger import Ledger, redact_url, request_key

MSGS = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
SCHEMA = {"type": "object"}
USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


@pytest.mark.parametrize("url, want", [
    ("https://user:pass@api.example.com/v1", "https://api.example.com/v1"),
    ("https://sk-secret@api.example.com:8443/v1", "https://api.example.com:8443/v1"),
    ("https://api.example.com/v1?token=abc123", "https://api.example.com/v1?token=REDACTED"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42", "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42"),
    ("https://x.test/watch?v=abc&sig=zzz&list=PL1#frag", "https://x.test/watch?v=abc&sig=REDACTED&list=PL1"),
    ("https://x.test/a?api_key=k&page=2&X-Amz-Signature=s",
     "https://x.test/a?api_key=REDACTED&page=2&X-Amz-Signature=REDACTED"),
    ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),
    ("https://x.test/path#section", "https://x.test/path"),
])
def test_redact_url(url, want):
    assert redact_url(url) == want


def test_request_key_is_stable_and_ignores_credentials():
    k = request_key("m", MSGS, schema=SCHEMA, temperature=0.2, endpoint="https://api.example.com/v1")
    assert len(k) == 64 and int(k, 16) >= 0
    assert k == request_key("m", [dict(m) for m in MSGS], schema=dict(SCHEMA), temperature=0.2, endpoint="https://api.example.com/v1")
    assert k == request_key("m", MSGS, schema=SCHEMA, temperature=0.2, endpoint="https://u:secret@api.example.com/v1")
    assert k == request_key("m", MSGS, schema=SCHEMA, temperature=0.2, endpoint="https://api.example.com/v1#x")
    for other in [request_key("m2", MSGS, schema=SCHEMA, temperature=0.2, endpoint="https://api.example.com/v1"),
                  request_key("m", MSGS[:1], schema=SCHEMA, temperature=0.2, endpoint="https://api.example.com/v1"),
                  request_key("m", MSGS, schema={"type": "array"}, temperature=0.2, endpoint="https://api.example.com/v1"),
                  request_key("m", MSGS, schema=SCHEMA, temperature=0.3, endpoint="https://api.example.com/v1"),
                  request_key("m", MSGS, schema=SCHEMA, temperature=0.2, endpoint="http://127.0.0.1:8000/v1")]:
        assert other != k


def test_append_get_and_reload(tmp_path):
    path = tmp_path / "deep" / "er" / "ledger.jsonl"  # parent dirs are created
    led = Ledger(path)
    assert led.get("k1") is None and len(led) == 0
    entry = led.append("k1", {"clips": []}, usage=USAGE, model="m")
    assert entry["usage"] == USAGE and entry["model"] == "m" and entry["time"].endswith("Z")
    led.append("k2", {"clips": [{"start": 1}]}, usage=None, model="m")
    again = Ledger(path)
    assert len(again) == 2
    assert again.get("k1") == {**entry}
    assert set(again.get("k1")) == {"key", "reply", "usage", "model", "time"}
    assert again.get("k2")["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert len(path.read_text().splitlines()) == 2


def test_torn_last_line_is_ignored_and_next_append_survives(tmp_path):
    path = tmp_path / "ledger.jsonl"
    led = Ledger(path)
    led.append("k1", {"clips": []}, usage=USAGE, model="m")
    whole = json.dumps({"key": "k2", "reply": {"clips": []}, "usage": USAGE, "model": "m", "time": "t"})
    with open(path, "a") as f:
        f.write(whole[: len(whole) // 2])  # killed mid-append: no newline, half an object
    torn = Ledger(path)
    assert torn.get("k1") is not None and torn.get("k2") is None and len(torn) == 1
    torn.append("k3", {"clips": []}, usage=USAGE, model="m")
    reloaded = Ledger(path)
    assert reloaded.get("k3") is not None and reloaded.get("k1") is not None and len(reloaded) == 2


def test_garbage_lines_are_skipped(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(b'not json\n[1,2]\n{"no":"key"}\n\xff\xfe\n'
                     b'{"key":"ok","reply":{"clips":[]},"usage":{},"model":"m","time":"t"}\n')
    assert list(Ledger(path)._entries) == ["ok"]
