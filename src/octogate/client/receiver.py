"""A tiny ASGI app that receives the API's pushes and hands each, typed, to the customer's handler.

Mount it anywhere (`Mount("/octopush", app=callback_app(on_push))` in Starlette, `app.mount(...)` in FastAPI)
or serve it alone with any ASGI server. It answers 200 with an empty body, as the document asks; a push it
cannot read answers 400; a handler that raises answers 500, so the sender retries it later. Pushes of both APIs
are read: form fields (1.6.1) and JSON objects (the current REST API). Given the account's push secret, a push
whose X-Octogate-Signature does not match answers 401 and is never handed over.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from octogate.asgi import BodyTooLarge, ClientDisconnected, lifespan, read_body, respond
from octogate.client.callbacks import BadSignature, Callback, CallbackError, parse_push
from octogate.client.signatures import DEFAULT_TOLERANCE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Callback], Awaitable[object] | object]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 64 * 1024  # a push is a handful of short fields; a larger body is not one
log = logging.getLogger("octogate.client.receiver")


def callback_app(handler: Handler, *, secret: str | None = None, tolerance: float = DEFAULT_TOLERANCE) -> ASGIApp:
    """The handler may be sync or async; a sync one runs on the event loop, so it should return quickly.
    With `secret`, only pushes signed with it (within `tolerance` seconds) reach the handler."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _respond(send, 405, b"pushes are POST requests\n", [(b"allow", b"POST")])
            return
        try:
            body = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            await _respond(send, 413, b"body too large for a push\n")
            return
        except ClientDisconnected:
            return  # an incomplete push is not handed to the handler: the gateway will retry it
        signature = _header(scope, b"x-octogate-signature")
        try:
            callback = parse_push(body, secret=secret, signature=signature, tolerance=tolerance)
        except BadSignature as error:
            await _respond(send, 401, f"{error}\n".encode())
            return
        except CallbackError as error:
            await _respond(send, 400, f"{error}\n".encode())
            return
        try:
            outcome = handler(callback)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            log.exception("the push handler failed on %r", callback)
            await _respond(send, 500, b"")
            return
        await _respond(send, 200, b"")

    return app


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    text = [(b"content-type", b"text/plain; charset=utf-8")] if body else []
    await respond(send, status, body, [*(headers or []), *text])
