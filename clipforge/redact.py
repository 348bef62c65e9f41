"""Keep credentials out of the state file, logs and manifests."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that identify content rather than grant access (video id, playlist,
# start time, paging); every other value may be a token and is replaced.
SAFE_PARAMS = frozenset({"v", "list", "t", "index", "start", "end", "id", "p", "page"})
REDACTED = "REDACTED"


def is_url(text: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text))


def redact_url(url: str) -> str:
    """Drop user:password@ and the fragment; replace the values of non-identifying query parameters."""
    if not is_url(url):
        return url
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]  # "user:pass@host:port" -> "host:port"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(k, v if k.lower() in SAFE_PARAMS else REDACTED) for k, v in pairs], safe=REDACTED)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def secrets_of(text: str) -> list[str]:
    """The secret substrings of a URL (password, user, token values) and of the environment."""
    found = []
    if is_url(text):
        parts = urlsplit(text)
        found += [s for s in (parts.username, parts.password) if s]
        found += [v for k, v in parse_qsl(parts.query) if k.lower() not in SAFE_PARAMS and v]
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
    secrets = {s for src in sources for s in secrets_of(src)} | set(secrets_of(""))
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message
