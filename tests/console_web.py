"""Helpers of the console's tests: clients that sign in and send forms the way a browser does."""

from __future__ import annotations

import re

import httpx

from octogate.console.app import WithConsole
from octogate.operations import Operator
from octogate.store.store import Store
from support import Customer, make_customer

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def client_of(console: WithConsole) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=console), base_url="http://octogate.test")


def web_customer(store: Store, credit: str = "100") -> Customer:
    customer = make_customer(store, credit)
    Operator(store).set_account_password(customer.login, PASSWORD)
    return customer


def make_operator(store: Store, login: str = "ops@octogate.test") -> str:
    Operator(store).create_operator(login, PASSWORD)
    return login


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, "the page has a form with its CSRF token"
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, login: str, role: str = "customer", password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={"csrf": csrf_of(form), "login": login, "password": password, "role": role},
    )


async def post_form(client: httpx.AsyncClient, page: str, target: str, **fields: str) -> httpx.Response:
    """Send a form of `page` the way its HTML does: with the CSRF token read from that page."""
    token = csrf_of(await client.get(page))
    return await client.post(target, data={"csrf": token, **fields})
