"""The dispatcher: the leased worker (`octogate.worker`) of messages; its own job is to route and submit.

* claims come per account (`FairQueue` buffers them: transactional first, accounts in turn), and only while at
  least one of this process's connectors is bound: a host with no bound connector leaves the work to hosts
  that have one;
* senders take messages from the `FairQueue`, route, and submit, many at once, so that each connector's window
  stays full; outcomes are recorded in batches by the worker loop.

`clients` is held by reference: connectors added to or removed from the mapping while running are used (or
no longer used) from the next message on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from octogate.backoff import doubling
from octogate.config import DispatchSettings
from octogate.dispatch.fairqueue import FairQueue
from octogate.dispatch.routing import Router, wire_message
from octogate.dispatch.wire import Attempt, submit
from octogate.incoming.submits import push_refusal, record_outcomes
from octogate.incoming.texts import claim_sendable
from octogate.smpp.client import SmppClient
from octogate.smpp.constants import CommandStatus, describe_status
from octogate.statuses import DeliveryStatus, MessageStatus
from octogate.store import connector_pauses, delivery
from octogate.store.db import Connection
from octogate.store.delivery import AcceptedPart, ClaimedMessage, Outcome
from octogate.store.queue import MESSAGES, Want, keys_later
from octogate.store.store import Store
from octogate.tasks import cancel_and_wait, woken_or
from octogate.worker import LeasedWorker

log = logging.getLogger(__name__)

SWEEP_EVERY = 5.0  # seconds between two looks for expired leases
MAX_BACKOFF = 300
ELSEWHERE_DELAY = 1  # seconds before a message this host cannot send is claimable again


def backoff(attempts: int) -> int:
    """Seconds before a transient failure is tried again: 5, 10, 20... up to five minutes."""
    return int(doubling(attempts - 1, 5, MAX_BACKOFF))


def _push_undefined(conn: Connection, message_id: int, now: int) -> None:
    push_refusal(conn, message_id, DeliveryStatus.UNDEFINED, now)


def receipt_status(command_status: int) -> str:
    """The rulings' mapping of a refused submit to a delivery status."""
    if command_status == CommandStatus.ESME_RINVDSTADR:
        return DeliveryStatus.INVALID_DESTINATION_ADDRESS
    return DeliveryStatus.UNDEFINED


class Dispatcher(LeasedWorker[ClaimedMessage, Outcome]):
    label = "dispatch"
    record_coalesce = 0.0  # an SMSC acceptance is recorded at once: what is not durable is sent again after a crash

    def __init__(
        self,
        store: Store,
        router: Router,
        clients: Mapping[str, SmppClient],
        *,
        settings: DispatchSettings | None = None,
        clock: Callable[[], float] = time.time,
        senders: int | None = None,
        bind_wait: float = 2.0,
        owner: str | None = None,
    ) -> None:
        self.settings = settings or DispatchSettings()
        super().__init__(
            store, MESSAGES, lease_seconds=self.settings.lease_seconds, poll_interval=self.settings.poll_interval,
            clock=clock, owner=owner, sweep_every=SWEEP_EVERY,
        )  # fmt: skip
        self.router = router
        self.clients = clients  # by reference: the runtime may add and remove connectors while running
        self.paused: frozenset[str] = frozenset()  # connectors the operator paused (`connector_pauses`)
        self._fixed_senders = senders
        self.senders = self._senders_wanted()
        #: messages buffered per account at most; a round claims up to this much less what is buffered
        self.per_account = max(self.settings.slice, self.senders)
        self.bind_wait = bind_wait
        self.queue = FairQueue()
        self.in_flight = 0
        self._idle = asyncio.Event()  # set while no send is in flight
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []

    def _senders_wanted(self) -> int:
        """Enough senders to fill every connector's window (connectors may be added while running)."""
        if self._fixed_senders:
            return self._fixed_senders
        windows = sum(c.config.window for c in list(self.clients.values())) or 1
        return max(16, min(2000, windows + 8))

    def _add_senders(self) -> None:
        """More senders (and a larger share per account) when connectors were added since the start."""
        wanted = self._senders_wanted()
        if wanted <= self.senders or not self._tasks:
            return
        self._tasks += [
            asyncio.create_task(self._send_loop(), name=f"dispatch-sender-{i}") for i in range(self.senders, wanted)
        ]
        self.senders = wanted
        self.per_account = max(self.settings.slice, self.senders)

    # --- the worker's hooks ------------------------------------------------------------------------------------

    def _want(self) -> Want | None:
        if not any(client.connected for client in list(self.clients.values())):
            return None  # nothing could be sent from here: other hosts may have a bound connector
        self._add_senders()
        low = self.per_account // 2  # an account is topped up once it has sent half of what it had
        rooms = {a: 0 if n > low else self.per_account - n for a, n in self.queue.loads().items()}
        return Want(default=self.per_account, rooms=rooms)

    def _claim_op(self) -> Callable[..., list[ClaimedMessage]]:
        def claim(conn: Connection, owner: str, now: int, lease_until: int, want: Want) -> list[ClaimedMessage]:
            with conn.batch():  # one round trip on PostgreSQL for the two first reads of every claim
                paused = connector_pauses.paused_later(conn)  # the operator's per-connector pause, read at claim time
                waiting = keys_later(conn, MESSAGES)
            self.paused = paused()
            return claim_sendable(conn, owner, now, lease_until, want, waiting())

        return claim

    def _record_op(self) -> Callable[..., list[int]]:
        return record_outcomes

    def _take(self, items: list[ClaimedMessage]) -> None:
        for message in items:
            self.queue.put(message)

    @staticmethod
    def _result_id(result: Outcome) -> int:
        return result.message_id

    def _fallback_op(self, result: Outcome) -> Callable[..., Any]:
        """A message the SMSC accepted (some part of it) must not go back to the queue when its outcome cannot be
        recorded: it would be sent again. It is settled `submitted` with the error instead; its receipts then
        find no part, and it ends UNKNOWN_DELIVERY after its validity, pushed."""
        if result.parts or result.status == MessageStatus.SUBMITTED:
            return delivery.settle_unrecorded
        return super()._fallback_op(result)

    def _failed_columns(self) -> Mapping[str, Any]:
        """A message failed for good because its outcome cannot be recorded ends like a refused one."""
        return {"done_at": self._now(), "receipt_status": DeliveryStatus.UNDEFINED}

    def _on_failed_op(self) -> Callable[[Connection, int, int], object] | None:
        """... and its receipt is pushed (UNDEFINED): the customer is not left waiting for it."""
        return _push_undefined

    def _drain(self) -> list[int]:
        return [m.id for m in self.queue.drain()]

    async def _start_work(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send_loop(), name=f"dispatch-sender-{i}") for i in range(self.senders)
        ]

    def _default_grace(self) -> float:
        """Sends in flight get as long as an SMSC may take to answer: cancelled on the wire, their outcome would
        be unknown and the message sent again once its lease ran out."""
        return max([10.0] + [c.config.response_timeout + 5 for c in list(self.clients.values())])

    async def _finish_work(self, grace: float) -> None:
        await woken_or(self._idle, grace)
        await self._abort_work()

    async def _abort_work(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []

    # --- sending -----------------------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            message = await self.queue.get()
            self.in_flight += 1
            self._idle.clear()
            try:
                outcome = await self._deliver(message)
            except Exception as error:  # a bug must not kill the sender: the message is tried again later
                log.exception("dispatch: sending message %d failed: %.200s", message.id, error)
                outcome = self._retry(message, None, f"internal error: {error}"[:200], ())
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self._idle.set()
            if self.queue.buffered(message.account_id) <= self.per_account // 2:
                self.wake()  # room for this account's next slice
            self.report(outcome)

    async def _deliver(self, message: ClaimedMessage) -> Outcome:
        route = self.router.route(message.sms_type, message.calling_code)
        if route is None:
            return Outcome(
                message.id, MessageStatus.FAILED, None,
                receipt_status=DeliveryStatus.UNDEFINED, error="no route for this message",
            )  # fmt: skip
        names = [message.done_connector] if message.done_connector else list(route.connectors)
        if not any(name in self.clients for name in names):
            # None of the route's connectors is held here (another host holds its binds): not a failure of the
            # message, so no backoff; it is due again shortly and a host that holds one claims it.
            return Outcome(
                message.id, MessageStatus.QUEUED, None, error="no connector of the route is bound on this host",
                send_at=self._now() + ELSEWHERE_DELAY,
            )  # fmt: skip
        client = await self._connector(names)
        if client is None:
            return self._retry(message, None, "no connector of the route is bound (or they are paused)", ())
        attempt = await submit(
            client, wire_message(message, route), message.id, message.done_parts, self.settings.validity_hours
        )
        return self._outcome(message, client.name, attempt)

    async def _connector(self, names: list[str]) -> SmppClient | None:
        """The first bound connector of these (the route's, or the one that parts already sent pin the rest of a
        message to: same segmentation), waiting a little for one to bind."""
        candidates = [self.clients[n] for n in names if n in self.clients and n not in self.paused]
        deadline = time.monotonic() + self.bind_wait
        while True:
            for client in candidates:
                if client.connected:
                    return client
            if time.monotonic() >= deadline or not candidates:
                return None
            await asyncio.sleep(0.05)

    def _outcome(self, message: ClaimedMessage, connector: str, attempt: Attempt) -> Outcome:
        if attempt.retriable is not None:
            return self._retry(message, connector, attempt.retriable, attempt.accepted)
        if attempt.refused_status is not None:
            return Outcome(
                message.id, MessageStatus.FAILED, connector, attempt.accepted, attempt.total_parts,
                receipt_status=receipt_status(attempt.refused_status),
                error=describe_status(attempt.refused_status)[:200],
            )  # fmt: skip
        return Outcome(message.id, MessageStatus.SUBMITTED, connector, attempt.accepted, attempt.total_parts)

    def _retry(
        self, message: ClaimedMessage, connector: str | None, error: str, accepted: tuple[AcceptedPart, ...]
    ) -> Outcome:
        delay = backoff(message.attempts)
        log.info("dispatch: message %d not sent (%.200s); again in %ds", message.id, error, delay)
        return Outcome(
            message.id, MessageStatus.QUEUED, connector, accepted, error=error, send_at=self._now() + delay
        )
