"""The console's protections, in one place: signed expiring session cookies, CSRF tokens, login throttling and
the response headers (a strict Content-Security-Policy: no inline script or style, nothing from elsewhere).

Sessions are stateless: a signed (itsdangerous, HMAC-SHA1 over a secret kept in the database) and timestamped
cookie holding the role, the user's id, a CSRF token and a fingerprint of the user's password hash. Every request
reloads the user: a deleted user, or a changed password, ends the session at once.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "octogate_console"
CSRF_FIELD = "csrf"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    role: str | None = None  # customer | operator; None: not signed in (the login form's CSRF only)
    user_id: int | None = None
    fingerprint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"c": self.csrf, "r": self.role, "i": self.user_id, "f": self.fingerprint}


class Sessions:
    def __init__(self, secret: str, max_age: int, *, secure: bool) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="octogate-console-session")
        self.max_age = max_age
        self.secure = secure

    def load(self, cookie: str | None) -> Session | None:
        """The session of a valid, unexpired cookie; None otherwise."""
        if not cookie or len(cookie) > 4096:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=self.max_age)
        except (BadSignature, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        role, user_id, print_ = data.get("r"), data.get("i"), data.get("f")
        if role is not None and (role not in ("customer", "operator") or not isinstance(user_id, int)):
            return None
        return Session(data["c"], role, user_id, print_ if isinstance(print_, str) else None)

    def cookie(self, session: Session | None) -> str:
        """A Set-Cookie value: HttpOnly, SameSite=Lax, path /console, expiring with the signature (or cleared)."""
        flags = "; Path=/console; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
        if session is None:
            return f"{COOKIE}=; Max-Age=0{flags}"
        return f"{COOKIE}={self.serializer.dumps(session.as_dict())}; Max-Age={self.max_age}{flags}"


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def csrf_matches(session: Session | None, sent: object) -> bool:
    return session is not None and isinstance(sent, str) and hmac.compare_digest(session.csrf, sent)


class Throttle:
    """Failed logins per login and per client address in a sliding window: past the limit, every attempt is
    refused (even a right password) until the window has moved on. Per process: each host of a cluster counts
    its own, which bounds a guesser to hosts x limit attempts per window."""

    def __init__(
        self, per_login: int = 5, per_address: int = 30, window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.limits = {"login": per_login, "address": per_address}
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def wait(self, login: str, address: str) -> int:
        """Seconds before this login may be tried again from this address (0: now)."""
        now = self.clock()
        longest = 0.0
        for key in (("login", login), ("address", address)):
            times = self._recent(key, now)
            if len(times) >= self.limits[key[0]]:
                longest = max(longest, times[0] + self.window - now)
        return int(longest) + 1 if longest else 0

    def failed(self, login: str, address: str) -> None:
        now = self.clock()
        for key in (("login", login), ("address", address)):
            self._recent(key, now).append(now)
        if len(self._failures) > 100_000:  # bounded memory under a spray of logins
            self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - self.window}

    def succeeded(self, login: str) -> None:
        self._failures.pop(("login", login), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
