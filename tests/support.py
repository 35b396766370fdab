"""Helpers for tests: customers made the way an operator makes them, a settable clock, answer parsing."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from xml.etree import ElementTree

import httpx

from octogate.keys import hash_api_key, new_api_key
from octogate.sms.money import to_micro
from octogate.store import queries
from octogate.store.store import Store


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
