"""The Octopush SMS types (the document's three qualities), defined once: the API reads them, the price table has
a column for each, routes are chosen by them, and the client offers them. Standard library only."""

from __future__ import annotations

from enum import StrEnum


class SmsType(StrEnum):
    """The document's three qualities."""

    PREMIUM = "FR"
    LOW_COST = "XXX"
    WORLD = "WWW"


#: Their codes, in the column order of the price CSV.
SMS_TYPES: tuple[str, ...] = tuple(sms_type.value for sms_type in SmsType)
