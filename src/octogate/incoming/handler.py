"""The connectors' `on_deliver`: receipts and incoming texts into the store, with the pushes they owe.

The SMPP client acknowledges a deliver_sm only after this returns, and answers an error (so the SMSC delivers it
again) when it raises: every write here is awaited to durability first, and a store failure propagates.
A maintenance loop gives up on long texts whose parts never all arrived (recorded as incomplete) and looks
again for early receipts whose part another process recorded meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, tzinfo

from octogate.incoming.concat import Assembled, Reassembler
from octogate.incoming.keywords import is_stop
from octogate.incoming.receipts import read_receipt
from octogate.smpp.client import DeliverEvent
from octogate.sms.numbers import NumberError, normalise
from octogate.store import incoming
from octogate.store.incoming import IncomingText
from octogate.store.records import StoreUnavailable
from octogate.store.store import Store

log = logging.getLogger(__name__)


def sender_number(source: str) -> str | None:
    """The +E.164 number of an incoming text's sender; None for an alphanumeric or unreadable source."""
    if not source or not any(c.isdigit() for c in source):
        return None
    try:
        return normalise(source).e164
    except NumberError:
        return None


class IncomingHandler:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        receipt_zone: tzinfo = UTC,
        reassembler: Reassembler | None = None,
        maintenance_every: float = 30.0,
        early_retry_after: int = 60,
    ) -> None:
        self.store = store
        self.clock = clock
        self.receipt_zone = receipt_zone
        self.reassembler = reassembler or Reassembler()
        self.maintenance_every = maintenance_every
        self.early_retry_after = early_retry_after
        self.counts: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._maintain(), name="incoming-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def on_deliver(self, event: DeliverEvent) -> None:
        if event.is_receipt:
            await self.receipt(event)
        else:
            await self.text(event)

    async def receipt(self, event: DeliverEvent) -> str:
        update = read_receipt(event, int(self.clock()), zone=self.receipt_zone)
        if update is None:
            log.warning("%s: a receipt without a message id: %.200s", event.connector, event.text)
            return "ignored"
        [outcome] = await self.store.write(incoming.apply_receipts, [update])
        self._count(outcome)
        if outcome == "early":
            log.debug("%s: receipt for unknown id %.64s kept until its part is recorded", event.connector,
                     update.carrier_id)  # fmt: skip
        return outcome

    async def text(self, event: DeliverEvent) -> str | None:
        """One MO part; the kind of the text once it is whole, None while parts are missing."""
        now = int(self.clock())
        if event.concat is not None:
            key = (
                event.connector,
                event.source_addr,
                event.destination_addr,
                event.concat.ref,
                event.concat.total,
            )
            whole = self.reassembler.add(key, event.concat.seq, event.text)
        else:
            whole = Assembled(
                (event.connector, event.source_addr, event.destination_addr, 0, 1), event.text, True
            )
        await self._given_up(now)
        if whole is None:
            return None
        return await self._take(whole, now)

    async def _take(self, whole: Assembled, now: int) -> str:
        connector, source, destination, _, _ = whole.key
        mo = IncomingText(
            connector, source, sender_number(source), destination, whole.text, now, whole.complete
        )
        kind = await self.store.write(incoming.take_text, mo, whole.complete and is_stop(whole.text))
        self._count(f"mo-{kind}")
        log.info("%s: incoming text from %.20s: %s", connector, source, kind)
        return kind

    async def _given_up(self, now: int) -> None:
        for partial in self.reassembler.expired():
            log.warning("%s: long incoming text from %.20s incomplete after %gs: recorded as is",
                        partial.key[0], partial.key[1], self.reassembler.ttl)  # fmt: skip
            await self._take(partial, now)

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(self.maintenance_every)
            try:
                await self._given_up(int(self.clock()))
                found = await self.store.write(
                    incoming.retry_early, int(self.clock()), self.early_retry_after
                )
                if found:
                    log.info("incoming: %d early receipt(s) matched their part on a later look", found)
            except StoreUnavailable as error:
                log.error("incoming: maintenance failed: %.200s", error)
            except Exception:  # a bug must not stop the later looks for good
                log.exception("incoming: maintenance failed")

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
