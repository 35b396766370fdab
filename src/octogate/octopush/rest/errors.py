"""REST errors: the 1.6.1 table's codes, an English message, and the ruled HTTP status.

Clients read `code` and `message` (a React client `error_code`); WP SMS treats 401 and 403 as bad credentials.
"""

from __future__ import annotations

import json

from octogate.octopush.errors import Code

#: HTTP status per code (the rulings); every other code is a validation error, 422.
STATUS: dict[Code, int] = {
    Code.BAD_CREDENTIALS: 401,
    Code.MISSING_LOGIN: 401,
    Code.MISSING_API_KEY: 401,
    Code.ACCOUNT_NOT_ACTIVATED: 403,
    Code.BLACKLISTED: 403,
    Code.NOT_ENOUGH_CREDIT: 402,
    Code.NOT_ENOUGH_CREDIT_ORDER_PENDING: 402,
    Code.SERVICE_UNAVAILABLE: 503,
    Code.UNDEFINED_ERROR: 500,
}
VALIDATION = 422

#: The REST wording (its field and header names); codes not listed use the 1.6.1 table's meaning.
MESSAGES: dict[Code, str] = {
    Code.MISSING_PARAMETERS: "Missing or invalid parameter.",
    Code.BAD_CREDENTIALS: "Bad credentials: check the api-login and api-key headers.",
    Code.TEXT_TOO_LONG: "text is too long (1224 characters at most, the STOP mention included).",
    Code.NO_RECIPIENTS: "No recipients.",
    Code.BAD_SENDER: "sender must be 3 to 11 letters, digits, spaces, dots or dashes.",
    Code.MISSING_TEXT: "text is missing.",
    Code.MISSING_LOGIN: "The api-login header is missing.",
    Code.MISSING_API_KEY: "The api-key header is missing.",
    Code.MISSING_RECIPIENTS: "recipients is missing.",
    Code.MISSING_TYPE: "type must be sms_premium or sms_low_cost.",
    Code.BLACKLISTED: "Account blacklisted.",
    Code.BAD_MAIL_MERGE: "first_name, last_name and param1 to param5 are 50 characters at most.",
    Code.SERVICE_UNAVAILABLE: "Service unavailable: try again later.",
    Code.MALFORMED_RECIPIENTS: "Badly formatted phone number: use the international form, +33601020304.",
    Code.TEXT_TOO_LONG_FOR_TYPE: "An sms_low_cost text is 160 characters at most.",
    Code.DUPLICATE_REQUEST_ID: "An SMS with the same request_id has already been sent.",
    Code.UNDEFINED_ERROR: "An unexpected error occurred; it was logged.",
}
#: the ruled answer to the out-of-scope paths, with the `error_code` every other REST error has
NOT_SUPPORTED = {"code": 404, "message": "not supported by this gateway", "error_code": "404"}


class RestError(Exception):
    """A REST request refused whole: nothing was stored, sent or debited."""

    def __init__(self, code: Code, message: str | None = None, *, status: int | None = None) -> None:
        self.code = code
        self.message = message or message_for(code)
        self.status = status or status_for(code)
        super().__init__(f"{self.status} {code.wire} {self.message}")


def status_for(code: Code) -> int:
    return STATUS.get(code, VALIDATION)


def message_for(code: Code) -> str:
    return MESSAGES.get(code) or code.meaning


def error_body(error: RestError) -> bytes:
    return json.dumps(
        {"code": int(error.code), "message": error.message, "error_code": error.code.wire}, ensure_ascii=False
    ).encode()


def not_supported_body() -> bytes:
    return json.dumps(NOT_SUPPORTED).encode()


def not_json() -> RestError:
    return RestError(Code.MISSING_PARAMETERS, "The body is not a JSON object.", status=400)


def bad_field(name: str, why: str) -> RestError:
    return RestError(Code.MISSING_PARAMETERS, f"{name} {why}.")


def echo(value: str, limit: int = 40) -> str:
    """A caller's value quoted in a message: bounded and printable."""
    return "".join(c if c.isprintable() else "?" for c in value[:limit])
