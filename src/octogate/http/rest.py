"""The REST edge (`/v1/public/...`, JSON): reads headers, query and body, calls the service, writes the answer.

Thin on purpose: what a REST field means is `octogate.octopush.rest`'s, what a campaign costs and whether it is
accepted is the service's (the same calls as the 1.6.1 API). Every refusal is a JSON body
`{"code", "message", "error_code"}` with the ruled HTTP status; a fault is logged and answered 500 / 125.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from octogate.asgi import BodyTooLarge, ClientDisconnected, read_body, respond
from octogate.octopush.errors import ApiError, Code
from octogate.octopush.rest import answers
from octogate.octopush.rest.errors import RestError, error_body, not_json, not_supported_body
from octogate.octopush.rest.parameters import parameters_body
from octogate.octopush.rest.wallet import calling_code_for, country_codes, product_query
from octogate.service import Gateway
from octogate.sms.types import SmsType

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PREFIX = "/v1/"
MAX_BODY = 2 * 1024 * 1024  # 500 recipients with every placeholder filled stay far below
JSON_TYPE = b"application/json; charset=UTF-8"
SEND = "/v1/public/sms-campaign/send"
BALANCE = "/v1/public/wallet/check-balance"
CREDITS = "/v1/public/wallet/check-credits"
PARAMETERS = "/v1/public/user/campaign-parameters"
EDIT = "/v1/public/user/campaign-parameters/edit"
#: path → the methods it answers (PATCH is the documented one for edit; POST for clients without PATCH)
METHODS: dict[str, tuple[str, ...]] = {
    SEND: ("POST",),
    BALANCE: ("GET",),
    CREDITS: ("GET",),
    PARAMETERS: ("GET",),
    EDIT: ("PATCH", "POST"),
}


def is_rest_path(url: str) -> bool:
    """Whether a request target (path, query or proxy-style absolute URL) is the REST API's: its answers,
    refusals of the HTTP edge included, are JSON."""
    if url.startswith(("http://", "https://")):
        url = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    path = url.split("?", 1)[0]
    return path == PREFIX.rstrip("/") or path.startswith(PREFIX)


def edge_refusal(status: int, message: str) -> bytes:
    """The JSON body of a refusal made before the request reaches the app (URL or headers too large, too slow,
    not HTTP): code 100, as for any unreadable request, with the HTTP status saying which."""
    return error_body(RestError(Code.MISSING_PARAMETERS, message, status=status))


class RestApp:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].rstrip("/") or "/"
        methods = METHODS.get(path)
        if methods is None:
            await respond(send, 404, not_supported_body(), [(b"content-type", JSON_TYPE)])
            return
        if scope["method"] not in methods:
            error = RestError(Code.MISSING_PARAMETERS, f"Use {' or '.join(methods)} for {path}.", status=405)
            headers = [(b"content-type", JSON_TYPE), (b"allow", ", ".join(methods).encode())]
            await respond(send, 405, error_body(error), headers)
            return
        try:
            status, body = await self._answer(path, scope, receive)
        except ClientDisconnected:
            return  # nobody to answer, and an incomplete request must not be applied
        except RestError as error:
            status, body = error.status, error_body(error)
        except ApiError as error:
            refused = RestError(error.code)
            status, body = refused.status, error_body(refused)
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("unexpected fault answering %s (reference %s)", path, reference)
            fault = RestError(Code.UNDEFINED_ERROR, f"An unexpected error occurred (reference {reference}).")
            status, body = fault.status, error_body(fault)
        await respond(send, status, body, [(b"content-type", JSON_TYPE)])

    async def _answer(self, path: str, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        login, api_key = header(scope, b"api-login"), header(scope, b"api-key")
        gateway = self.gateway
        if path == SEND:
            body = await json_body(receive)
            sent = await gateway.submit_rest(login, api_key, body)
            return 201, answers.sent_body(sent)
        if path == EDIT:
            body = await json_body(receive)
            return 200, parameters_body(await gateway.edit_campaign_parameters(login, api_key, body))
        if path == PARAMETERS:
            return 200, parameters_body(await gateway.campaign_parameters(login, api_key))
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        account = await gateway.rest_account(login, api_key)
        if path == BALANCE:
            asked = product_query(query)
            if asked is None:
                return 200, answers.balance_body(account.balance, account.currency)
            amount = gateway.messages_for(account.balance, asked.sms_type, asked.calling_code)
            return 200, answers.product_balance_body(amount, asked.product, asked.with_details)
        credits: dict[str, tuple[int, int]] = {}
        for country in country_codes(query):
            calling_code = calling_code_for(country)
            if calling_code is None:
                continue  # not a country: left out, as Octopush leaves out what it cannot read
            credits[country] = (
                gateway.messages_for(account.balance, SmsType.PREMIUM, calling_code),
                gateway.messages_for(account.balance, SmsType.LOW_COST, calling_code),
            )
        return 200, answers.credits_body(credits)


async def json_body(receive: Receive) -> object:
    """The body as JSON (UTF-8, -16 or -32); anything else is a 400 with code 100, nothing applied."""
    try:
        raw = await read_body(receive, MAX_BODY)
    except BodyTooLarge:
        raise RestError(Code.MISSING_PARAMETERS, f"The body is larger than {MAX_BODY} bytes.", status=413) from None
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise not_json() from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def header(scope: Scope, name: bytes) -> str | None:
    """A header's value (names are compared lower-case, as ASGI gives them); blank is absent."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            text = bytes(value).decode("latin-1").strip()
            return text or None
    return None
