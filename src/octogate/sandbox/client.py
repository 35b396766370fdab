"""The Python API of the sandbox, over the simulator's control interface: what the console page, the
`octogate sandbox` commands and the customers' own tests call. Typed: every answer is a named record.

    async with SandboxClient.from_settings(settings) as sandbox:
        listing = await sandbox.conversations()
        await sandbox.reply("+33612345678", "Yes please")
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from octogate.config import Settings, parse_listen

from .model import (
    Book,
    Conversation,
    Listing,
    Outcome,
    Outcomes,
    PhoneMessage,
    SandboxError,
    check_number,
    check_text,
    display_number,
)

#: A long poll may be held this long by the server; the client waits a little more.
POLL_SLACK = 5.0


def control_url(settings: Settings, override: str | None = None) -> str:
    """Where the running gateway's simulator listens for control: ``override`` (host:port or a URL), else
    ``[simulator] control`` (or OCTOGATE_SIMULATOR_CONTROL)."""
    address = override or settings.simulator.control
    if address == "off":
        raise SandboxError("the simulator's control interface is off ([simulator] control = \"off\")")
    if address.startswith(("http://", "https://")):
        return address.rstrip("/")
    host, port = parse_listen(address)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class SandboxClient:
    """One control interface. Every method raises ``SandboxError`` (one line, with the HTTP status) on a
    refusal or when nothing listens there."""

    def __init__(self, base_url: str, *, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, trust_env=False)

    @classmethod
    def from_settings(cls, settings: Settings, override: str | None = None) -> SandboxClient:
        return cls(control_url(settings, override))

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(self, *exc: object | TracebackType) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                    body: dict[str, Any] | None = None, wait: int = 0) -> Any:
        try:
            response = await self._http.request(method, path, params=params, json=body,
                                                timeout=self._timeout + wait + POLL_SLACK)
        except httpx.TransportError as error:
            raise SandboxError(
                f"no sandbox control interface answers at {self.base_url} ({type(error).__name__}): is "
                "`octogate serve` running on the built-in simulator?"
            ) from None
        try:
            data = response.json()
        except ValueError:
            raise SandboxError(f"{self.base_url} answered HTTP {response.status_code}, not JSON: "
                               "is it the simulator's control interface?", response.status_code) from None  # fmt: skip
        if response.status_code >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            raise SandboxError(str(message or f"HTTP {response.status_code}")[:300], response.status_code)
        return data

    @staticmethod
    def _poll(since: int | None, wait: int, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if since is not None:
            params.update(since=since, wait=wait)
        return params

    async def conversations(self, *, since: int | None = None, wait: int = 0, limit: int = 200) -> Listing:
        """Every phone, most recent first. With ``since`` (a listing's ``version``), held up to ``wait``
        seconds until something changes: how a page shows new messages without a reload."""
        data = await self._call("GET", "/conversations", params=self._poll(since, wait, limit), wait=wait)
        return Listing.from_json(data)

    async def conversation(self, number: str, *, since: int | None = None, wait: int = 0,
                           limit: int = 100) -> Conversation:
        path = f"/conversations/{quote(display_number(check_number(number)))}"
        return Conversation.from_json(await self._call("GET", path, params=self._poll(since, wait, limit),
                                                       wait=wait))  # fmt: skip

    async def book(self, *, phones: int = 50, messages: int = 50, since: int | None = None,
                   wait: int = 0) -> Book:
        """The ``phones`` most recently active phones, each with its latest ``messages``, in one call."""
        params: dict[str, Any] = {"phones": phones, "messages": messages}
        if since is not None:
            params.update(since=since, wait=wait)
        return Book.from_json(await self._call("GET", "/book", params=params, wait=wait))

    async def reply(self, number: str, text: str, *, to: str | None = None) -> PhoneMessage:
        """The phone texts back (to whoever texted it last, or ``to``); returns once the gateway acknowledged."""
        body: dict[str, Any] = {"text": check_text(text)}
        if to:
            body["to"] = to
        path = f"/conversations/{quote(display_number(check_number(number)))}/reply"
        return PhoneMessage.from_json((await self._call("POST", path, body=body))["message"])

    async def stop(self, number: str, text: str = "STOP", *, to: str | None = None) -> PhoneMessage:
        body: dict[str, Any] = {"text": check_text(text)}
        if to:
            body["to"] = to
        path = f"/conversations/{quote(display_number(check_number(number)))}/stop"
        return PhoneMessage.from_json((await self._call("POST", path, body=body))["message"])

    async def outcomes(self) -> Outcomes:
        return Outcomes.from_json(await self._call("GET", "/outcome"))

    async def set_outcome(self, outcome: Outcome | None, number: str | None = None) -> Outcomes:
        """The receipts of the next messages (to ``number``, or to every number); None: back to automatic."""
        body: dict[str, Any] = {"outcome": outcome.value if outcome else "auto"}
        if number is not None:
            body["number"] = display_number(check_number(number))
        return Outcomes.from_json(await self._call("POST", "/outcome", body=body))

    async def clear(self) -> None:
        await self._call("DELETE", "/conversations")
