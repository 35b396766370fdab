"""The operator's console: the CLI's actions through the same service calls, each one in the audit log."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest

from console_web import PASSWORD, client_of, csrf_of, make_operator, post_form, sign_in
from octogate.config import SimulatorSettings
from octogate.console.app import WithConsole, build_console
from octogate.http.app import OctopushApp
from octogate.operations import Operator
from octogate.store import connector_pauses, queries
from octogate.store.callbacks import enqueue_push
from octogate.store.store import Store
from octogate.store.tickets import ticket_for
from support import make_customer, send


@pytest.fixture
async def ops(store: Store, console: WithConsole) -> httpx.AsyncClient:  # type: ignore[misc]
    operator = make_operator(store)
    async with client_of(console) as client:
        assert (await sign_in(client, operator, role="operator")).status_code == 303
        yield client


def account_page(login: str) -> str:
    return f"/console/op/accounts/{quote(login)}"


async def test_credit_with_a_reason_lands_in_the_audit_log(store: Store, ops: httpx.AsyncClient) -> None:
    customer = make_customer(store, "10")
    page = account_page(customer.login)
    refused = await post_form(ops, page, f"{page}/credit", amount="5", reason="")
    assert "Give a reason" in (await ops.get(refused.headers["location"])).text
    done = await post_form(ops, page, f"{page}/credit", amount="25.50", reason="order 2026-118")
    assert "balance 35.50 EUR" in (await ops.get(done.headers["location"])).text
    assert store.run(queries.account, customer.login).balance == 35_500_000
    audit = await ops.get("/console/op/audit")
    row = re.search(r'<tr class="audit">(.*?)</tr>', audit.text, re.S).group(1)  # type: ignore[union-attr]
    assert "operator:ops@octogate.test" in row and "account.credit" in row and customer.login in row
    assert "25.50 EUR: order 2026-118" in row


async def test_the_clis_actions_are_audited_too(store: Store, ops: httpx.AsyncClient) -> None:
    customer = make_customer(store)
    Operator(store).set_flags(customer.login, {"blacklisted": True})
    audit = await ops.get("/console/op/audit?action=account.flags")
    assert "<td>cli</td>" in audit.text and "blacklisted=1" in audit.text


async def test_create_an_account_shows_its_key_once(
    store: Store, ops: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    created = await post_form(
        ops, "/console/op/accounts", "/console/op/accounts", login="New@Example.com", credit="3"
    )
    key = re.search(r'id="new-key">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    balance = await api.post("/api/balance", data={"user_login": "new@example.com", "api_key": key})
    assert b"<error_code>000</error_code>" in balance.content
    listing = await ops.get("/console/op/accounts?q=new")
    assert "new@example.com" in listing.text and key not in listing.text
    duplicate = await post_form(ops, "/console/op/accounts", "/console/op/accounts", login="new@example.com")
    assert "already exists" in (await ops.get(duplicate.headers["location"])).text


async def test_flags_key_and_console_password(
    store: Store, ops: httpx.AsyncClient, api: httpx.AsyncClient, console: WithConsole
) -> None:
    customer = make_customer(store)
    page = account_page(customer.login)
    await post_form(ops, page, f"{page}/flags", activated="1", blacklisted="1")
    assert store.run(queries.account, customer.login).blacklisted
    rotated = await post_form(ops, page, f"{page}/rotate-key")
    key = re.search(r'id="new-key">([^<]+)<', rotated.text).group(1)  # type: ignore[union-attr]
    assert b"<error_code>101</error_code>" in (await api.post("/api/balance", data=customer.params())).content
    assert (
        b"<error_code>114</error_code>"
        in (await api.post("/api/balance", data={"user_login": customer.login, "api_key": key})).content
    )  # the new key works (114: the account is blacklisted now)
    short = await post_form(ops, page, f"{page}/password", password="short")
    assert "10 to 200 characters" in (await ops.get(short.headers["location"])).text
    await post_form(ops, page, f"{page}/password", password=PASSWORD)
    async with client_of(console) as web:
        assert (await sign_in(web, customer.login)).headers["location"] == "/console/home"


async def test_prices_preview_then_load(store: Store, ops: httpx.AsyncClient) -> None:
    table = await ops.get("/console/op/prices?q=france")
    assert "France" in table.text
    token = csrf_of(await ops.get("/console/op/prices"))
    csv = "calling_code,country,name,FR,XXX,WWW\n33,FR,France,0.0500,0.0400,\n"
    preview = await ops.post(
        "/console/op/prices/preview",
        data={"csrf": token},
        files={"csv": ("prices.csv", csv.encode(), "text/csv")},
    )
    assert "Preview:" in preview.text and "removed" in preview.text and "changed" in preview.text
    assert len(Operator(store).prices().to_csv().splitlines()) > 3  # nothing applied yet
    applied = await ops.post("/console/op/prices/load", data={"csrf": token, "csv_text": csv})
    assert "1 countries" in (await ops.get(applied.headers["location"])).text
    assert "prices.load" in (await ops.get("/console/op/audit")).text


async def test_pause_and_resume_the_api(store: Store, ops: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    customer = make_customer(store)
    await post_form(ops, "/console/op/connectors", "/console/op/api", paused="1")
    assert b"<error_code>116</error_code>" in (await api.post("/api/balance", data=customer.params())).content
    page = await ops.get("/console/op/connectors")
    assert "Resume the API" in page.text
    await post_form(ops, "/console/op/connectors", "/console/op/api", paused="0")
    assert b"<error_code>000</error_code>" in (await api.post("/api/balance", data=customer.params())).content
    audit = (await ops.get("/console/op/audit")).text
    assert "api.pause" in audit and "api.resume" in audit


async def test_failing_hosts_and_retry(store: Store, ops: httpx.AsyncClient) -> None:
    customer = make_customer(store)
    Operator(store).set_push_urls(customer.login, {"receipt": "https://shop.example.com/receipts"})
    account = store.run(queries.account, customer.login)
    push_id = store.run(enqueue_push, account.id, "receipt", {"status": "DELIVERED"}, 1_800_000_000)
    with store.connect() as conn:
        conn.execute(
            "UPDATE callbacks SET status = 'failed', attempts = 5, last_error = 'HTTP 500' WHERE id = ?",
            (push_id,),
        )
    page = await ops.get("/console/op/pushes")
    assert "https://shop.example.com" in page.text and "HTTP 500" in page.text
    retried = await post_form(ops, "/console/op/pushes", "/console/op/pushes/retry", push=str(push_id))
    assert "1 push(es) due now" in (await ops.get(retried.headers["location"])).text
    assert "No failing host" not in page.text


async def test_campaigns_of_every_account_queue_and_traffic(
    store: Store, ops: httpx.AsyncClient, api: httpx.AsyncClient, clock
) -> None:  # type: ignore[no-untyped-def]
    first, second = make_customer(store), make_customer(store)
    one = await send(api, first, sms_recipients="+33612345678")
    await send(api, second, sms_recipients="+33612345679,+33612345670")
    listing = await ops.get("/console/op/campaigns")
    assert first.login in listing.text and second.login in listing.text
    detail = await ops.get(f"/console/op/campaigns/{ticket_for(one)}")
    assert "+33612345678" in detail.text
    queue = await ops.get("/console/op/queue")
    assert re.search(r"Queued</span><strong>3<", queue.text)
    with store.connect() as conn:
        conn.execute("UPDATE messages SET status = 'delivered', done_at = ?", (int(clock()),))
    traffic = await ops.get("/console/op/traffic")
    assert "delivered 3" in traffic.text
    assert re.search(rf"{re.escape(second.login)}</a></td><td class=\"num\">2<", traffic.text)


async def test_inbox_and_empty_states(ops: httpx.AsyncClient) -> None:
    assert "No mail received" in (await ops.get("/console/op/inbox")).text
    assert "No failing host" in (await ops.get("/console/op/pushes")).text
    assert "No bind lease" in (await ops.get("/console/op/connectors")).text


class DeliveryReport:
    """The delivery side's last report, as `LiveConnectors` hands it over (the shape of /status's connectors)."""

    def __init__(self, problem: str | None, states: list[dict[str, object]]) -> None:
        self.problem, self.states = problem, states

    def connectors(self) -> tuple[str | None, list[dict[str, object]]]:
        return self.problem, self.states


async def test_the_connectors_page_shows_each_connectors_live_state(app: OctopushApp, store: Store) -> None:
    report = DeliveryReport(None, [
        {"name": "orange", "binds_wanted": 2, "binds_held": 2, "binds_up": 2, "window": 20, "in_flight": 7,
         "rate": 49.5, "last_error": None},
        {"name": "sfr", "binds_wanted": 1, "binds_held": 1, "binds_up": 0, "window": 10, "in_flight": 0,
         "rate": None, "last_error": "bind refused: ESME_RBINDFAIL <script>"},
    ])  # fmt: skip
    console = WithConsole(app, build_console(app.gateway, live=report))
    async with client_of(console) as client:
        await sign_in(client, make_operator(store), role="operator")
        page = (await client.get("/console/op/connectors")).text
        orange, sfr = re.findall(r'<tr class="connector" data-name="(\w+)">(.*?)</tr>', page, re.S)
        assert orange[0] == "orange" and "bound" in orange[1] and "2 / 2" in orange[1]
        assert "7 / 20" in orange[1] and "49.5 /s" in orange[1]
        assert "not bound" in sfr[1] and "0 / 1" in sfr[1] and "unlimited" in sfr[1]
        assert "ESME_RBINDFAIL &lt;script&gt;" in sfr[1]
        report.problem = "delivery process not running"
        assert "Delivery side: delivery process not running" in (await client.get("/console/op/connectors")).text


async def test_one_connector_is_paused_and_resumed_from_the_connectors_page(
    app: OctopushApp, store: Store
) -> None:
    report = DeliveryReport(None, [
        {"name": "simulator", "binds_wanted": 1, "binds_held": 1, "binds_up": 1, "window": 64, "in_flight": 0,
         "rate": None, "last_error": None},
    ])  # fmt: skip
    console = WithConsole(app, build_console(app.gateway, live=report, simulator=SimulatorSettings()))
    async with client_of(console) as client:
        await sign_in(client, make_operator(store), role="operator")
        page = "/console/op/connectors"
        refused = await post_form(client, page, "/console/op/connectors/orange/pause", paused="1")
        assert "No such connector" in (await client.get(refused.headers["location"])).text
        paused = await post_form(client, page, "/console/op/connectors/simulator/pause", paused="1")
        shown = (await client.get(paused.headers["location"])).text
        assert "simulator paused: nothing is sent through it" in shown
        assert "paused</span> <small class=\"muted\">by operator:ops@octogate.test" in shown
        assert store.run(connector_pauses.paused) == {"simulator"}
        resumed = await post_form(client, page, "/console/op/connectors/simulator/pause", paused="0")
        assert "simulator resumed" in (await client.get(resumed.headers["location"])).text
        assert store.run(connector_pauses.paused) == frozenset()
        audit = (await client.get("/console/op/audit")).text
        assert "connector.pause" in audit and "connector.resume" in audit
    async with client_of(console) as stranger:  # no session, no token
        forged = await stranger.post("/console/op/connectors/simulator/pause", data={"paused": "1"})
    assert forged.status_code == 303 and store.run(connector_pauses.paused) == frozenset()


async def test_edited_cursors_and_push_ids_are_answered_in_words(store: Store, ops: httpx.AsyncClient) -> None:
    for path in ("/console/op/campaigns", "/console/op/pushes", "/console/op/audit"):
        for query in ("before=%C2%B2", "before=99999999999999999999"):
            assert (await ops.get(f"{path}?{query}")).status_code == 200, (path, query)
    for push in ("²", "99999999999999999999"):
        retried = await post_form(ops, "/console/op/pushes", "/console/op/pushes/retry", push=push)
        assert retried.status_code == 303
        assert (await ops.get(retried.headers["location"])).status_code == 200
