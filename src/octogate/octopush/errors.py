"""The error codes of the Octopush API document (table "Erreurs"), and nothing else.

Only codes from this table are ever answered: existing clients map them to messages and break on others.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    OK = 0
    MISSING_PARAMETERS = 100
    BAD_CREDENTIALS = 101
    TEXT_TOO_LONG = 102
    NO_RECIPIENTS = 103
    NOT_ENOUGH_CREDIT = 104
    NOT_ENOUGH_CREDIT_ORDER_PENDING = 105
    BAD_SENDER = 106
    MISSING_TEXT = 107
    MISSING_LOGIN = 108
    MISSING_API_KEY = 109
    MISSING_RECIPIENTS = 110
    MISSING_TYPE = 112
    ACCOUNT_NOT_ACTIVATED = 113
    BLACKLISTED = 114
    BAD_MAIL_MERGE = 115
    SERVICE_UNAVAILABLE = 116
    MALFORMED_RECIPIENTS = 117
    TEXT_TOO_LONG_FOR_TYPE = 119
    DUPLICATE_REQUEST_ID = 120
    MISSING_STOP_MENTION = 121
    MISSING_NO_PUB_MENTION = 122
    MISSING_SHA1 = 123
    SHA1_MISMATCH = 124
    UNDEFINED_ERROR = 125
    UNKNOWN_COUNTRY = 150
    COUNTRY_NOT_COVERED = 151
    LOW_COST_NOT_OFFERED = 152

    @property
    def wire(self) -> str:
        """Three digits, as the document writes them (`000`, `101`)."""
        return f"{int(self):03d}"

    @property
    def meaning(self) -> str:
        return MEANINGS[self]


MEANINGS: dict[Code, str] = {
    Code.OK: "OK (no error).",
    Code.MISSING_PARAMETERS: "Missing parameters.",
    Code.BAD_CREDENTIALS: "Bad credentials.",
    Code.TEXT_TOO_LONG: "Text too long.",
    Code.NO_RECIPIENTS: "No recipients.",
    Code.NOT_ENOUGH_CREDIT: "Not enough credit.",
    Code.NOT_ENOUGH_CREDIT_ORDER_PENDING: "Not enough credit, but an order is waiting for validation.",
    Code.BAD_SENDER: "Invalid sms_sender.",
    Code.MISSING_TEXT: "Field sms_text missing.",
    Code.MISSING_LOGIN: "Field user_login missing.",
    Code.MISSING_API_KEY: "Field api_key missing.",
    Code.MISSING_RECIPIENTS: "Field sms_recipients missing.",
    Code.MISSING_TYPE: "Field sms_type missing or invalid.",
    Code.ACCOUNT_NOT_ACTIVATED: "Account not activated.",
    Code.BLACKLISTED: "Blacklisted.",
    Code.BAD_MAIL_MERGE: "Mail-merge field filled in incorrectly.",
    Code.SERVICE_UNAVAILABLE: "Service unavailable.",
    Code.MALFORMED_RECIPIENTS: "Badly formatted recipients.",
    Code.TEXT_TOO_LONG_FOR_TYPE: "Cannot send an SMS of more than 160 characters with this type.",
    Code.DUPLICATE_REQUEST_ID: "An SMS with the same request_id has already been sent.",
    Code.MISSING_STOP_MENTION: 'Premium SMS must contain the mention "STOP au XXXXX".',
    Code.MISSING_NO_PUB_MENTION: 'Standard SMS must contain the mention "no PUB=STOP".',
    Code.MISSING_SHA1: "Field request_sha1 missing.",
    Code.SHA1_MISMATCH: "Field request_sha1 does not match: the request is rejected.",
    Code.UNDEFINED_ERROR: "An undefined error occurred. Please contact support.",
    Code.UNKNOWN_COUNTRY: "No country found for this number.",
    Code.COUNTRY_NOT_COVERED: "The recipient's country is not covered.",
    Code.LOW_COST_NOT_OFFERED: "Standard (low cost) SMS cannot be sent to this country.",
}


class ApiError(Exception):
    """A request refused whole with one documented code."""

    def __init__(self, code: Code) -> None:
        super().__init__(f"{code.wire} {code.meaning}")
        self.code = code
