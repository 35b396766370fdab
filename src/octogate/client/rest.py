"""The current Octopush REST API (JSON, `/v1/public/...`) for the clients: typed requests and answers, and each
call as a method, a path and a parser. `OctopushRestClient` (sync.py) and `AsyncOctopushRestClient` (aio.py)
only move the bytes.

Refusals raise the same `OctopushError` as the 1.6.1 API, with the answer's `code`, `message` and HTTP `status`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypedDict, TypeVar

import httpx

from octogate.client.errors import OctopushError, OctopushTransportError

DEFAULT_REST_URL = "https://api.octopush.com"
SIMULATION_TICKET = "sms_simulation"
PLACEHOLDERS = ("first_name", "last_name", "param1", "param2", "param3", "param4", "param5")

T = TypeVar("T")


class RestSmsType(StrEnum):
    PREMIUM = "sms_premium"
    LOW_COST = "sms_low_cost"


class Purpose(StrEnum):
    ALERT = "alert"  # transactional: never held, no STOP mention added
    WHOLESALE = "wholesale"  # marketing: French marketing hours, "STOP au XXXXX" appended for French numbers


@dataclass(frozen=True, slots=True)
class Recipient:
    """One number and its placeholders' values (`{first_name}`, `{param1}`…, 50 characters each)."""

    phone_number: str
    first_name: str | None = None
    last_name: str | None = None
    param1: str | None = None
    param2: str | None = None
    param3: str | None = None
    param4: str | None = None
    param5: str | None = None

    def document(self) -> dict[str, str]:
        fields = {name: getattr(self, name) for name in ("phone_number", *PLACEHOLDERS)}
        return {name: value for name, value in fields.items() if value is not None}


@dataclass(frozen=True, slots=True)
class RestSms:
    """One REST campaign (1 to 500 recipients); numbers may be plain strings."""

    recipients: Sequence[str | Recipient]
    text: str
    type: RestSmsType = RestSmsType.PREMIUM
    purpose: Purpose = Purpose.WHOLESALE
    sender: str | None = None  # None: the account's default sender
    send_at: datetime | None = None
    with_replies: bool = False
    simulation_mode: bool = False
    request_id: str | None = None
    auto_remove_blacklisted_numbers: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.recipients, str):
            raise TypeError("recipients is a list of numbers, not one string")
        recipients = tuple(r if isinstance(r, Recipient) else Recipient(r) for r in self.recipients)
        object.__setattr__(self, "recipients", recipients)
        object.__setattr__(self, "type", RestSmsType(self.type))
        object.__setattr__(self, "purpose", Purpose(self.purpose))
        if self.send_at is not None and self.send_at.utcoffset() is None:
            raise ValueError("send_at must be timezone-aware (the API takes an absolute instant)")

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "recipients": [r.document() for r in self.recipients],  # type: ignore[union-attr]
            "text": self.text,
            "type": self.type.value,
            "purpose": self.purpose.value,
            "with_replies": self.with_replies,
            "simulation_mode": self.simulation_mode,
            "auto_remove_blacklisted_numbers": self.auto_remove_blacklisted_numbers,
        }
        if self.sender is not None:
            body["sender"] = self.sender
        if self.send_at is not None:
            body["send_at"] = self.send_at.isoformat()
        if self.request_id is not None:
            body["request_id"] = self.request_id
        return body


class RestSmsOptions(TypedDict, total=False):
    type: RestSmsType | str
    purpose: Purpose | str
    sender: str | None
    send_at: datetime | None
    with_replies: bool
    simulation_mode: bool
    request_id: str | None
    auto_remove_blacklisted_numbers: bool


@dataclass(frozen=True, slots=True)
class RestSendResult:
    sms_ticket: str
    number_of_contacts: int
    total_cost: Decimal
    number_of_sms_needed: int
    residual_credit: Decimal

    @property
    def simulated(self) -> bool:
        return self.sms_ticket == SIMULATION_TICKET


@dataclass(frozen=True, slots=True)
class WalletPack:
    id: str
    credit: Decimal
    expiration_date: str | None


@dataclass(frozen=True, slots=True)
class WalletBalance:
    """`amount` in `unit`: euros, or messages of one product for one country."""

    amount: Decimal
    unit: str
    wallet_packs: tuple[WalletPack, ...] = ()


@dataclass(frozen=True, slots=True)
class CountryCredits:
    premium_sms: int
    low_cost_sms: int


@dataclass(frozen=True, slots=True)
class CampaignParameters:
    callback_url_for_deliveries: str | None = None
    callback_url_for_inbounds: str | None = None
    callback_url_for_blacklisted_numbers: str | None = None
    email_for_inbounds: str | None = None
    sender_for_sms_premium: str | None = None

    def document(self) -> dict[str, Any]:
        """Only what is set is sent (the API leaves the rest as it is)."""
        callbacks = {
            name: getattr(self, name)
            for name in ("callback_url_for_deliveries", "callback_url_for_inbounds",
                         "callback_url_for_blacklisted_numbers", "email_for_inbounds")
            if getattr(self, name) is not None
        }  # fmt: skip
        body: dict[str, Any] = {"callbacks": callbacks}
        if self.sender_for_sms_premium is not None:
            body["campaign_parameters"] = {"sender_for_sms_premium": self.sender_for_sms_premium}
        return body


@dataclass(frozen=True, slots=True)
class RestCall(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    params: Sequence[tuple[str, str]] = ()
    body: Mapping[str, Any] | None = None

    def content(self) -> bytes | None:
        return None if self.body is None else json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class RestEndpoint:
    login: str
    api_key: str
    base_url: str = DEFAULT_REST_URL

    def __repr__(self) -> str:  # the key stays out of reprs, tracebacks and logs
        return f"RestEndpoint(login={self.login!r}, base_url={self.base_url!r})"

    def url(self, call: RestCall[T]) -> str:
        base = self.base_url.rstrip("/").removesuffix("/v1/public")
        return base + call.path

    def headers(self) -> dict[str, str]:
        return {"api-key": self.api_key, "api-login": self.login, "cache-control": "no-cache",
                "Content-Type": "application/json", "Accept": "application/json"}  # fmt: skip

    def send(self, sms: RestSms) -> RestCall[RestSendResult]:
        return RestCall("POST", "/v1/public/sms-campaign/send", parse_sent, body=sms.document())

    def balance(
        self, product_name: str | None = None, country_code: str | None = None, with_details: bool = False
    ) -> RestCall[WalletBalance]:
        params: list[tuple[str, str]] = []
        if product_name is not None or country_code is not None:
            params = [("product_name", str(product_name or "")), ("country_code", country_code or "")]
            if with_details:
                params.append(("with_details", "true"))
        return RestCall("GET", "/v1/public/wallet/check-balance", parse_balance, params)

    def credits(self, country_codes: Sequence[str]) -> RestCall[dict[str, CountryCredits]]:
        params = [("country_codes[]", code) for code in country_codes]
        return RestCall("GET", "/v1/public/wallet/check-credits", parse_credits, params)

    def campaign_parameters(self) -> RestCall[CampaignParameters]:
        return RestCall("GET", "/v1/public/user/campaign-parameters", parse_parameters)

    def edit_campaign_parameters(self, changes: CampaignParameters) -> RestCall[CampaignParameters]:
        return RestCall("PATCH", "/v1/public/user/campaign-parameters/edit", parse_parameters, body=changes.document())

    def answer(self, call: RestCall[T], response: httpx.Response) -> T:
        """2xx and JSON: the parsed answer; an error body with a code: `OctopushError`; anything else: transport."""
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.is_success:
            if document is None:
                raise OctopushTransportError(f"HTTP {response.status_code} from {self.url(call)}: not JSON")
            try:
                return call.parse(document)
            except (KeyError, TypeError, ValueError, ArithmeticError) as error:
                raise OctopushTransportError(f"unexpected answer from {self.url(call)}: {error}") from None
        if isinstance(document, dict) and isinstance(document.get("code"), int):
            message = document.get("message") or document.get("detail")
            raise OctopushError(document["code"], message=str(message) if message else None,
                                status=response.status_code)  # fmt: skip
        raise OctopushTransportError(f"HTTP {response.status_code} from {self.url(call)}")


def parse_sent(document: Any) -> RestSendResult:
    ticket = document["sms_ticket"]
    if not isinstance(ticket, str) or not ticket:
        raise ValueError("no sms_ticket")
    return RestSendResult(
        sms_ticket=ticket,
        number_of_contacts=int(document["number_of_contacts"]),
        total_cost=_decimal(document["total_cost"]),
        number_of_sms_needed=int(document["number_of_sms_needed"]),
        residual_credit=_decimal(document["residual_credit"]),
    )


def parse_balance(document: Any) -> WalletBalance:
    packs = tuple(
        WalletPack(str(pack.get("id") or pack.get("wallet_pack_id")), _decimal(pack["credit"]),
                   pack.get("expiration_date"))
        for pack in document.get("wallet_packs") or ()
    )  # fmt: skip
    return WalletBalance(_decimal(document["amount"]), str(document["unit"]), packs)


def parse_credits(document: Any) -> dict[str, CountryCredits]:
    return {
        country: CountryCredits(int(values["premium_sms"]), int(values["low_cost_sms"]))
        for country, values in document.items()
    }


def parse_parameters(document: Any) -> CampaignParameters:
    callbacks = document.get("callbacks") or {}
    parameters = document.get("campaign_parameters") or {}
    return CampaignParameters(
        callback_url_for_deliveries=callbacks.get("callback_url_for_deliveries")
        or callbacks.get("callback_url_for_sms_deliveries"),
        callback_url_for_inbounds=callbacks.get("callback_url_for_inbounds"),
        callback_url_for_blacklisted_numbers=callbacks.get("callback_url_for_blacklisted_numbers"),
        email_for_inbounds=callbacks.get("email_for_inbounds"),
        sender_for_sms_premium=parameters.get("sender_for_sms_premium"),
    )


def _decimal(value: Any) -> Decimal:
    """Amounts from their JSON spelling (a float's shortest repr is its decimal digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not an amount: {value!r}")
    return Decimal(str(value))
