"""`POST /v1/public/sms-campaign/send`: the JSON body into the same `SmsRequest` the 1.6.1 path builds.

The REST-only rules are here: field names and types, 1-500 recipients with per-recipient placeholders, `type`
(default sms_premium), `purpose` (alert/transactional or wholesale/marketing, default wholesale), the STOP mention
appended to French marketing, `send_at` spellings, and which priced recipients may be set aside (none but the
STOP-listed ones, with `auto_remove_blacklisted_numbers`: a REST answer has no list of failures).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from octogate.octopush.answers import Failure
from octogate.octopush.errors import ApiError, Code
from octogate.octopush.mailmerge import MailMerge
from octogate.octopush.request import LATEST_EPOCH, MAX_REQUEST_ID, SmsRequest, parse_sender
from octogate.octopush.rest.errors import RestError, bad_field, echo
from octogate.octopush.rest.values import as_text, flag, text
from octogate.paris import PARIS
from octogate.sms.types import SmsType

MAX_RECIPIENTS = 500
MAX_TEXT = 1224
MAX_PARAMETER = 50
#: A REST request_id can be used again this long after the campaign that used it (1.6.1 ids never expire).
REQUEST_ID_TTL = 86_400
SOURCE = "rest"  # campaigns.source of a REST campaign: its pushes are REST JSON
PLACEHOLDERS = ("first_name", "last_name", "param1", "param2", "param3", "param4", "param5")
TYPES = {"sms_premium": SmsType.PREMIUM, "sms_low_cost": SmsType.LOW_COST}
TRANSACTIONAL = {"alert": True, "transactional": True, "wholesale": False, "marketing": False}


@dataclass(frozen=True, slots=True)
class RestSms:
    request: SmsRequest  # sender None when the body names none: the service puts the account's default
    sender_given: bool
    auto_remove_blacklisted: bool


def parse_send(body: object) -> RestSms:
    if not isinstance(body, Mapping):
        raise RestError(Code.MISSING_PARAMETERS, "The body is not a JSON object.", status=400)
    raw_recipients = _recipients(body.get("recipients"))
    message = text(body, "text")
    if message is None:
        raise RestError(Code.MISSING_TEXT)
    sms_type = _type(body)
    transactional = _purpose(body)
    sender = given_sender = text(body, "sender")
    if given_sender is not None:
        try:
            sender = parse_sender(given_sender, sms_type=sms_type, msisdn=False)
        except ApiError:
            raise RestError(Code.BAD_SENDER, f"sender {echo(given_sender)!r}: 3 to 11 letters, digits, spaces, "
                            "dots or dashes.") from None  # fmt: skip
    request_id = text(body, "request_id")
    if request_id is not None:
        request_id = request_id.strip()
        if len(request_id) > MAX_REQUEST_ID:
            raise bad_field("request_id", f"is {MAX_REQUEST_ID} characters at most")
    numbers, merge = _numbers_and_merge(raw_recipients, message)
    request = SmsRequest(
        text=message.replace("\r\n", "\n"),
        recipients=numbers,
        sms_type=sms_type,
        sender=sender,
        msisdn_sender=False,
        deferred_until=parse_send_at(body.get("send_at")),
        merge=merge,
        simulation=flag(body, "simulation_mode"),
        request_id=request_id,
        with_replies=flag(body, "with_replies"),
        transactional=transactional,
        max_characters=MAX_TEXT,
        append_mention=not transactional,
        world_price_abroad=sms_type is SmsType.PREMIUM,
    )
    # Accepted and read for their type, without effect here (see the README): the account's transliteration
    # setting decides the text's rewriting; no link tracking, no contact lists.
    flag(body, "auto_optimize_text", default=True)
    flag(body, "recipient_tracking")
    return RestSms(request, sender is not None, flag(body, "auto_remove_blacklisted_numbers"))


def _recipients(value: object) -> list[object]:
    if value is None or value == "":
        raise RestError(Code.MISSING_RECIPIENTS)
    if isinstance(value, Mapping | str):
        value = [value]  # one recipient written without its array
    if not isinstance(value, list):
        raise bad_field("recipients", "must be an array of objects with a phone_number")
    if not value:
        raise RestError(Code.NO_RECIPIENTS, "recipients is empty.")
    if len(value) > MAX_RECIPIENTS:
        raise bad_field("recipients", f"holds {MAX_RECIPIENTS} numbers at most per request ({len(value)} sent)")
    return value


def _numbers_and_merge(recipients: Sequence[object], template: str) -> tuple[tuple[str, ...], MailMerge]:
    """The numbers, and a column per placeholder used (a recipient without its value gets "")."""
    numbers: list[str] = []
    values: dict[str, list[str]] = {name: [] for name in PLACEHOLDERS}
    for position, entry in enumerate(recipients):
        where = f"recipients[{position}]"
        fields: Mapping[str, Any] = entry if isinstance(entry, Mapping) else {"phone_number": entry}
        number = as_text(fields.get("phone_number"), f"{where}.phone_number")
        if number is None:
            raise RestError(Code.MALFORMED_RECIPIENTS, f"{where}.phone_number is missing.")
        numbers.append(number.strip())
        for name in PLACEHOLDERS:
            value = as_text(fields.get(name), f"{where}.{name}") or ""
            if len(value) > MAX_PARAMETER:
                raise RestError(Code.BAD_MAIL_MERGE, f"{where}.{name} is {MAX_PARAMETER} characters at most.")
            values[name].append(value)
    columns = tuple(
        ("{" + name + "}", tuple(column)) for name, column in values.items() if any(column) or f"{{{name}}}" in template
    )
    return tuple(numbers), MailMerge(columns)


def _type(body: Mapping[str, Any]) -> SmsType:
    raw = text(body, "type")
    if raw is None:
        return SmsType.PREMIUM
    found = TYPES.get(raw.strip().lower())
    if found is None:
        raise RestError(Code.MISSING_TYPE, f"type {echo(raw)!r}: sms_premium or sms_low_cost.")
    return found


def _purpose(body: Mapping[str, Any]) -> bool:
    """True for a transactional message (alert), False for marketing (wholesale, the default)."""
    raw = text(body, "purpose")
    if raw is None:
        return False
    found = TRANSACTIONAL.get(raw.strip().lower())
    if found is None:
        raise bad_field("purpose", "must be alert (transactional) or wholesale (marketing)")
    return found


def parse_send_at(value: object) -> int | None:
    """ISO 8601 with an offset or `Z`; `YYYY-MM-DD HH:MM[:SS]` without one is Paris wall time (the SDK's
    reading); a number is a Unix epoch. A moment in the past means now."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_field("send_at", "must be an ISO 8601 date")
    try:
        if isinstance(value, int | float):
            epoch = int(value)
        elif isinstance(value, str):
            raw = value.strip()
            if raw.isdigit():
                epoch = int(raw)
            else:
                moment = datetime.fromisoformat(raw)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=PARIS)
                epoch = int(moment.astimezone(UTC).timestamp())
        else:
            raise bad_field("send_at", "must be an ISO 8601 date")
    except (ValueError, OverflowError):
        raise bad_field("send_at", f"{echo(str(value))!r} is not a date (ISO 8601, e.g. 2026-12-24T09:30:00+01:00)") \
            from None  # fmt: skip
    if not 0 <= epoch <= LATEST_EPOCH:
        raise bad_field("send_at", "is out of range")
    return epoch


def refuse_failures(failures: Sequence[Failure], auto_remove_blacklisted: bool) -> None:
    """A REST request is sent to all its numbers or refused: its answer has no list of failures. Numbers on the
    STOP list are set aside instead when the caller asked for it."""
    for failure in failures:
        if failure.code is Code.BLACKLISTED:
            if auto_remove_blacklisted:
                continue
            why = "is on the account's STOP list (auto_remove_blacklisted_numbers: true leaves such numbers out)."
            raise RestError(Code.BLACKLISTED, f"{echo(failure.recipient)} {why}", status=422)
        raise recipient_error(failure.code, failure.recipient)


def recipient_error(code: Code, recipient: str | None = None) -> RestError:
    """A refusal about the recipients (114 here is a STOP-listed number, not a blacklisted account: 422)."""
    if code is Code.BLACKLISTED:
        return RestError(code, "Every recipient is on the account's STOP list.", status=422)
    message = RestError(code).message
    return RestError(code, f"{echo(recipient)}: {message}" if recipient else message, status=422)
