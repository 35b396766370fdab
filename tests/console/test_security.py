"""The console's protections as a browser meets them: sign-in, throttling, roles on every route, CSRF on every
form, cookies, headers, escaping, and one account never seeing another's data."""

from __future__ import annotations

import re

import httpx
import pytest

from console_web import PASSWORD, client_of, csrf_of, make_operator, post_form, sign_in, web_customer
from octogate.console.app import WithConsole, console_for
from octogate.console.security import Session, Sessions
from octogate.operations import Operator
from octogate.store.store import Store
from octogate.store.tickets import ticket_for
from support import send

CUSTOMER_PAGES = ["/console/home", "/console/campaigns", "/console/send", "/console/replies", "/console/stops",
                  "/console/pushes", "/console/key"]  # fmt: skip
OPERATOR_PAGES = ["/console/op/accounts", "/console/op/campaigns", "/console/op/prices", "/console/op/connectors",
                  "/console/op/queue", "/console/op/pushes", "/console/op/inbox", "/console/op/traffic",
                  "/console/op/audit"]  # fmt: skip


async def test_every_page_needs_a_session(web: httpx.AsyncClient) -> None:
    for page in CUSTOMER_PAGES + OPERATOR_PAGES:
        answer = await web.get(page)
        assert answer.status_code == 303, page
        assert answer.headers["location"].startswith("/console/login?next=")


async def test_sign_in_sets_a_signed_httponly_samesite_cookie_that_expires(
    store: Store, web: httpx.AsyncClient
) -> None:
    customer = web_customer(store)
    answer = await sign_in(web, customer.login)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/home"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert re.search(r"Max-Age=\d+", cookie)
    assert customer.api_key not in cookie and PASSWORD not in cookie
    assert (await web.get("/console/home")).status_code == 200


async def test_a_forged_or_expired_cookie_is_no_session(store: Store, web: httpx.AsyncClient) -> None:
    customer = web_customer(store)
    await sign_in(web, customer.login)
    value = web.cookies["octogate_console"]
    web.cookies.set(
        "octogate_console", value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/console"
    )
    assert (await web.get("/console/home")).status_code == 303


def test_a_session_cookie_expires() -> None:
    sessions = Sessions("secret", max_age=3600, secure=False)
    cookie = sessions.cookie(Session("token", "customer", 1, "print")).split(";")[0].split("=", 1)[1]
    assert sessions.load(cookie) == Session("token", "customer", 1, "print")
    assert Sessions("secret", max_age=-1, secure=False).load(cookie) is None  # older than its lifetime
    assert Sessions("another secret", max_age=3600, secure=False).load(cookie) is None


async def test_wrong_password_then_throttled_even_with_the_right_one(
    store: Store, web: httpx.AsyncClient
) -> None:
    customer = web_customer(store)
    for _ in range(5):
        answer = await sign_in(web, customer.login, password="wrong password")
        assert answer.status_code == 401
        assert "Wrong login or password" in answer.text
    answer = await sign_in(web, customer.login)
    assert answer.status_code == 429
    assert "Too many failed attempts" in answer.text
    assert (await web.get("/console/home")).status_code == 303


async def test_an_unknown_login_and_a_wrong_password_answer_alike(
    store: Store, web: httpx.AsyncClient
) -> None:
    customer = web_customer(store)
    wrong = await sign_in(web, customer.login, password="not the password")
    unknown = await sign_in(web, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401


async def test_a_customer_password_does_not_open_the_operator_role(
    store: Store, web: httpx.AsyncClient
) -> None:
    customer = web_customer(store)
    assert (await sign_in(web, customer.login, role="operator")).status_code == 401


async def test_roles_are_checked_on_every_route(store: Store, console: WithConsole) -> None:
    customer = web_customer(store)
    operator = make_operator(store)
    async with client_of(console) as web:
        await sign_in(web, customer.login)
        for page in OPERATOR_PAGES:
            assert (await web.get(page)).status_code == 403, page
        token = csrf_of(await web.get("/console/home"))
        credit = await web.post(
            f"/console/op/accounts/{customer.login}/credit",
            data={"csrf": token, "amount": "1000", "reason": "x"},
        )
        assert credit.status_code == 403
    async with client_of(console) as web:
        await sign_in(web, operator, role="operator")
        for page in CUSTOMER_PAGES:
            assert (await web.get(page)).status_code == 403, page
    assert Operator(store).accounts()[0].balance == 100_000_000  # the customer's credit attempt did nothing


async def test_a_customer_never_sees_another_accounts_campaign(
    store: Store, console: WithConsole, api: httpx.AsyncClient
) -> None:
    mine, theirs = web_customer(store), web_customer(store)
    their_campaign = await send(
        api, theirs, sms_recipients="+33611112222", sms_text="Secret sale STOP au XXXXX"
    )
    async with client_of(console) as web:
        await sign_in(web, mine.login)
        answer = await web.get(f"/console/campaigns/{ticket_for(their_campaign)}")
        assert answer.status_code == 404
        assert "Secret sale" not in answer.text and "+33611112222" not in answer.text
        listing = await web.get("/console/campaigns")
        assert ticket_for(their_campaign) not in listing.text
        assert "No campaign here" in listing.text
    async with client_of(console) as web:
        await sign_in(web, theirs.login)
        answer = await web.get(f"/console/campaigns/{ticket_for(their_campaign)}")
        assert answer.status_code == 200 and "+33611112222" in answer.text


async def test_a_form_without_its_csrf_token_changes_nothing(
    store: Store, web: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    customer = web_customer(store)
    await sign_in(web, customer.login)
    for token in (None, "forged"):
        data = {} if token is None else {"csrf": token}
        answer = await web.post("/console/key/rotate", data=data)
        assert answer.status_code == 403
        assert "expired" in answer.text
    balance = await api.post("/api/balance", data=customer.params())
    assert b"<error_code>000</error_code>" in balance.content  # the key still works: nothing was rotated


async def test_sign_in_needs_the_login_forms_token(store: Store, web: httpx.AsyncClient) -> None:
    customer = web_customer(store)
    answer = await web.post("/console/login", data={"login": customer.login, "password": PASSWORD})
    assert answer.status_code == 403


async def test_every_answer_has_a_strict_content_security_policy(
    store: Store, web: httpx.AsyncClient
) -> None:
    for path in ("/console/login", "/console/static/console.css", "/console/nowhere"):
        answer = await web.get(path)
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    page = await web.get("/console/login")
    inline = [tag for tag in re.findall(r"<script[^>]*>", page.text) if "src=" not in tag]
    assert inline == [] and not re.search(r"\son[a-z]+=", page.text)  # no inline script, no handler attribute


async def test_values_are_escaped(store: Store, web: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    customer = web_customer(store)
    campaign = await send(
        api, customer, sms_recipients="+33611112222", sms_text="<script>alert(1)</script> STOP au XXXXX"
    )
    await sign_in(web, customer.login)
    page = await web.get(f"/console/campaigns/{ticket_for(campaign)}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_a_changed_password_ends_the_sessions_opened_with_the_old_one(
    store: Store, web: httpx.AsyncClient
) -> None:
    customer = web_customer(store)
    await sign_in(web, customer.login)
    assert (await web.get("/console/home")).status_code == 200
    Operator(store).set_account_password(customer.login, "another long password")
    assert (await web.get("/console/home")).status_code == 303


async def test_sign_out(store: Store, web: httpx.AsyncClient) -> None:
    customer = web_customer(store)
    await sign_in(web, customer.login)
    answer = await post_form(web, "/console/home", "/console/logout")
    assert answer.status_code == 303
    assert (await web.get("/console/home")).status_code == 303


async def test_sign_in_goes_back_only_to_a_console_page(store: Store, web: httpx.AsyncClient) -> None:
    customer = web_customer(store)
    cases = {
        "/console/stops": "/console/stops",
        "https://evil.example/": "/console/home",
        "//evil.example/console/": "/console/home",
        "/console/op/audit": "/console/home",
    }
    for wanted, landing in cases.items():
        web.cookies.clear()
        form = await web.get("/console/login")
        answer = await web.post(
            "/console/login",
            data={"csrf": csrf_of(form), "login": customer.login, "password": PASSWORD, "next": wanted},
        )
        assert answer.headers["location"] == landing


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_console_can_be_turned_off(enabled: bool, app, settings) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    served = console_for(
        app, replace(settings, demo=False, console=replace(settings.console, enabled=enabled))
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://t") as client:
        answer = await client.get("/console/login")
        assert answer.status_code == (200 if enabled else 404)
        assert (await client.get("/api/sms")).status_code == 200  # the API answers either way
