"""Listen addresses: one parser for every listener (HTTP, SMTP, the embedded SMSC, the simulator's command line).

Standard library only, so that the SMPP package's simulator can use it without the gateway's configuration.
"""

from __future__ import annotations

import errno
from typing import Any, Protocol

DEFAULT_HOST = "127.0.0.1"


class BadListenAddress(ValueError):
    """Not `host:port`; the message is one line."""


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:8080`; no host: 127.0.0.1) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadListenAddress(f"not a host:port listen address: {value[:80]!r}")
    return host.strip("[]") or DEFAULT_HOST, int(port)


class Listener(Protocol):
    """What `listening` needs of an asyncio server."""

    @property
    def sockets(self) -> Any: ...
    def close(self) -> None: ...


def listening(server: Listener) -> tuple[str, int]:
    """The (host, port) a just-started server listens on, or OSError(EADDRINUSE), the server closed.

    uvloop does not raise when listen() fails: when another process takes the port between its bind and its
    listen (both sockets with SO_REUSEADDR: several hosts of one machine started at once), it closes the socket
    and leaves None in `server.sockets`."""
    sockets = server.sockets or ()
    if not sockets or sockets[0] is None:
        server.close()
        raise OSError(errno.EADDRINUSE, "address already in use")
    host, port = sockets[0].getsockname()[:2]
    return str(host), int(port)
