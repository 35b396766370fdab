"""A tiny ASGI app that receives the API's pushes and hands each, typed, to the customer's handler.

Mount it anywhere (`Mount("/octopush", app=callback_app(on_push))` in Starlette, `app.mount(...)` in FastAPI)
or serve it alone with any ASGI server. It answers 200 with an empty body, as the document asks; a push it
cannot read answers 400; a handler that raises answers 500, so the sender retries it later. Pushes of both APIs
are read: form fields (1.6.1) and JSON objects (the current REST API).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from octogate.asgi import BodyTooLarge, ClientDisconnected, lifespan, read_body, respond
from octogate.client.callbacks import Callback, CallbackError, parse_callback, parse_rest_callback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Callback], Awaitable[object] | object]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 64 * 1024  # a push is a handful of short fields; a larger body is not one
log = logging.getLogger("octogate.client.receiver")


def callback_app(handler: Handler) -> ASGIApp:
    """The handler may be sync or async; a sync one runs on the event loop, so it should return quickly."""

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
        try:
            callback = parse_push(body)
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


def parse_push(body: bytes) -> Callback:
    """A push's raw body, of either API: a JSON object is a REST push, anything else 1.6.1 form fields."""
    if body.lstrip().startswith(b"{"):
        return parse_rest_callback(body)
    return parse_callback(_form(body))


def _form(body: bytes) -> dict[str, str]:
    """UTF-8 as the document says; a body that is not UTF-8 or not urlencoded is not a push."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise CallbackError("the body is not a UTF-8 urlencoded form") from None
    return dict(pairs)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    text = [(b"content-type", b"text/plain; charset=utf-8")] if body else []
    await respond(send, status, body, [*(headers or []), *text])
