"""A real HTTP receiver on an ephemeral 127.0.0.1 port, recording every push, that can be told to fail, to be
slow (per path), or to be down (its port closed)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from aiohttp import web

from octogate.store.callbacks import enqueue_push
from octogate.store.outbox import set_urls
from octogate.store.store import Store


@dataclass
class Received:
    path: str
    content_type: str
    body: bytes
    fields: dict[str, str]
    at: float


@dataclass
class Receiver:
    status: int = 200
    slow_paths: dict[str, float] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, port: int = 0) -> int:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str = "/push") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        delay = self.slow_paths.get(request.path, 0.0)
        if delay:
            await asyncio.sleep(delay)
        body = await request.read()
        form = await request.post()
        self.received.append(
            Received(request.path, request.headers.get("Content-Type", ""), body,
                     {k: str(v) for k, v in form.items()}, time.monotonic())
        )  # fmt: skip
        self._arrived.set()
        return web.Response(status=self.status, text="ok" if self.status < 300 else "nope, try later")

    def ok_count(self, path: str | None = None) -> int:
        return sum(1 for r in self.received if path is None or r.path == path)

    async def wait_for(self, count: int, within: float = 20.0, path: str | None = None) -> None:
        deadline = time.monotonic() + within
        while self.ok_count(path) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"only {self.ok_count(path)} of {count} pushes arrived"
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.2))


def account_id(store: Store, login: str) -> int:
    with store.connect() as conn:
        row = conn.fetchone("SELECT id FROM accounts WHERE login = ?", (login,))
    assert row is not None
    return int(row[0])


def point(store: Store, login: str, url: str) -> int:
    """Send all three kinds of the account's pushes to `url`; returns the account id."""
    store.run(set_urls, login, {"receipt": url, "stop": url, "reply": url})
    return account_id(store, login)


def enqueue(
    store: Store, account: int, fields: dict[str, str], kind: str = "receipt", now: int | None = None
) -> int:
    pushed = store.run(enqueue_push, account, kind, fields, int(time.time()) if now is None else now)
    assert pushed is not None
    return pushed


def statuses(store: Store) -> dict[int, tuple[str, int, str | None]]:
    with store.connect() as conn:
        rows = conn.fetchall("SELECT id, status, attempts, last_error FROM callbacks ORDER BY id")
    return {int(r[0]): (r[1], int(r[2]), r[3]) for r in rows}


async def until(predicate: object, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
