"""The sandbox page over ASGI (without the console's login), reading a real simulator through its control
interface: what the phone shows, the forms working without JavaScript, the long poll, escaping, CSRF."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request

from octogate.sandbox.client import SandboxClient
from octogate.sandbox.model import Outcome
from octogate.sandbox.page import SandboxPage

from .conftest import Sandbox
from .test_control import LONG_UCS2, PHONE, receipts_for, submit


class FakeCsrf:
    """What the console plugs in: a token per session, checked on every POST."""

    def __init__(self, token: str) -> None:
        self.token = token

    def field(self, request: Request) -> tuple[str, str]:
        return "csrf", self.token

    def valid(self, request: Request, form: dict[str, str]) -> bool:
        return form.get("csrf") == self.token


def page_for(sandbox: Sandbox, csrf: FakeCsrf | None = None) -> SandboxPage:
    url = sandbox.sim.control_url
    assert url is not None
    return SandboxPage(lambda: SandboxClient(url), csrf=csrf)


@pytest.fixture
async def browser(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=page_for(sandbox).app())
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield client


async def test_an_empty_sandbox_says_what_to_do(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/console/sandbox")
    assert page.status_code == 200
    assert "No phone has received anything yet" in page.text
    assert '<script src="/console/sandbox/sandbox.js" defer></script>' in page.text
    assert "<script>" not in page.text  # nothing inline: the console's CSP refuses it


async def test_the_phone_shows_the_whole_message_and_its_parts_on_demand(
    sandbox: Sandbox, browser: httpx.AsyncClient
) -> None:
    ids = await submit(sandbox, PHONE, LONG_UCS2)
    await receipts_for(sandbox, ids)
    await submit(sandbox, "+33600000000", "<script>alert(1)</script> & co", sender="Evil<b>")
    page = await browser.get("/console/sandbox", params={"number": PHONE})
    assert page.status_code == 200
    text = page.text
    assert LONG_UCS2.replace("'", "&#x27;") in text
    assert f"<summary>ucs2 · 3 SMS · {len(LONG_UCS2)} characters</summary>" in text
    assert all(f"<code>{i}</code>" in text for i in ids)
    assert text.count("delivered · ") == 4  # the message, and each of its 3 parts
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text and "<script>alert" not in text
    assert '<form method="post" action="/console/sandbox/reply"' in text


async def test_reply_stop_and_outcome_are_plain_forms(sandbox: Sandbox, browser: httpx.AsyncClient) -> None:
    await submit(sandbox, PHONE, "Table for two at 8? Reply YES", sender="Bistro")
    answer = await browser.post("/console/sandbox/reply", data={"number": PHONE, "text": "YES"})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/sandbox?number=%2B33612345678"
    assert [(t.source_addr, t.destination_addr, t.text) for t in sandbox.gateway.texts()] == [
        ("33612345678", "Bistro", "YES")
    ]
    assert (await browser.post("/console/sandbox/stop", data={"number": PHONE})).status_code == 303
    assert [t.text for t in sandbox.gateway.texts()] == ["YES", "STOP"]
    chosen = await browser.post("/console/sandbox/outcome",
                                data={"number": PHONE, "outcome": "undelivered", "scope": "number"})  # fmt: skip
    assert chosen.status_code == 303
    await browser.post("/console/sandbox/outcome", data={"number": PHONE, "outcome": "none", "scope": "all"})
    outcomes = await sandbox.client.outcomes()
    assert (outcomes.default, outcomes.numbers) == (Outcome.NONE, {PHONE: Outcome.UNDELIVERED})
    page = (await browser.get("/console/sandbox", params={"number": PHONE})).text
    assert '<option value="undelivered" selected>' in page and "(now: none)" in page
    assert re.search(r'class="mo" data-id="\d+"><p class="text">YES</p>', page)


async def test_a_refused_action_is_said_on_the_page(sandbox: Sandbox, browser: httpx.AsyncClient) -> None:
    answer = await browser.post("/console/sandbox/reply", data={"number": PHONE, "text": "hello?"})
    assert answer.status_code == 400
    assert "nothing was sent to this number yet" in answer.text and 'role="alert"' in answer.text
    bad = await browser.post("/console/sandbox/outcome", data={"outcome": "lost"})
    assert bad.status_code == 400 and "outcome is one of" in bad.text


async def test_forms_carry_the_console_csrf_token_and_are_refused_without_it(sandbox: Sandbox) -> None:
    await submit(sandbox, PHONE, "Hello")
    transport = httpx.ASGITransport(app=page_for(sandbox, FakeCsrf("t0ken")).app())
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as browser:
        page = (await browser.get("/console/sandbox")).text
        assert page.count('<input type="hidden" name="csrf" value="t0ken">') == 3
        forged = await browser.post("/console/sandbox/reply", data={"number": PHONE, "text": "forged"})
        assert forged.status_code == 403 and "expired" in forged.text
        assert sandbox.gateway.texts() == []
        sent = await browser.post("/console/sandbox/reply", data={"number": PHONE, "text": "ok", "csrf": "t0ken"})
        assert sent.status_code == 303 and [t.text for t in sandbox.gateway.texts()] == ["ok"]


async def test_new_messages_reach_an_open_page_within_a_second(sandbox: Sandbox, browser: httpx.AsyncClient) -> None:
    page = (await browser.get("/console/sandbox")).text
    version = re.search(r'data-version="(\d+)"', page)
    assert version is not None
    poll = asyncio.create_task(browser.get("/console/sandbox/events", params={"since": version.group(1)}))
    await asyncio.sleep(0.05)  # the poll is held by the control interface: nothing has changed yet
    assert not poll.done()
    submitted = time.monotonic()
    await submit(sandbox, PHONE, "Fresh news")
    event = await poll
    live = await browser.get("/console/sandbox/live", params={"number": PHONE})
    assert time.monotonic() - submitted < 1.0  # the bound
    assert event.json()["version"] > int(version.group(1))
    assert "Fresh news" in live.text and "<html" not in live.text


async def test_the_script_and_style_are_served(browser: httpx.AsyncClient) -> None:
    script = await browser.get("/console/sandbox/sandbox.js")
    assert script.headers["content-type"].startswith("text/javascript") and "data-events" in script.text
    style = await browser.get("/console/sandbox/sandbox.css")
    assert style.headers["content-type"].startswith("text/css")


async def test_no_simulator_means_a_clear_notice() -> None:
    page = SandboxPage(lambda: SandboxClient("http://127.0.0.1:9"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=page.app()), base_url="http://c") as browser:
        answer = await browser.get("/console/sandbox")
        assert answer.status_code == 503 and "The sandbox is not available" in answer.text
        assert "no sandbox control interface answers at http://127.0.0.1:9" in answer.text
        assert (await browser.get("/console/sandbox/events")).status_code == 503


class OwnIds:
    """The console's scope for one customer: the carrier ids the store has for that account's parts."""

    def __init__(self, ids: set[str]) -> None:
        self.ids = ids

    async def owned(self, request: Request, message_ids: list[str]) -> set[str]:
        return self.ids & set(message_ids)


async def test_a_customer_sees_only_its_own_messages_and_the_replies_to_them(sandbox: Sandbox) -> None:
    mine = await submit(sandbox, PHONE, "From shop A", sender="ShopA")
    await submit(sandbox, PHONE, "From shop B", sender="ShopB")
    await submit(sandbox, "+33600000001", "Only shop B texted me", sender="ShopB")
    await sandbox.client.reply(PHONE, "to B", to="ShopB")
    await sandbox.client.reply(PHONE, "to A", to="ShopA")
    await sandbox.client.set_outcome(Outcome.NONE, "+33600000001")
    url = sandbox.sim.control_url
    assert url is not None
    page = SandboxPage(lambda: SandboxClient(url), scope=OwnIds(set(mine)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=page.app()), base_url="http://c") as browser:
        shown = (await browser.get("/console/sandbox")).text
        assert "From shop A" in shown and "to A" in shown
        assert "ShopB" not in shown and "From shop B" not in shown and "+33600000001" not in shown
        assert 'name="scope" value="all"' not in shown
        other = (await browser.get("/console/sandbox", params={"number": "+33600000001"})).text
        assert "Only shop B" not in other
        refused = await browser.post("/console/sandbox/reply", data={"number": "+33600000001", "text": "hi"})
        assert refused.status_code == 403 and "none of your messages went to this number" in refused.text
        everyone = await browser.post("/console/sandbox/outcome",
                                      data={"number": PHONE, "outcome": "rejected", "scope": "all"})  # fmt: skip
        assert everyone.status_code == 403
        assert (await sandbox.client.outcomes()).default is None
        allowed = await browser.post("/console/sandbox/reply", data={"number": PHONE, "text": "again"})
        assert allowed.status_code == 303
    assert [t.destination_addr for t in sandbox.gateway.texts()] == ["ShopB", "ShopA", "ShopA"]


async def test_an_edited_events_cursor_is_bad_input(browser: httpx.AsyncClient) -> None:
    """A `since` past any version used to come back 503 "sandbox not available" with the interface's words."""
    for since in ("99999999999999999999999", "²", "x"):
        answer = await browser.get("/console/sandbox/events", params={"since": since})
        assert answer.status_code == 400 and "since" in answer.json()["error"]
