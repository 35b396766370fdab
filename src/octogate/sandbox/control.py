"""The simulator's HTTP control interface: JSON in and out, on loopback, for the console, `octogate sandbox` and
the customers' own tests and CI. It runs on the simulator's event loop (in whichever process runs the
simulator) and reads the simulator's memory, where what each phone received is kept.

Routes (documented in docs/sandbox.md):
    GET  /                                  what this is, the SMPP address, the routes
    GET  /conversations                     every phone, most recent activity first
    GET  /conversations/{number}            one phone's messages (MT reassembled, with parts and receipts)
    GET  /book                              the latest phones, each with its latest messages (for a page)
    POST /conversations/{number}/reply      {"text": ...}: the phone sends a text
    POST /conversations/{number}/stop       {"text"?: "STOP"}: the phone sends STOP
    DELETE /conversations                   forget every conversation and chosen outcome
    GET  /outcome                           the receipt outcomes chosen
    POST /outcome                           {"outcome": delivered|undelivered|rejected|none|auto, "number"?: ...}
The GETs of conversations and the book take ``since=VERSION&wait=SECONDS`` (a long poll: answered as soon as anything
changes after VERSION, or after SECONDS) and ``limit``.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from octogate.smpp.simulator import SmscSimulator

from . import view
from .model import SandboxError, check_number, check_text, display_number, parse_outcome

log = logging.getLogger(__name__)

#: Longest a long poll is held, and how long a phone's text may wait for the gateway's acknowledgement.
MAX_WAIT = 30.0
ACK_WITHIN = 10.0
MAX_BODY = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data, ensure_ascii=False),
                        content_type="application/json")  # fmt: skip


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer is JSON, refusals included; never a stack trace."""
    try:
        return await handler(request)
    except SandboxError as error:
        return answer({"error": str(error)}, error.status or 400)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return answer({"error": error.reason}, error.status)
    except Exception:
        log.exception("sandbox control: %s %s failed", request.method, request.path[:100])
        return answer({"error": "internal error"}, 500)


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@web.middleware
async def same_machine_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No authentication, so no help to a web page the developer happens to visit: a Host that is a domain name
    other than localhost is refused (DNS rebinding), and every POST must say it is JSON (a page cannot send that
    cross-site without a CORS preflight, which is never answered)."""
    host = request.url.host or ""
    if host != "localhost" and not _ip_literal(host):
        return answer({"error": "this interface answers requests to an IP address or localhost only"}, 403)
    if request.method == "POST" and request.content_type != "application/json":
        return answer({"error": "the body is JSON: send Content-Type: application/json"}, 415)
    return await handler(request)


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SandboxError(f"{name}: an integer is needed", 400) from None
    if not low <= value <= high:
        raise SandboxError(f"{name}: between {low} and {high}", 400)
    return value


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        raise SandboxError("the body is not JSON", 400) from None
    if not isinstance(data, dict):
        raise SandboxError("the body is a JSON object", 400)
    return data


class ControlServer:
    """``await start(host, port)`` -> its URL; ``await stop()``."""

    def __init__(self, sim: SmscSimulator, *, ack_within: float = ACK_WITHIN) -> None:
        self.sim = sim
        self.ack_within = ack_within
        self._runner: web.AppRunner | None = None
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application(middlewares=[json_errors, same_machine_only], client_max_size=MAX_BODY)
        app.router.add_get("/", self.about)
        app.router.add_get("/conversations", self.conversations)
        app.router.add_delete("/conversations", self.clear)
        app.router.add_get("/conversations/{number}", self.conversation)
        app.router.add_get("/book", self.book)
        app.router.add_post("/conversations/{number}/reply", self.reply)
        app.router.add_post("/conversations/{number}/stop", self.stop_text)
        app.router.add_get("/outcome", self.outcome)
        app.router.add_post("/outcome", self.set_outcome)
        return app

    async def start(self, host: str, port: int) -> str:
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        try:
            bound = runner.addresses[0]
        except (AttributeError, IndexError):  # a failed listen() under uvloop: see octogate.listen.listening
            await runner.cleanup()
            raise OSError(errno.EADDRINUSE, "address already in use") from None
        self._runner = runner
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{shown}:{bound[1]}"
        return self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # --- routes ---------------------------------------------------------------------------------------
    async def about(self, _request: web.Request) -> web.Response:
        return answer({
            "service": "octogate SMSC simulator: sandbox control interface",
            "smpp": f"{self.sim.config.host}:{self.sim.port}",
            "version": self.sim.version,
            "routes": [f"{r.method} {r.resource.canonical}" for r in _routes(self)],  # type: ignore[union-attr]
        })  # fmt: skip

    async def _long_poll(self, request: web.Request) -> None:
        """With ``since``: wait (up to ``wait`` seconds) until something changed after that version."""
        since = request.query.get("since")
        if since is None:
            return
        after = _int(request, "since", 0, 0, 1 << 62)
        wait = _int(request, "wait", 0, 0, int(MAX_WAIT))
        if wait and self.sim.version <= after:
            with contextlib.suppress(TimeoutError):
                await self.sim.wait_for(lambda: self.sim.version > after, within=wait)

    async def conversations(self, request: web.Request) -> web.Response:
        limit = _int(request, "limit", 200, 1, 10_000)
        await self._long_poll(request)
        return answer(view.listing(self.sim, limit).to_json())

    async def conversation(self, request: web.Request) -> web.Response:
        key = check_number(request.match_info["number"])
        limit = _int(request, "limit", 100, 1, 500)
        await self._long_poll(request)
        return answer(view.conversation(self.sim, key, limit).to_json())

    async def book(self, request: web.Request) -> web.Response:
        phones = _int(request, "phones", 50, 1, 500)
        messages = _int(request, "messages", 50, 1, 500)
        await self._long_poll(request)
        return answer(view.book(self.sim, phones, messages).to_json())

    async def clear(self, _request: web.Request) -> web.Response:
        self.sim.clear_conversations()
        return answer({"cleared": True, "version": self.sim.version})

    async def reply(self, request: web.Request) -> web.Response:
        key = check_number(request.match_info["number"])
        body = await _body(request)
        return await self._send(key, check_text(body.get("text")), body)

    async def stop_text(self, request: web.Request) -> web.Response:
        key = check_number(request.match_info["number"])
        body = await _body(request)
        return await self._send(key, check_text(body.get("text", "STOP")), body)

    async def _send(self, key: str, text: str, body: dict[str, Any]) -> web.Response:
        """The phone sends ``text`` to whoever last texted it (or ``to``), on that message's account."""
        last = self.sim.last_sent_to(key)
        to = body.get("to") or (last.source_addr if last is not None else "")
        if not isinstance(to, str) or not to or len(to) > 20:
            raise SandboxError("to: the address the phone texts is needed (nothing was sent to this number yet)")
        system_id = body.get("system_id") or (last.system_id if last is not None else None)
        if system_id is None and len(self.sim.config.accounts) == 1:
            system_id = next(iter(self.sim.config.accounts))
        if not isinstance(system_id, str) or system_id not in self.sim.config.accounts:
            raise SandboxError("system_id: one of the simulator's accounts is needed", 400)
        if not self.sim.receivers(system_id):
            raise SandboxError(f"no gateway is bound to receive texts as {system_id[:16]!r}", 409)
        try:
            sent = await self.sim.phone_sends(key, to, text, system_id=system_id, within=self.ack_within)
        except TimeoutError:
            raise SandboxError(f"the gateway did not acknowledge the text within {self.ack_within:g} s: "
                               "withdrawn", 504) from None  # fmt: skip
        except ValueError as error:
            raise SandboxError(str(error), 400) from None
        return answer({"message": view.mo_entry(sent).to_json(), "version": self.sim.version})

    async def outcome(self, _request: web.Request) -> web.Response:
        return answer(view.outcomes(self.sim).to_json())

    async def set_outcome(self, request: web.Request) -> web.Response:
        body = await _body(request)
        word = body.get("outcome")
        if not isinstance(word, str):
            raise SandboxError("outcome: delivered, undelivered, rejected, none or auto", 400)
        chosen = parse_outcome(word)
        number = body.get("number")
        if number is not None:
            if not isinstance(number, str):
                raise SandboxError("number: a string", 400)
            number = check_number(number)
        self.sim.set_outcome(chosen.value if chosen else None, number)
        data = view.outcomes(self.sim).to_json()
        if number is not None:
            data["number"] = display_number(number)
        return answer(data)


def _routes(server: ControlServer) -> list[web.AbstractRoute]:
    runner = server._runner
    if runner is None:
        return []
    return [r for r in runner.app.router.routes() if r.method != "HEAD"]

