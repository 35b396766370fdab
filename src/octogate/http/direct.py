"""The Octopush API's own calls answered by the HTTP protocol itself, without uvicorn's ASGI cycle.

`/api/sms`, `/api/balance` and `/api/credit` (GET or POST, a form body of known length) are most of what a
gateway serves, and each went through uvicorn's cycle (a scope, receive and send messages, three ASGI layers):
about a tenth of the API process's CPU per request (bench/api_throughput.py, paired: 102-106 µs against
112-118 µs through the cycle). The protocol (`octogate.http.protocol`) hands such a request here whole; the
answer comes from the same `OctopushApp.answer_form` the ASGI path calls, with the bytes uvicorn writes.
Anything else (multipart bodies, `Expect: 100-continue`, chunked bodies, the REST API, the console, other
methods) takes the ASGI path.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import unquote

import httptools

from octogate.http.app import JSON, MAX_BODY, XML, route

STATUS_200 = b"HTTP/1.1 200 OK\r\n"
#: request headers that send a request down the ASGI path
ASGI_ONLY = frozenset({b"transfer-encoding", b"expect", b"upgrade"})


class _Unwatched:
    def set(self) -> None:
        """uvicorn's protocol wakes its cycle's body reader on a disconnect: a direct request has none (its body
        is whole before it is answered, and a request cut short is never answered)."""


class DirectRequest:
    """One request for the direct path, standing in for uvicorn's RequestResponseCycle where its protocol
    looks at the request in flight (`response_complete`, `more_body`, `keep_alive`, `disconnected`,
    `message_event`)."""

    __slots__ = ("as_json", "body", "disconnected", "endpoint", "keep_alive", "more_body", "path", "query",
                 "response_complete")  # fmt: skip
    message_event: ClassVar[_Unwatched] = _Unwatched()

    def __init__(self, path: str, endpoint: str, as_json: bool, query: bytes, keep_alive: bool) -> None:
        self.path = path
        self.endpoint = endpoint
        self.as_json = as_json
        self.query = query
        self.keep_alive = keep_alive  # False: closed after its answer (asked by the client, or a stop)
        self.body: list[bytes] = []
        self.more_body = True
        self.response_complete = False
        self.disconnected = False

    def head(self, default_headers: list[tuple[bytes, bytes]], length: int) -> bytes:
        """The answer's head, as uvicorn writes it for `asgi.respond(send, 200, body, [content-type])`."""
        lines = [STATUS_200]
        for name, value in default_headers:
            lines += (name, b": ", value, b"\r\n")
        lines += (b"content-length: ", str(length).encode(), b"\r\ncontent-type: ", JSON if self.as_json else XML,
                  b"\r\n")  # fmt: skip
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)


def direct_request(
    method: bytes, url: bytes, headers: list[tuple[bytes, bytes]], http_version: str, keep_alive: bool
) -> DirectRequest | None:
    """The request as a `DirectRequest` if the direct path can answer it, else None (the ASGI path will).
    `headers` as uvicorn's protocol keeps them (names lower-cased)."""
    if method != b"GET" and method != b"POST":
        return None
    parsed = httptools.parse_url(url)
    path = parsed.path.decode("ascii")  # as uvicorn reads it (the protocol percent-encodes bytes above 0x7F)
    if "%" in path:
        path = unquote(path)
    target = route(path)
    if target is None:
        return None
    for name, value in headers:
        if name in ASGI_ONLY or (name == b"content-type" and value[:10].lower() == b"multipart/"):
            return None
        if name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY):
            return None
    endpoint, as_json = target
    return DirectRequest(path, endpoint, as_json, parsed.query or b"", http_version != "1.0" and keep_alive)
