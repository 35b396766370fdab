"""What every console page shares: the session and the signed-in user, the role check, the CSRF check of every
form, rendering (Jinja2, autoescaped), and the paging and filter parameters read with bounds."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from octogate.console.security import COOKIE, CSRF_FIELD, Session, Sessions, Throttle, csrf_matches, new_csrf
from octogate.operations import MAX_INTEGER, Operator, ticket_as_sent, ticket_for
from octogate.paris import PARIS
from octogate.portal import Portal, SignedIn
from octogate.service import Gateway
from octogate.sms.money import format_money

log = logging.getLogger("octogate.console")

HERE = Path(__file__).parent
MAX_FORM_BYTES = 3 * 1024 * 1024
PAGE_SIZE = 25


class LiveState(Protocol):
    """The delivery side's live view of its connectors, as `octogate status` and /status read it (per connector:
    name, binds_wanted, binds_held, binds_up, window, in_flight, rate, last_error)."""

    def connectors(self) -> tuple[str | None, list[dict[str, Any]]]:
        """(why the delivery side cannot be read now, or None; the connectors' last known states)"""
        ...


@dataclass
class Console:
    """The console's collaborators: the service layer it calls and its own protections."""

    portal: Portal
    gateway: Gateway
    sessions: Sessions
    throttle: Throttle = field(default_factory=Throttle)
    connectors: tuple[Any, ...] = ()  # ConnectorConfig of the settings (shown without their passwords)
    simulator: Any = None  # SimulatorSettings, when messages go to the built-in simulator
    live: LiveState | None = None  # the running delivery side (None: not in this process, e.g. tests)
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            money=money, date=date_paris, ticket=campaign_ticket, json_data=json_data, short=short
        )
        # The sandbox exists only while messages go to the built-in simulator.
        self.env.globals.update(query=query, sandbox_nav=self.simulator is not None)

    def operator(self, user: SignedIn) -> Operator:
        """The operator service acting as this console user: each action lands in the audit log under their name."""
        return Operator(self.portal.store, clock=self.portal.clock, actor=f"operator:{user.login}")


@dataclass
class Ctx:
    console: Console
    request: Request
    session: Session
    user: SignedIn | None
    form: FormData | None = None
    new_session: bool = False  # set a cookie on the response (a new login form token, a sign-in, a sign-out)

    @property
    def account_id(self) -> int:
        assert self.user is not None and self.user.role == "customer"
        return self.user.id

    def arg(self, name: str, limit: int = 100) -> str | None:
        value = self.request.query_params.get(name, "").strip()[:limit]
        return value or None

    def int_arg(self, name: str) -> int | None:
        """A page cursor or count from the query: ASCII digits only (`²` passes isdigit but not int), and capped
        at the store's largest integer, so that an edited URL shows a page instead of a fault."""
        return whole_number(self.arg(name, 40))

    def field(self, name: str, limit: int = 2000) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value[:limit] if isinstance(value, str) else ""

    def render(self, template: str, code: int = 200, **values: Any) -> Response:
        body = self.console.env.get_template(template).render(
            user=self.user, csrf=self.session.csrf, csrf_field=CSRF_FIELD, path=self.request.url.path,
            request=self.request, **values,
        )  # fmt: skip
        return self.finish(HTMLResponse(body, status_code=code))

    def redirect(self, url: str, **message: str) -> Response:
        """303 after a POST (the browser GETs the next page: a reload never sends a form twice)."""
        if message:
            url += ("&" if "?" in url else "?") + urlencode(message)
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        if self.new_session:
            response.headers.append("set-cookie", self.console.sessions.cookie(self.session))
        return response


Handler = Callable[[Ctx], Awaitable[Response]]


async def context(console: Console, request: Request) -> Ctx:
    """The request's session (a fresh one when its cookie is missing, expired or names a user no longer
    signed in) and the signed-in user, reloaded from the store on every request."""
    session = console.sessions.load(request.cookies.get(COOKIE))
    user = None
    if session is not None and session.role is not None and session.user_id is not None:
        user = await console.portal.still_signed_in(session.role, session.user_id, session.fingerprint or "")
    fresh = session is None or (session.role is not None and user is None)
    if fresh or session is None:
        session = Session(new_csrf())
    return Ctx(console, request, session, user, new_session=fresh)


def sign_in_first(ctx: Ctx) -> Response:
    target = "/console/login?" + urlencode({"next": ctx.request.url.path})
    return ctx.finish(RedirectResponse(target, status_code=303))


def page(console: Console, role: str | None) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A console endpoint: loads the session, checks the role on the server for every request, and the CSRF
    token of every POST. `role` None: open to anyone (the sign-in page)."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            ctx = await context(console, request)
            session, user, fresh = ctx.session, ctx.user, ctx.new_session
            if role is not None and (user is None or user.role != role):
                if user is None:
                    return sign_in_first(ctx)
                return ctx.render("refused.html", 403, reason=f"This page is for {role}s.")
            if request.method == "POST":
                if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
                    return ctx.render("refused.html", 413, reason="The form is too large.")
                try:
                    ctx.form = await request.form(max_files=2, max_fields=200, max_part_size=MAX_FORM_BYTES)
                except Exception:  # a malformed body: refused, never half-read
                    return ctx.render("refused.html", 400, reason="The form could not be read.")
                if fresh or not csrf_matches(session, ctx.form.get(CSRF_FIELD)):
                    await ctx.form.close()
                    return ctx.render(
                        "refused.html", 403, reason="This form has expired (or did not come from this console): "
                        "reload the page and send it again.",
                    )  # fmt: skip
            try:
                return await handler(ctx)
            except Exception:  # as the API does: logged with a reference the page gives, never a bare 500
                reference = secrets.token_hex(4)
                log.exception("console: unexpected fault answering %.200s (reference %s)", request.url.path, reference)
                return ctx.render("refused.html", 500, reason=f"Something went wrong on our side (reference "
                                  f"{reference}): the operator's log has the details.")  # fmt: skip
            finally:
                if ctx.form is not None:
                    await ctx.form.close()  # an uploaded file's temporary file

        return endpoint

    return wrap


# --- filters -------------------------------------------------------------------------------------------------------


def campaign_ticket(campaign: Any) -> str:
    """A campaign row's ticket in the shape of the API it came through (`sms_…` for REST, `api…` otherwise), as
    its sender knows it; a bare campaign id gets the 1.6.1 shape (both shapes open the same page)."""
    if isinstance(campaign, int):
        return ticket_for(campaign)
    return ticket_as_sent(campaign.id, campaign.source)


def money(micro: int | None) -> str:
    return "-" if micro is None else format_money(int(micro), 2)


def date_paris(epoch: int | None, seconds: bool = False) -> str:
    if not epoch:
        return "-"
    return (
        datetime.fromtimestamp(int(epoch), UTC)
        .astimezone(PARIS)
        .strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    )


def json_data(value: object) -> Markup:
    """Data for a page's script, inside <script type="application/json"> (never executed): '<' escaped so
    that no value can close the element."""
    text = json.dumps(value, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))  # noqa: S704 - every character that matters in HTML is escaped


def short(text: str | None, limit: int = 60) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def query(request: Request, **changes: object) -> str:
    """The current page's URL with some query parameters changed (None removes one): paging keeps filters."""
    params = dict(request.query_params)
    for name, value in changes.items():
        if value is None or value == "":
            params.pop(name, None)
        else:
            params[name] = str(value)
    return request.url.path + ("?" + urlencode(params, quote_via=quote) if params else "")


def whole_number(value: str | None) -> int | None:
    """ASCII digits as an int no larger than MAX_INTEGER; anything else None."""
    if not value or not (value.isascii() and value.isdigit()):
        return None
    return min(int(value), MAX_INTEGER)
