"""Wrong credentials slow down: after a few failures of one login or one client address, each further failure
is answered late (still 101), so guessing keys costs time; a right key is never delayed.

Why delays and not a lock-out: locking a login out on failures would let anyone who knows a customer's login
stop their sending. A delay costs an honest caller nothing (they send the right key) and a guesser seconds per
try; their parallel connections are bounded by the HTTP edge's connection cap. State is per process, kept in
memory and bounded (the least recently failing keys are forgotten first); a restart forgets it, as Kannel and
Jasmin do. Behind a reverse proxy the client address is the proxy's: the per-login limit still holds.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import Counter

from octogate.backoff import doubling
from octogate.config import HttpLimits

#: the client address of the request being served (set by the HTTP edge for each request's task)
CLIENT_ADDRESS: contextvars.ContextVar[str | None] = contextvars.ContextVar("octogate_client_address", default=None)
FIRST_DELAY = 0.25  # seconds; doubles with each failure past the free ones, up to `auth_max_delay`
MAX_TRACKED = 100_000  # logins and addresses remembered at most (memory stays bounded under a spray)

AUTH_FAILURES = Counter("octogate_auth_failures", "API calls refused for wrong credentials (answered 101)")
AUTH_THROTTLED = Counter(
    "octogate_auth_throttled",
    "Wrong-credential answers delayed because the login or the client address failed repeatedly",
    ["by"],
)


class CredentialGuard:
    """One API process's memory of wrong credentials. `limits` None: the process's configured limits
    (`configure`, called where the HTTP server is set up), read at each failure."""

    def __init__(self, limits: HttpLimits | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.limits = limits
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (count, window start)

    def delay_for(self, login: str, address: str | None) -> float:
        """Record one failure; the seconds its answer waits (0 while both counts are within the free ones)."""
        limits = self.limits or _configured
        AUTH_FAILURES.inc()
        by_login = self._count(f"login:{login[:254]}", limits.auth_window)
        by_address = self._count(f"address:{address}", limits.auth_window) if address else 0
        worst = max(by_login, by_address)
        if worst <= limits.auth_free_failures:
            return 0.0
        AUTH_THROTTLED.labels(by="login" if by_login >= by_address else "address").inc()
        return doubling(worst - limits.auth_free_failures - 1, FIRST_DELAY, limits.auth_max_delay)

    async def failed(self, login: str, address: str | None = None) -> None:
        """A wrong login or key: wait as long as this caller's record says before the 101 goes out."""
        delay = self.delay_for(login, address if address is not None else CLIENT_ADDRESS.get())
        if delay:
            await asyncio.sleep(delay)

    def _count(self, key: str, window: float) -> int:
        now = self.clock()
        count, start = self._failures.pop(key, (0, now))
        if now - start > window:
            count, start = 0, now
        self._failures[key] = (count + 1, start)
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)
        return count + 1


_configured = HttpLimits()


def configure(limits: HttpLimits) -> None:
    """The process's limits for every guard built without its own (the API process's Gateway)."""
    global _configured
    _configured = limits
