"""The SMS sandbox inside the console: `octogate.sandbox.page.SandboxPage` behind the console's sign-in, in its
layout, with its CSRF tokens. A customer's page is scoped to the carrier ids of its own messages (read from the
store); the operator's shows every phone. The page itself talks only to the simulator's control interface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from octogate.config import SIMULATOR_CONNECTOR
from octogate.console.base import Console, Ctx, context, sign_in_first
from octogate.console.security import CSRF_FIELD, csrf_matches
from octogate.sandbox.client import SandboxClient
from octogate.sandbox.page import PREFIX, SandboxPage

STATE_KEY = "octogate.console"  # where the gate leaves the request's Ctx for the page's callbacks


def _ctx(request: Request) -> Ctx:
    ctx = request.scope.get("state", {}).get(STATE_KEY)
    assert isinstance(ctx, Ctx), "the sandbox page runs only behind the console's gate"
    return ctx


def wrap(request: Request, title: str, body: str, status: int) -> Response:
    """The page's body in the console's layout (the body is the page's own escaped markup)."""
    return _ctx(request).render("sandbox.html", status, title=title, body=Markup(body))  # noqa: S704


class Csrf:
    """The console's token: the hidden field of every form, checked on every POST."""

    def field(self, request: Request) -> tuple[str, str]:
        return CSRF_FIELD, _ctx(request).session.csrf

    def valid(self, request: Request, form: dict[str, str]) -> bool:
        ctx = _ctx(request)
        return not ctx.new_session and csrf_matches(ctx.session, form.get(CSRF_FIELD))


class CustomerScope:
    """Of the carrier ids a page would show, those of the signed-in account's messages (one indexed read)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def owned(self, request: Request, message_ids: list[str]) -> set[str]:
        return await self.console.portal.owned_carrier_ids(_ctx(request).account_id, SIMULATOR_CONNECTOR,
                                                           message_ids)  # fmt: skip


class SandboxGate:
    """ASGI: every request under /console/sandbox signs in first (else to the login page), then goes to the
    page of its role: the operator's (everything) or the customers' (scoped). Roles are checked per request."""

    def __init__(self, console: Console, client: Callable[[], SandboxClient]) -> None:
        self.console = console
        csrf = Csrf()
        self.pages = {
            "operator": SandboxPage(client, wrap=wrap, csrf=csrf).app(),
            "customer": SandboxPage(client, wrap=wrap, csrf=csrf, scope=CustomerScope(console)).app(),
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        ctx = await context(self.console, request)
        if ctx.user is None or ctx.user.role not in self.pages:
            await sign_in_first(ctx)(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = ctx
        page = self.pages[ctx.user.role]
        if scope.get("path") == f"{PREFIX}/events":
            await until_disconnect(page, scope, receive, send)
        else:
            await page(scope, receive, send)


async def until_disconnect(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A long poll (a GET: no body to read) that ends when its browser goes away: a page left or closed must
    not hold a request open for 25 s (nor keep `serve` from stopping while it waits)."""
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        async def no_body() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        group.start_soon(watch)
        await app(scope, no_body, send)
        group.cancel_scope.cancel()


def is_sandbox(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")
