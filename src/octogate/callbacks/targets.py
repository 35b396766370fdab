"""Which URLs a push may go to: http(s) only (checked when set), and, when the operator forbids it, never a
loopback, private or link-local address (checked when pushing too, since a name's addresses can change)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

MAX_URL = 2000


class BadCallbackURL(ValueError):
    """A URL that cannot take pushes; the message is one line for the operator."""


class ForbiddenTarget(OSError):
    """The host resolves to an address the operator forbids."""


def check_url(url: str) -> str:
    """The URL, stripped, if it can take pushes; else BadCallbackURL saying why."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise BadCallbackURL(f"a callback URL is at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadCallbackURL(f"not a URL: {url[:100]!r}") from None
    if parts.scheme not in ("http", "https"):
        raise BadCallbackURL(f"a callback URL is http:// or https://, not {url[:100]!r}")
    if not parts.hostname:
        raise BadCallbackURL(f"a callback URL needs a host: {url[:100]!r}")
    if any(c.isspace() for c in url):
        raise BadCallbackURL(f"a callback URL has no spaces: {url[:100]!r}")
    del port
    return url


def host_key(url: str) -> str:
    """What the per-host limit counts by: scheme, host and port."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def forbidden_reason(address: str) -> str | None:
    """Why an IP address is no place for a push when private targets are forbidden; None if it is fine."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, flag in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"forbidden target {ip} ({reason})"
    return None


def literal_host_reason(url: str) -> str | None:
    """The refusal for a URL whose host is an IP address itself (no resolver sees those)."""
    return forbidden_reason(urlsplit(url).hostname or "")
