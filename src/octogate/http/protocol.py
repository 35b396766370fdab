"""uvicorn's httptools protocol, tolerant of bytes after a correct Content-Length (the rulings ask for it).

Some Octopush callers (old PHP code building requests by hand) write a stray `\\r\\n\\r\\n` or more after the
body. Stock uvicorn feeds those bytes to the parser with the request, gets a parse error and answers 400
instead of the request's answer. Here, once a request is complete, unreadable bytes behind it are dropped:
the request is answered and the connection closes after the answer.

The same callers put texts with accents into GET URLs unencoded (UTF-8 or Latin-1 bytes), which Octopush's
web server takes and httptools refuses ("Invalid char in url"): the request line's bytes above 0x7F are
percent-encoded before the parser sees them, so the API decodes them as it decodes a body.

`GuardedHttpToolsProtocol` adds the limits an exposed server needs (see its docstring).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from octogate.config import HttpLimits
from octogate.http.app import OctopushApp, route
from octogate.http.direct import DirectRequest, direct_request
from octogate.http.rest import JSON_TYPE, edge_refusal, is_rest_path
from octogate.observability.admin import count_request
from octogate.octopush.answers import error_json, error_xml
from octogate.octopush.errors import Code
from octogate.throttle import CLIENT_ADDRESS

log = logging.getLogger(__name__)


class TolerantHttpToolsProtocol(HttpToolsProtocol):
    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            cycle = getattr(self, "cycle", None)
            if cycle is not None and not cycle.more_body and not cycle.response_complete:
                cycle.keep_alive = False  # answer the complete request, then close: the rest is unreadable
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()


HEAD_SLACK = 1024  # request line and framing bytes beyond the URL and header limits
LINGER_SECONDS = 2.0  # after a refusal, input is read and dropped this long (the answer is not lost to a reset)
LINGER_BYTES = 1024 * 1024


class GuardedHttpToolsProtocol(TolerantHttpToolsProtocol):
    """The tolerant protocol, with limits on what one client may cost (`limits`, set by `octogate.http.limits`).

    * The request line and header section are never fed to the parser past `max_url_bytes + max_header_bytes`:
      httptools and uvicorn grow their buffers by concatenation, so a 166 MB header cost 42 s of CPU.
    * Headers must arrive within `header_timeout` seconds (slowloris), and at most `max_connections` are
      open: a new one beyond closes the oldest connection that is idle, refused or still sending its headers
      (else the oldest still sending its body: an incomplete request is never applied), so slow clients can
      never keep an honest one out.
    * An over-long URL on the API is answered as the API answers an unreadable request (HTTP 200, code 100,
      XML or JSON by path); elsewhere 414. Too many or too large headers: 431. Each refusal closes the
      connection after a lingering read, so the client reads the answer rather than a reset.
    * On the REST API's paths (`/v1/…`) every refusal (414, 431, 408, 400) is the REST API's JSON error body
      `{"code": 100, "message", "error_code": "100"}`: a REST client parses every answer it gets as JSON.
    """

    limits: ClassVar[HttpLimits] = HttpLimits()
    max_connections: ClassVar[int] = HttpLimits().max_connections
    #: the API whose own calls are answered without the ASGI cycle (`octogate.http.direct`); None: all by ASGI
    api: ClassVar[OctopushApp | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_fed = 0
        self._header_count = 0
        self._header_bytes = 0
        self._refusal: str | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_open = False  # a request's head has begun and is not complete yet
        self._linger_timer: asyncio.TimerHandle | None = None
        self._lingered = -1  # bytes dropped since the refusal; -1: not lingering
        self._in_request_line = True  # the head's first line (its URL) has not ended yet
        self._idle_since: float | None = None  # loop.time() its last answer ended, while no new byte came

    # --- connections --------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        idle = _idle(self.server_state)
        if len(self.connections) > self.max_connections:
            oldest = next(iter(idle), None) or next(iter(_uploading(self.server_state)), None)
            if oldest is None:  # every other connection is being answered: this one must try again later
                transport.abort()
                return
            oldest.transport.abort()
        idle[self] = None
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        _idle(self.server_state).pop(self, None)
        _uploading(self.server_state).pop(self, None)
        for timer in (self._head_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timeout)

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            if self._rest():
                self._refuse(408, edge_refusal(408, "The request's headers took too long."), JSON_TYPE)
                return
            self._refuse(408, b"the request's headers took too long\n")

    # --- reading ------------------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._lingered >= 0:
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES:
                self.transport.close()
            return
        budget = self.limits.max_url_bytes + self.limits.max_header_bytes + HEAD_SLACK
        while data and self._lingered < 0 and not self.transport.is_closing():
            if self._in_head:
                room = budget - self._head_fed
                if room <= 0:
                    self._refuse_head()
                    return
                chunk, data = data[:room], data[room:]
                self._head_fed += len(chunk)
                if self._in_request_line:
                    chunk = self._url_bytes_encoded(chunk)
            else:
                chunk, data = data, b""
            super().data_received(chunk)
            if self._refusal is not None:
                self._refuse_head()
                return
        if self._head_open and self._head_timer is None and self._lingered < 0 and not self.transport.is_closing():
            self._arm_head_timer()  # a head still incomplete after this read: it must end in time

    def _url_bytes_encoded(self, chunk: bytes) -> bytes:
        """The chunk with the request line's non-ASCII bytes percent-encoded (see the module's docstring)."""
        end = chunk.find(b"\n")
        if end >= 0:
            self._in_request_line = False
        line = chunk if end < 0 else chunk[:end]
        if line.isascii():
            return chunk
        encoded = b"".join(b"%%%02X" % byte if byte > 0x7F else bytes((byte,)) for byte in line)
        return encoded if end < 0 else encoded + chunk[end:]

    def on_message_begin(self) -> None:
        """The head timer is armed after the read only if the head is still incomplete then: a keep-alive request
        whose head comes in one read (nearly all) costs no timer to schedule and cancel."""
        super().on_message_begin()
        self._header_count = self._header_bytes = 0
        self._head_open = True

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > self.limits.max_url_bytes:
            self._refusal = self._refusal or "url"
            self.url += url[: max(0, 2048 - len(self.url))]  # enough of it to route the answer
            return
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        if self._header_count > self.limits.max_headers or self._header_bytes > self.limits.max_header_bytes:
            self._refusal = self._refusal or "headers"
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        _idle(self.server_state).pop(self, None)
        self._in_head = False
        if self._refusal is None:
            direct = self._direct_request()
            if direct is not None:
                self.cycle = direct  # type: ignore[assignment]
            else:
                super().on_headers_complete()
                self._coalesce_writes()
            _uploading(self.server_state)[self] = None  # until its body is read whole

    def _direct_request(self) -> DirectRequest | None:
        """The request, if the direct path answers it: an API call, with no other request of this connection
        still being answered (a pipelined one queues behind it the ASGI way)."""
        if self.api is None or self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            return None
        if self.parser.should_upgrade() or self.limit_concurrency is not None:
            return None
        return direct_request(self.parser.get_method(), self.url, self.headers, self.parser.get_http_version(),
                              self.parser.should_keep_alive())  # fmt: skip

    def _coalesce_writes(self) -> None:
        """The request's answer goes out through `CoalescedWrites`: head and body in one send()."""
        cycle = getattr(self, "cycle", None)
        if cycle is not None and not isinstance(cycle.transport, CoalescedWrites):
            cycle.transport = CoalescedWrites(cycle.transport, self.loop)

    def on_body(self, body: bytes) -> None:
        if self._refusal is None:
            if type(self.cycle) is DirectRequest:
                self.cycle.body.append(body)  # at most MAX_BODY: its Content-Length said so
            else:
                super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_head, self._head_fed = True, 0  # the next bytes are the next request's head
        self._in_request_line = True
        _uploading(self.server_state).pop(self, None)
        if self._refusal is None:
            cycle = self.cycle
            if type(cycle) is DirectRequest:
                cycle.more_body = False
                self._note_client()
                task = self.loop.create_task(self._answer_directly(cycle))
                task.add_done_callback(self.tasks.discard)
                self.tasks.add(task)  # a graceful stop waits for it, as for an ASGI task
            else:
                super().on_message_complete()

    async def _answer_directly(self, request: DirectRequest) -> None:
        """What uvicorn's cycle does with the answer `asgi.respond` sends: written whole, then the connection
        closed if it is not kept, then the next pipelined request started (`on_response_complete`)."""
        assert self.api is not None
        try:
            body = await self.api.answer_form(request.query, b"".join(request.body), request.endpoint,
                                              request.as_json)  # fmt: skip
        except Exception:  # never: `_answer` answers its own faults (code 999); here one closes, unanswered
            log.exception("unexpected fault answering %s", request.path[:100])
            request.response_complete = True
            self.transport.close()
            return
        count_request(request.path, 200)
        request.response_complete = True
        if request.disconnected:
            return
        self.transport.write(request.head(self.server_state.default_headers, len(body)) + body)
        if not request.keep_alive:
            self.transport.close()
        self.on_response_complete()

    def on_response_complete(self) -> None:
        """uvicorn's, but an idle connection is closed by the server's keep-alive sweep (`_sweep_idle`) rather
        than by a timer of its own, set after every answer and cancelled by the next request (~2.4 µs a request
        on uvloop)."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        _idle(self.server_state)[self] = None  # waiting for its next request: the first to go when full
        _arm_sweep(self.server_state, self.loop, self.timeout_keep_alive)

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None  # bytes came (or the connection ends): not idle
        super()._unset_keepalive_if_required()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        self._note_client()
        super()._start_asgi_task(cycle, app)

    def _note_client(self) -> None:
        """Before a request's task starts: the task copies the current context, so the service sees whose
        request it serves (wrong-key throttling)."""
        CLIENT_ADDRESS.set(self.client[0] if self.client else None)

    # --- refusing -----------------------------------------------------------------------------------------------

    def _rest(self) -> bool:
        """Whether the request being read is the REST API's (as far as its URL has been read)."""
        return is_rest_path(getattr(self, "url", b"").decode("latin-1"))

    def send_400_response(self, msg: str) -> None:
        if not self._rest():
            super().send_400_response(msg)
            return
        body = edge_refusal(400, "The request is not valid HTTP.")
        self.transport.write(b"".join([
            STATUS_LINE[400], b"content-type: ", JSON_TYPE, b"\r\ncontent-length: ", str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n", body,
        ]))  # fmt: skip
        self.transport.close()

    def _refuse_head(self) -> None:
        too_long = self._refusal == "url" or (self._refusal is None and len(self.url) >= self.limits.max_url_bytes)
        if self._rest():
            if too_long:
                message = f"The URL is longer than {self.limits.max_url_bytes} bytes."
                self._refuse(414, edge_refusal(414, message), JSON_TYPE)
            else:
                limits = self.limits
                message = (f"The request's headers are too large or too many (at most {limits.max_headers} "
                           f"headers, {limits.max_header_bytes} bytes).")  # fmt: skip
                self._refuse(431, edge_refusal(431, message), JSON_TYPE)
            return
        if too_long:
            target = route(self.url.split(b"?", 1)[0].decode("latin-1"))
            if target is not None:
                _, as_json = target
                answer = error_json(Code.MISSING_PARAMETERS) if as_json else error_xml(Code.MISSING_PARAMETERS)
                kind = b"application/json; charset=UTF-8" if as_json else b"text/xml; charset=UTF-8"
                self._refuse(200, answer, kind)
                return
            self._refuse(414, b"URL too long\n")
            return
        self._refuse(431, b"request headers too large or too many\n")

    def _refuse(self, status: int, body: bytes, content_type: bytes = b"text/plain; charset=utf-8") -> None:
        """Answer and close, reading (and dropping) what the client still sends for a moment first."""
        self._refusal = self._refusal or "refused"
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        idle = _idle(self.server_state)
        idle[self] = None
        idle.move_to_end(self, last=False)  # the first to close if room is needed: it is being closed anyway
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined request behind one being answered: no answer may interleave
            return
        head = b"".join([
            STATUS_LINE[status], b"content-type: ", content_type, b"\r\ncontent-length: ",
            str(len(body)).encode(), b"\r\nconnection: close\r\n\r\n",
        ])  # fmt: skip
        self.transport.write(head + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._lingered = 0
            self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()


Registry = OrderedDict[GuardedHttpToolsProtocol, None]
#: how often the keep-alive sweep looks (an idle connection is closed this much past the keep-alive at worst)
SWEEP_EVERY = 1.0


def _arm_sweep(state: Any, loop: asyncio.AbstractEventLoop, keep_alive: float) -> None:
    if getattr(state, "octogate_sweep", None) is None:
        state.octogate_sweep = loop.call_later(min(SWEEP_EVERY, keep_alive), _sweep_idle, state, loop, keep_alive)


def _sweep_idle(state: Any, loop: asyncio.AbstractEventLoop, keep_alive: float) -> None:
    """Close the connections idle for `keep_alive` seconds since their last answer; look again while any is
    idle. (The idle registry also holds new connections and refused ones: their own timers see to them.)"""
    state.octogate_sweep = None
    now = loop.time()
    waiting = False
    for connection in list(_idle(state)):
        since = connection._idle_since
        if since is None or connection.transport.is_closing():
            continue
        if now - since >= keep_alive:
            connection.transport.close()
        else:
            waiting = True
    if waiting:
        _arm_sweep(state, loop, keep_alive)


def _idle(state: Any) -> Registry:
    """The server's connections that hold no request (new, idle, refused or sending headers), oldest first."""
    return _registry(state, "octogate_idle")


def _uploading(state: Any) -> Registry:
    """The server's connections still sending a request's body, oldest first."""
    return _registry(state, "octogate_uploading")


def _registry(state: Any, name: str) -> Registry:
    found = getattr(state, name, None)
    if found is None:
        found = OrderedDict()
        setattr(state, name, found)
    return found


class CoalescedWrites:
    """A request's view of its connection: the writes of one event loop turn leave together, so an answer's
    head and body (two `write`s in uvicorn) are one `send()`, not two (the second was ~5 % of the API's event
    loop). Order is kept; what is written leaves at the end of the turn at the latest, and before a close."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            if not self._transport.is_closing():
                self._transport.writelines(pending)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
