"""The SMS sandbox inside the console: behind the sign-in, in the console's layout and CSRF, a customer scoped
to its own messages (the store's carrier ids), the operator seeing every phone; the nav item only with the
built-in simulator. A real simulator with its control interface, a real database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from console_web import client_of, csrf_of, make_operator, sign_in, web_customer
from octogate.config import SIMULATOR_CONNECTOR, SimulatorSettings
from octogate.console.app import WithConsole, build_console
from octogate.console.security import Throttle
from octogate.http.app import OctopushApp
from octogate.incoming.ids import part_keys
from octogate.sandbox.client import SandboxClient
from octogate.store import incoming
from octogate.store.db import Connection
from octogate.store.store import Store
from sandbox.conftest import Sandbox, sandbox  # noqa: F401 - the simulator fixture
from sandbox.test_control import submit
from support import Customer, send

PHONE = "+33612345678"


@pytest.fixture
def with_sandbox(app: OctopushApp, sandbox: Sandbox) -> WithConsole:  # noqa: F811
    url = sandbox.client.base_url
    built = build_console(app.gateway, throttle=Throttle(per_address=100), simulator=SimulatorSettings(),
                          sandbox=lambda: SandboxClient(url))  # fmt: skip
    return WithConsole(app, built)


@pytest.fixture
async def web(with_sandbox: WithConsole) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(with_sandbox) as client:
        yield client


async def sent_through_the_gateway(
    store: Store, api: httpx.AsyncClient, sandbox: Sandbox, customer: Customer, number: str, text: str  # noqa: F811
) -> list[str]:
    """A campaign through /api/sms whose parts reach the simulator, recorded as the dispatcher records them."""
    text += " STOP au XXXXX"
    campaign = await send(api, customer, sms_recipients=number, sms_text=text, sms_sender="MyShop")
    ids = await submit(sandbox, number, text, sender="MyShop")

    def record(conn: Connection) -> None:
        row = conn.fetchone("SELECT id FROM messages WHERE campaign_id = ?", (campaign,))
        assert row is not None
        message_id = int(row[0])
        incoming.add_parts(conn, [(message_id, SIMULATOR_CONNECTOR, seq, raw) for seq, raw in enumerate(ids, 1)],
                           int(time.time()))  # fmt: skip
        incoming.add_part_keys(conn, [(SIMULATOR_CONNECTOR, k.key, message_id, seq, k.same_base)
                                      for seq, raw in enumerate(ids, 1) for k in part_keys(raw)])  # fmt: skip

    store.run(record)
    return ids


async def test_the_sandbox_needs_a_session_and_shows_in_the_console_layout(
    store: Store, web: httpx.AsyncClient
) -> None:
    for path in ("/console/sandbox", "/console/sandbox/live", "/console/sandbox/events?since=0"):
        answer = await web.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login?next=")
    customer = web_customer(store)
    assert (await sign_in(web, customer.login)).status_code == 303
    page = await web.get("/console/sandbox")
    assert page.status_code == 200
    assert 'href="/console/sandbox" class="active"' in page.text  # the nav item, in the console's layout
    assert "content-security-policy" in page.headers
    assert "No phone has received anything yet" in page.text


async def test_a_customer_sees_only_its_own_messages_the_operator_everything(
    store: Store, api: httpx.AsyncClient, sandbox: Sandbox, web: httpx.AsyncClient  # noqa: F811
) -> None:
    mine, other = web_customer(store), web_customer(store)
    await sent_through_the_gateway(store, api, sandbox, mine, PHONE, "Your parcel ships today")
    await sent_through_the_gateway(store, api, sandbox, other, PHONE, "Private offer for you")
    await sent_through_the_gateway(store, api, sandbox, other, "+33699990000", "Only the other account")

    await sign_in(web, mine.login)
    page = (await web.get("/console/sandbox")).text
    assert "Your parcel ships today" in page
    assert "Private offer" not in page and "+33699990000" not in page and "Only the other account" not in page
    asked = (await web.get("/console/sandbox?number=%2B33699990000")).text
    assert "Only the other account" not in asked and "+33699990000" not in asked
    # Acting on a number none of its messages went to is refused, and nothing reaches the phone.
    refused = await web.post("/console/sandbox/reply", data={"csrf": csrf_of(await web.get("/console/sandbox")),
                                                             "number": "+33699990000", "text": "hi"})  # fmt: skip
    assert refused.status_code == 403
    assert len((await sandbox.client.conversation("+33699990000")).messages) == 1

    await web.post("/console/logout", data={"csrf": csrf_of(await web.get("/console/sandbox"))})
    make_operator(store)
    await sign_in(web, "ops@octogate.test", role="operator")
    everything = (await web.get("/console/sandbox?number=%2B33612345678")).text
    assert "Your parcel ships today" in everything and "Private offer for you" in everything
    assert "+33699990000" in everything


async def test_a_reply_from_the_page_needs_the_console_csrf_token(
    store: Store, api: httpx.AsyncClient, sandbox: Sandbox, web: httpx.AsyncClient  # noqa: F811
) -> None:
    customer = web_customer(store)
    await sent_through_the_gateway(store, api, sandbox, customer, PHONE, "Table for two? Reply YES")
    await sign_in(web, customer.login)
    forged = await web.post("/console/sandbox/reply", data={"csrf": "forged", "number": PHONE, "text": "YES"})
    assert forged.status_code == 403 and "expired" in forged.text
    page = await web.get("/console/sandbox")
    sent = await web.post("/console/sandbox/reply", data={"csrf": csrf_of(page), "number": PHONE, "text": "YES"})
    assert sent.status_code == 303
    shown = (await web.get(sent.headers["location"])).text
    assert "YES" in shown and "sent by the phone to MyShop" in shown


async def test_new_messages_reach_an_open_page_within_a_second(
    store: Store, api: httpx.AsyncClient, sandbox: Sandbox, web: httpx.AsyncClient  # noqa: F811
) -> None:
    make_operator(store)
    await sign_in(web, "ops@octogate.test", role="operator")
    page = await web.get("/console/sandbox")
    version = page.text.split('data-version="', 1)[1].split('"', 1)[0]
    poll = asyncio.create_task(web.get(f"/console/sandbox/events?since={version}"))
    await asyncio.sleep(0)
    submitted = time.monotonic()
    await submit(sandbox, PHONE, "Fresh news")
    answer = await asyncio.wait_for(poll, 10)
    assert answer.status_code == 200 and answer.json()["version"] > int(version)
    assert "Fresh news" in (await web.get("/console/sandbox/live")).text
    assert time.monotonic() - submitted < 1.0  # the bound


async def test_the_nav_offers_the_sandbox_with_the_built_in_simulator(store: Store, web: httpx.AsyncClient) -> None:
    customer = web_customer(store)
    await sign_in(web, customer.login)
    assert 'href="/console/sandbox"' in (await web.get("/console/home")).text


async def test_the_console_without_a_simulator_has_no_sandbox_page(app: OctopushApp, store: Store) -> None:
    console = WithConsole(app, build_console(app.gateway, throttle=Throttle(per_address=100)))
    customer = web_customer(store)
    async with client_of(console) as client:
        await sign_in(client, customer.login)
        assert 'href="/console/sandbox"' not in (await client.get("/console/home")).text
        assert (await client.get("/console/sandbox")).status_code == 404


async def test_a_long_poll_ends_when_its_browser_goes_away(store: Store, with_sandbox: WithConsole) -> None:
    """A page left while its long poll is held: the request ends at once, not after the poll's 25 s."""
    make_operator(store)
    async with client_of(with_sandbox) as client:
        await sign_in(client, "ops@octogate.test", role="operator")
        cookie = client.cookies["octogate_console"]
        page = (await client.get("/console/sandbox")).text
    version = int(page.split('data-version="', 1)[1].split('"', 1)[0])
    gone = asyncio.Event()
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/console/sandbox/events", "root_path": "", "scheme": "http",
             "raw_path": b"/console/sandbox/events", "query_string": f"since={version}".encode(),
             "headers": [(b"cookie", f"octogate_console={cookie}".encode())],
             "server": ("octogate.test", 80), "client": ("127.0.0.1", 1)}  # fmt: skip
    held = asyncio.create_task(with_sandbox(scope, receive, send))
    await asyncio.sleep(0.3)
    assert not held.done()  # held: nothing changed yet
    gone.set()
    await asyncio.wait_for(held, 5)  # ended with its browser, not after the poll's 25 s
    assert sent == []  # nothing written to a connection that is gone
