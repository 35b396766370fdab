"""The gateway's background work — dispatcher, SMPP connectors (and the embedded SMSC simulator), incoming
receipts and texts, the push worker — in a process of its own, supervised by the API process.

Why a second process: on one event loop the delivery side took half of the API's CPU (measured: 5,600 →
2,700 requests/s). Both sides only meet in the store, so they run as two processes, one core each, exactly
as they would on two hosts sharing PostgreSQL. The API process wakes the dispatcher through a pipe after
each accepted campaign; if the API process dies, the pipe closes and this process stops too.

On PostgreSQL the pipe is only the fastest of two wake-ups: every leased worker (dispatcher, pushes) also
LISTENs for the queue's NOTIFY on a connection of its own, so work accepted by any host's API wakes the
workers of every host (`octogate.worker`).

Supervision: the child reports once a second on a second pipe (its metrics and connectors' state, see
`observability.metrics`). A child that dies is started again with a doubling delay (1 s up to 60 s; back to
1 s once one has run for a minute), each death logged with its exit code; /readyz says so meanwhile. A child
that cannot start at all (a route naming an unknown connector, the simulator's port taken...) says why in
one message before it exits: at `serve`'s start that is a start-up failure (one line, non-zero exit),
later it is logged and retried like any death.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.connection import Connection as PipeEnd
from typing import Any

from octogate import heap
from octogate.backoff import doubling
from octogate.callbacks.worker import PushWorker
from octogate.config import Settings
from octogate.dispatch.runtime import Delivery
from octogate.logs import LogSettings, setup_logging
from octogate.observability import metrics, state
from octogate.observability.hooks import WATCH, MeteredPushWorker
from octogate.osnames import name_process
from octogate.store.db import DatabaseURL
from octogate.store.store import Store

log = logging.getLogger(__name__)
STOP_GRACE = 60.0  # more than the dispatcher gives submits in flight (the SMPP response timeout)
REPORT_EVERY = 1.0  # seconds between two reports of the child
START_WAIT = 10.0  # seconds `serve` waits for the child's first report before announcing itself anyway
RESTART_MIN, RESTART_MAX = 1.0, 60.0
STEADY_AFTER = 60.0  # a child that ran this long starts the backoff over
FATAL_EXIT = 3
DELIVERY_LOCK_PAUSE = 0.002  # seconds between two tries for SQLite's write lock, at most (the API's: 0.5 ms)
#: seconds its writes wait for others before a commit on SQLite: fewer commits holding the API's write lock
#: (SMSC acceptances never wait; docs/performance.md "What each setting trades")
DELIVERY_LINGER = 0.020


class DeliveryFailed(Exception):
    """The delivery side could not start: the one-line reason."""


async def run_background(store: Store, settings: Settings) -> tuple[Delivery, PushWorker | None]:
    WATCH.install()
    store.keep_tidy()  # the process that churns the queue tables keeps them vacuumed (PostgreSQL)
    delivery = await Delivery.start(store, settings)
    pushes = MeteredPushWorker(store, settings.callbacks) if settings.callbacks.enabled else None
    if pushes is not None:
        await pushes.start()
    print(delivery.describe(), flush=True)
    log.info("%s", delivery.describe())
    return delivery, pushes


async def stop_background(delivery: Delivery, pushes: PushWorker | None) -> None:
    """Both at once: neither's grace period eats into the other's."""
    queued = len(delivery.dispatcher.queue)
    log.info(
        "delivery stopping: %d submit(s) in flight (given %.0f s to be answered), %d claimed message(s) and "
        "%d push(es) go back to the queue", delivery.dispatcher.in_flight, delivery.dispatcher._default_grace(),
        queued, getattr(pushes, "_in_memory", 0),
    )  # fmt: skip
    await asyncio.gather(delivery.stop(), *([pushes.stop()] if pushes is not None else []))
    log.info("delivery stopped")


class BackgroundProcess:
    """The supervised child process: its wake-up pipe, its reports, its restarts."""

    def __init__(self, settings: Settings, logs: LogSettings | None = None) -> None:
        self.settings = settings
        self.logs = logs or LogSettings()
        self.context = multiprocessing.get_context("spawn")  # the parent has threads: never fork it
        self.child_metrics = metrics.ChildMetrics()
        self.state: dict[str, Any] = {}
        self.process: Any = None
        self.problem: str | None = "delivery process starting"
        self.restarts = 0
        self.last_report = 0.0
        self.fatal: str | None = None
        self.reported = asyncio.Event()  # the current child has reported at least once
        self._writer: PipeEnd | None = None
        self._unread: ctypes.c_byte | None = None  # set by the API while the child has a wake byte to read
        self._reports: PipeEnd | None = None
        self._started_at = 0.0
        self._failures = 0
        self._stopping = False
        self._restart: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the child and wait for its first report; DeliveryFailed when it dies first."""
        self._loop = asyncio.get_running_loop()
        self._spawn()
        died = asyncio.get_running_loop().create_future()
        self._on_death = died
        reported = asyncio.ensure_future(self.reported.wait())
        try:
            await asyncio.wait({reported, died}, timeout=START_WAIT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reported.cancel()
        self._on_death = None
        if died.done():
            raise DeliveryFailed(self.fatal or self.problem or "the delivery process exited")
        if not self.reported.is_set():
            log.warning("the delivery process has not reported within %.0f s: starting anyway", START_WAIT)

    _on_death: asyncio.Future[None] | None = None

    def _spawn(self) -> None:
        wake_reader, self._writer = self.context.Pipe(duplex=False)
        self._reports, report_writer = self.context.Pipe(duplex=False)
        self._unread = self.context.RawValue("b", 0)  # a new child reads no wake of the dead one's
        self.reported.clear()
        self.fatal = None
        self.process = self.context.Process(
            target=_child_main, args=(self.settings, self.logs, wake_reader, report_writer, self._unread),
            name="octogate-delivery",
        )  # fmt: skip
        self.process.start()
        self._started_at = time.monotonic()
        wake_reader.close()
        report_writer.close()
        os.set_blocking(self._writer.fileno(), False)
        assert self._loop is not None
        self._loop.add_reader(self._reports.fileno(), self._read_reports)
        self._loop.add_reader(self.process.sentinel, self._exited)
        self.problem = "delivery process starting"
        self._wake_pending = False

    def _read_reports(self) -> None:
        reports = self._reports
        if reports is None:
            return
        try:
            while reports.poll():
                message = reports.recv_bytes()
                if message.startswith(b"!"):
                    self.fatal = message[1:].decode("utf-8", "replace")[:300]
                    continue
                families, child_state = metrics.decode(message)
                self.child_metrics.update(families)
                self.state = child_state
                self.last_report = time.monotonic()
                if not self.reported.is_set():
                    self.reported.set()
                    metrics.DELIVERY_UP.set(1)
                self.problem = None
        except (EOFError, OSError):
            assert self._loop is not None
            self._loop.remove_reader(reports.fileno())
            self._reports = None

    def _exited(self) -> None:
        assert self._loop is not None and self.process is not None
        self._loop.remove_reader(self.process.sentinel)
        self._read_reports()  # a fatal reason written just before the exit
        if self._reports is not None:
            self._loop.remove_reader(self._reports.fileno())
            self._reports.close()
            self._reports = None
        self.process.join(1)  # reaped: never left defunct
        code = self.process.exitcode
        self.child_metrics.child_died()
        self.state = {}
        metrics.DELIVERY_UP.set(0)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._stopping:
            return
        how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        reason = f"delivery process died ({how})" + (f": {self.fatal}" if self.fatal else "")
        if self._on_death is not None and not self._on_death.done():
            self.problem = reason
            self._on_death.set_result(None)
            return
        ran = time.monotonic() - self._started_at
        self._failures = 0 if ran >= STEADY_AFTER else self._failures + 1
        delay = doubling(self._failures - 1, RESTART_MIN, RESTART_MAX) if self._failures else RESTART_MIN
        self.problem = f"{reason}; restarting in {delay:.0f} s"
        log.error("%s after %.0f s; restarting in %.0f s", reason, ran, delay)
        self._restart = self._loop.call_later(delay, self._restarted)

    def _restarted(self) -> None:
        self._restart = None
        if self._stopping:
            return
        self.restarts += 1
        metrics.DELIVERY_RESTARTS.inc()
        self._spawn()
        self.problem = "delivery process restarting"
        log.warning("delivery process started again (pid %d, restart %d)", self.process.pid, self.restarts)

    def wake(self) -> None:
        """Called after each accepted campaign: one byte per turn of the event loop however many campaigns the
        turn accepted (a group commit answers dozens at once), never blocking (a full pipe is a pending wake),
        and none while the child has not read the last one (`_unread`, in memory both processes share)."""
        if self._wake_pending:
            return
        self._wake_pending = True
        asyncio.get_running_loop().call_soon(self._send_wake)

    def _send_wake(self) -> None:
        """The child clears `_unread` before its dispatcher claims, so a claim that follows an unread wake
        starts after this campaign's commit and takes it: no second byte, no second wake-up of the child (a
        write and a read system call each: 2 % of the API process's CPU under load, py-spy)."""
        self._wake_pending = False
        writer, unread = self._writer, self._unread
        if writer is None or unread is None:
            return  # stopped or restarting meanwhile
        if unread.value:
            return
        unread.value = 1
        with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
            os.write(writer.fileno(), b"w")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive() and self.reported.is_set()

    def stopping(self) -> None:
        """serve is stopping: the child exiting from now on is not a death (Ctrl-C signals every process of
        the group at once, so the child may stop before serve asks it to)."""
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()

    async def stop(self) -> None:
        self.stopping()
        process = self.process
        if process is None:
            return
        if process.is_alive():
            process.terminate()  # SIGTERM: the child stops its loops and unbinds gracefully
        await asyncio.get_running_loop().run_in_executor(None, process.join, STOP_GRACE)
        if process.is_alive():
            log.warning("the delivery process did not stop within %.0f s: killed", STOP_GRACE)
            process.kill()
            process.join()
        if self._loop is not None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(process.sentinel)
            if self._reports is not None:
                self._loop.remove_reader(self._reports.fileno())
                self._reports.close()
                self._reports = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _child_main(settings: Settings, logs: LogSettings, wake: PipeEnd, reports: PipeEnd, unread: ctypes.c_byte) -> None:
    setup_logging(logs, "octogate-delivery")
    name_process("octogate-deliv")  # in ps and top, beside serve and its API workers
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        log.debug("uvloop not installed: using asyncio's default loop")
    try:
        asyncio.run(_child(settings, wake, reports, unread))
    except _Fatal as fatal:
        log.error("the delivery process cannot start: %s", fatal)
        with contextlib.suppress(OSError):
            reports.send_bytes(b"!" + str(fatal).encode())
        raise SystemExit(FATAL_EXIT) from None


class _Fatal(Exception):
    pass


async def _child(settings: Settings, wake: PipeEnd, reports: PipeEnd, unread: ctypes.c_byte) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    # Its writes wait for no customer: on SQLite it tries for the write lock the API process holds less often.
    sqlite = DatabaseURL.parse(settings.database_url).dialect == "sqlite"  # PostgreSQL has no one write lock
    store = Store(settings.database_url, lock_pause=DELIVERY_LOCK_PAUSE, linger=DELIVERY_LINGER if sqlite else 0.0)
    try:
        try:
            delivery, pushes = await run_background(store, settings)
        except Exception as error:  # one line for the parent: why delivery cannot run
            raise _Fatal(_one_line(error)) from None
        heap.settle()

        def woken() -> None:
            try:
                data = os.read(wake.fileno(), 4096)
            except BlockingIOError:
                return
            if not data:  # the API process is gone
                stopping.set()
                return
            unread.value = 0  # before the claim this wake leads to: a campaign accepted from now on wakes again
            delivery.dispatcher.wake()

        os.set_blocking(wake.fileno(), False)
        loop.add_reader(wake.fileno(), woken)
        reporter = asyncio.create_task(_report_loop(delivery, reports, stopping), name="delivery-reports")
        await stopping.wait()
        loop.remove_reader(wake.fileno())
        reporter.cancel()
        await stop_background(delivery, pushes)
    finally:
        store.close()


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.strerror}" + (f" ({error.filename})" if error.filename else "")
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())[:300]


async def _report_loop(delivery: Delivery, reports: PipeEnd, stopping: asyncio.Event) -> None:
    """Once a second: the gauges from the live state, then every delivery metric, to the parent. Sent from a
    thread: a parent slow to read never stalls delivery (a report still being sent skips the next)."""
    loop = asyncio.get_running_loop()
    sending: asyncio.Future[None] | None = None
    while not stopping.is_set():
        WATCH.check()
        if sending is None or sending.done():
            if sending is not None and sending.exception() is not None:
                stopping.set()  # the parent is gone
                return
            live = state.publish(delivery)
            message = metrics.encode(metrics.snapshot(metrics.DELIVERY), live)
            sending = loop.run_in_executor(None, reports.send_bytes, message)
        await asyncio.sleep(REPORT_EVERY)
