"""The operator's pages: what the CLI does, through the same `Operator` calls (each action audited under the
console user's name), and what the CLI cannot show well: traffic charts, failing customer hosts, the audit log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from octogate.config import SIMULATOR_CONNECTOR
from octogate.console import charts
from octogate.console.base import PAGE_SIZE, Console, Ctx, page, whole_number
from octogate.console.customer import STATUSES, campaign_page
from octogate.console.forms import SMS_TYPES, FormError, read_csv
from octogate.operations import Operator, Refused
from octogate.statuses import PushStatus

T = TypeVar("T")
FLAGS = (("activated", "Activated"), ("blacklisted", "Blacklisted"), ("pending_order", "Credit order pending"),
         ("transliterate", "Transliterate to GSM"))  # fmt: skip
TRAFFIC_HOURS = 24


def routes(console: Console) -> list[Route]:
    operator = page(console, "operator")

    async def act(ctx: Ctx, action: Callable[[Operator], T]) -> T:
        """An operator action, run in a thread (the service's calls are one synchronous transaction each)."""
        assert ctx.user is not None
        return await run_in_threadpool(action, console.operator(ctx.user))

    @operator
    async def accounts(ctx: Ctx) -> Response:
        found = await console.portal.accounts(ctx.arg("after", 300), PAGE_SIZE, ctx.arg("q", 100))
        return ctx.render(
            "operator/accounts.html", page=found, q=ctx.arg("q"), done=ctx.arg("done"), error=ctx.arg("error"),
            created=None,
        )  # fmt: skip

    @operator
    async def create_account(ctx: Ctx) -> Response:
        login, credit = ctx.field("login", 300), ctx.field("credit", 40) or "0"
        try:
            created = await act(ctx, lambda op: op.create_account(login, credit))
        except Refused as refusal:
            return ctx.redirect("/console/op/accounts", error=str(refusal)[:200])
        found = await console.portal.accounts(None, PAGE_SIZE, None)
        return ctx.render(
            "operator/accounts.html", page=found, q=None, done=None, error=None, created=created
        )

    @operator
    async def account(ctx: Ctx) -> Response:
        found = await console.portal.account_by_login(str(ctx.request.path_params["login"]))
        if found is None:
            return ctx.render("refused.html", 404, reason="No such account.")
        recent, counts = await console.portal.campaigns(found.id, None, 10)
        return ctx.render(
            "operator/account.html", account=found, flags=FLAGS, campaigns=recent.items, counts=counts,
            done=ctx.arg("done"), error=ctx.arg("error"), new_key=None,
        )  # fmt: skip

    def account_action(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(ctx: Ctx) -> Response:
            login = str(ctx.request.path_params["login"])
            back = f"/console/op/accounts/{quote(login)}"
            try:
                if name == "credit":
                    amount, reason = ctx.field("amount", 40), ctx.field("reason", 200).strip()
                    if not reason:
                        return ctx.redirect(
                            back, error="Give a reason: it goes to the account's statement and the audit log"
                        )
                    balance = await act(ctx, lambda op: op.credit(login, amount, reason))
                    return ctx.redirect(back, done=f"Credited {amount} EUR: balance {balance / 1e6:.2f} EUR")
                if name == "flags":
                    flags = {flag: bool(ctx.field(flag, 5)) for flag, _ in FLAGS}
                    await act(ctx, lambda op: op.set_flags(login, flags))
                    return ctx.redirect(back, done="States saved")
                if name == "password":
                    password = ctx.field("password", 300)
                    await act(ctx, lambda op: op.set_account_password(login, password))
                    return ctx.redirect(back, done="Console password set")
                new_key = await act(ctx, lambda op: op.rotate_key(login))
            except Refused as refusal:
                return ctx.redirect(back, error=str(refusal)[:200])
            found = await console.portal.account_by_login(login)
            recent, counts = await console.portal.campaigns(found.id, None, 10) if found else (None, {})
            return ctx.render(
                "operator/account.html", account=found, flags=FLAGS, campaigns=recent.items if recent else [],
                counts=counts, done="New API key made: the old one no longer works", error=None, new_key=new_key,
            )  # fmt: skip

        return operator(handler)

    @operator
    async def campaigns(ctx: Ctx) -> Response:
        sms_type = ctx.arg("type")
        if sms_type not in SMS_TYPES:
            sms_type = None
        found, counts = await console.portal.campaigns(None, ctx.int_arg("before"), PAGE_SIZE, sms_type)
        return ctx.render(
            "customer/campaigns.html", page=found, counts=counts, sms_type=sms_type, types=SMS_TYPES,
            operator_view=True,
        )  # fmt: skip

    @operator
    async def campaign(ctx: Ctx) -> Response:
        return await campaign_page(ctx, None)

    @operator
    async def prices(ctx: Ctx) -> Response:
        try:
            table = await act(ctx, lambda op: op.prices())
        except Refused as refusal:
            return ctx.render("operator/prices.html", rows=[], error=str(refusal), changes=None, csv_text="")
        rows = list(csv_rows(table.to_csv()))
        q = (ctx.arg("q", 40) or "").lower()
        if q:
            rows = rows[:1] + [r for r in rows[1:] if q in " ".join(r).lower()]
        return ctx.render(
            "operator/prices.html",
            rows=rows,
            q=q,
            changes=None,
            csv_text="",
            done=ctx.arg("done"),
            error=ctx.arg("error"),
        )

    @operator
    async def preview_prices(ctx: Ctx) -> Response:
        csv_text = ctx.field("csv_text", 2_000_000)
        upload = ctx.form.get("csv") if ctx.form is not None else None
        try:
            if isinstance(upload, UploadFile) and upload.filename:
                csv_text = read_csv(await upload.read())
            changes = await act(ctx, lambda op: op.preview_prices(csv_text, "the uploaded CSV"))
        except (Refused, FormError) as refusal:
            return ctx.redirect("/console/op/prices", error=str(refusal)[:300])
        return ctx.render(
            "operator/prices.html", rows=[], q="", changes=changes, csv_text=csv_text, done=None, error=None
        )

    @operator
    async def load_prices(ctx: Ctx) -> Response:
        csv_text = ctx.field("csv_text", 2_000_000)
        try:
            count = await act(ctx, lambda op: op.load_prices(csv_text, "the console's upload"))
        except Refused as refusal:
            return ctx.redirect("/console/op/prices", error=str(refusal)[:300])
        return ctx.redirect("/console/op/prices", done=f"Price table replaced: {count} countries")

    @operator
    async def connectors(ctx: Ctx) -> Response:
        leases, now_ms = await console.portal.bind_leases()
        problem, states = console.live.connectors() if console.live else ("not running in this process", [])
        pauses = {p.connector: p for p in await act(ctx, lambda op: op.connector_pauses())}
        return ctx.render(
            "operator/connectors.html", configured=console.connectors, simulator=console.simulator, leases=leases,
            now_ms=now_ms, paused=await console.portal.paused(), done=ctx.arg("done"), states=states,
            problem=problem, pauses=pauses, error=ctx.arg("error"),
        )  # fmt: skip

    @operator
    async def pause_connector(ctx: Ctx) -> Response:
        name = str(ctx.request.path_params["name"])[:64]
        known = {c.name for c in console.connectors} | ({SIMULATOR_CONNECTOR} if console.simulator else set())
        if name not in known:
            return ctx.redirect("/console/op/connectors", error="No such connector in the configuration")
        paused = ctx.field("paused", 5) == "1"
        changed = await act(ctx, lambda op: op.set_connector_paused(name, paused))
        said = f"{name} paused: nothing is sent through it" if paused else f"{name} resumed"
        return ctx.redirect("/console/op/connectors", done=said if changed else f"{name} was already so")

    @operator
    async def switch(ctx: Ctx) -> Response:
        paused = ctx.field("paused", 5) == "1"
        await act(ctx, lambda op: op.set_paused(paused))
        return ctx.redirect(
            "/console/op/connectors", done="API paused: every call answers 116" if paused else "API resumed"
        )

    @operator
    async def queue(ctx: Ctx) -> Response:
        return ctx.render(
            "operator/queue.html", depth=await console.portal.queue_depth(), now=int(console.portal.clock())
        )

    @operator
    async def pushes(ctx: Ctx) -> Response:
        status = ctx.arg("status")
        if status not in tuple(PushStatus):
            status = None
        failing = await console.portal.failing_pushes()
        hosts: dict[str, list[object]] = {}
        for row in failing:
            hosts.setdefault(host_of(row.url), []).append(row)
        found = await console.portal.pushes(None, ctx.int_arg("before"), PAGE_SIZE, status)
        return ctx.render(
            "operator/pushes.html", hosts=hosts, page=found, status=status, statuses=tuple(PushStatus),
            done=ctx.arg("done"), error=ctx.arg("error"),
        )  # fmt: skip

    @operator
    async def retry(ctx: Ctx) -> Response:
        target = ctx.field("push", 20)
        push_id = whole_number(target)
        if target and push_id is None:
            return ctx.redirect("/console/op/pushes", error="Retry takes a push id, or all failed pushes")
        try:
            count = await act(ctx, lambda op: op.retry_pushes(push_id))
        except Refused as refusal:
            return ctx.redirect("/console/op/pushes", error=str(refusal)[:200])
        return ctx.redirect("/console/op/pushes", done=f"{count} push(es) due now")

    @operator
    async def inbox(ctx: Ctx) -> Response:
        rows = await console.portal.inbox(100, ctx.arg("login", 300))
        return ctx.render("operator/inbox.html", rows=rows, login=ctx.arg("login"))

    @operator
    async def traffic(ctx: Ctx) -> Response:
        now = int(console.portal.clock())
        rows = await console.portal.traffic_by_account(TRAFFIC_HOURS)
        series = charts.hourly(rows, now, TRAFFIC_HOURS)
        per_account: dict[str, dict[str, int]] = {}
        for row in rows:
            counts = per_account.setdefault(row.login, {})
            counts[row.status] = counts.get(row.status, 0) + int(row.count)
        top = sorted(per_account.items(), key=lambda item: -sum(item[1].values()))[:50]
        return ctx.render(
            "operator/traffic.html", series=series, hours=TRAFFIC_HOURS, top=top, statuses=STATUSES
        )

    @operator
    async def audit(ctx: Ctx) -> Response:
        action = ctx.arg("action", 40)
        before = ctx.int_arg("before")
        rows = await act(ctx, lambda op: op.audit_log(before, PAGE_SIZE + 1, action))
        following = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
        return ctx.render("operator/audit.html", rows=rows[:PAGE_SIZE], next=following, action=action)

    return [
        Route("/console/op/accounts", accounts, methods=["GET"]),
        Route("/console/op/accounts", create_account, methods=["POST"]),
        Route("/console/op/accounts/{login}", account, methods=["GET"]),
        *(
            Route(f"/console/op/accounts/{{login}}/{name}", account_action(name), methods=["POST"])
            for name in ("credit", "flags", "password", "rotate-key")
        ),
        Route("/console/op/campaigns", campaigns),
        Route("/console/op/campaigns/{ticket}", campaign),
        Route("/console/op/prices", prices, methods=["GET"]),
        Route("/console/op/prices/preview", preview_prices, methods=["POST"]),
        Route("/console/op/prices/load", load_prices, methods=["POST"]),
        Route("/console/op/connectors", connectors, methods=["GET"]),
        Route("/console/op/api", switch, methods=["POST"]),
        Route("/console/op/connectors/{name}/pause", pause_connector, methods=["POST"]),
        Route("/console/op/queue", queue),
        Route("/console/op/pushes", pushes, methods=["GET"]),
        Route("/console/op/pushes/retry", retry, methods=["POST"]),
        Route("/console/op/inbox", inbox),
        Route("/console/op/traffic", traffic),
        Route("/console/op/audit", audit),
    ]


def host_of(url: str | None) -> str:
    if not url:
        return "(no URL set)"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def csv_rows(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))
