"""Turning a typed SMS campaign into the `/api/sms` form fields, request_sha1 included.

The form is built once, as the exact strings that go on the wire, and the hash is computed over those same
strings with the server's own function: a value that is hashed is always the value that is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Literal, TypedDict

from octogate.octopush.mailmerge import MERGE_FIELDS
from octogate.octopush.signature import KEY_FIELDS, request_sha1
from octogate.sms.types import SmsType

SmsTypeLike = SmsType | Literal["FR", "XXX", "WWW"]
SIMULATION_TICKET = "XXXSIMULATIONXXX"
MERGE_NAMES = tuple(name for name, _placeholder in MERGE_FIELDS)
PLACEHOLDERS = dict(MERGE_FIELDS)


@dataclass(frozen=True, slots=True)
class Sms:
    """One campaign, with every field of the document as a Python value.

    Mail-merge values are lists with one value per recipient (`first_names` replaces `{prenom}`,
    `last_names` `{nom}`, `fields_1..3` `{ch1}..{ch3}`). Their counts and lengths are left to the server,
    whose answer (115) is the documented one; only what cannot be written on the wire at all (a comma
    inside a value, a naive date) is refused here.
    """

    recipients: Sequence[str]
    text: str
    sms_type: SmsTypeLike = SmsType.PREMIUM
    sender: str | None = None
    sending_date: datetime | None = None
    first_names: Sequence[str] | None = None
    last_names: Sequence[str] | None = None
    fields_1: Sequence[str] | None = None
    fields_2: Sequence[str] | None = None
    fields_3: Sequence[str] | None = None
    simulation: bool = False
    request_id: str | None = None
    with_replies: bool = False
    transactional: bool = False
    msisdn_sender: bool = False
    request_keys: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.recipients, str):
            raise TypeError("recipients is a list of numbers, not one string")
        object.__setattr__(self, "recipients", tuple(self.recipients))
        _no_commas("recipients", self.recipients)
        for name, values in self.merge_values():
            if values is None:
                continue
            if isinstance(values, str):
                raise TypeError(f"{name} is a list with one value per recipient, not one string")
            _no_commas(name, values)
        if self.sending_date is not None and self.sending_date.utcoffset() is None:
            raise ValueError("sending_date must be timezone-aware (the API takes an absolute instant)")

    def merge_values(self) -> tuple[tuple[str, Sequence[str] | None], ...]:
        """(wire field name, values) in the order of the server's MERGE_FIELDS."""
        values = (self.first_names, self.last_names, self.fields_1, self.fields_2, self.fields_3)
        return tuple(zip(MERGE_NAMES, values, strict=True))


class SmsOptions(TypedDict, total=False):
    """The keyword arguments of `send()`: every `Sms` field after recipients and text."""

    sms_type: SmsTypeLike
    sender: str | None
    sending_date: datetime | None
    first_names: Sequence[str] | None
    last_names: Sequence[str] | None
    fields_1: Sequence[str] | None
    fields_2: Sequence[str] | None
    fields_3: Sequence[str] | None
    simulation: bool
    request_id: str | None
    with_replies: bool
    transactional: bool
    msisdn_sender: bool
    request_keys: str | None


OPTION_NAMES = tuple(field.name for field in fields(Sms))[2:]


def _no_commas(name: str, values: Sequence[str]) -> None:
    """The wire format joins values with commas: a comma inside one would shift every later value."""
    for value in values:
        if "," in value:
            raise ValueError(f"{name}: a value cannot contain a comma ({value!r})")


def sms_form(sms: Sms, login: str, api_key: str) -> dict[str, str]:
    """The form fields in the document's order; false flags and unset options are left out."""
    form = {
        "user_login": login,
        "api_key": api_key,
        "sms_recipients": ",".join(sms.recipients),
        "sms_text": sms.text,
        "sms_type": str(sms.sms_type),
    }
    if sms.sender is not None:
        form["sms_sender"] = sms.sender
    if sms.sending_date is None:
        form["sms_mode"] = "1"
    else:
        form["sms_mode"] = "2"
        form["sending_date"] = str(int(sms.sending_date.timestamp()))
    for name, values in sms.merge_values():
        if values is not None:
            form[name] = ",".join(values)
    if sms.simulation:
        form["request_mode"] = "simu"
    if sms.request_id is not None:
        form["request_id"] = sms.request_id
    for name, value in (
        ("with_replies", sms.with_replies),
        ("transactional", sms.transactional),
        ("msisdn_sender", sms.msisdn_sender),
    ):
        if value:
            form[name] = "1"
    if sms.request_keys:
        form["request_keys"] = sms.request_keys
        form["request_sha1"] = sign(form, sms.request_keys)
    return form


def sign(form: dict[str, str], keys: str) -> str:
    """The server's own hash over the values as sent; a letter the table lacks contributes nothing (the
    server then answers 124, which is the documented outcome)."""
    unknown = frozenset(key for key in keys if key not in KEY_FIELDS)
    return request_sha1(form, keys, skip=unknown)


def credentials_form(login: str, api_key: str) -> dict[str, str]:
    return {"user_login": login, "api_key": api_key}
