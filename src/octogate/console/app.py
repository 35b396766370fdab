"""The web console, served by `octogate serve` under /console/ beside the API (same process and port).

`with_console(api, console_app)` is the whole coupling: a dispatch on the path prefix, so the API's hot path
stays the plain ASGI callable it was (one string comparison more). The console is a Starlette app whose every
answer carries the security headers (CSP and friends); sign-in and sign-out live here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from octogate.console import customer, operator
from octogate.console.base import HERE, Console, Ctx, LiveState, page
from octogate.console.sandbox import SandboxGate, is_sandbox
from octogate.console.security import HEADERS, Session, Sessions, Throttle, new_csrf
from octogate.portal import Portal
from octogate.sandbox.client import SandboxClient, control_url
from octogate.service import Gateway, normalise_login

PREFIX = "/console"
DEFAULT_SESSION_HOURS = 8


def build_console(
    gateway: Gateway,
    *,
    session_hours: float = DEFAULT_SESSION_HOURS,
    secure_cookies: bool = False,
    connectors: tuple[Any, ...] = (),
    simulator: Any = None,
    throttle: Throttle | None = None,
    sandbox: Callable[[], SandboxClient] | None = None,
    live: LiveState | None = None,
) -> SecureHeaders:
    """``sandbox`` makes a client of the built-in simulator's control interface (the SMS sandbox page, shown
    while ``simulator`` is in use); ``live`` reads the delivery side's connectors (the Connectors page)."""
    portal = Portal(gateway.store, clock=gateway.clock)
    console = Console(
        portal=portal, gateway=gateway,
        sessions=Sessions(portal.session_secret(), int(session_hours * 3600), secure=secure_cookies),
        throttle=throttle or Throttle(), connectors=connectors, simulator=simulator, live=live,
    )  # fmt: skip
    anyone = page(console, None)

    @anyone
    async def root(ctx: Ctx) -> Response:
        return ctx.finish(RedirectResponse(_home(ctx.user.role if ctx.user else None), status_code=303))

    @anyone
    async def login_form(ctx: Ctx) -> Response:
        if ctx.user is not None:
            return ctx.finish(RedirectResponse(_home(ctx.user.role), status_code=303))
        return ctx.render(
            "login.html", error=None, login="", role="customer", next=ctx.arg("next", 300) or ""
        )

    @anyone
    async def login(ctx: Ctx) -> Response:
        login, password = normalise_login(ctx.field("login", 300)), ctx.field("password", 300)
        role = "operator" if ctx.field("role", 10) == "operator" else "customer"
        wanted = ctx.field("next", 300)
        address = ctx.request.client.host if ctx.request.client else "-"
        key = f"{role}:{login}"
        wait = console.throttle.wait(key, address)
        if wait:
            minutes = max(1, round(wait / 60))
            return ctx.render(
                "login.html", 429, error=f"Too many failed attempts: try again in about {minutes} minute(s).",
                login=login, role=role, next=wanted,
            )  # fmt: skip
        check = portal.operator_login if role == "operator" else portal.customer_login
        user = await check(login, password)
        if user is None:
            console.throttle.failed(key, address)
            return ctx.render(
                "login.html", 401, error="Wrong login or password.", login=login, role=role, next=wanted
            )
        console.throttle.succeeded(key)
        # A new session (and CSRF token) at sign-in: a token planted before it is worth nothing after.
        ctx.session = Session(new_csrf(), user.role, user.id, user.fingerprint)
        ctx.new_session = True
        return ctx.finish(RedirectResponse(_next(wanted, user.role), status_code=303))

    @anyone
    async def logout(ctx: Ctx) -> Response:
        ctx.session = Session(new_csrf())
        ctx.new_session = True
        return ctx.finish(RedirectResponse(f"{PREFIX}/login", status_code=303))

    async def not_found(request: Request, exc: Exception) -> Response:
        return await _not_found(request)

    _not_found = anyone(lambda ctx: _refuse(ctx))

    app = Starlette(
        routes=[
            Route(PREFIX, root),
            Route(f"{PREFIX}/", root),
            Route(f"{PREFIX}/login", login_form, methods=["GET"]),
            Route(f"{PREFIX}/login", login, methods=["POST"]),
            Route(f"{PREFIX}/logout", logout, methods=["POST"]),
            *customer.routes(console),
            *operator.routes(console),
            Mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={404: not_found, 405: not_found},
    )
    gate = SandboxGate(console, sandbox) if sandbox is not None and simulator is not None else None
    return SecureHeaders(app if gate is None else _WithSandbox(app, gate), console)


class _WithSandbox:
    """/console/sandbox (the sandbox's own ASGI app, behind its gate), else the console's routes."""

    def __init__(self, app: Any, gate: SandboxGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await (self.gate if is_sandbox(scope.get("path", "")) else self.app)(scope, receive, send)


async def _refuse(ctx: Ctx) -> Response:
    return ctx.render("refused.html", 404, reason="There is no such page.")


def _home(role: str | None) -> str:
    return {"customer": f"{PREFIX}/home", "operator": f"{PREFIX}/op/accounts"}.get(
        role or "", f"{PREFIX}/login"
    )


def _next(wanted: str, role: str) -> str:
    """Back to the page asked for before sign-in, when it is a console page of this role (never elsewhere)."""
    own = f"{PREFIX}/op/" if role == "operator" else f"{PREFIX}/"
    if (
        (wanted.startswith(own) or is_sandbox(wanted)) and not wanted.startswith("//")
        and "\\" not in wanted and "://" not in wanted
        and (role == "operator" or not wanted.startswith(f"{PREFIX}/op/"))
    ):  # fmt: skip
        return wanted
    return _home(role)


class SecureHeaders:
    """Adds the security headers to every console answer (pages, redirects, static files, errors)."""

    def __init__(self, app: Any, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class WithConsole:
    """The API app, and the console under /console: a dispatch on the path, nothing else."""

    def __init__(self, api: Any, console: Any) -> None:
        self.api = api
        self.console = console
        self.gateway = api.gateway  # `serve` wires the dispatcher's wake-up through it

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.console(scope, receive, send)
            return
        await self.api(scope, receive, send)


def console_for(api: Any, settings: Any, live: LiveState | None = None) -> Any:
    """What `octogate serve` serves: the API alone when the console is off, else the API and the console.
    With the demo account (the simulator's sandbox), says where to sign in, and the demo's console password
    when this start made it (kept only as a hash: a later start cannot show it again)."""
    if not settings.console.enabled:
        return api
    from octogate.config import parse_listen

    simulated = settings.simulator.enabled if settings.simulator.enabled is not None else not settings.connectors

    def sandbox() -> SandboxClient:
        return SandboxClient(control_url(settings))  # SandboxError when the control interface is off

    console = build_console(
        api.gateway, session_hours=settings.console.session_hours, secure_cookies=bool(settings.tls_cert),
        connectors=settings.connectors, simulator=settings.simulator if simulated else None, sandbox=sandbox,
        live=live,
    )  # fmt: skip
    host, port = parse_listen(settings.http)
    url = f"{'https' if settings.tls_cert else 'http'}://{host}:{port}{PREFIX}/"
    if settings.demo and not settings.connectors:
        login = normalise_login(settings.demo_login)
        password = console.console.portal.demo_password(login)
        if password:
            print(f"octogate: web console on {url}  sign in as {login} with password {password}", flush=True)
        else:
            print(
                f"octogate: web console on {url}  (`octogate account password {login}` sets the demo's password)",
                flush=True,
            )
    else:
        print(f"octogate: web console on {url}", flush=True)
    return WithConsole(api, console)
