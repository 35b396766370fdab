"""Listen addresses: one parser for every listener (HTTP, SMTP, the embedded SMSC, the simulator's command line).

Standard library only, so that the SMPP package's simulator can use it without the gateway's configuration.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"


class BadListenAddress(ValueError):
    """Not `host:port`; the message is one line."""


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:8080`; no host: 127.0.0.1) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadListenAddress(f"not a host:port listen address: {value[:80]!r}")
    return host.strip("[]") or DEFAULT_HOST, int(port)
