"""The gateway's background work — dispatcher, SMPP connectors (and the embedded SMSC simulator), incoming
receipts and texts, the push worker — in a process of its own.

Why a second process: on one event loop the delivery side took half of the API's CPU (measured: 5,600 →
2,700 requests/s). Both sides only meet in the store, so they run as two processes, one core each, exactly
as they would on two hosts sharing PostgreSQL. The API process wakes the dispatcher through a pipe after
each accepted campaign; if the API process dies, the pipe closes and this process stops too.

On PostgreSQL the pipe is only the fastest of two wake-ups: every leased worker (dispatcher, pushes) also
LISTENs for the queue's NOTIFY on a connection of its own, so work accepted by any host's API wakes the
workers of every host (`octogate.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection as PipeEnd

from octogate import heap
from octogate.callbacks.worker import PushWorker
from octogate.config import Settings
from octogate.dispatch.runtime import Delivery
from octogate.store.store import Store

log = logging.getLogger(__name__)
STOP_GRACE = 60.0  # more than the dispatcher gives submits in flight (the SMPP response timeout)


async def run_background(store: Store, settings: Settings) -> tuple[Delivery, PushWorker | None]:
    delivery = await Delivery.start(store, settings)
    pushes = PushWorker(store, settings.callbacks) if settings.callbacks.enabled else None
    if pushes is not None:
        await pushes.start()
    print(delivery.describe(), flush=True)
    return delivery, pushes


async def stop_background(delivery: Delivery, pushes: PushWorker | None) -> None:
    """Both at once: neither's grace period eats into the other's."""
    await asyncio.gather(delivery.stop(), *([pushes.stop()] if pushes is not None else []))


class BackgroundProcess:
    """The child process, and the write end of its wake-up pipe."""

    def __init__(self, settings: Settings) -> None:
        context = multiprocessing.get_context("spawn")  # the parent has threads: never fork it
        reader, self._writer = context.Pipe(duplex=False)
        self.process = context.Process(target=_child_main, args=(settings, reader), name="octogate-background")
        self.process.start()
        reader.close()
        os.set_blocking(self._writer.fileno(), False)
        self._wake_pending = False

    def wake(self) -> None:
        """Called after each accepted campaign: one byte per turn of the event loop however many campaigns the
        turn accepted (a group commit answers dozens at once), never blocking (a full pipe is a pending wake)."""
        if self._wake_pending:
            return
        self._wake_pending = True
        asyncio.get_running_loop().call_soon(self._send_wake)

    def _send_wake(self) -> None:
        self._wake_pending = False
        if self._writer.closed:
            return  # stopped meanwhile
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(self._writer.fileno(), b"w")

    async def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()  # SIGTERM: the child stops its loops and unbinds gracefully
        await asyncio.get_running_loop().run_in_executor(None, self.process.join, STOP_GRACE)
        if self.process.is_alive():
            log.warning("the background process did not stop within %.0f s: killed", STOP_GRACE)
            self.process.kill()
            self.process.join()
        self._writer.close()


def _child_main(settings: Settings, wake: PipeEnd) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        log.debug("uvloop not installed: using asyncio's default loop")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_child(settings, wake))


async def _child(settings: Settings, wake: PipeEnd) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    store = Store(settings.database_url)
    try:
        delivery, pushes = await run_background(store, settings)
        heap.settle()

        def woken() -> None:
            try:
                data = os.read(wake.fileno(), 4096)
            except BlockingIOError:
                return
            if not data:  # the API process is gone
                stopping.set()
                return
            delivery.dispatcher.wake()

        os.set_blocking(wake.fileno(), False)
        loop.add_reader(wake.fileno(), woken)
        await stopping.wait()
        loop.remove_reader(wake.fileno())
        await stop_background(delivery, pushes)
    finally:
        store.close()
