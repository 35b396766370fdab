"""What the store hands out and takes in: plain records, no SQL, no protocol rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


class DuplicateRequest(Exception):
    """The account already has a campaign with this request_id."""


class InsufficientCredit(Exception):
    def __init__(self, order_pending: bool) -> None:
        super().__init__("not enough credit")
        self.order_pending = order_pending


class UnknownAccount(LookupError):
    pass


class StoreUnavailable(Exception):
    """The database could not be reached or could not commit: nothing of the operation was applied."""


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    login: str
    api_key_hash: str
    balance: int  # micro-units
    currency: str
    activated: bool
    blacklisted: bool
    pending_order: bool
    transliterate: bool
    receipt_url: str | None = None
    stop_url: str | None = None
    reply_url: str | None = None


ACCOUNT_COLUMNS = (
    "id, login, api_key_hash, balance, currency, activated, blacklisted, pending_order, transliterate, "
    "receipt_url, stop_url, reply_url"
)


FLAG_COLUMNS = ("activated", "blacklisted", "pending_order", "transliterate")  # 0/1 in SQLite


def account_record(**columns: Any) -> Account:
    """An `accounts` row, its columns by name (ACCOUNT_COLUMNS)."""
    for name in FLAG_COLUMNS:
        columns[name] = bool(columns[name])
    return Account(**columns)


def account_from_row(row: tuple) -> Account:
    """The same from ACCOUNT_COLUMNS by position, for the API's one joined read (gateway_and_account)."""
    return Account(
        id=row[0],
        login=row[1],
        api_key_hash=row[2],
        balance=row[3],
        currency=row[4],
        activated=bool(row[5]),
        blacklisted=bool(row[6]),
        pending_order=bool(row[7]),
        transliterate=bool(row[8]),
        receipt_url=row[9],
        stop_url=row[10],
        reply_url=row[11],
    )


@dataclass(frozen=True, slots=True)
class GatewayState:
    paused: bool
    prices_version: int


def gateway_state_record(paused: int, prices_version: int) -> GatewayState:
    return GatewayState(paused=bool(paused), prices_version=int(prices_version))


class LedgerEntry(NamedTuple):
    """One movement of an account's money, newest first in a statement."""

    amount: int  # micro-units; negative: a debit
    balance_after: int
    reason: str  # credit | campaign | refund
    campaign_id: int | None
    note: str | None
    created_at: int


class StoredMessage(NamedTuple):
    """A campaign's message as stored (the tests' and the operator's view of what was accepted)."""

    recipient: str
    country: str
    sms: int
    cost: int
    status: str
    send_at: int


class PriceRow(NamedTuple):
    """A `prices` row: one country's prices in micro-units per SMS type (None: not offered)."""

    calling_code: int
    country: str
    name: str
    fr: int | None
    xxx: int | None
    www: int | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    recipient: str  # +E.164
    country: str
    calling_code: int
    text: str | None  # None: the campaign's text
    sms: int
    cost: int


@dataclass(frozen=True, slots=True)
class NewCampaign:
    account_id: int
    request_id: str | None
    source: str  # "http" | "smtp" | "rest"
    sms_type: str
    sender: str | None
    sender_is_msisdn: bool
    text: str
    transactional: bool
    with_replies: bool
    sms: int
    cost: int
    send_at: int
    messages: list[NewMessage]


@dataclass(frozen=True, slots=True)
class AcceptedCampaign:
    campaign_id: int
    ticket: str
    balance: int


@dataclass(frozen=True, slots=True)
class InboxEntry:
    received_at: int
    mail_from: str
    subject: str  # decoded, the api_key removed
    message_id: str
    login: str | None  # as the mail claims it: the outcome says whether it authenticated
    request_id: str | None
    outcome: str  # accepted | refused | ignored | rejected
    error_code: int | None  # the API code of a refusal
    ticket: str | None  # the campaign's ticket when accepted
    reason: str  # short, for the operator


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    entry: InboxEntry
