"""What the sync and async clients share: each call as a path, a form and a parser, and the answer's checks.

The two clients only differ in how they move bytes; everything that decides what is sent and what an
answer means lives here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx

from octogate.client.answers import (
    Balance,
    SendResult,
    parse_balance,
    parse_credit,
    parse_send,
    raise_for_error,
    read_xml,
)
from octogate.client.errors import OctopushTransportError
from octogate.client.fields import Sms, credentials_form, sms_form

DEFAULT_BASE_URL = "https://www.octopush-dm.com"
DEFAULT_TIMEOUT = 30.0
HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8", "Accept": "text/xml"}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    path: str
    form: dict[str, str]
    parse: Callable[[ElementTree.Element], T]

    def body(self) -> bytes:
        return urlencode(self.form).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An account on one API: the base URL (Octopush's or any octogate's) and the credentials."""

    login: str
    api_key: str
    base_url: str = DEFAULT_BASE_URL

    def __repr__(self) -> str:  # the key stays out of reprs, tracebacks and logs
        return f"Endpoint(login={self.login!r}, base_url={self.base_url!r})"

    def url(self, call: Call[T]) -> str:
        return self.base_url.rstrip("/") + call.path

    def sms(self, sms: Sms) -> Call[SendResult]:
        return Call("/api/sms", sms_form(sms, self.login, self.api_key), parse_send)

    def balance(self) -> Call[Balance]:
        return Call("/api/balance", credentials_form(self.login, self.api_key), parse_balance)

    def credit(self) -> Call[Decimal]:
        return Call("/api/credit", credentials_form(self.login, self.api_key), parse_credit)

    def answer(self, call: Call[T], response: httpx.Response) -> T:
        """Every API answer is HTTP 200 and XML, errors included: anything else is a transport error."""
        if response.status_code != 200:
            raise OctopushTransportError(f"HTTP {response.status_code} from {self.url(call)}")
        root = read_xml(response.content)
        raise_for_error(root)
        return call.parse(root)


def transport_error(call_url: str, error: httpx.HTTPError) -> OctopushTransportError:
    """httpx's own message, with the URL (the key travels in the body, never in the URL)."""
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
    detail = str(error) or type(error).__name__
    return OctopushTransportError(f"request to {call_url} {kind}: {detail}")
