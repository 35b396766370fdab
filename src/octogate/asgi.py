"""Reading an ASGI request body with a size limit: the API and the client's push receiver both need it.

Standard library only, so that `octogate.client` can use it without the server's dependencies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyTooLarge(Exception):
    pass


class ClientDisconnected(Exception):
    """The body ended before its end: an incomplete request is never applied."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body; `BodyTooLarge` as soon as it passes `limit` bytes (the rest is never buffered);
    `ClientDisconnected` if the client went away before the end of the body."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


Send = Callable[[dict[str, Any]], Awaitable[None]]


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A whole response, with its Content-Length."""
    head = [(b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


async def lifespan(receive: Receive, send: Send) -> None:
    """Nothing to set up or tear down: acknowledge the server's lifespan events."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
