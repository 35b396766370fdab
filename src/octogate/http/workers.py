"""API worker processes (`[http] workers`): more processes answering the API on `serve`'s one HTTP port.

Why: on PostgreSQL one API process is not CPU-bound but convoy-bound: the requests of one event loop turn
share one account read, then one grouped write and commit, then are answered, and those stages never
overlap. Several processes, each with its own event loop and store connections, overlap them (and use every
core), as several hosts sharing the database would. On SQLite they would only queue behind its one writer:
one process there by default.

How: `serve` (the first API process) hands its listening socket to N-1 spawned workers; the kernel gives
each new connection to whichever process accepts it. A worker answers the API paths (`/api/...`, the REST
API) itself and passes everything else (the console, the probes) to `serve` over a private Unix socket,
with the client's address and scheme, so the console, SMTP, the operator's endpoints and the delivery
process stay in `serve` alone. Each worker sends its metrics once a second (`metrics.API_FOLD` adds them to
`serve`'s) and, on SQLite, a byte after accepted campaigns so that `serve` wakes the delivery process (on
PostgreSQL the campaign's own NOTIFY does). A worker that dies is started again (doubling delay); `serve`
stops its workers when it stops (SIGTERM, then SIGKILL after a grace period), and a worker whose parent is
gone (SIGKILL of `serve`) stops by itself within a second.

Per process, not shared: the wrong-key throttle's counts and `max_connections` (each worker has its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection as PipeEnd
from typing import Any

import httpx
import uvicorn

from octogate import heap
from octogate.asgi import BodyTooLarge, ClientDisconnected, read_body, respond
from octogate.backoff import doubling
from octogate.config import Settings
from octogate.http.app import MAX_BODY, OctopushApp, route
from octogate.http.rest import is_rest_path
from octogate.http.serving import SignalledServer, uvicorn_config
from octogate.logs import LogSettings, setup_logging
from octogate.observability import metrics
from octogate.observability.admin import OperatorEdge
from octogate.observability.hooks import MeteredGateway
from octogate.osnames import name_process
from octogate.sms.numbers import warm
from octogate.store.db import DatabaseURL
from octogate.store.store import Store

log = logging.getLogger(__name__)
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

AUTO_MAX = 4  # processes chosen at most when `workers` is 0 (one per two cores)
REPORT_EVERY = 1.0
START_WAIT = 10.0
STOP_GRACE = 30.0
RESTART_MIN, RESTART_MAX = 1.0, 60.0
STEADY_AFTER = 60.0
CLIENT_HEADER = b"x-octogate-client"  # "host port" of the client, as the worker saw it
SCHEME_HEADER = b"x-octogate-scheme"
HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te", b"trailer", b"upgrade",
    b"content-length",  # set again by the side that sends the body
})  # fmt: skip


def worker_count(settings: Settings) -> int:
    """API processes in all, `serve` included."""
    if settings.limits.workers:
        return settings.limits.workers
    if DatabaseURL.parse(settings.database_url).dialect != "postgresql":
        return 1
    # Half the cores: the delivery process and, most often, PostgreSQL itself need the rest. On 2 cores with
    # both local, a second API process cost more CPU per message end to end (bench/pipeline.py --postgres:
    # 1.36-1.41 against 1.22-1.26 ms) for fewer messages accepted per second while delivering.
    return max(1, min((os.cpu_count() or 1) // 2, AUTO_MAX))


def serves_locally(path: str) -> bool:
    """The API's own paths: what a worker answers without `serve`."""
    return route(path) is not None or is_rest_path(path)


# --- serve's side --------------------------------------------------------------------------------------------------


class Forwarded:
    """`serve`'s private address for what workers pass on: the client's address and scheme restored from the
    worker's headers (trusted: only this host's processes of this user reach the socket's folder)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = []
            for name, value in scope["headers"]:
                if name == CLIENT_HEADER:
                    host, _, port = value.decode("latin-1").rpartition(" ")
                    scope["client"] = (host, int(port)) if port.isdigit() else None
                elif name == SCHEME_HEADER:
                    scope["scheme"] = "https" if value == b"https" else "http"
                else:
                    headers.append((name, value))
            scope["headers"] = headers
        await self.app(scope, receive, send)


async def private_server(app: ASGIApp, address: str) -> uvicorn.Server:
    """`app` served on a Unix socket at `address` (in a folder only this user can enter)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen(1024)
    config = uvicorn.Config(
        app, loop="none", lifespan="off", access_log=False, proxy_headers=False, log_config=None
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    return server


class _Slot:
    """One worker process: its pipes, its metrics, its restarts."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: Any = None
        self.reports: PipeEnd | None = None
        self.wakes: PipeEnd | None = None
        self.metrics = metrics.ChildMetrics()
        self.reported = asyncio.Event()
        self.started_at = 0.0
        self.failures = 0
        self.restart: asyncio.TimerHandle | None = None


class ApiWorkers:
    """The worker processes `serve` supervises, and its private address for what they pass on."""

    def __init__(
        self,
        settings: Settings,
        logs: LogSettings | None,
        http_sock: socket.socket,
        edge: ASGIApp,
        count: int,
    ) -> None:
        self.settings = settings
        self.logs = logs or LogSettings()
        self.http_sock = http_sock
        self.edge = edge
        self.context = multiprocessing.get_context("spawn")  # the parent has threads: never fork it
        self.slots = [_Slot(index) for index in range(1, count)]
        self.on_wake: list[Callable[[], None]] = []
        self._folder = tempfile.mkdtemp(prefix="octogate-api-")  # mode 0700: this user's processes only
        self.address = os.path.join(self._folder, "serve.sock")
        self._internal: uvicorn.Server | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """The private address, then every worker; waits (a while) for each one's first report."""
        self._loop = asyncio.get_running_loop()
        self._internal = await private_server(Forwarded(self.edge), self.address)
        for slot in self.slots:
            metrics.API_FOLD.workers.append(slot.metrics)
            self._spawn(slot)
        waits = [asyncio.ensure_future(slot.reported.wait()) for slot in self.slots]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=START_WAIT)
            for wait in pending:
                wait.cancel()
            if pending:
                log.warning(
                    "%d API worker(s) not ready within %.0f s: starting anyway", len(pending), START_WAIT
                )

    def _spawn(self, slot: _Slot) -> None:
        assert self._loop is not None
        slot.reports, report_writer = self.context.Pipe(duplex=False)
        slot.wakes, wake_writer = self.context.Pipe(duplex=False)
        slot.reported.clear()
        slot.process = self.context.Process(
            target=_worker_main, name=f"octogate-api-{slot.index}",
            args=(self.settings, self.logs, slot.index, self.http_sock, self.address, report_writer, wake_writer),
        )  # fmt: skip
        slot.process.start()
        slot.started_at = time.monotonic()
        report_writer.close()
        wake_writer.close()
        os.set_blocking(slot.wakes.fileno(), False)
        self._loop.add_reader(slot.reports.fileno(), self._read_reports, slot)
        self._loop.add_reader(slot.wakes.fileno(), self._read_wakes, slot)
        self._loop.add_reader(slot.process.sentinel, self._exited, slot)

    def _read_reports(self, slot: _Slot) -> None:
        reports = slot.reports
        if reports is None:
            return
        try:
            while reports.poll():
                families, _ = metrics.decode(reports.recv_bytes())
                slot.metrics.update(families)
                slot.reported.set()
        except (EOFError, OSError):
            self._close_pipes(slot)

    def _read_wakes(self, slot: _Slot) -> None:
        if slot.wakes is None:
            return
        try:
            data = os.read(slot.wakes.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_pipes(slot)
            return
        for listener in self.on_wake:
            listener()

    def _close_pipes(self, slot: _Slot) -> None:
        assert self._loop is not None
        for end in (slot.reports, slot.wakes):
            if end is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._loop.remove_reader(end.fileno())
                end.close()
        slot.reports = slot.wakes = None

    def _exited(self, slot: _Slot) -> None:
        assert self._loop is not None and slot.process is not None
        self._loop.remove_reader(slot.process.sentinel)
        self._read_reports(slot)  # its last counts, if it said them before it went
        self._close_pipes(slot)
        slot.process.join(1)  # reaped: never left defunct
        slot.metrics.child_died()
        if self._stopping:
            return
        code = slot.process.exitcode
        ran = time.monotonic() - slot.started_at
        slot.failures = 0 if ran >= STEADY_AFTER else slot.failures + 1
        delay = doubling(slot.failures - 1, RESTART_MIN, RESTART_MAX) if slot.failures else RESTART_MIN
        log.error(
            "API worker %d died (exit code %s) after %.0f s; restarting in %.0f s",
            slot.index,
            code,
            ran,
            delay,
        )
        slot.restart = self._loop.call_later(delay, self._restarted, slot)

    def _restarted(self, slot: _Slot) -> None:
        slot.restart = None
        if not self._stopping:
            self._spawn(slot)
            log.warning("API worker %d started again (pid %d)", slot.index, slot.process.pid)

    @property
    def pids(self) -> list[int]:
        return [
            slot.process.pid for slot in self.slots if slot.process is not None and slot.process.is_alive()
        ]

    def stopping(self) -> None:
        """serve is stopping: a worker that exits from now on is not a death (Ctrl-C signals every process of
        the group at once, so a worker may stop before serve asks it to)."""
        self._stopping = True
        for slot in self.slots:
            if slot.restart is not None:
                slot.restart.cancel()

    async def stop(self) -> None:
        """Every worker finishes the requests it has (SIGTERM), killed after STOP_GRACE; then the address."""
        self.stopping()
        loop = asyncio.get_running_loop()
        for slot in self.slots:
            if slot.process is not None and slot.process.is_alive():
                slot.process.terminate()
        for slot in self.slots:
            process = slot.process
            if process is None:
                continue
            await loop.run_in_executor(None, process.join, STOP_GRACE)
            if process.is_alive():
                log.warning("API worker %d did not stop within %.0f s: killed", slot.index, STOP_GRACE)
                process.kill()
                process.join()
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(process.sentinel)
            self._read_reports(slot)
            self._close_pipes(slot)
            slot.metrics.child_died()
        if self._internal is not None:
            await self._internal.shutdown()
        shutil.rmtree(self._folder, ignore_errors=True)


# --- the worker's side ---------------------------------------------------------------------------------------------


class Proxy:
    """Passes a request to `serve`'s private address and its answer back, streamed."""

    def __init__(self, address: str) -> None:
        self.client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=address),
            timeout=httpx.Timeout(120.0),
            follow_redirects=False,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            await respond(send, 413, b"Request body too large\n", [(b"content-type", b"text/plain")])
            return
        except ClientDisconnected:
            return
        headers = [
            (n, v) for n, v in scope["headers"] if n not in HOP_BY_HOP and not n.startswith(b"x-octogate-")
        ]
        client = scope.get("client")
        if client:
            headers.append((CLIENT_HEADER, f"{client[0]} {client[1]}".encode("latin-1")))
        headers.append((SCHEME_HEADER, scope.get("scheme", "http").encode("latin-1")))
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        url = httpx.URL(scheme="http", host="octogate", raw_path=target)
        request = self.client.build_request(scope["method"], url, headers=headers, content=body)
        try:
            answer = await self.client.send(request, stream=True)
        except httpx.HTTPError as error:
            log.warning("cannot pass %s on to serve: %.200s", scope["path"][:100], error)
            await respond(send, 502, b"Bad gateway\n", [(b"content-type", b"text/plain")])
            return
        try:
            await send({"type": "http.response.start", "status": answer.status_code,
                        "headers": [(n, v) for n, v in answer.headers.raw if n.lower() not in HOP_BY_HOP]})  # fmt: skip
            async for chunk in answer.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await answer.aclose()

    async def close(self) -> None:
        await self.client.aclose()


class WorkerEdge:
    """A worker's HTTP edge: the API here (counted, as `serve` counts its own), everything else to `serve`
    (counted there)."""

    def __init__(self, api: ASGIApp, proxy: ASGIApp) -> None:
        self.api = api
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if serves_locally(scope["path"]):
            await self.api(scope, receive, send)
        else:
            await self.proxy(scope, receive, send)


class _Waker:
    """One byte to `serve` per event loop turn that accepted campaigns (`serve` wakes the delivery process)."""

    def __init__(self, pipe: PipeEnd) -> None:
        self.pipe = pipe
        self.pending = False
        os.set_blocking(pipe.fileno(), False)

    def wake(self) -> None:
        if not self.pending:
            self.pending = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self.pending = False
        with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
            os.write(self.pipe.fileno(), b"w")


def _worker_main(
    settings: Settings, logs: LogSettings, index: int, sock: socket.socket, address: str, reports: PipeEnd,
    wakes: PipeEnd,
) -> None:  # fmt: skip
    setup_logging(logs, f"octogate-api-{index}")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # see _WorkerServer
    name_process(f"octogate-api-{index}")  # which of serve's children is which, in ps and top
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        log.debug("uvloop not installed: using asyncio's default loop")
    asyncio.run(_worker(settings, sock, address, reports, wakes))


async def _worker(
    settings: Settings, sock: socket.socket, address: str, reports: PipeEnd, wakes: PipeEnd
) -> None:
    warm()
    store = Store(settings.database_url)
    proxy = Proxy(address)
    try:
        app = OctopushApp(MeteredGateway(store, settings.rules), successes_wrapper=settings.successes_wrapper)
        # PostgreSQL's NOTIFY, sent with each campaign, wakes the delivery process already.
        if store.url.dialect != "postgresql":
            app.gateway.on_accepted.append(_Waker(wakes).wake)
        server = _WorkerServer(
            uvicorn_config(WorkerEdge(OperatorEdge(app, None, frozenset()), proxy), settings, api=app)
        )
        heap.settle()
        reporter = _Reporter(server, reports)
        task = asyncio.create_task(reporter.run(), name="api-worker-reports")
        try:
            await server.serve(sockets=[sock])
        finally:
            task.cancel()
            await reporter.last()
    finally:
        await proxy.close()
        store.close()


class _WorkerServer(SignalledServer):
    """Stopped by serve (SIGTERM) only: Ctrl-C in a terminal reaches the whole process group, and serve stops
    its workers itself once it has stopped accepting (a worker gone first would be restarted)."""

    signals = (signal.SIGTERM,)


class _Reporter:
    """Once a second: this worker's `API` metrics to `serve` (sent from a thread: a slow reader never stalls
    the API); a parent gone (SIGKILL of `serve`) stops the worker."""

    def __init__(self, server: uvicorn.Server, reports: PipeEnd) -> None:
        self.server = server
        self.reports = reports
        self.sending: asyncio.Future[None] | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        parent = os.getppid()
        while True:
            sending = self.sending
            if os.getppid() != parent or (sending is not None and sending.done() and sending.exception()):
                log.warning("serve is gone: this API worker stops")
                self.server.should_exit = True
                return
            if sending is None or sending.done():
                message = metrics.encode(metrics.snapshot(metrics.API), {})
                self.sending = loop.run_in_executor(None, self.reports.send_bytes, message)
            await asyncio.sleep(REPORT_EVERY)

    async def last(self) -> None:
        """The final counts, after any report still being sent: a clean stop loses none."""
        if self.sending is not None:
            with contextlib.suppress(Exception):
                await self.sending
        with contextlib.suppress(OSError):
            self.reports.send_bytes(metrics.encode(metrics.snapshot(metrics.API), {}))
