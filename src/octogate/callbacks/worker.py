"""The push worker: the leased worker (`octogate.worker`) of the outbox; its own job is to POST each push.

Why it is shaped this way:
* claims go account by account, each account (and each host it was last seen pushing to) holding at most a
  few times the per-host limit in memory: one customer's backlog or dead endpoint never fills the work of
  the others;
* a push takes its host's slot before a global one, so a slow host holds at most `per_host` global slots;
* the per-host limit holds across every gateway host: a worker POSTs to a host only within the slots it leased
  from the store (`push_slots`, `per_host` rows per host). Slots are taken in a batch at claim time when the
  worker has pushes for a host, renewed with its leases, and given back once it has had no push for that
  host for a second (`SLOTS_KEPT_IDLE`), so a write per claim round at most and never one per push. The
  price: a worker that dies keeps its slots until their lease runs out (`lease_seconds`), and a host busy on
  one gateway waits on another;
* outcomes are written in batches through the group-commit writer (one statement for many deliveries);
* nothing lives only in memory: a crash leaves claims that come due again when their lease runs out;
* a push owed anywhere (a receipt on any host) wakes the worker at once: the queue's notification.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable

from octogate.callbacks import targets
from octogate.callbacks.backoff import next_attempt
from octogate.callbacks.http1 import ConnectFailed, PushClient
from octogate.callbacks.signing import PushSigner
from octogate.callbacks.targets import ForbiddenTarget, host_key, literal_host_reason, once_per_url
from octogate.config import CallbackSettings
from octogate.statuses import PushStatus
from octogate.store import outbox
from octogate.store.callbacks import content_type
from octogate.store.outbox import ClaimedPush, PushResult
from octogate.store.queue import PUSHES, Want
from octogate.store.records import StoreUnavailable
from octogate.store.store import Store
from octogate.tasks import FifoSemaphore, cancel_and_wait, woken_or
from octogate.worker import LeasedWorker

log = logging.getLogger(__name__)

BODY_LIMIT = 65536  # bytes of a receiver's answer read at most (the rest closes the connection)
FAILING_AFTER = 3  # consecutive failures after which a host gets only `per_host` pushes in memory
#: An account's share of pushes in memory follows its receiver's pace: a claim refills the share at half, so
#: that half must last a claim's round trip through the store (20-150 ms under load). With a fixed 4 x per_host
#: a receiver taking 1,000 pushes/s ran dry every round and the pushes fell seconds behind the receipts
#: (bench/pipeline.py, 20,000 messages: deliver_sm -> push p50 5 s). So half the share holds COVER seconds of
#: the account's measured pace, between SHARE_MIN and SHARE_MAX x per_host: a slow receiver keeps the small
#: share (it holds nothing another host of the cluster could push meanwhile), a fast one gets bigger, fewer
#: claims. What a crash leaves waits out its lease, as before.
COVER = 0.25
SHARE_MIN, SHARE_MAX = 4, 16
PACE_EVERY = 0.5  # seconds between two measures of the accounts' pace
#: seconds a host's slots are kept after its last push: given back the moment its pushes ran out, they had to
#: be taken again (one more store write, 20-150 ms under load, with the claimed pushes waiting) as soon as the
#: next receipts came; meanwhile another gateway host waits this much longer for them
SLOTS_KEPT_IDLE = 1.0


Slots = FifoSemaphore  # the host slots this process holds right now (resized as their leases come and go)


class PushWorker(LeasedWorker[ClaimedPush, PushResult]):
    label = "callbacks"
    release_unfinished = True  # a push cut short is given back: POSTed again at worst, never lost
    #: outcomes go in the next claim's transaction; the recorder waits ten times a claim's coalescing, so that it
    #: takes only what no claim did (no room to claim, or stopping): a delivered push is durable 0.1 s later at
    #: worst (a crash meanwhile POSTs it again), and one commit of two saved (~1 ms of writer CPU each, SQLite)
    record_with_claim = True
    record_coalesce = 0.1

    def __init__(
        self,
        store: Store,
        settings: CallbackSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        owner: str | None = None,
    ) -> None:
        self.settings = settings or CallbackSettings()
        super().__init__(
            store, PUSHES, lease_seconds=self.settings.lease_seconds, poll_interval=self.settings.poll_interval,
            clock=clock, owner=owner,
        )  # fmt: skip
        self.rand = rand
        #: pushes one account, or one host, may have in memory (claimed, not yet attempted or recorded)
        self.per_account = self.settings.per_host * SHARE_MIN  # an account's share until its pace is known
        self.most_per_account = self.settings.per_host * SHARE_MAX
        self.capacity = self.settings.concurrency * SHARE_MAX
        self.delivered = 0  # pushes that got a 2xx (tests and the benchmark read it)
        self.attempted = 0
        self._account_load: Counter[int] = Counter()
        self._shares: dict[int, int] = {}  # accounts whose pace earned more than `per_account`
        self._attempts: Counter[int] = Counter()  # per account since the last measure of the pace
        self._paced_at = time.monotonic()
        self._host_load: Counter[str] = Counter()
        self._account_hosts: dict[int, set[str]] = {}
        self._host_failures: Counter[str] = Counter()
        self._host_pushed: dict[str, float] = {}  # time.monotonic() of each host's last push ended
        self._host_slots: dict[str, Slots] = {}  # leased from the store: the cluster-wide per-host limit
        self._next_slot_renew = 0.0
        self._global_slots = FifoSemaphore(self.settings.concurrency)  # asyncio's scans its waiters per acquire
        self._in_memory = 0
        self._turn = 0
        #: tasks that each push one claimed push after another (a task per push cost ~5 µs more a push)
        self._pushers: set[asyncio.Task[None]] = set()
        self._idle_pushers: list[asyncio.Future[tuple[ClaimedPush, str]]] = []  # each waiting for its next
        self._emptied = asyncio.Event()  # set while no claimed push is in memory
        self._emptied.set()
        self._client: PushClient | None = None
        self._signer = PushSigner(store, clock=clock)  # X-Octogate-Signature, for accounts with a secret
        self._allowed = targets.networks(self.settings.allow_targets)  # private, yet allowed
        self._literal_reasons: dict[str, str | None] = {}  # by URL: `literal_host_reason`
        self._host_keys: dict[str, str] = {}  # by URL: `host_key`

    # --- the worker's hooks ------------------------------------------------------------------------------------

    async def _start_work(self) -> None:
        s = self.settings
        self._client = PushClient(
            connect_timeout=s.connect_timeout, total_timeout=s.total_timeout, keep_per_host=s.per_host,
            guard=s.forbid_private_targets, allowed=self._allowed,
        )  # fmt: skip

    async def _finish_work(self, grace: float) -> None:
        await woken_or(self._emptied, grace)
        await self._abort_work()
        held = {host: slots.size for host, slots in self._host_slots.items() if slots.size}
        if held:
            try:
                await self.store.write(outbox.give_host_slots, self.owner, held)
            except StoreUnavailable as error:  # their lease runs out instead
                log.error("callbacks: cannot give back host slots: %.200s", error)

    async def _claim_round(self) -> int:
        claimed = await super()._claim_round()
        await self._balance_slots()
        return claimed

    async def _balance_slots(self) -> None:
        """Hold as many of each host's slots as this process has pushes for it (at most `per_host`): take the
        missing ones, give them all back once no push for the host was left for SLOTS_KEPT_IDLE, renew the lease
        of the held ones."""
        take: dict[str, int] = {}
        give: dict[str, int] = {}
        idle_since = time.monotonic() - SLOTS_KEPT_IDLE
        for host, slots in self._host_slots.items():
            if not host:
                continue  # pushes with no URL are never POSTed
            needed = min(self.settings.per_host, self._host_load[host])
            if needed > slots.size:
                take[host] = needed - slots.size
            elif not needed and slots.size and self._host_pushed.get(host, 0.0) <= idle_since:
                give[host] = slots.size  # kept while any push for the host is here, and a little after
        if give:
            for host, count in give.items():
                self._host_slots[host].resize(self._host_slots[host].size - count)
            await self.store.write(outbox.give_host_slots, self.owner, give)
        now = self._now()
        if take:
            taken = await self.store.write(
                outbox.take_host_slots, self.owner, take, self.settings.per_host, now, self._lease_until()
            )
            for host, count in taken.items():
                self._host_slots[host].resize(self._host_slots[host].size + count)
        if time.monotonic() >= self._next_slot_renew:
            self._next_slot_renew = time.monotonic() + self.lease_seconds / 3
            await self.store.write(outbox.renew_host_slots, self.owner, self._lease_until())

    async def _abort_work(self) -> None:
        self._idle_pushers.clear()
        for task in list(self._pushers):
            await cancel_and_wait(task)
        if self._client is not None:
            await self._client.close()

    def _claim_op(self) -> Callable[..., list[ClaimedPush]]:
        return outbox.claim_fair

    def _record_op(self) -> Callable[..., list[int]]:
        return outbox.record

    def _want(self) -> Want | None:
        room = self.capacity - self._in_memory
        if room <= 0:
            return None
        self._turn += 1  # who is served first turns, so a full memory is shared in turn
        if time.monotonic() - self._paced_at >= PACE_EVERY:
            self._pace()
        rooms = {account: self._room(account) for account in self._account_hosts}
        return Want(default=self.per_account, rooms=rooms, total=room, turn=self._turn)

    def _take(self, items: list[ClaimedPush]) -> None:
        for push in items:
            self._hold(push)

    def _pace(self) -> None:
        """Each account's share from the pushes it attempted since the last measure (see COVER)."""
        now = time.monotonic()
        elapsed, self._paced_at = now - self._paced_at, now
        attempts, self._attempts = self._attempts, Counter()
        for account in set(self._shares) | set(attempts):
            share = min(self.most_per_account, int(2 * COVER * attempts[account] / elapsed))
            if share > self.per_account:
                self._shares[account] = share
            else:
                self._shares.pop(account, None)

    def _room(self, account_id: int) -> int:
        """How many more pushes of this account may be claimed now (0 while it has more than half its share)."""
        load = self._account_load[account_id]
        cap = self._shares.get(account_id, self.per_account)
        for host in self._account_hosts.get(account_id, ()):
            load = max(load, self._host_load[host])
            if self._host_failures[host] >= FAILING_AFTER:
                cap = min(cap, self.settings.per_host)
        return 0 if load > cap // 2 else cap - load

    def _hold(self, push: ClaimedPush) -> None:
        host = once_per_url(self._host_keys, push.url or "", lambda url: host_key(url) if url else "")  # ~2 µs
        self._slots(host)
        self._in_memory += 1
        self._emptied.clear()
        self._account_load[push.account_id] += 1
        self._host_load[host] += 1
        self._account_hosts.setdefault(push.account_id, set()).add(host)
        while self._idle_pushers:  # the pusher idle last: started at once, as a task of its own would be
            waiting = self._idle_pushers.pop()
            if not waiting.done():
                waiting.set_result((push, host))
                return
        task = asyncio.create_task(self._pusher(push, host))
        self._pushers.add(task)
        task.add_done_callback(self._pushers.discard)

    def _slots(self, host: str) -> Slots:
        """The host's slots, made at its first push (`setdefault(host, Slots())` built one per call: ~0.7 µs)."""
        slots = self._host_slots.get(host)
        if slots is None:
            slots = self._host_slots[host] = Slots()
        return slots

    async def _pusher(self, push: ClaimedPush, host: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._push(push, host)
            waiting: asyncio.Future[tuple[ClaimedPush, str]] = loop.create_future()
            self._idle_pushers.append(waiting)
            push, host = await waiting

    # --- pushing -----------------------------------------------------------------------------------------------

    async def _push(self, push: ClaimedPush, host: str) -> None:
        try:
            status, error = await self._attempt(push, host)
        except Exception as bug:  # a bug must not lose the push: it is tried again later
            log.exception("callbacks: push %d failed: %.200s", push.id, bug)
            # not `as error`: Python unbinds the handler's name when it ends, and `error` is read below
            status, error = None, f"internal error: {bug}"[:200]
        finally:
            self._in_memory -= 1
            if not self._in_memory:
                self._emptied.set()
            self._account_load[push.account_id] -= 1
            self._attempts[push.account_id] += 1
            self._host_load[host] -= 1
            self._host_pushed[host] = time.monotonic()
        self.attempted += 1
        now = self._now()
        if error is None:
            self.delivered += 1
            self._host_failures[host] = 0
            result = PushResult(push.id, PushStatus.DELIVERED, now, status)
        else:
            self._host_failures[host] += 1
            retry_at = next_attempt(push.attempts + 1, push.horizon_from, now, self.settings, self.rand)
            state = PushStatus.FAILED if retry_at is None else PushStatus.PENDING
            result = PushResult(push.id, state, now, status, error, retry_at)
            log.info(
                "callbacks: %s push %d to %.100s: %.200s (%s)",
                push.kind, push.id, host, error, "gave up" if retry_at is None else "will retry",
            )  # fmt: skip
        self.report(result)
        if self._room(push.account_id) > 0 or not self._host_load[host]:
            self.wake()  # room to claim, or this host's slots to give back

    async def _attempt(self, push: ClaimedPush, host: str) -> tuple[int | None, str | None]:
        """POST the payload once: (HTTP status or None, None on success or the error, at most 200 chars)."""
        if not push.url:
            return None, f"the account has no {push.kind} URL"
        if self.settings.forbid_private_targets:
            # ~5 µs a push otherwise; the allowed networks are fixed
            reason = once_per_url(self._literal_reasons, push.url, lambda url: literal_host_reason(url, self._allowed))
            if reason:
                return None, reason
        slots = self._slots(host)
        body = push.payload.encode("utf-8")
        async with slots, self._global_slots:
            signed = await self._signer.headers(push.account_id, body)  # signed when sent: a fresh timestamp
            return await self._post(push.url, body, content_type(push.payload), signed)  # REST pushes are JSON

    async def _post(
        self, url: str, body: bytes, kind: str, signed: dict[str, str]
    ) -> tuple[int | None, str | None]:
        assert self._client is not None
        try:
            status, answer = await self._client.post(url, body, kind, BODY_LIMIT, signed)
        except TimeoutError:
            return (
                None,
                f"timeout (connect {self.settings.connect_timeout:g} s, total {self.settings.total_timeout:g} s)",
            )
        except ForbiddenTarget as error:
            return None, str(error)[:200]
        except ConnectFailed as error:
            return None, f"cannot connect: {error.strerror or error}"[:200]
        except (OSError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"[:200]
        if 200 <= status < 300:
            return status, None
        text = " ".join(answer[:120].decode("utf-8", "replace").split())
        return status, f"HTTP {status}{': ' + text if text else ''}"[:200]
