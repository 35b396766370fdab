"""The SMTP listener of e-mail to SMS: started on the gateway's running event loop, beside the HTTP API.

Built with `loop.create_server` and aiosmtpd's `SMTP` protocol rather than its `Controller` (which runs its
own loop in a thread): the handler then awaits the service (and, through it, the store) on the loop they
belong to.
Mail is accepted for the push address only (`sms@<domain>`), up to `max_size` bytes (552 above: SIZE is
advertised, so most clients are told at MAIL FROM), with STARTTLS when a certificate and key are configured.
aiosmtpd's own logger (`mail.log`) is held at WARNING: at DEBUG it writes every DATA line, API keys included.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import weakref
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP

from octogate.config import ConfigError, Settings, parse_listen
from octogate.listen import listening
from octogate.service import Gateway
from octogate.smtp.handler import InboxHandler

DEFAULT_LISTEN = "127.0.0.1:2525"
DEFAULT_DOMAIN = "octogate.local"
DEFAULT_MAX_SIZE = 1024 * 1024
PUSH_LOCAL_PART = "sms"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    #: None: no SMTP server ("off")
    listen: tuple[str, int] | None = ("127.0.0.1", 2525)
    domain: str = DEFAULT_DOMAIN
    max_size: int = DEFAULT_MAX_SIZE
    tls_cert: str | None = None
    tls_key: str | None = None
    timeout: float = 60.0  # idle seconds before a session is closed

    @property
    def push_address(self) -> str:
        return f"{PUSH_LOCAL_PART}@{self.domain}"

    @classmethod
    def from_values(
        cls,
        listen: str = DEFAULT_LISTEN,
        domain: str = DEFAULT_DOMAIN,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> SmtpSettings:
        """From configuration strings (OCTOGATE_SMTP, [server] smtp…); raises ConfigError."""
        domain = domain.strip().lower()
        if not domain or "@" in domain or any(c.isspace() for c in domain):
            raise ConfigError(f"smtp_domain is a mail domain such as octogate.local, not {domain[:80]!r}")
        if bool(tls_cert) != bool(tls_key):
            raise ConfigError("STARTTLS needs both a certificate and its key")
        if not 1024 <= int(max_size) <= 64 * 1024 * 1024:
            raise ConfigError("smtp_max_size is between 1 KiB and 64 MiB")
        return cls(parse_smtp_listen(listen), domain, int(max_size), tls_cert or None, tls_key or None)


def smtp_settings_from(settings: Settings) -> SmtpSettings:
    """octogate's Settings → SmtpSettings; STARTTLS falls back to the HTTPS certificate when no SMTP-specific
    one is set."""
    cert, key = settings.smtp_tls_cert, settings.smtp_tls_key
    if not cert and not key:
        cert, key = settings.tls_cert, settings.tls_key
    return SmtpSettings.from_values(
        settings.smtp, settings.smtp_domain, max_size=settings.smtp_max_size, tls_cert=cert, tls_key=key
    )


def parse_smtp_listen(value: str) -> tuple[str, int] | None:
    """`host:port`, or `off` (also `none`, `false`, `0`, empty) for no SMTP server."""
    if value.strip().lower() in {"off", "none", "false", "no", "0", ""}:
        return None
    return parse_listen(value.strip())


class SmtpServer:
    """A running SMTP listener (or none, when off); `stop()` ends it gracefully."""

    def __init__(
        self,
        settings: SmtpSettings,
        server: asyncio.Server | None = None,
        handler: InboxHandler | None = None,
        sessions: weakref.WeakSet[SMTP] | None = None,
    ) -> None:
        self.settings = settings
        self._server = server
        self._handler = handler
        self._sessions = sessions if sessions is not None else weakref.WeakSet()

    @property
    def address(self) -> tuple[str, int] | None:
        """The bound (host, port): with port 0 in the settings, the one the system chose."""
        if self._server is None or not self._server.sockets:
            return None
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    def describe(self) -> str:
        """One line for the operator."""
        if self.address is None:
            return "octogate: e-mail to SMS off"
        host, port = self.address
        tls = ", STARTTLS" if self.settings.tls_cert else ""
        return f"octogate: e-mail to SMS on smtp://{host}:{port} for <{self.settings.push_address}>{tls}"

    async def stop(self, grace: float = 10.0) -> None:
        """Refuse new connections, let mails being processed finish and be answered, close the rest."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        if self._handler is not None:
            await self._handler.drain(grace)
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await server.wait_closed()


async def start_smtp(gateway: Gateway, settings: SmtpSettings) -> SmtpServer:
    """Listen on the running loop; with `listen` None, a stopped handle (nothing to start)."""
    if settings.listen is None:
        return SmtpServer(settings)
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    tls = _tls_context(settings)
    handler = InboxHandler(gateway, [settings.push_address])
    sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def session() -> SMTP:
        protocol = SMTP(
            handler,
            data_size_limit=settings.max_size,
            enable_SMTPUTF8=True,
            hostname=settings.domain,  # also spares aiosmtpd a reverse DNS lookup per connection
            ident="octogate ESMTP",
            tls_context=tls,
            timeout=settings.timeout,
            loop=loop,
        )
        sessions.add(protocol)
        return protocol

    host, port = settings.listen
    try:
        server = await loop.create_server(session, host, port)
        listening(server)
    except OSError as error:
        raise ConfigError(f"cannot listen for SMTP on {host}:{port}: {error.strerror}") from None
    return SmtpServer(settings, server, handler, sessions)


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext | None:
    if not (settings.tls_cert and settings.tls_key):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"cannot load the SMTP certificate {settings.tls_cert[:200]}: {error}") from None
    return context
