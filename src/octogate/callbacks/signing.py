"""Signing pushes: the account's secret, read from the store and cached briefly, turned into the header.

A secret set or removed by the operator takes effect within `CACHE_SECONDS` on every gateway host, without a
read per push (a busy push worker sends thousands a second to a few accounts).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from octogate.client.signatures import HEADER, signature
from octogate.store import push_secrets
from octogate.store.records import StoreUnavailable
from octogate.store.store import Store

CACHE_SECONDS = 30.0


class PushSigner:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._secrets: dict[int, tuple[str | None, float]] = {}  # account id -> (secret, read at)

    async def headers(self, account_id: int, body: bytes) -> dict[str, str]:
        """`{X-Octogate-Signature: ...}` for an account with a secret, else nothing."""
        cached = self._secrets.get(account_id)
        if cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS:
            secret = cached[0]  # nearly always, and then without a coroutine more
        else:
            secret = await self._read_secret(account_id, cached)
        if secret is None:
            return {}
        return {HEADER: signature(secret, body, int(self.clock()))}

    async def _read_secret(self, account_id: int, cached: tuple[str | None, float] | None) -> str | None:
        try:
            secret = await self.store.read(push_secrets.secret_of, account_id)
        except StoreUnavailable:
            if cached is None:
                raise  # unsigned would be refused by a receiver that checks: the push is tried again later
            return cached[0]
        self._secrets[account_id] = (secret, time.monotonic())
        return secret
