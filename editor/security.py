"""The editor's security model: it is a server, so every request proves it comes from the user.

- Loopback only: the server binds 127.0.0.1 (clipforge.editor.command).
- A random token in the printed address; opening it sets an HttpOnly, SameSite=Strict cookie,
  and every request must carry that cookie (or the token itself).
- The Host header must name the loopback address and port: a DNS-rebound name is refused.
- A state-changing request is a POST with a JSON body and the CSRF token in a header (a form on
  another site can send neither), and an Origin, when sent, must be ours.
- Files are served only from inside the project folder's clips/ (resolved, so no `..` or link escapes).
- A strict CSP: scripts and styles only from the bundled files, no inline code, nothing from elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

COOKIE = "clipforge_editor"
CSRF_HEADER = "x-clipforge-csrf"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "cross-origin-resource-policy": "same-origin",
}


@dataclass(frozen=True, kw_only=True)
class Guard:
    token: str
    port: int

    @classmethod
    def new(cls, port: int) -> Guard:
        return cls(token=secrets.token_urlsafe(32), port=port)

    @property
    def csrf(self) -> str:
        """A second secret for POSTs, derived from the token: the page carries it, the cookie does not."""
        return hmac.new(self.token.encode(), b"csrf", hashlib.sha256).hexdigest()

    def hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def origins(self) -> set[str]:
        return {f"http://{h}" for h in self.hosts()}

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def host_ok(self, host: str | None) -> bool:
        return (host or "").lower() in self.hosts()

    def token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.csrf.encode())

    def origin_ok(self, origin: str | None) -> bool:
        return origin is None or origin in self.origins()


def inside(root: Path, rel: str) -> Path | None:
    """root/rel as a file that really lies inside root once resolved (links followed), else None."""
    if not rel or "\x00" in rel or rel.startswith("/"):
        return None
    base = root.resolve()
    try:
        path = (base / rel).resolve()
    except (OSError, RuntimeError):
        return None
    if base not in path.parents or not path.is_file():
        return None
    return path
