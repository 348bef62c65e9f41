"""Append-only ledger of LLM replies, so a resumed run never pays for a reply twice.

One JSON object per line: {"key", "reply", "usage", "model", "time"}, plus "rejected" (the
reason) for a reply that failed the checks: it is kept for its token usage and never re-used;
and "attempt" for the reply to a re-ask (the same messages with another seed), which a resumed
run continues from rather than sending a recorded one again. A reply is appended (and fsynced)
before the caller uses it, so a kill at any point loses at most the request in flight.
spent(key) totals the usage of every reply to a request, rejected ones included, so a resumed
run reports what the work really cost.
API keys are never written: the request key hashes a redacted endpoint, and entries hold
only the model's reply and token counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from clipforge.fsutil import fsync_dir
from clipforge.redact import REDACTED, SAFE_PARAMS, redact_url  # noqa: F401 (re-exported)

_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


def request_key(model: str, messages: list[dict], *, schema: dict, temperature: float, endpoint: str) -> str:
    """sha256 of the canonical JSON of everything that decides the reply."""
    payload = {
        "model": model,
        "messages": messages,
        "schema": schema,
        "temperature": temperature,
        "endpoint": redact_url(endpoint),  # credentials in the URL must not change the key
    }
    canon = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def _usage(usage: dict | None) -> dict:
    usage = usage or {}
    return {f: int(usage.get(f) or 0) for f in _USAGE_FIELDS}


class Ledger:
    """Replies by request key, loaded once from a JSONL file and appended durably."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._entries: dict[str, dict] = {}
        self._spent: dict[str, dict] = {}
        self._rejected: dict[str, int] = {}
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        for line in raw.splitlines():
            # A kill mid-append leaves a torn last line; anything unparsable is skipped.
            try:
                entry = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(entry, dict) and isinstance(entry.get("key"), str) and "reply" in entry:
                self._add(entry)

    def _add(self, entry: dict) -> None:
        key = entry["key"]
        spent = self._spent.setdefault(key, _usage(None))
        for f, v in _usage(entry.get("usage") if isinstance(entry.get("usage"), dict) else None).items():
            spent[f] += v
        if not entry.get("rejected"):
            self._entries[key] = entry  # a later duplicate wins
        else:
            self._rejected[key] = self._rejected.get(key, 0) + 1

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> dict | None:
        """The latest accepted reply to this request (rejected ones are never returned)."""
        return self._entries.get(key)

    def rejected(self, key: str) -> int:
        """How many replies to this request were recorded as rejected (a resumed run asks on from there)."""
        return self._rejected.get(key, 0)

    def spent(self, key: str) -> dict:
        """Token usage of every reply recorded for this request, accepted or rejected."""
        return dict(self._spent.get(key) or _usage(None))

    def append(self, key: str, reply: dict | str | None, *, usage: dict | None, model: str,
               rejected: str | None = None, attempt: int = 0) -> dict:
        """Write one entry and fsync it before returning it."""
        entry = {
            "key": key,
            "reply": reply,
            "usage": _usage(usage),
            "model": model,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if rejected:
            entry["rejected"] = rejected
        if attempt:
            entry["attempt"] = attempt  # a re-ask (another seed) of the same request
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        with open(self.path, "a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    # Terminate a torn line first, or this entry would be glued to it and lost.
                    line = b"\n" + line
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if created:
            fsync_dir(self.path.parent)  # make the new file's name durable too
        self._add(entry)
        return entry
