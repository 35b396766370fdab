"""A real SMTP server on an ephemeral 127.0.0.1 port, on the test's event loop, over the real store; smtplib
(blocking) talks to it from a thread."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from octogate.octopush.campaign import Rules
from octogate.service import Gateway
from octogate.store import inbox
from octogate.store.inbox import InboxRow
from octogate.store.store import Store
from support import Clock

if TYPE_CHECKING:
    from octogate.smtp.server import SmtpServer

DOMAIN = "octogate.test"
PUSH = f"sms@{DOMAIN}"
MAX_SIZE = 64 * 1024

Reply = tuple[int, bytes]


@dataclass
class Transcript:
    """Each step's reply; `data` is None when the envelope was refused before DATA."""

    mail: Reply
    rcpt: list[Reply] = field(default_factory=list)
    data: Reply | None = None


def _deliver(
    host: str, port: int, messages: list[bytes], sender: str, recipients: list[str],
    size: bool, tls: bool,
) -> list[Transcript]:  # fmt: skip
    transcripts = []
    with smtplib.SMTP(host, port, timeout=20) as client:
        client.ehlo("client.example.com")
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            client.starttls(context=context)
            client.ehlo("client.example.com")
        for message in messages:
            options = [f"SIZE={len(message)}"] if size and client.has_extn("size") else []
            transcript = Transcript(mail=client.mail(sender, options))
            if transcript.mail[0] == 250:
                transcript.rcpt = [client.rcpt(r) for r in recipients]
                if any(code == 250 for code, _ in transcript.rcpt):
                    transcript.data = client.data(message)
            if transcript.data is None:
                client.rset()
            transcripts.append(transcript)
    return transcripts


@dataclass
class SmtpEdge:
    server: SmtpServer
    gateway: Gateway
    store: Store

    @property
    def address(self) -> tuple[str, int]:
        address = self.server.address
        assert address is not None
        return address

    async def send(
        self, *messages: bytes, sender: str = "shop@example.com", to: tuple[str, ...] = (PUSH,),
        size: bool = True, tls: bool = False,
    ) -> list[Transcript]:  # fmt: skip
        """Deliver the messages over one session (smtplib in a thread, the server on this loop)."""
        host, port = self.address
        return await asyncio.to_thread(_deliver, host, port, list(messages), sender, list(to), size, tls)

    async def send_one(self, message: bytes, **options: object) -> Transcript:
        [transcript] = await self.send(message, **options)  # type: ignore[arg-type]
        return transcript

    async def inbox(self, limit: int = 50) -> list[InboxRow]:
        return await self.store.read(inbox.recent, limit)


async def start_edge(store: Store, clock: Clock, **settings: object) -> SmtpEdge:
    pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed (pyproject.toml dependency)")
    from octogate.smtp.server import SmtpSettings, start_smtp

    gateway = Gateway(store, Rules(), clock=clock)
    options: dict[str, object] = {"listen": ("127.0.0.1", 0), "domain": DOMAIN, "max_size": MAX_SIZE}
    options.update(settings)
    server = await start_smtp(gateway, SmtpSettings(**options))  # type: ignore[arg-type]
    return SmtpEdge(server, gateway, store)


@pytest.fixture
async def smtp(store: Store, clock: Clock) -> AsyncIterator[SmtpEdge]:
    edge = await start_edge(store, clock)
    yield edge
    await edge.server.stop()
