"""The connectors' `on_deliver`: receipts and incoming texts into the store, with the pushes they owe.

The SMPP client acknowledges a deliver_sm only after this returns, and answers an error (so the SMSC delivers it
again) when it raises: every write here is awaited to durability first, and a store failure propagates.
Receipts delivered together (the client runs many `on_deliver` at once) are applied in one transaction
(`grouping.GroupedWrites`, `apply.apply_receipts`): a few set-based statements for the group, not per receipt.
The parts of a long text are stored as they come (acknowledged only once stored), and the text is taken in the
transaction that stores its last part. A maintenance loop records long texts whose parts never all arrived (as
incomplete), looks again for early receipts whose part another process recorded meanwhile, and makes final
(UNKNOWN_DELIVERY, pushed) the messages whose final receipt has not come within their validity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, tzinfo
from functools import partial
from typing import cast

from octogate.config import DEFAULT_VALIDITY_HOURS
from octogate.incoming import apply, texts
from octogate.incoming.grouping import GroupedWrites
from octogate.incoming.keywords import is_stop
from octogate.incoming.model import IncomingPart, IncomingText, ReceiptUpdate
from octogate.incoming.receipts import read_receipt
from octogate.smpp.client import DeliverEvent
from octogate.smpp.constants import MessageIds
from octogate.sms.numbers import NumberError, normalise
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
        incomplete_after: int = 600,
        maintenance_every: float = 30.0,
        early_retry_after: int = 60,
        validity: int = DEFAULT_VALIDITY_HOURS * 3600,
        expiry_pages: int = 20,
        message_ids: Mapping[str, MessageIds] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.receipt_zone = receipt_zone
        self.incomplete_after = incomplete_after
        self.maintenance_every = maintenance_every
        self.early_retry_after = early_retry_after
        self.validity = validity  # seconds a submitted message waits for its final receipt
        self.expiry_pages = expiry_pages  # batches given up per maintenance round at most
        #: connector name -> in which base its SMSC writes message ids (absent: "auto")
        self.message_ids: Mapping[str, MessageIds] = dict(message_ids or {})
        self.counts: dict[str, int] = {}
        #: receipts delivered together are applied together (one transaction, a few statements)
        self.receipts: GroupedWrites[ReceiptUpdate, apply.Applied] = GroupedWrites(store, apply.apply_receipts)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._maintain(), name="incoming-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def on_deliver(self, event: DeliverEvent) -> Awaitable[object]:
        """A receipt's is a future, not a coroutine: the client waits for it by callback, without a task and a
        chain of coroutines per receipt (the commonest PDU there is)."""
        if event.is_receipt:
            return self.receipt(event)
        return self.text(event)

    def receipt(self, event: DeliverEvent) -> asyncio.Future[str]:
        """The receipt's outcome (`apply.Applied`, or "ignored"), once it is durable: a future to await."""
        update = read_receipt(event, int(self.clock()), zone=self.receipt_zone,
                              message_ids=self.message_ids.get(event.connector, "auto"))  # fmt: skip
        if update is None:
            log.warning("%s: a receipt without a message id: %.200s", event.connector, event.text)
            self.counted_receipt(event, "ignored")
            ignored: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            ignored.set_result("ignored")
            return ignored
        written = cast("asyncio.Future[str]", self.receipts.submit(update))  # an Applied: a StrEnum
        written.add_done_callback(partial(self._receipt_written, event, update.carrier_id))
        return written

    def _receipt_written(self, event: DeliverEvent, carrier_id: str, written: asyncio.Future[str]) -> None:
        if written.cancelled() or written.exception() is not None:
            return
        outcome = written.result()
        self._count(outcome)
        self.counted_receipt(event, outcome)
        if outcome == "early":
            log.debug("%s: receipt for unknown id %.64s kept until its part is recorded", event.connector,
                     carrier_id)  # fmt: skip

    def counted_receipt(self, event: DeliverEvent, outcome: str) -> None:
        """A receipt applied with this outcome (the metrics hang here)."""

    async def text(self, event: DeliverEvent) -> str | None:
        """One MO part; the kind of the text once it is whole, None while parts are missing."""
        now = int(self.clock())
        number = sender_number(event.source_addr)
        if event.concat is None or event.concat.total <= 1:
            mo = IncomingText(event.connector, event.source_addr, number, event.destination_addr, event.text, now)
            kind: str | None = await self.store.write(texts.take_text, mo, is_stop(event.text))
        else:
            part = IncomingPart(
                event.connector, event.source_addr, number, event.destination_addr, event.concat.ref,
                event.concat.total, event.concat.seq, event.text, now,
            )  # fmt: skip
            kind = await self.store.write(texts.take_part, part)
        if kind is not None:
            self._count(f"mo-{kind}")
            log.info("%s: incoming text from %.20s: %s", event.connector, event.source_addr, kind)
        return kind

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(self.maintenance_every)
            try:
                await self.maintain()
            except StoreUnavailable as error:
                log.error("incoming: maintenance failed: %.200s", error)
            except Exception:  # a bug must not stop the later looks for good
                log.exception("incoming: maintenance failed")

    async def maintain(self) -> None:
        """One round: long texts given up on, early receipts looked at again, overdue messages made final."""
        given_up = await self.store.write(
            texts.take_incomplete, int(self.clock()), self.incomplete_after, sender_number
        )
        if given_up:
            log.warning("incoming: %d long text(s) incomplete after %ds: recorded as they are", given_up,
                        self.incomplete_after)  # fmt: skip
        found = await self.store.write(apply.retry_early, int(self.clock()), self.early_retry_after,
                                       self.message_ids)  # fmt: skip
        if found:
            log.info("incoming: %d early receipt(s) matched their part on a later look", found)
        expired = await self.expire()
        if expired:
            log.warning("incoming: %d message(s) without a final receipt after %dh: UNKNOWN_DELIVERY", expired,
                        self.validity // 3600)  # fmt: skip

    async def expire(self) -> int:
        """Messages past their validity made final, in bounded batches (one transaction each)."""
        total = 0
        for _ in range(self.expiry_pages):
            done = await self.store.write(apply.expire_overdue, int(self.clock()), self.validity, apply.EXPIRY_BATCH)
            total += done
            if done < apply.EXPIRY_BATCH:
                break
        return total

    def _count(self, what: str) -> None:
        key = str(what)
        self.counts[key] = self.counts.get(key, 0) + 1
