"""The sandbox's page (`/console/sandbox`): one conversation per phone, each message as the phone shows it, with
its parts, encoding, SMS count and receipt on demand; reply, STOP, and the next receipts' outcome.

A small ASGI app on its own, so that it is tested without the console's login and mounted by the console
behind it: the console passes its layout (`wrap`) and its CSRF check (`csrf`), the page brings the rest.
Every action is a plain form (it works without JavaScript); `sandbox.js` (a file: the CSP allows no inline
script) long-polls `events` and swaps the live part in, so a new message shows within a second without a reload.
It reads and acts only through `SandboxClient` (the simulator's control interface), never the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import Protocol
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, Router

from octogate.paris import paris_date

from .assets import SCRIPT, STYLE
from .client import SandboxClient
from .model import (
    Conversation,
    Direction,
    Listing,
    Outcome,
    PhoneMessage,
    Receipt,
    ReceiptState,
    SandboxError,
    check_number,
    parse_outcome,
)

PREFIX = "/console/sandbox"
#: the longest a page's long poll is held (the browser asks again at once)
EVENTS_WAIT = 25
MAX_VERSION = 1 << 62  # the highest `since` the control interface takes
#: what the receipt's stat means to a customer
STAT_WORDS = {"DELIVRD": "delivered", "UNDELIV": "undelivered", "REJECTD": "rejected", "EXPIRED": "expired",
              "DELETED": "deleted", "UNKNOWN": "unknown", "ACCEPTD": "accepted", "ENROUTE": "en route"}  # fmt: skip


class Csrf(Protocol):
    """The console's CSRF tokens: the hidden field every form carries, and its check on every POST."""

    def field(self, request: Request) -> tuple[str, str]: ...

    def valid(self, request: Request, form: dict[str, str]) -> bool: ...


class Scope(Protocol):
    """What the signed-in user may see, when it is not everything: of these carrier message ids (every part the
    page would show), those of the user's own messages. The console answers from the store."""

    async def owned(self, request: Request, message_ids: list[str]) -> set[str]: ...


#: (request, title, body HTML, status) -> the page in the console's layout
Wrap = Callable[[Request, str, str, int], Response]


def standalone(_request: Request, title: str, body: str, status: int) -> Response:
    """The page outside the console (tests, `octogate smsc-sim` users): a bare document with the same markup."""
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f'<link rel="stylesheet" href="{PREFIX}/sandbox.css"></head>'
            f"<body><main>{body}</main></body></html>")  # fmt: skip
    return HTMLResponse(html, status)


@dataclass
class SandboxPage:
    """``client`` makes a client of the running simulator's control interface (one per request)."""

    client: Callable[[], SandboxClient]
    wrap: Wrap = standalone
    csrf: Csrf | None = None
    #: None: every phone and message (the operator; the page on its own)
    scope: Scope | None = None
    prefix: str = PREFIX
    #: phones listed, and messages shown per phone
    phones: int = 50
    messages: int = 50

    def app(self) -> Router:
        return Router(routes=[
            Route(self.prefix, self.page, methods=["GET"]),
            Route(f"{self.prefix}/live", self.live, methods=["GET"]),
            Route(f"{self.prefix}/events", self.events, methods=["GET"]),
            Route(f"{self.prefix}/reply", self.reply, methods=["POST"]),
            Route(f"{self.prefix}/stop", self.stop, methods=["POST"]),
            Route(f"{self.prefix}/outcome", self.outcome, methods=["POST"]),
            Route(f"{self.prefix}/sandbox.js", self.asset, methods=["GET"]),
            Route(f"{self.prefix}/sandbox.css", self.asset, methods=["GET"]),
        ])  # fmt: skip

    # --- reading -------------------------------------------------------------------------------------------
    async def _state(self, request: Request, number: str | None) -> tuple[Listing, Conversation | None]:
        """The phones listed and the open conversation (the asked number's, else the latest), as this user may
        see them: one call to the simulator, then the scope's filter."""
        async with self.client() as sandbox:
            book = await sandbox.book(phones=self.phones, messages=self.messages)
            if self.scope is not None:
                book = book.visible(await self.scope.owned(request, book.message_ids()))
            listing = Listing(book.version, book.summaries(), book.outcomes)
            if number is None and listing.conversations:
                number = listing.conversations[0].number
            chat = next((c for c in book.conversations if c.number == number), None)
            if chat is None and number is not None and self.scope is None:
                chat = await sandbox.conversation(number, limit=self.messages)  # an older one, or an empty one
        return listing, chat

    async def page(self, request: Request) -> Response:
        return await self._render(request, _shown_number(request.query_params.get("number")))

    async def _render(self, request: Request, number: str | None, error: str = "", status: int = 200) -> Response:
        try:
            listing, chat = await self._state(request, number)
        except SandboxError as refusal:
            body = _notice("The sandbox is not available", str(refusal), "The sandbox exists while messages go to "
                           "the built-in simulator (no [[connectors]] configured).")  # fmt: skip
            return self.wrap(request, "SMS sandbox", body, 503)
        return self.wrap(request, "SMS sandbox", self._body(request, listing, chat, error), status)

    async def live(self, request: Request) -> Response:
        """The part that changes (phones and the open conversation), for `sandbox.js` to swap in."""
        try:
            listing, chat = await self._state(request, _shown_number(request.query_params.get("number")))
        except SandboxError as refusal:
            return HTMLResponse(_notice("The sandbox is not available", str(refusal)), 503)
        return HTMLResponse(self._live(listing, chat))

    async def events(self, request: Request) -> Response:
        """A long poll: answered with the new version as soon as anything changes after `since`."""
        raw = request.query_params.get("since", "0")[:40]
        digits = raw.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()) or int(raw) > MAX_VERSION:
            return JSONResponse({"error": f"since: an integer up to {MAX_VERSION}"}, 400)  # bad input, not a 503
        since = max(0, int(raw))
        try:
            async with self.client() as sandbox:
                listing = await sandbox.conversations(since=since, wait=EVENTS_WAIT, limit=1)
        except SandboxError as refusal:
            return JSONResponse({"error": str(refusal)}, 503)
        return JSONResponse({"version": listing.version})

    async def asset(self, request: Request) -> Response:
        script = request.url.path.endswith(".js")
        return Response(SCRIPT if script else STYLE, media_type="text/javascript" if script else "text/css",
                        headers={"Cache-Control": "max-age=300"})

    # --- acting ---------------------------------------------------------------------------------------------
    async def _act(self, request: Request,
                   action: Callable[[SandboxClient, dict[str, str]], Awaitable[str | None]]) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if self.csrf is not None and not self.csrf.valid(request, form):
            return self.wrap(request, "SMS sandbox", _notice("Refused", "This form has expired: reload the page "
                                                             "and try again."), 403)  # fmt: skip
        form.pop("to", None)  # chosen here, never by the form
        try:
            if self.scope is not None:
                form["to"] = await self._may_act(request, form)
            async with self.client() as sandbox:
                number = await action(sandbox, form)
        except SandboxError as refusal:
            status = refusal.status if 400 <= refusal.status < 600 else 502
            return await self._render(request, _shown_number(form.get("number")), str(refusal), status)
        target = self.prefix + (f"?{urlencode({'number': number})}" if number else "")
        return RedirectResponse(target, status_code=303)

    async def _may_act(self, request: Request, form: dict[str, str]) -> str:
        """Under a scope: only on a phone the user's messages went to, and never for every number at once.
        Returns the sender of the user's latest message there: the phone answers the user, not whoever else
        texted it since."""
        if form.get("scope") == "all":
            raise SandboxError("only the operator chooses the receipts of every number", 403)
        number = _shown_number(form.get("number"))
        _listing, chat = await self._state(request, number)
        if number is None or chat is None or chat.number != number:
            raise SandboxError("none of your messages went to this number", 403)
        return next(m.sender for m in reversed(chat.messages) if m.direction == Direction.MT)

    async def reply(self, request: Request) -> Response:
        async def act(sandbox: SandboxClient, form: dict[str, str]) -> str:
            sent = await sandbox.reply(form.get("number", ""), form.get("text", ""), to=form.get("to"))
            return sent.sender

        return await self._act(request, act)

    async def stop(self, request: Request) -> Response:
        async def act(sandbox: SandboxClient, form: dict[str, str]) -> str:
            sent = await sandbox.stop(form.get("number", ""), to=form.get("to"))
            return sent.sender

        return await self._act(request, act)

    async def outcome(self, request: Request) -> Response:
        async def act(sandbox: SandboxClient, form: dict[str, str]) -> str | None:
            chosen = parse_outcome(form.get("outcome", ""))
            number = form.get("number") or None
            await sandbox.set_outcome(chosen, number if form.get("scope") == "number" else None)
            return number

        return await self._act(request, act)

    # --- markup ---------------------------------------------------------------------------------------------
    def _body(self, request: Request, listing: Listing, chat: Conversation | None, error: str) -> str:
        csrf = ""
        if self.csrf is not None:
            name, token = self.csrf.field(request)
            csrf = f'<input type="hidden" name="{escape(name)}" value="{escape(token)}">'
        number = chat.number if chat else ""
        forms = self._forms(csrf, listing, chat) if chat else ""
        problem = f'<p class="flash error" role="alert">{escape(error)}</p>' if error else ""
        return (f'<section class="sandbox" data-version="{listing.version}" data-number="{escape(number)}" '
                f'data-live="{self.prefix}/live" data-events="{self.prefix}/events">'
                f'<h1>SMS sandbox</h1><p class="lead">Messages sent to the built-in simulator, as each phone receives '
                f'them. Reply, send STOP, or choose what the next receipts say.</p>{problem}'
                f'<div id="sandbox-live" aria-live="polite">{self._live(listing, chat)}</div>{forms}</section>'
                f'<script src="{self.prefix}/sandbox.js" defer></script>')  # fmt: skip

    def _live(self, listing: Listing, chat: Conversation | None) -> str:
        phones = "".join(self._phone(c.number, c.messages, c.last_at, c.last_text, c.last_direction,
                                     chat is not None and chat.number == c.number)
                         for c in listing.conversations)  # fmt: skip
        if not phones:
            return (f'<div class="empty" data-version="{listing.version}"><p><strong>No phone has received anything '
                    "yet.</strong></p><p>Send a message through the API or the Send page: it shows here within a "
                    "second of reaching the simulator.</p></div>")  # fmt: skip
        messages = "".join(_message(m) for m in chat.messages) if chat else ""
        title = f"<h2>{escape(chat.number)}</h2>" if chat else ""
        return (f'<div class="phones-and-chat" data-version="{listing.version}"><nav class="phones" '
                f'aria-label="Phones"><ul>{phones}</ul></nav><div class="chat">{title}'
                f'<ol class="messages">{messages}</ol></div></div>')  # fmt: skip

    def _phone(self, number: str, count: int, at: float, text: str, direction: Direction, active: bool) -> str:
        href = f"{self.prefix}?number={quote(number)}"
        arrow = "↩ " if direction == Direction.MO else ""
        current = ' class="active" aria-current="true"' if active else ""
        return (f'<li><a href="{escape(href)}"{current}><strong>{escape(number)}</strong> '
                f'<small>{count} · {escape(paris_date(int(at)))}</small><span>{arrow}{escape(text)}</span></a></li>')

    def _forms(self, csrf: str, listing: Listing, chat: Conversation) -> str:
        number = escape(chat.number)
        everyone = listing.outcomes.default.value if listing.outcomes.default else "automatic"
        scopes = (f'<label><input type="radio" name="scope" value="number" checked> to {number}</label>'
                  f'<label><input type="radio" name="scope" value="all"> to every number '
                  f"(now: {escape(everyone)})</label>") if self.scope is None else \
            '<input type="hidden" name="scope" value="number">'  # fmt: skip
        hidden = f'{csrf}<input type="hidden" name="number" value="{number}">'
        current = chat.outcome.value if chat.outcome else "auto"
        options = "".join(
            f'<option value="{value}"{" selected" if current == value else ""}>{label}</option>'
            for value, label in (("auto", "automatic (the simulator's mix)"), ("delivered", "delivered"),
                                 ("undelivered", "undelivered"), ("rejected", "rejected"), ("none", "no receipt"))
        )  # fmt: skip
        return (f'<div class="sandbox-actions">'
                f'<form method="post" action="{self.prefix}/reply" class="reply">{hidden}'
                f'<label for="sandbox-text">Reply from {number}</label>'
                f'<textarea id="sandbox-text" name="text" rows="2" maxlength="670" required></textarea>'
                f'<button>Send reply</button></form>'
                f'<form method="post" action="{self.prefix}/stop" class="stop">{hidden}'
                f'<button class="danger">Send STOP from {number}</button></form>'
                f'<form method="post" action="{self.prefix}/outcome" class="outcome">{hidden}'
                f'<label for="sandbox-outcome">Receipts of the next messages</label>'
                f'<select id="sandbox-outcome" name="outcome">{options}</select>'
                f'{scopes}<button>Apply</button></form></div>')  # fmt: skip


def _shown_number(raw: str | None) -> str | None:
    """The conversation asked for; a malformed number shows the most recent one instead."""
    if not raw:
        return None
    try:
        return "+" + check_number(raw[:40])
    except SandboxError:
        return None


def _receipt_words(receipt: Receipt | None) -> str:
    if receipt is None or receipt.state == ReceiptState.NONE or receipt.stat is None:
        return "no receipt"
    word = STAT_WORDS.get(receipt.stat, receipt.stat)
    if receipt.state == ReceiptState.PENDING:
        return f"receipt pending ({word})"
    return f"{word} · {paris_date(int(receipt.at or 0))}"


def _message(m: PhoneMessage) -> str:
    when = escape(paris_date(int(m.at)))
    if m.direction == Direction.MO:
        return (f'<li class="mo" data-id="{m.id}"><p class="text">{escape(m.text)}</p>'
                f'<p class="meta">sent by the phone to {escape(m.recipient)} · {when} · '
                f"{escape(m.state or '')}</p></li>")  # fmt: skip
    status = _receipt_words(m.receipt)
    failed = " failed" if m.receipt and m.receipt.stat not in (None, "DELIVRD") else ""
    rows = "".join(
        f"<tr><td>{p.seq}</td><td><code>{escape(p.message_id)}</code></td><td>{escape(p.text)}</td>"
        f"<td>{p.octets}</td><td>{escape(_receipt_words(p.receipt))}</td></tr>"
        for p in m.parts
    )
    return (f'<li class="mt{failed}" data-id="{m.id}"><p class="text">{escape(m.text)}</p>'
            f'<p class="meta">from {escape(m.sender)} · {when} · <span class="receipt">{escape(status)}</span></p>'
            f"<details><summary>{escape(m.encoding)} · {m.sms_count} SMS · {len(m.text)} characters</summary>"
            f'<table class="parts"><thead><tr><th>Part</th><th>Message id</th><th>Text</th><th>Octets</th>'
            f"<th>Receipt</th></tr></thead><tbody>{rows}</tbody></table></details></li>")  # fmt: skip


def _notice(title: str, *texts: str) -> str:
    paragraphs = "".join(f"<p>{escape(text)}</p>" for text in texts)
    return (f'<section class="sandbox"><h1>SMS sandbox</h1><div class="empty"><p><strong>{escape(title)}</strong>'
            f"</p>{paragraphs}</div></section>")


__all__ = ["PREFIX", "Csrf", "Outcome", "SandboxPage", "Scope", "Wrap", "standalone"]
