"""Reassembly of long incoming texts (UDH or SAR parts) before they are read as STOPs or replies.

Pending parts are kept in memory, for a bounded time and number: a part is acknowledged to the SMSC when it is
held here, so a restart loses the parts of a message still incomplete (the SMSC will not send them again).
That is the trade chosen: MO traffic is small, a lost fragment is rare, and keeping fragments durably would
need a table of its own. A message whose parts do not all arrive within `ttl` seconds (or that is pushed out
by `max_pending` newer ones) is not dropped: `expired()` hands its parts back, joined in order, to be recorded
as incomplete.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

Key = tuple[str, str, str, int, int]  # connector, source, destination, reference, total


@dataclass
class _Pending:
    first_seen: float
    parts: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Assembled:
    key: Key
    text: str
    complete: bool


class Reassembler:
    def __init__(
        self, *, ttl: float = 600.0, max_pending: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_pending = max_pending
        self.clock = clock
        self._pending: OrderedDict[Key, _Pending] = OrderedDict()
        self._evicted: list[Assembled] = []

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: Key, seq: int, text: str) -> Assembled | None:
        """Hold one part; the whole message once its last missing part arrived, else None."""
        total = key[4]
        if total <= 1:
            return Assembled(key, text, True)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(self.clock())
            while len(self._pending) > self.max_pending:
                old_key, old = self._pending.popitem(last=False)
                self._evicted.append(_joined(old_key, old, complete=False))
        pending.parts.setdefault(seq, text)  # a part delivered twice counts once
        if len(pending.parts) < total:
            return None
        del self._pending[key]
        return _joined(key, pending, complete=True)

    def expired(self) -> list[Assembled]:
        """Messages given up on (too old, or pushed out): their parts, joined in order."""
        now = self.clock()
        gone, self._evicted = self._evicted, []
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if now - pending.first_seen < self.ttl:
                break
            del self._pending[key]
            gone.append(_joined(key, pending, complete=False))
        return gone


def _joined(key: Key, pending: _Pending, *, complete: bool) -> Assembled:
    return Assembled(key, "".join(pending.parts[s] for s in sorted(pending.parts)), complete)
