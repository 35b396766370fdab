"""The three pushes the APIs send to a customer's URL (delivery receipts, STOPs, replies), typed.

The pushes carry no "kind" field: each has its own date field (`delivery_date`, `stop_date`,
`answer_date`; `reception_date` for a REST reply), which is how they are told apart, so one URL can receive
all three. Dates are `Y-m-d H:i:s` wall time in Europe/Paris and become aware datetimes.

The 1.6.1 API pushes form fields (`parse_callback`); the current REST API pushes JSON objects with more
fields (`parse_rest_callback`); `parse_push` takes a raw body of either.

An octogate gateway can sign its pushes (`X-Octogate-Signature`, see `octogate.client.signatures`):
`parse_push(body, secret=..., signature=...)` checks the signature before reading anything; without a secret
nothing is checked, as with Octopush itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import parse_qsl

from octogate.client.signatures import DEFAULT_TOLERANCE, SignatureError, verify
from octogate.paris import DATE_FORMAT, PARIS


class DeliveryStatus(StrEnum):
    """The document's six values, and no others."""

    DELIVERED = "DELIVERED"
    NOT_DELIVERED = "NOT_DELIVERED"
    INVALID_DESTINATION_ADDRESS = "INVALID_DESTINATION_ADDRESS"
    NOT_ALLOWED = "NOT_ALLOWED"
    UNKNOWN_DELIVERY = "UNKNOWN_DELIVERY"
    UNDEFINED = "UNDEFINED"


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    message_id: str  # the campaign's ticket
    number: str
    status: DeliveryStatus
    delivery_date: datetime


@dataclass(frozen=True, slots=True)
class Stop:
    number: str
    text: str  # the message that triggered the STOP
    stop_date: datetime


@dataclass(frozen=True, slots=True)
class Reply:
    message_id: str  # the ticket of the campaign sent with with_replies
    number: str
    text: str
    sms_ticket: str | None  # the original SMS's own id; obsolete in the document, so optional
    answer_date: datetime


class RestDeliveryStatus(StrEnum):
    """The REST API's receipt statuses."""

    ACK = "ACK"
    DELIVERED = "DELIVERED"
    NOT_DELIVERED = "NOT_DELIVERED"
    NOT_ALLOWED = "NOT_ALLOWED"
    UNKNOWN_DELIVERY = "UNKNOWN_DELIVERY"
    BAD_DESTINATION = "BAD_DESTINATION"
    BLACKLISTED_NUMBER = "BLACKLISTED_NUMBER"
    UNDEFINED = "UNDEFINED"


@dataclass(frozen=True, slots=True)
class RestDeliveryReceipt:
    message_id: str  # the campaign's sms_ticket
    number: str
    status: RestDeliveryStatus
    delivery_date: datetime
    channel: str = "sms"
    meta_data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RestReply:
    message_id: str  # the sms_ticket of the campaign sent with with_replies
    number: str
    text: str
    sim_card_number: str | None  # the number that received the reply
    reception_date: datetime


@dataclass(frozen=True, slots=True)
class RestStop:
    message_id: str | None  # the ticket of the campaign the STOP answers
    number: str
    text: str
    stop_date: datetime


RestCallback = RestDeliveryReceipt | RestReply | RestStop
Callback = DeliveryReceipt | Stop | Reply | RestDeliveryReceipt | RestReply | RestStop
DATE_FIELDS = ("delivery_date", "stop_date", "answer_date")
REST_DATE_FIELDS = ("delivery_date", "stop_date", "reception_date")


class CallbackError(ValueError):
    """A push that is not one of the document's three: the receiver answers 400."""


class BadSignature(CallbackError):
    """The push is not signed with the receiver's secret (or too old): it did not come from the gateway."""


def parse_push(
    body: bytes,
    *,
    secret: str | None = None,
    signature: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Callback | RestCallback:
    """A push's raw body of either API (a JSON object is a REST push, anything else 1.6.1 form fields), and its
    X-Octogate-Signature header → its typed object. Given a `secret`, the
    signature must match the raw body (compared in constant time) and be recent, else BadSignature."""
    if secret is not None:
        try:
            verify(secret, signature, body, tolerance=tolerance, now=now)
        except SignatureError as error:
            raise BadSignature(str(error)) from None
    if body.lstrip().startswith(b"{"):
        return parse_rest_callback(body)
    return parse_callback(form_of(body))


def form_of(body: bytes) -> dict[str, str]:
    """UTF-8 as the document says; a body that is not UTF-8 or not urlencoded is not a push."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise CallbackError("the body is not a UTF-8 urlencoded form") from None
    return dict(pairs)


def parse_callback(form: Mapping[str, str]) -> Callback:
    """One push's form fields (already decoded) → its typed object."""
    dated = [name for name in DATE_FIELDS if form.get(name)]
    if len(dated) != 1:
        found = ", ".join(dated) or "none"
        raise CallbackError(f"expected exactly one of {', '.join(DATE_FIELDS)}; found {found}")
    if dated[0] == "delivery_date":
        return DeliveryReceipt(
            message_id=_required(form, "message_id"),
            number=_required(form, "number"),
            status=_status(_required(form, "status")),
            delivery_date=parse_date(form["delivery_date"]),
        )
    if dated[0] == "stop_date":
        return Stop(
            number=_required(form, "number"),
            text=form.get("text", ""),
            stop_date=parse_date(form["stop_date"]),
        )
    return Reply(
        message_id=_required(form, "message_id"),
        number=_required(form, "number"),
        text=form.get("text", ""),
        sms_ticket=form.get("sms_ticket") or None,
        answer_date=parse_date(form["answer_date"]),
    )


def parse_date(raw: str) -> datetime:
    """`Y-m-d H:i:s`, Paris wall time. In the autumn's repeated hour the first occurrence is taken."""
    try:
        return datetime.strptime(raw.strip(), DATE_FORMAT).replace(tzinfo=PARIS)
    except ValueError:
        raise CallbackError(f"date not in Y-m-d H:i:s form: {raw!r}") from None


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise CallbackError(f"field {name} is missing")
    return value


def _status(raw: str) -> DeliveryStatus:
    try:
        return DeliveryStatus(raw)
    except ValueError:
        raise CallbackError(f"unknown delivery status {raw!r}") from None


def parse_rest_callback(document: Mapping[str, object] | bytes | str) -> RestCallback:
    """One REST push (its JSON body, or the decoded object) → its typed object."""
    if isinstance(document, bytes | str):
        try:
            document = json.loads(document)
        except ValueError:
            raise CallbackError("the body is not JSON") from None
    if not isinstance(document, Mapping):
        raise CallbackError("the body is not a JSON object")
    fields = {name: "" if value is None else value for name, value in document.items()}
    strings = {name: value for name, value in fields.items() if isinstance(value, str)}
    dated = [name for name in REST_DATE_FIELDS if strings.get(name)]
    if len(dated) != 1:
        found = ", ".join(dated) or "none"
        raise CallbackError(f"expected exactly one of {', '.join(REST_DATE_FIELDS)}; found {found}")
    if dated[0] == "delivery_date":
        meta = fields.get("meta_data")
        try:
            status = RestDeliveryStatus(_required(strings, "status"))
        except ValueError:
            raise CallbackError(f"unknown delivery status {strings.get('status')!r}") from None
        return RestDeliveryReceipt(
            message_id=_required(strings, "message_id"),
            number=_required(strings, "number"),
            status=status,
            delivery_date=parse_date(strings["delivery_date"]),
            channel=strings.get("channel") or "sms",
            meta_data=dict(meta) if isinstance(meta, Mapping) else {},
        )
    if dated[0] == "stop_date":
        return RestStop(
            message_id=strings.get("message_id") or None,
            number=_required(strings, "number"),
            text=strings.get("text", ""),
            stop_date=parse_date(strings["stop_date"]),
        )
    return RestReply(
        message_id=_required(strings, "message_id"),
        number=_required(strings, "number"),
        text=strings.get("text", ""),
        sim_card_number=strings.get("sim_card_number") or None,
        reception_date=parse_date(strings["reception_date"]),
    )
