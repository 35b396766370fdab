"""The HTTP edge: gathers an API call's parameters, calls the service, writes the answer. Thin on purpose.

A plain ASGI callable rather than a routed framework app: there are three endpoints, every answer is
HTTP 200, and the request path is the gateway's hottest code. Multipart bodies, the rare case, go through
Starlette's form parser (python-multipart); urlencoded bodies through `parse_qsl`, measured 3× faster.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from octogate.asgi import BodyTooLarge, ClientDisconnected, lifespan, read_body, respond
from octogate.http.rest import RestApp, is_rest_path
from octogate.octopush import answers
from octogate.octopush.errors import ApiError, Code
from octogate.octopush.params import decode_pairs, params_from_pairs
from octogate.service import Gateway

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY = 16 * 1024 * 1024
XML = b"text/xml; charset=UTF-8"
JSON = b"application/json; charset=UTF-8"
TEXT = b"text/plain; charset=UTF-8"
ENDPOINTS = {"sms", "balance", "credit"}


def route(path: str) -> tuple[str, bool] | None:
    """`/api/sms`, `/api/sms/`, `/api/sms/json` (and a proxy-style `http://host/api/sms`) → ("sms", json?)."""
    if path.startswith(("http://", "https://")):
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    parts = [part for part in path.split("/") if part]
    if len(parts) < 2 or parts[0] != "api" or parts[1] not in ENDPOINTS:
        return None
    if len(parts) == 2:
        return parts[1], False
    if len(parts) == 3 and parts[2] == "json":
        return parts[1], True
    return None


class UnreadableBody(Exception):
    """A multipart body that cannot be parsed: no parameter of it can be trusted."""


class OctopushApp:
    def __init__(self, gateway: Gateway, *, successes_wrapper: str = "success") -> None:
        self.gateway = gateway
        self.successes_wrapper = successes_wrapper
        self.rest = RestApp(gateway)  # the current REST API, /v1/...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if is_rest_path(scope["path"]):
            await self.rest(scope, receive, send)
            return
        target = route(scope["path"])
        if target is None:
            await respond(send, 404, b"Not found: the API lives under /api/\n", [(b"content-type", TEXT)])
            return
        if scope["method"] not in {"GET", "POST"}:
            await respond(send, 405, b"Use GET or POST\n", [(b"content-type", TEXT), (b"allow", b"GET, POST")])
            return
        endpoint, as_json = target
        try:
            params = await gather_params(scope, receive)
        except ClientDisconnected:
            return  # nobody to answer, and an incomplete request must not be applied
        except (BodyTooLarge, UnreadableBody):
            params = None
        body = await self._answer(params, endpoint, as_json)
        await respond(send, 200, body, [(b"content-type", JSON if as_json else XML)])

    async def answer_form(self, query: bytes, body: bytes, endpoint: str, as_json: bool) -> bytes:
        """The answer to a call whose parameters are its query string and a form-encoded (or empty) body: what
        the HTTP protocol's direct path (`octogate.http.direct`) asks."""
        return await self._answer(form_params(query, body), endpoint, as_json)

    async def _answer(self, params: dict[str, str] | None, endpoint: str, as_json: bool) -> bytes:
        try:
            if params is None:
                raise ApiError(Code.MISSING_PARAMETERS)  # a body over the size limit, or unreadable
            if endpoint == "sms":
                answer = await self.gateway.submit_sms(params)
                if as_json:
                    return answers.sms_json(answer)
                return answers.sms_xml(answer, successes_wrapper=self.successes_wrapper)
            if endpoint == "balance":
                _, balances = await self.gateway.balances(params)
                render = answers.balance_json if as_json else answers.balance_xml
                return render(balances.premium, balances.low_cost)
            account = await self.gateway.credit(params)
            return (answers.credit_json if as_json else answers.credit_xml)(account.balance, account.currency)
        except ApiError as error:
            code = error.code
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("unexpected fault answering /api/%s (reference %s)", endpoint, reference)
            code = Code.UNDEFINED_ERROR
        return answers.error_json(code) if as_json else answers.error_xml(code)


async def gather_params(scope: Scope, receive: Receive) -> dict[str, str]:
    """Query string, then body (the body wins on a clash); empty values are absent fields."""
    body = await read_body(receive, MAX_BODY)
    if body and _header(scope, b"content-type").startswith(b"multipart/form-data"):
        pairs = decode_pairs(scope["query_string"]) if scope["query_string"] else []
        pairs.extend(await _multipart_pairs(scope, body))
        return params_from_pairs(pairs)
    return form_params(scope["query_string"], body)


def form_params(query: bytes, body: bytes) -> dict[str, str]:
    """The parameters of a query string and a form-encoded body (the body wins on a clash)."""
    pairs = decode_pairs(query) if query else []
    if body:
        pairs.extend(decode_pairs(body))
    return params_from_pairs(pairs)


async def _multipart_pairs(scope: Scope, body: bytes) -> list[tuple[str, str]]:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, replay).form(max_files=1000, max_fields=100_000, max_part_size=MAX_BODY)
    except Exception:  # a malformed multipart body: answered 100, never half-read
        log.info("unreadable multipart body (%d bytes)", len(body))
        raise UnreadableBody from None
    pairs: list[tuple[str, str]] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            value = (await value.read()).decode("utf-8", errors="replace")
        pairs.append((name, value))
    await form.close()
    return pairs


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).lower()
    return b""
