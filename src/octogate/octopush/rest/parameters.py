"""`GET /v1/public/user/campaign-parameters` and `PATCH .../edit`: the account's REST callbacks and default sender.

Both spellings of the receipts' URL are read (`callback_url_for_deliveries`, older `callback_url_for_sms_deliveries`)
and both are written back. Keys are read under `callbacks` / `campaign_parameters` or at the top level.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from octogate.octopush.errors import ApiError, Code
from octogate.octopush.request import parse_sender
from octogate.octopush.rest.errors import RestError, bad_field, echo, not_json
from octogate.octopush.rest.values import text
from octogate.sms.types import SmsType

#: JSON key(s) → accounts column
URL_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("callback_url_for_deliveries", "callback_url_for_sms_deliveries"), "rest_receipt_url"),
    (("callback_url_for_inbounds",), "rest_reply_url"),
    (("callback_url_for_blacklisted_numbers",), "rest_stop_url"),
)
EMAIL_KEY = "email_for_inbounds"
SENDER_KEY = "sender_for_sms_premium"
MAX_EMAIL = 254


@dataclass(frozen=True, slots=True)
class CampaignParameters:
    rest_receipt_url: str | None = None
    rest_reply_url: str | None = None
    rest_stop_url: str | None = None
    inbound_email: str | None = None
    default_sender: str | None = None


def parse_edit(body: object) -> dict[str, str]:
    """The columns to change (absent, null or "" leave a value as it is). URLs are checked by the service."""
    if not isinstance(body, Mapping):
        raise not_json()
    callbacks = _section(body, "callbacks")
    parameters = _section(body, "campaign_parameters")
    changes: dict[str, str] = {}
    for keys, column in URL_KEYS:
        for key in keys:
            value = text(callbacks, key) or text(body, key)
            if value is not None:
                changes[column] = value.strip()
                break  # the current spelling wins over the older one
    email = text(callbacks, EMAIL_KEY) or text(body, EMAIL_KEY)
    if email is not None:
        email = email.strip()
        if len(email) > MAX_EMAIL or "@" not in email or any(c.isspace() for c in email):
            raise bad_field(EMAIL_KEY, f"{echo(email)!r} is not an e-mail address")
        changes["inbound_email"] = email
    sender = text(parameters, SENDER_KEY) or text(body, SENDER_KEY)
    if sender is not None:
        try:
            changes["default_sender"] = parse_sender(sender, sms_type=SmsType.PREMIUM, msisdn=False) or ""
        except ApiError:
            raise RestError(Code.BAD_SENDER, f"{SENDER_KEY} {echo(sender)!r}: 3 to 11 letters, digits, spaces, "
                            "dots or dashes.") from None  # fmt: skip
    return changes


def _section(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = body.get(name)
    if section is None or section == "":
        return {}
    if not isinstance(section, Mapping):
        raise bad_field(name, "must be an object")
    return section


def parameters_body(found: CampaignParameters) -> bytes:
    return json.dumps(
        {
            "callbacks": {
                "callback_url_for_deliveries": found.rest_receipt_url,
                "callback_url_for_sms_deliveries": found.rest_receipt_url,
                "callback_url_for_inbounds": found.rest_reply_url,
                "callback_url_for_blacklisted_numbers": found.rest_stop_url,
                EMAIL_KEY: found.inbound_email,
            },
            "campaign_parameters": {SENDER_KEY: found.default_sender},
        }
    ).encode()
