"""The pushes' HTTP client: one POST, over kept-alive connections per host, the answer read to a bound.

Why not aiohttp's client: a push is one small POST whose answer only matters by its status, and aiohttp's
request and response machinery cost about 115 µs of CPU per push against this client's ~45 µs (the same
local receiver), a tenth of the delivery process's CPU per message. What a push needs is small: HTTP/1.1,
http and https, keep-alive, Content-Length or chunked or close-delimited answers, a connect and a total
timeout, no redirects, credentials in the URL sent as Basic auth, and (when the operator forbids private
targets) the name's addresses checked before connecting to one of them.

Each connection is an asyncio protocol (`HostConnection`) that parses the answer as its bytes arrive and hands
it over by one future: through asyncio's streams a POST cost a third more of the client's CPU (three awaits,
`drain`, `readuntil` and `readexactly`, each a coroutine and a wake-up).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import time
from collections.abc import Callable
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


class AnswerCut(OSError):
    """The host closed the connection in the middle of its answer (not a stale kept connection: not retried)."""


Pool = dict[tuple[str, str, int], list["HostConnection"]]
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
                conn = idle.pop()
                if not conn.usable:
                    conn.close()
                    continue
                try:
                    return await self._exchange(key, conn, request, body_limit)
                except ConnectionError:  # closed before answering (not AnswerCut, not a timeout)
                    break
            return await self._exchange(key, await self._connect(parts, port), request, body_limit)
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
            for conn in connections:
                conn.close()
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

    async def _connect(self, parts: SplitResult, port: int) -> HostConnection:
        hostname = parts.hostname or ""
        tls = self._tls_context() if parts.scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                address = await self._address(hostname, port) if self.guard else hostname
                _, conn = await asyncio.get_running_loop().create_connection(
                    HostConnection, address, port, ssl=tls, server_hostname=hostname if tls else None
                )
                return conn
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
        self, key: tuple[str, str, int], conn: HostConnection, request: bytes, body_limit: int
    ) -> tuple[int, bytes]:
        kept = False
        try:
            answer = conn.expect(body_limit)
            conn.write(request)
            status, headers, body, reusable = await answer
            if reusable and _keeps_alive(headers):
                idle = self._idle.setdefault(key, [])
                if len(idle) < self.keep_per_host:
                    idle.append(conn)
                    kept = True
            return status, body
        finally:
            conn.waiter = None
            if not kept:
                conn.close()


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


#: (status, headers, the body's first bytes, whether the connection can carry another request)
Answer = tuple[int, dict[str, str], bytes, bool]


class HostConnection(asyncio.Protocol):
    """One connection to a push's host, its answer parsed as the bytes arrive and handed over whole by one
    future (`expect`): one wake-up of the pushing task per answer, where a StreamReader took three awaits
    (`drain`, `readuntil`, `readexactly`) and their coroutines. The parse is a chain of steps, each taking
    what it needs from the buffer and returning whether the next can go on."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Answer] | None = None
        self.ended = False  # the host closed its side, or the connection broke
        self._buffer = bytearray()
        self._got = 0  # bytes of the awaited answer received (one cut short is not a stale kept connection)
        self._limit = 0
        self._step: Callable[[], bool] = self._head
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body = bytearray()
        self._left = 0  # bytes still to read of the body, the chunk or the cut
        self._reusable = True

    @property
    def usable(self) -> bool:
        """Open, and nothing came from the host since its last answer."""
        return not self.ended and self.transport is not None and not self.transport.is_closing() and not self._buffer

    def expect(self, limit: int) -> asyncio.Future[Answer]:
        """The next answer, its body read to `limit` bytes: call before writing the request."""
        self.waiter = asyncio.get_running_loop().create_future()
        self._limit, self._got, self._step, self._body = limit, 0, self._head, bytearray()
        self._reusable = True  # each answer says again whether the connection can be kept
        return self.waiter

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():  # bytes no request asked for: not kept, not buffered
            self.ended = True
            self.close()
            return
        self._buffer += data
        self._got += len(data)
        self._parse()

    def eof_received(self) -> bool:
        self.ended = True
        self._at_end(None)
        return False  # closed on our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self._at_end(exc)

    def _at_end(self, exc: Exception | None) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self._step == self._to_end:  # a close-delimited answer ends here, even broken off
            self._finish(bytes(self._body), False)
        elif exc is not None:
            waiter.set_exception(exc if isinstance(exc, OSError) else ConnectionResetError(str(exc)))
        elif self._got:
            waiter.set_exception(AnswerCut(f"the host closed the connection {self._got} bytes into its answer"))
        else:
            waiter.set_exception(ConnectionResetError("the host closed the connection before answering"))

    def _parse(self) -> None:
        try:
            while self._step():
                pass
        except BadAnswer as error:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(error)

    def _finish(self, body: bytes, reusable: bool) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self._status, self._headers, body, reusable))

    def _until(self, end: bytes, what: str) -> bytes | None:
        """The bytes before the next `end`, taken with it from the buffer; None until it came (BadAnswer past
        HEAD_LIMIT bytes without it)."""
        found = self._buffer.find(end)
        if found < 0:
            if len(self._buffer) > HEAD_LIMIT:
                raise BadAnswer(f"{what} over {HEAD_LIMIT} bytes")
            return None
        taken = bytes(self._buffer[:found])
        del self._buffer[: found + len(end)]
        return taken

    def _head(self) -> bool:
        head = self._until(b"\r\n\r\n", "an answer's head")
        if head is None:
            return False
        status, headers = _parse_head(head.decode("latin-1"))
        if 100 <= status < 200:  # interim answers (100 Continue...): the final one follows
            return True
        self._status, self._headers = status, headers
        if status in (204, 304):
            self._finish(b"", True)
            return False
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._step = self._chunk_size
            return True
        length = headers.get("content-length")
        if length is None:
            self._step = self._to_end  # delimited by the connection's end
            return True
        if not length.isdigit():
            raise BadAnswer(f"Content-Length {length[:20]!r}")
        size = int(length)
        self._left, self._reusable = min(size, self._limit), size <= self._limit
        self._step = self._rest
        return True

    def _chunk_size(self) -> bool:
        line = self._until(b"\r\n", "a chunk size line")
        if line is None:
            return False
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadAnswer("a chunk size that is not hexadecimal") from None
        if size == 0:
            self._step = self._trailers
        elif len(self._body) + size > self._limit:
            self._left, self._reusable, self._step = self._limit - len(self._body), False, self._rest
        else:
            self._left, self._step = size, self._chunk
        return True

    def _chunk(self) -> bool:
        if len(self._buffer) < self._left + 2:  # the chunk and its CRLF
            return False
        self._body += self._buffer[: self._left]
        del self._buffer[: self._left + 2]
        self._step = self._chunk_size
        return True

    def _rest(self) -> bool:
        """The body's last `_left` bytes: a body of known length, or what the limit lets a chunked one give."""
        if len(self._buffer) < self._left:
            return False
        self._body += self._buffer[: self._left]
        del self._buffer[: self._left]
        self._finish(bytes(self._body), self._reusable)
        return False

    def _trailers(self) -> bool:
        line = self._until(b"\r\n", "a trailer")
        if line is None:
            return False
        if line:
            return True
        self._finish(bytes(self._body), True)
        return False

    def _to_end(self) -> bool:
        take = min(len(self._buffer), self._limit - len(self._body))
        self._body += self._buffer[:take]
        del self._buffer[:take]
        if len(self._body) >= self._limit:
            self._finish(bytes(self._body), False)
        return False


def _parse_head(head: str) -> tuple[int, dict[str, str]]:
    lines = head.split("\r\n")
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
