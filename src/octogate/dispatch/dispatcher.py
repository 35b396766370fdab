"""The dispatcher: claims due messages under a lease, sends them through the routed connectors, records the
outcome. A loop over the store, so a restart loses nothing.

Three kinds of task share one event loop:
* the claimer takes small slices per account from the store (woken by `wake()` after each accepted campaign,
  else every `poll_interval`), renews the lease of what this process holds, and frees expired leases;
* senders take messages from the `FairQueue` (transactional first, accounts in turn), route, and submit,
  many at once, so that each connector's window stays full;
* the recorder writes outcomes in batches through the group-commit writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping

from octogate.config import DispatchSettings, RouteConfig
from octogate.dispatch.fairqueue import FairQueue
from octogate.dispatch.routing import Router, wire_message
from octogate.dispatch.wire import Attempt, submit
from octogate.incoming.submits import record_outcomes
from octogate.smpp.client import SmppClient
from octogate.smpp.constants import CommandStatus, describe_status
from octogate.store import delivery
from octogate.store.delivery import AcceptedPart, ClaimedMessage, Outcome
from octogate.store.records import StoreUnavailable
from octogate.store.store import Store
from octogate.tasks import cancel_and_wait

log = logging.getLogger(__name__)

SWEEP_EVERY = 5.0  # seconds between two looks for expired leases
MAX_BACKOFF = 300


def backoff(attempts: int) -> int:
    """Seconds before a transient failure is tried again: 5, 10, 20... up to five minutes."""
    return int(min(MAX_BACKOFF, 5 * 2 ** min(max(attempts - 1, 0), 10)))


def receipt_status(command_status: int) -> str:
    """The rulings' mapping of a refused submit to a delivery status."""
    if command_status == CommandStatus.ESME_RINVDSTADR:
        return "INVALID_DESTINATION_ADDRESS"
    return "UNDEFINED"


class Dispatcher:
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
        self.store = store
        self.router = router
        self.clients = dict(clients)
        self.settings = settings or DispatchSettings()
        self.clock = clock
        windows = sum(c.config.window for c in self.clients.values()) or 1
        self.senders = senders or max(16, min(2000, windows + 8))
        #: messages buffered per account at most; a round claims up to this much less what is buffered
        self.per_account = max(self.settings.slice, self.senders)
        self.bind_wait = bind_wait
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.queue = FairQueue()
        self.held: set[int] = set()  # claimed by this process, outcome not yet recorded
        self.in_flight = 0
        self.rounds = 0  # looks at the store for due messages (tests and health checks read it)
        self._kick = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._outcome_ready = asyncio.Event()
        self._settled = asyncio.Event()  # set while nothing is in flight or waiting to be recorded
        self._tasks: list[asyncio.Task[None]] = []
        self._claimer: asyncio.Task[None] | None = None
        self._recorder: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something new may be due (a campaign was accepted): claim now rather than at the next poll."""
        self._kick.set()

    async def start(self) -> None:
        self._claimer = asyncio.create_task(self._claim_loop(), name="dispatch-claimer")
        self._recorder = asyncio.create_task(self._record_loop(), name="dispatch-recorder")
        self._tasks = [
            asyncio.create_task(self._send_loop(), name=f"dispatch-sender-{i}") for i in range(self.senders)
        ]

    async def stop(self, grace: float | None = None) -> None:
        """Clean stop: claim no more, give back what is buffered, let sends in flight finish and be recorded.

        By default sends in flight get as long as an SMSC may take to answer: cancelled on the wire, their
        outcome would be unknown and the message sent again once its lease ran out."""
        if grace is None:
            grace = max([10.0] + [c.config.response_timeout + 5 for c in self.clients.values()])
        await cancel_and_wait(self._claimer)
        buffered = self.queue.drain()
        if buffered:
            with contextlib.suppress(StoreUnavailable):
                await self.store.write(delivery.release, self.owner, [m.id for m in buffered])
            self.held.difference_update(m.id for m in buffered)
        self._update_settled()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), grace)
        for task in self._tasks:
            await cancel_and_wait(task)
        await cancel_and_wait(self._recorder)
        self._tasks = []

    async def abort(self) -> None:
        """Stop at once, recording nothing and giving nothing back: what a crash leaves (tests use it)."""
        for task in [self._claimer, self._recorder, *self._tasks]:
            await cancel_and_wait(task)
        self._tasks = []

    # --- claiming ----------------------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        next_sweep = 0.0
        next_renew = time.monotonic() + self.settings.lease_seconds / 3
        while True:
            try:
                if time.monotonic() >= next_renew:  # renew first: the sweep must never find our own claims
                    next_renew = time.monotonic() + self.settings.lease_seconds / 3
                    await self.store.write(delivery.renew, self.owner, sorted(self.held), self._lease_until())
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_EVERY
                    freed = await self.store.write(delivery.release_expired, self._now(), self.owner)
                    if freed:
                        log.warning("dispatch: %d message(s) whose claim expired are queued again", freed)
                claimed = await self._claim_round()
            except StoreUnavailable as error:
                log.error("dispatch: store unavailable: %.200s", error)
                claimed = 0
            except Exception:  # a bug must not stop delivery for good: logged, and the loop goes on
                log.exception("dispatch: claim round failed")
                claimed = 0
            if claimed:
                continue  # more may be due: claim again at once while there is room
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.settings.poll_interval)
            self._kick.clear()

    async def _claim_round(self) -> int:
        self.rounds += 1
        accounts = await self.store.read(delivery.queued_accounts)
        low = self.per_account // 2
        wanted = {
            account: self.per_account - self.queue.buffered(account)
            for account in accounts
            if self.queue.buffered(account) <= low
        }
        if not wanted:
            return 0
        self._kick.clear()  # what was accepted until now is visible to this claim
        messages = await self.store.write(
            delivery.claim, self.owner, self._now(), self._lease_until(), wanted
        )
        for message in messages:
            self.held.add(message.id)
            self.queue.put(message)
        return len(messages)

    # --- sending -----------------------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            message = await self.queue.get()
            self.in_flight += 1
            self._settled.clear()
            try:
                outcome = await self._deliver(message)
            except Exception as error:  # a bug must not kill the sender: the message is tried again later
                log.exception("dispatch: sending message %d failed: %.200s", message.id, error)
                outcome = self._retry(message, None, f"internal error: {error}"[:200], ())
            finally:
                self.in_flight -= 1
            if self.queue.buffered(message.account_id) <= self.per_account // 2:
                self._kick.set()  # room for this account's next slice
            self._outcomes.append(outcome)
            self._outcome_ready.set()

    async def _deliver(self, message: ClaimedMessage) -> Outcome:
        route = self.router.route(message.sms_type, message.calling_code)
        if route is None:
            return Outcome(
                message.id, "failed", None, receipt_status="UNDEFINED", error="no route for this message"
            )
        client = await self._connector(route, message.done_connector)
        if client is None:
            return self._retry(message, None, "no connector of the route is bound", ())
        attempt = await submit(
            client, wire_message(message, route), message.id, message.done_parts, self.settings.validity_hours
        )
        return self._outcome(message, client.name, attempt)

    async def _connector(self, route: RouteConfig, required: str | None) -> SmppClient | None:
        """The first bound connector of the route (waiting a little for one to bind); parts already sent pin
        the rest of a message to their connector (same segmentation)."""
        names = [required] if required else list(route.connectors)
        candidates = [self.clients[n] for n in names if n in self.clients]
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
                message.id, "failed", connector, attempt.accepted, attempt.total_parts,
                receipt_status=receipt_status(attempt.refused_status),
                error=describe_status(attempt.refused_status)[:200],
            )  # fmt: skip
        return Outcome(message.id, "submitted", connector, attempt.accepted, attempt.total_parts)

    def _retry(
        self, message: ClaimedMessage, connector: str | None, error: str, accepted: tuple[AcceptedPart, ...]
    ) -> Outcome:
        delay = backoff(message.attempts)
        log.info("dispatch: message %d not sent (%.200s); again in %ds", message.id, error, delay)
        return Outcome(message.id, "queued", connector, accepted, error=error, send_at=self._now() + delay)

    # --- recording ---------------------------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            batch, self._outcomes = self._outcomes, []
            if not batch:
                continue
            try:
                lost = await self.store.write(record_outcomes, self.owner, batch, self._now())
            except Exception as error:  # unavailable store, or a bug: the outcomes are kept and retried
                if not isinstance(error, StoreUnavailable):
                    log.exception("dispatch: recording %d outcome(s) failed", len(batch))
                log.error("dispatch: cannot record %d outcome(s), retrying: %.200s", len(batch), error)
                self._outcomes[:0] = batch
                await asyncio.sleep(1.0)
                self._outcome_ready.set()
                continue
            if lost:
                log.warning(
                    "dispatch: %d message(s) had lost their claim (lease expired) when recorded", len(lost)
                )
            self.held.difference_update(o.message_id for o in batch)
            self._update_settled()

    def _update_settled(self) -> None:
        if not self.in_flight and not self._outcomes:
            self._settled.set()

    # --- time --------------------------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _lease_until(self) -> int:
        return self._now() + self.settings.lease_seconds
