"""An `/api/sms` call's fields, read and checked for shape (no account, number or price knowledge here).

Checks run in the order a caller would want to hear about problems: integrity of the frame (123/124), the
mandatory fields (107/110/112), then the optional ones (106, 100 for a bad date, 115).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from octogate.frozen import quick_init
from octogate.octopush.errors import ApiError, Code
from octogate.octopush.mailmerge import MailMerge, parse_mail_merge
from octogate.octopush.params import Params, flag
from octogate.octopush.signature import check_signature
from octogate.paris import PARIS
from octogate.sms.types import SmsType

MAX_REQUEST_ID = 255
LATEST_EPOCH = 32503680000  # 3000-01-01
SENDER_ALPHANUMERIC = re.compile(r"[A-Za-z0-9 .\-]{3,11}")
SENDER_MSISDN = re.compile(r"(?:\+|00)?([0-9]{3,15})")


@quick_init
@dataclass(frozen=True, slots=True)
class SmsRequest:
    """What the caller asked for, typed; recipients are still raw strings at their original positions.

    Built on every request, as `PricedCampaign` and `SmsAnswer` are: their `__init__` is `quick_init`'s (a
    frozen dataclass's own sets each field through `object.__setattr__`, ~0.1 µs a field)."""

    text: str
    recipients: tuple[str, ...]
    sms_type: SmsType
    sender: str | None
    msisdn_sender: bool
    deferred_until: int | None  # epoch seconds asked for with sms_mode=2, else None
    merge: MailMerge
    simulation: bool
    request_id: str | None
    with_replies: bool
    transactional: bool
    # The REST API's differences (octogate.octopush.rest); the defaults are 1.6.1's.
    max_characters: int | None = None  # None: the 1.6.1 limit (campaign.MAX_CHARACTERS)
    append_mention: bool = False  # French marketing without its opt-out mention gets it appended, not 121/122
    world_price_abroad: bool = False  # Premium outside France priced (and refused) as WWW


def parse_sms_request(params: Params) -> SmsRequest:
    check_signature(params)
    text = params.get("sms_text")
    if text is None:
        raise ApiError(Code.MISSING_TEXT)
    raw_recipients = params.get("sms_recipients")
    if raw_recipients is None:
        raise ApiError(Code.MISSING_RECIPIENTS)
    try:
        sms_type = SmsType(params.get("sms_type", "").strip().upper())
    except ValueError:
        raise ApiError(Code.MISSING_TYPE) from None
    msisdn_sender = flag(params, "msisdn_sender")
    sender = parse_sender(params.get("sms_sender"), sms_type=sms_type, msisdn=msisdn_sender)
    recipients = tuple(raw.strip() for raw in raw_recipients.split(","))
    merge = parse_mail_merge(params, len(recipients))
    request_id = params.get("request_id", "").strip() or None
    if request_id is not None and len(request_id) > MAX_REQUEST_ID:
        raise ApiError(Code.MISSING_PARAMETERS)
    return SmsRequest(
        text=text.replace("\r\n", "\n"),
        recipients=recipients,
        sms_type=sms_type,
        sender=sender,
        msisdn_sender=msisdn_sender,
        deferred_until=parse_sending_date(params),
        merge=merge,
        simulation=params.get("request_mode", "").strip().lower() == "simu",
        request_id=request_id,
        with_replies=flag(params, "with_replies"),
        transactional=flag(params, "transactional"),
    )


def parse_sender(raw: str | None, *, sms_type: SmsType, msisdn: bool) -> str | None:
    """Alphanumeric senders: 3-11 of [a-zA-Z0-9 .-]; with msisdn_sender=1 an international number (digits)."""
    if raw is None:
        if sms_type is SmsType.LOW_COST:
            return None
        raise ApiError(Code.BAD_SENDER)
    if msisdn:
        match = SENDER_MSISDN.fullmatch(raw.strip())
        if match is None:
            raise ApiError(Code.BAD_SENDER)
        return match.group(1)
    if SENDER_ALPHANUMERIC.fullmatch(raw) is None or not raw.strip():
        raise ApiError(Code.BAD_SENDER)
    return raw


def parse_sending_date(params: Params) -> int | None:
    """The epoch asked for with sms_mode=2, from `sending_date`, `sending_time` or `sms_y/m/d/h/i`.

    `sending_date` is a true Unix epoch (every client computes one; "GMT+1" only describes the author's clock).
    `sending_time` takes an epoch or a `YYYY-MM-DD HH:MM[:SS]` Paris wall time (or ISO 8601 with an offset).
    The old split fields are Paris wall time. A bad or missing date with sms_mode=2 answers 100.
    """
    mode = params.get("sms_mode", "1").strip() or "1"
    if mode.isdigit() and int(mode) == 1:
        return None
    if not (mode.isdigit() and int(mode) == 2):
        raise ApiError(Code.MISSING_PARAMETERS)
    try:
        if "sending_date" in params:
            return _in_range(int(float(params["sending_date"].strip())))
        if "sending_time" in params:
            return _in_range(_epoch_or_wall_time(params["sending_time"].strip()))
        split = [params.get(name) for name in ("sms_y", "sms_m", "sms_d", "sms_h", "sms_i")]
        if all(split):
            year, month, day, hour, minute = (int(value or "") for value in split)
            return _in_range(int(datetime(year, month, day, hour, minute, tzinfo=PARIS).timestamp()))
    except (ValueError, OverflowError):  # not a number, not a date, or a number no date can hold
        raise ApiError(Code.MISSING_PARAMETERS) from None
    raise ApiError(Code.MISSING_PARAMETERS)


def _in_range(epoch: int) -> int:
    """Up to the year 3000: beyond it the caller sent something else than a date."""
    if not 0 <= epoch <= LATEST_EPOCH:
        raise ApiError(Code.MISSING_PARAMETERS)
    return epoch


def _epoch_or_wall_time(raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return int(moment.astimezone(UTC).timestamp())
