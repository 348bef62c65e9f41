"""Keep credentials out of the state file, logs and manifests."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that identify a video rather than authorise access (YouTube's v, list, t, ...).
_SAFE_PARAMS = {"v", "list", "t", "index", "start", "end", "id", "p", "page"}
REDACTED = "REDACTED"


def is_url(text: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text))


def redact_url(url: str) -> str:
    """Drop user:password@, the fragment, and the values of every non-identifying query parameter."""
    if not is_url(url):
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = [(k, v if k in _SAFE_PARAMS else REDACTED) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, host, parts.path, urlencode(query, safe=REDACTED), ""))


def secrets_of(text: str) -> list[str]:
    """The secret substrings of a URL (password, user, token values) and of the environment."""
    found = []
    if is_url(text):
        parts = urlsplit(text)
        found += [s for s in (parts.username, parts.password) if s]
        found += [v for k, v in parse_qsl(parts.query) if k not in _SAFE_PARAMS and v]
        if parts.fragment:
            found.append(parts.fragment)
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        found.append(key)
    return [s for s in found if len(s) >= 3]


def scrub(message: str, *sources: str) -> str:
    """Remove every secret of `sources` (and of the environment) from a message."""
    for source in sources:
        if is_url(source):
            message = message.replace(source, redact_url(source))
    for secret in sorted(set(s for src in sources for s in secrets_of(src)) | set(secrets_of("")), key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message
