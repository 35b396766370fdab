"""Helpers for tests: customers made the way an operator makes them, a settable clock, answer parsing."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from xml.etree import ElementTree

import httpx
import pytest

from octogate.cli import main
from octogate.keys import hash_api_key, new_api_key
from octogate.sms.money import to_micro
from octogate.store import queries
from octogate.store.store import Store
from octogate.store.tickets import campaign_id_for


@dataclass
class Customer:
    login: str
    api_key: str

    def params(self, **fields: object) -> dict[str, str]:
        """A request's fields with this customer's credentials; None drops a field."""
        values = {"user_login": self.login, "api_key": self.api_key, **fields}
        return {name: str(value) for name, value in values.items() if value is not None}


def make_customer(store: Store, credit: str = "100", login: str | None = None) -> Customer:
    login = login or f"customer-{secrets.token_hex(4)}@example.com"
    key = new_api_key()
    store.run(queries.create_account, login, hash_api_key(key), to_micro(credit), int(time.time()))
    return Customer(login, key)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def xml(response: httpx.Response) -> ElementTree.Element:
    """Every API answer is HTTP 200 and XML, errors included."""
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"
    return ElementTree.fromstring(response.content)


def code(response: httpx.Response) -> str:
    found = xml(response).findtext("error_code")
    assert found is not None
    return found


async def send(http: httpx.AsyncClient, customer: Customer, **fields: object) -> int:
    """A campaign through /api/sms (FR, sender MyShop, a text with the STOP mention); returns its campaign id."""
    values: dict[str, object] = {"sms_type": "FR", "sms_sender": "MyShop", "sms_text": "Hello STOP au XXXXX"}
    values.update(fields)
    root = ElementTree.fromstring((await http.post("/api/sms", data=customer.params(**values))).content)
    assert root.findtext("error_code") == "000", root.findtext("error_code")
    found = campaign_id_for(root.findtext("ticket") or "")
    assert found is not None
    return found


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 30.0, what: str = "condition"
) -> None:
    """Poll `check` until it holds; fail (never hang) after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.02)


def wait_until(predicate: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """`eventually` for a synchronous test: poll `predicate` until it holds; fail (never hang) after `within` s."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        time.sleep(0.01)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`octogate ARGV` in this process: (exit status, stdout, stderr)."""
    try:
        main(list(argv))
        status = 0
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err
