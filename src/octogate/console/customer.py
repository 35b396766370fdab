"""The customer's pages: their balance and traffic, campaigns, the send form, what came back, STOP list, push
URLs and API key. Every read passes the session's own account to the service: another account's data is
never looked up for them (a campaign of another account answers 404, as one that does not exist)."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from octogate.console import charts
from octogate.console.base import PAGE_SIZE, Console, Ctx, page
from octogate.console.forms import SMS_TYPES, FormError, SendForm, in_words, read_csv, text_facts, to_params
from octogate.octopush.answers import SmsAnswer
from octogate.octopush.errors import ApiError
from octogate.operations import PUSH_URL_KINDS
from octogate.portal import PortalRefusal
from octogate.statuses import IncomingKind, MessageStatus, PushStatus

CHART_HOURS = 48
STATUSES = tuple(MessageStatus)


def routes(console: Console) -> list[Route]:
    customer = page(console, "customer")

    @customer
    async def home(ctx: Ctx) -> Response:
        account = await console.portal.account(ctx.account_id)
        now = int(console.portal.clock())
        series = charts.hourly(await console.portal.traffic(ctx.account_id, CHART_HOURS), now, CHART_HOURS)
        recent, counts = await console.portal.campaigns(ctx.account_id, None, 5)
        return ctx.render(
            "customer/home.html", account=account, series=series, hours=CHART_HOURS, campaigns=recent.items,
            counts=counts,
        )  # fmt: skip

    @customer
    async def campaigns(ctx: Ctx) -> Response:
        sms_type = ctx.arg("type")
        if sms_type not in SMS_TYPES:
            sms_type = None
        ticket = ctx.arg("ticket", 40)
        if ticket:
            return ctx.finish(RedirectResponse(f"/console/campaigns/{ticket}", status_code=303))
        found, counts = await console.portal.campaigns(
            ctx.account_id, ctx.int_arg("before"), PAGE_SIZE, sms_type
        )
        return ctx.render(
            "customer/campaigns.html", page=found, counts=counts, sms_type=sms_type, types=SMS_TYPES
        )

    @customer
    async def campaign(ctx: Ctx) -> Response:
        return await campaign_page(ctx, ctx.account_id)

    @customer
    async def send_form(ctx: Ctx) -> Response:
        return ctx.render(
            "customer/send.html", form=SendForm(request_id=secrets.token_hex(8)), **_send_context()
        )

    @customer
    async def send(ctx: Ctx) -> Response:
        form = await _read_form(ctx)
        simulation = ctx.field("action") != "send"
        answer, error = await _submit(ctx, form, simulation=simulation)
        if answer is not None and not simulation:
            return ctx.redirect(f"/console/campaigns/{answer.ticket}", done="Campaign accepted")
        if not simulation:  # a refused send used no request_id: a new one for the retry
            form.request_id = secrets.token_hex(8)
        values = _send_context(form=form, answer=answer, error=error, facts=text_facts(form.text))
        return ctx.render("customer/send.html", 200 if error is None else 422, **values)

    @customer
    async def estimate(ctx: Ctx) -> Response:
        """The live estimate (htmx, as the form is typed): the API's simulation, nothing stored or debited."""
        form = await _read_form(ctx)
        answer, error = await _submit(ctx, form, simulation=True)
        return ctx.render("customer/_estimate.html", answer=answer, error=error, facts=text_facts(form.text))

    @customer
    async def replies(ctx: Ctx) -> Response:
        kind = ctx.arg("kind")
        if kind not in (IncomingKind.STOP, IncomingKind.REPLY):
            kind = None
        found = await console.portal.incoming(ctx.account_id, ctx.int_arg("before"), PAGE_SIZE, kind)
        return ctx.render("customer/replies.html", page=found, kind=kind)

    @customer
    async def stops(ctx: Ctx) -> Response:
        found = await console.portal.stops(ctx.account_id, ctx.arg("after", 40), PAGE_SIZE)
        return ctx.render("customer/stops.html", page=found, done=ctx.arg("done"), error=ctx.arg("error"))

    @customer
    async def remove_stop(ctx: Ctx) -> Response:
        try:
            number, removed = await console.portal.remove_stop(ctx.account_id, ctx.field("number", 40))
        except PortalRefusal as refusal:
            return ctx.redirect("/console/stops", error=str(refusal)[:200])
        message = (
            f"{number} removed from your STOP list" if removed else f"{number} was not on your STOP list"
        )
        return ctx.redirect("/console/stops", done=message)

    @customer
    async def pushes(ctx: Ctx) -> Response:
        status = ctx.arg("status")
        if status not in tuple(PushStatus):
            status = None
        found = await console.portal.pushes(ctx.account_id, ctx.int_arg("before"), PAGE_SIZE, status)
        attempts = None
        shown = ctx.int_arg("attempts")
        if shown is not None:
            attempts = (shown, await console.portal.push_attempts(ctx.account_id, shown))
        urls = await console.portal.push_urls(ctx.account_id)
        return ctx.render(
            "customer/pushes.html", page=found, urls=urls, status=status, statuses=tuple(PushStatus),
            attempts=attempts, done=ctx.arg("done"), error=ctx.arg("error"),
        )  # fmt: skip

    @customer
    async def set_urls(ctx: Ctx) -> Response:
        # read whole (a URL cut at the limit would be saved as another URL): set_push_urls refuses one too long
        changes = {kind: (ctx.field(kind, 10_000).strip() or None) for kind in PUSH_URL_KINDS}
        try:
            await console.portal.set_push_urls(ctx.account_id, changes)
        except PortalRefusal as refusal:
            return ctx.redirect("/console/pushes", error=str(refusal)[:200])
        return ctx.redirect("/console/pushes", done="Push URLs saved")

    @customer
    async def key(ctx: Ctx) -> Response:
        account = await console.portal.account(ctx.account_id)
        return ctx.render("customer/key.html", account=account, new_key=None)

    @customer
    async def rotate_key(ctx: Ctx) -> Response:
        """The new key is in this response's body only: never in a URL, a log or a later page."""
        new_key = await console.portal.rotate_key(ctx.account_id)
        account = await console.portal.account(ctx.account_id)
        return ctx.render("customer/key.html", account=account, new_key=new_key)

    return [
        Route("/console/home", home),
        Route("/console/campaigns", campaigns),
        Route("/console/campaigns/{ticket}", campaign),
        Route("/console/send", send_form, methods=["GET"]),
        Route("/console/send", send, methods=["POST"]),
        Route("/console/send/estimate", estimate, methods=["POST"]),
        Route("/console/replies", replies),
        Route("/console/stops", stops, methods=["GET"]),
        Route("/console/stops/remove", remove_stop, methods=["POST"]),
        Route("/console/pushes", pushes, methods=["GET"]),
        Route("/console/pushes/urls", set_urls, methods=["POST"]),
        Route("/console/key", key, methods=["GET"]),
        Route("/console/key/rotate", rotate_key, methods=["POST"]),
    ]


async def campaign_page(ctx: Ctx, account_id: int | None) -> Response:
    """A campaign and a page of its recipients; `account_id` None: the operator's view (any account)."""
    ticket = str(ctx.request.path_params.get("ticket", ""))
    detail = await ctx.console.portal.campaign(ticket, account_id)
    if detail is None:
        return ctx.render("refused.html", 404, reason="No such campaign in your account.")
    status = ctx.arg("status")
    if status not in STATUSES:
        status = None
    recipients = await ctx.console.portal.recipients(detail.campaign.id, ctx.int_arg("after"), 50, status)
    pending = sum(n for s, n in detail.counts.items() if s in ("queued", "sending", "submitted"))
    template = (
        "customer/_campaign_live.html" if ctx.request.headers.get("hx-request") else "customer/campaign.html"
    )
    return ctx.render(
        template, detail=detail, recipients=recipients, status=status, statuses=STATUSES, pending=pending,
        done=ctx.arg("done"), operator_view=account_id is None,
    )  # fmt: skip


async def _read_form(ctx: Ctx) -> SendForm:
    form = SendForm(
        recipients=ctx.field("recipients", 200_000),
        csv_text=ctx.field("csv_text", 2_000_000),
        text=ctx.field("text", 5000),
        sender=ctx.field("sender", 40),
        sms_type=ctx.field("sms_type", 5) or "FR",
        transactional=bool(ctx.field("transactional", 5)),
        with_replies=bool(ctx.field("with_replies", 5)),
        schedule=ctx.field("schedule", 30),
        request_id=ctx.field("request_id", 64) or secrets.token_hex(8),
    )
    upload = ctx.form.get("csv") if ctx.form is not None else None
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            form.csv_text = read_csv(await upload.read())
        except FormError as error:
            form.errors.append(str(error))
    return form


async def _submit(ctx: Ctx, form: SendForm, *, simulation: bool) -> tuple[SmsAnswer | None, str | None]:
    """The API's answer, or what is wrong in words (a form error, or an API code explained)."""
    if form.errors:
        return None, form.errors[0]
    assert ctx.user is not None
    try:
        params = to_params(form, simulation=simulation, now=int(ctx.console.portal.clock()))
        return await ctx.console.gateway.submit_signed_in(ctx.user.login, params), None
    except FormError as error:
        return None, str(error)
    except ApiError as error:
        return None, f"{in_words(error.code)} (API code {error.code.wire})"


def _send_context(**values: Any) -> dict[str, Any]:
    return {"types": SMS_TYPES, "answer": None, "error": None, "facts": None, "words": in_words, **values}
