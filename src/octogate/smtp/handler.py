"""The aiosmtpd handler: who may be written to, and what the SMTP answer to a mail's DATA is.

Only the push addresses are accepted at RCPT (550 for any other: never an open relay). A mail's DATA is
answered 250 once its outcome is durable (campaign stored, or refusal recorded), 451 when it could not be
recorded or the service is paused (the sender's MTA retries; its request_id protects against doubles).

The ingest runs in its own task, shielded: aiosmtpd cancels a session's coroutine when the client goes away,
and a mail already handed to the service must still get its inbox row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from octogate.service import Gateway
from octogate.smtp.ingest import NotRecorded, Received, ingest

log = logging.getLogger(__name__)


class InboxHandler:
    def __init__(self, gateway: Gateway, push_addresses: Iterable[str]) -> None:
        self.gateway = gateway
        self.push_addresses = frozenset(address.lower() for address in push_addresses)
        self._ingests: set[asyncio.Task[Received]] = set()
        self._answering = 0  # DATA hooks running: their answer is written in the same step they return
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() not in self.push_addresses:
            log.info("recipient refused: %.200s (from %.200s)", address, envelope.mail_from)
            return "550 5.7.1 Relaying denied: this server only takes mail for its SMS push address"
        if address not in envelope.rcpt_tos:
            envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or b""
        task = asyncio.ensure_future(ingest(self.gateway, data, envelope.mail_from or ""))
        self._ingests.add(task)
        task.add_done_callback(self._finished)
        self._answering += 1
        self._idle.clear()
        try:
            received = await asyncio.shield(task)
        except NotRecorded:
            return "451 4.3.0 The mail could not be recorded: try again later"
        finally:
            self._answering -= 1
            if not self._answering:
                self._idle.set()
        if received.retry_later:
            return "451 4.3.2 Service paused or unavailable: try again later"
        return f"250 2.0.0 OK: inbox {received.inbox_id}"

    def _finished(self, task: asyncio.Task[Received]) -> None:
        self._ingests.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a NotRecorded after its client left is already logged

    async def drain(self, grace: float) -> None:
        """Wait until mails being processed are recorded and answered, before connections close."""
        waiters: set[asyncio.Future[Any]] = set(self._ingests)
        if not self._idle.is_set():
            waiters.add(asyncio.ensure_future(self._idle.wait()))
        if waiters:
            _, pending = await asyncio.wait(waiters, timeout=grace)
            for waiter in pending - self._ingests:
                waiter.cancel()
