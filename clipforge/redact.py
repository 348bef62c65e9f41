"""Keep credentials out of the state file, logs, manifests and every printed line.

Two kinds of scrubbing, both in scrub():
- by pattern, always: `user:password@` in any URL, and the credential after `Bearer`/`Basic`
  (an Authorization header a server echoed back);
- by exact value, for every secret this process knows (OPENAI_API_KEY, the user, password and
  token values of OPENAI_BASE_URL and of the input URL, and the base64 Basic-auth form of
  user:password), but only values long enough to be secrets: replacing a 3-letter "key"
  everywhere would mangle the very messages it is meant to protect.
"""

from __future__ import annotations

import base64
import os
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that identify content rather than grant access (video id, playlist,
# start time, paging); every other value may be a token and is replaced.
SAFE_PARAMS = frozenset({"v", "list", "t", "index", "start", "end", "id", "p", "page"})
REDACTED = "REDACTED"
MIN_SECRET = 8  # shorter values are scrubbed only where a pattern finds them

_known: set[str] = set()  # secrets of the inputs this process was given (remember_secrets)

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|bearer|basic|BEARER|BASIC)(\s+)[A-Za-z0-9._~+/-]{8,}=*")
_API_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")  # OpenAI-style keys, whatever their source


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


def _url_secrets(text: str) -> list[str]:
    if not is_url(text):
        return []
    parts = urlsplit(text)
    user, password = parts.username, parts.password
    found = [s for s in (user, password) if s]
    found += [unquote(s) for s in found]
    if user or password:
        for u, p in ((user or "", password or ""), (unquote(user or ""), unquote(password or ""))):
            found.append(base64.b64encode(f"{u}:{p}".encode()).decode())  # what goes in a Basic header
    found += [v for k, v in parse_qsl(parts.query) if k.lower() not in SAFE_PARAMS and v]
    if parts.fragment:
        found.append(parts.fragment)
    return found


def secrets_of(text: str) -> list[str]:
    """The secret substrings of a URL (user, password, Basic-auth form, token values) and of the environment."""
    found = _url_secrets(text)
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        found.append(key)
    found += _url_secrets(os.environ.get("OPENAI_BASE_URL") or "")
    return [s for s in found if len(s) >= MIN_SECRET]


def remember_secrets(*sources: str) -> None:
    """Make the secrets of `sources` (e.g. the input URL) known to every later scrub() in this process."""
    for source in sources:
        _known.update(secrets_of(source))


def scrub(message: str, *sources: str) -> str:
    """Remove every secret this process knows, and those of `sources`, from a message."""
    for source in sources:
        if is_url(source):
            message = message.replace(source, redact_url(source))
    message = _USERINFO.sub(r"\1", message)
    message = _AUTH_SCHEME.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", message)
    message = _API_KEY.sub(REDACTED, message)
    secrets = _known | {s for src in sources for s in secrets_of(src)} | set(secrets_of(""))
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message
