"""Which URLs a push may go to: http(s) only (checked when set), and, unless the operator allows it, never a
loopback, private or link-local address (checked when pushing, since a name's addresses can change).

Private targets are forbidden by default: a customer's push URL must not reach the gateway's own network
(169.254.169.254, an admin port on 127.0.0.1). `allow_targets` lists the networks exempted, e.g. a customer's
receiver inside the operator's LAN; the embedded sandbox (no connectors) allows loopback by default.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

MAX_URL = 2000
URLS_KEPT = 4096  # URLs whose worked-out parts (host key, address check, request head) are remembered
T = TypeVar("T")


def once_per_url(cache: dict[str, T], url: str, work: Callable[[str], T]) -> T:
    """`work(url)`, remembered in `cache` (at most URLS_KEPT URLs): an account's pushes go to the same few URLs."""
    if url in cache:
        return cache[url]
    if len(cache) >= URLS_KEPT:
        cache.clear()
    found = cache[url] = work(url)
    return found


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
    if not _host_name(parts.hostname):
        raise BadCallbackURL(f"a callback URL's host is a name or an IP address: {url[:100]!r}")
    del port
    return url


LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")  # `_`: names inside LANs use it


def _host_name(host: str) -> bool:
    """Whether the host can ever be resolved: an IP address, or a DNS name (international names through
    IDNA) of labels of at most 63 characters, 253 in all. Anything else would fail every push for 48 hours."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        name = host.encode("idna").decode("ascii").lower().removesuffix(".")
    except UnicodeError:
        return False
    return 0 < len(name) <= 253 and all(LABEL.fullmatch(label) for label in name.split("."))


def host_key(url: str) -> str:
    """What the per-host limit counts by: scheme, host and port."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def networks(allowed: tuple[str, ...] | None) -> Networks:
    """The configured allow-list (checked at load) as networks."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed or ())


def forbidden_reason(address: str, allowed: Networks = ()) -> str | None:
    """Why an IP address is no place for a push when private targets are forbidden; None if it is fine."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip.version == network.version and ip in network for network in allowed):
        return None
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


def literal_host_reason(url: str, allowed: Networks = ()) -> str | None:
    """The refusal for a URL whose host is an IP address itself (no resolver sees those)."""
    return forbidden_reason(urlsplit(url).hostname or "", allowed)
