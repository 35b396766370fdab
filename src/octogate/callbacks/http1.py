"""The pushes' HTTP client: one POST, over kept-alive connections per host, the answer read to a bound.

Why not aiohttp's client: a push is one small POST whose answer only matters by its status, and aiohttp's
request and response machinery cost about 115 µs of CPU per push against this client's ~45 µs (the same
local receiver), a tenth of the delivery process's CPU per message. What a push needs is small: HTTP/1.1,
http and https, keep-alive, Content-Length or chunked or close-delimited answers, a connect and a total
timeout, no redirects, credentials in the URL sent as Basic auth, and (when the operator forbids private
targets) the name's addresses checked before connecting to one of them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import time
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

from octogate.callbacks.targets import ForbiddenTarget, Networks, forbidden_reason, once_per_url

HEAD_LIMIT = 65536  # bytes of status line and headers at most
VERSION = ":version"  # the answer's HTTP version, kept among its headers under a name no header can have
URL_SAFE = "/?#[]@!$&'()*+,;=:%~-._"  # RFC 3986's reserved and unreserved characters, and existing escapes


class ConnectFailed(OSError):
    """No connection to the push's host (refused, unreachable, name unknown, TLS handshake failed)."""


class BadAnswer(ValueError):
    """The host answered something that is not HTTP/1.x."""


Pool = dict[tuple[str, str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
#: (its parts, port, pool key, the request's head up to the per-request headers, and after them)
Target = tuple[SplitResult, int, tuple[str, str, int], bytes, bytes]


class PushClient:
    def __init__(
        self, *, connect_timeout: float, total_timeout: float, keep_per_host: int, guard: bool = False,
        allowed: Networks = (), user_agent: str = "octogate",
    ) -> None:  # fmt: skip
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.keep_per_host = keep_per_host  # idle connections kept per host at most
        self.guard = guard
        self.allowed = allowed  # private networks the operator allows although `guard` is on
        self.user_agent = user_agent
        self._idle: Pool = {}
        self._tls: ssl.SSLContext | None = None
        self._targets: dict[str, Target] = {}  # by URL
        self._deadlines: dict[asyncio.Task[Any], float] = {}  # POSTs under way: when each times out
        self._expired: set[asyncio.Task[Any]] = set()  # cancelled by the sweep for their deadline
        self._sweeper: asyncio.Task[None] | None = None

    async def post(
        self, url: str, body: bytes, content_type: str, body_limit: int, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """(status, the first `body_limit` bytes of the answer). Raises TimeoutError, ConnectFailed (or
        ForbiddenTarget), BadAnswer, or OSError when the exchange broke."""
        parts, port, key, head, tail = once_per_url(self._targets, url, self._target)
        middle = "".join(f"{name}: {value}\r\n" for name, value in headers.items()) if headers else ""
        request = b"".join((
            head, f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{middle}".encode("latin-1"),
            tail, body,
        ))  # fmt: skip
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        self._watch(task)
        try:
            idle = self._idle.get(key)
            while idle:  # a kept connection the host may have closed meanwhile: then a new one, once
                reader, writer = idle.pop()
                if writer.is_closing() or reader.at_eof():
                    writer.close()
                    continue
                try:
                    return await self._exchange(key, reader, writer, request, body_limit)
                except (ConnectionError, asyncio.IncompleteReadError) as error:
                    if getattr(error, "partial", b""):
                        raise
                    break
            reader, writer = await self._connect(parts, port)
            try:
                return await self._exchange(key, reader, writer, request, body_limit)
            except asyncio.IncompleteReadError:
                raise ConnectionResetError("the host closed the connection before answering") from None
        except asyncio.CancelledError:
            if task in self._expired and task.uncancel() <= cancelling:
                raise TimeoutError from None  # the sweep's cancellation, not the caller's
            raise
        finally:
            del self._deadlines[task]
            self._expired.discard(task)

    def _watch(self, task: asyncio.Task[Any]) -> None:
        """`total_timeout` for the task's POST, kept by one sweep for all of them: `asyncio.timeout` costs a
        timer set and cancelled per push (~3.5 µs on uvloop, 8 % of a push's CPU). The price: a POST may run
        up to a quarter of `total_timeout` (1 s at most) past it."""
        self._deadlines[task] = time.monotonic() + self.total_timeout
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep(), name="push-deadlines")

    async def _sweep(self) -> None:
        tick = min(1.0, self.total_timeout / 4)
        while self._deadlines:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for task, deadline in list(self._deadlines.items()):
                if deadline <= now and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connections in self._idle.values():
            for _, writer in connections:
                writer.close()
        self._idle.clear()

    def _target(self, url: str) -> Target:
        """What a URL gives every request to it, worked out once per URL (~6 µs a push otherwise): its parts,
        port, pool key, and the request's head before and after the per-request headers."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url[:100]!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (parts.scheme, parts.hostname.lower(), port)
        host = _ascii_host(parts.hostname or "")
        if ":" in host:
            host = f"[{host}]"
        if parts.port:
            host = f"{host}:{port}"
        # What a browser sends: characters outside ASCII (and spaces, controls) percent-encoded, the rest as is.
        path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=URL_SAFE)
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {self.user_agent}\r\n"
        tail = ""  # after the gateway's own headers (Content-Type, Content-Length, the signature)
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            tail = f"Authorization: Basic {base64.b64encode(credentials).decode('ascii')}\r\n"
        return parts, port, key, head.encode("latin-1", "strict"), f"{tail}\r\n".encode("latin-1", "strict")

    async def _connect(self, parts: SplitResult, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        hostname = parts.hostname or ""
        tls = self._tls_context() if parts.scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                address = await self._address(hostname, port) if self.guard else hostname
                return await asyncio.open_connection(
                    address, port, ssl=tls, server_hostname=hostname if tls else None, limit=HEAD_LIMIT
                )
        except (ForbiddenTarget, TimeoutError):
            raise
        except (OSError, ssl.SSLError) as error:
            raise ConnectFailed(error.errno, error.strerror or str(error)) from None

    async def _address(self, hostname: str, port: int) -> str:
        """The first address of `hostname`, every one of them checked: connecting to an address seen here,
        not to the name again, leaves no room for a name that changes between the check and the connect."""
        found = await asyncio.get_running_loop().getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
        for *_, sockaddr in found:
            reason = forbidden_reason(str(sockaddr[0]), self.allowed)
            if reason:
                raise ForbiddenTarget(reason)
        if not found:
            raise ConnectFailed(None, f"{hostname[:100]} has no address")
        return str(found[0][4][0])

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def _exchange(
        self, key: tuple[str, str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        request: bytes, body_limit: int,
    ) -> tuple[int, bytes]:  # fmt: skip
        kept = False
        try:
            writer.write(request)
            await writer.drain()
            status, headers = await _read_head(reader)
            while 100 <= status < 200:  # interim answers (100 Continue...): the final one follows
                status, headers = await _read_head(reader)
            body, reusable = await _read_body(reader, headers, status, body_limit)
            if reusable and _keeps_alive(headers):
                idle = self._idle.setdefault(key, [])
                if len(idle) < self.keep_per_host:
                    idle.append((reader, writer))
                    kept = True
            return status, body
        finally:
            if not kept:
                writer.close()


def _keeps_alive(headers: dict[str, str]) -> bool:
    """HTTP/1.1 keeps the connection unless it says close; HTTP/1.0 closes it unless it says keep-alive."""
    connection = headers.get("connection", "").lower()
    if headers[VERSION] == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


def _ascii_host(hostname: str) -> str:
    """An internationalised name in its ASCII (IDNA) form, for the Host header."""
    if hostname.isascii():
        return hostname
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"a host name that cannot be encoded: {hostname[:100]!r}") from None


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise BadAnswer(f"an answer's head over {HEAD_LIMIT} bytes") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise BadAnswer(f"not an HTTP answer: {lines[0][:60]!r}")
    headers: dict[str, str] = {VERSION: version}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(code), headers


async def _read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], status: int, limit: int
) -> tuple[bytes, bool]:
    """(the answer's first `limit` bytes, whether the connection can carry another request)."""
    if status in (204, 304):
        return b"", True
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader, limit)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise BadAnswer(f"Content-Length {length[:20]!r}")
        size = int(length)
        if size > limit:
            return await reader.readexactly(limit), False
        return await reader.readexactly(size), True
    return await _read_to_end(reader, limit), False  # delimited by the connection's end


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    body = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadAnswer("a chunk size that is not hexadecimal") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body), True
        if len(body) + size > limit:
            body += await reader.readexactly(limit - len(body))
            return bytes(body), False
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _read_to_end(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    with contextlib.suppress(ConnectionError):
        while len(body) < limit:
            chunk = await reader.read(limit - len(body))
            if not chunk:
                break
            body += chunk
    return bytes(body)
