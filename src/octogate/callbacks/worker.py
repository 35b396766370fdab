"""The push worker: claims due pushes from the outbox under a lease, POSTs them, records every attempt.

Why it is shaped this way:
* claims go account by account, each account (and each host it was last seen pushing to) holding at most a
  few times the per-host limit in memory: one customer's backlog or dead endpoint never fills the work of
  the others;
* a push takes its host's slot before a global one, so a slow host holds at most `per_host` global slots;
* outcomes are written in batches through the group-commit writer (one statement for many deliveries);
* nothing lives only in memory: a crash leaves claims that come due again when their lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable

import aiohttp

from octogate.callbacks.backoff import next_attempt
from octogate.callbacks.targets import ForbiddenTarget, GuardedResolver, host_key, literal_host_reason
from octogate.config import CallbackSettings
from octogate.store import outbox
from octogate.store.outbox import ClaimedPush, PushResult
from octogate.store.records import StoreUnavailable
from octogate.store.store import Store
from octogate.tasks import cancel_and_wait

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
BODY_LIMIT = 65536  # bytes of a receiver's answer read at most (the rest closes the connection)
FAILING_AFTER = 3  # consecutive failures after which a host gets only `per_host` pushes in memory


class PushWorker:
    def __init__(
        self,
        store: Store,
        settings: CallbackSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or CallbackSettings()
        self.clock = clock
        self.rand = rand
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        #: pushes one account, or one host, may have in memory (claimed, not yet attempted or recorded)
        self.per_account = self.settings.per_host * 4
        self.capacity = self.settings.concurrency * 4
        self.held: set[int] = set()  # claimed by this process, outcome not yet recorded
        self.delivered = 0  # pushes that got a 2xx (tests and the benchmark read it)
        self.attempted = 0
        self._account_load: Counter[int] = Counter()
        self._host_load: Counter[str] = Counter()
        self._account_hosts: dict[int, set[str]] = {}
        self._host_failures: Counter[str] = Counter()
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._global_slots = asyncio.Semaphore(self.settings.concurrency)
        self._in_memory = 0
        self._turn = 0
        self._kick = asyncio.Event()
        self._stopping = False
        self._results: list[PushResult] = []
        self._results_ready = asyncio.Event()
        self._idle = asyncio.Event()  # set while no outcome waits to be recorded
        self._idle.set()
        self._pushes: set[asyncio.Task[None]] = set()
        self._claimer: asyncio.Task[None] | None = None
        self._recorder: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=s.concurrency,
            limit_per_host=s.per_host,
            resolver=GuardedResolver() if s.forbid_private_targets else None,
            ttl_dns_cache=10,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=s.total_timeout, connect=s.connect_timeout),
            headers={"User-Agent": "octogate"},
            trust_env=False,
        )
        self._claimer = asyncio.create_task(self._claim_loop(), name="callbacks-claimer")
        self._recorder = asyncio.create_task(self._record_loop(), name="callbacks-recorder")

    def wake(self) -> None:
        """New pushes may be due: look at the store now rather than at the next poll."""
        self._kick.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Clean stop: claim no more, let pushes in flight finish (up to `grace`), record them, give back
        the rest so another process can take them at once."""
        self._stopping = True
        self._kick.set()
        if self._claimer is not None:  # a claim being written must finish: its rows would wait out the lease
            await asyncio.wait({self._claimer}, timeout=grace)
        await cancel_and_wait(self._claimer)
        if self._pushes:
            await asyncio.wait(set(self._pushes), timeout=grace)
        for task in list(self._pushes):
            await cancel_and_wait(task)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        await cancel_and_wait(self._recorder)
        unrecorded = sorted(self.held)
        if unrecorded:
            with contextlib.suppress(StoreUnavailable):
                await self.store.write(outbox.release, self.owner, unrecorded, self._now())
        if self._session is not None:
            await self._session.close()

    async def abort(self) -> None:
        """Stop at once, recording and giving back nothing: what a crash leaves (tests use it)."""
        for task in [self._claimer, self._recorder, *self._pushes]:
            await cancel_and_wait(task)
        if self._session is not None:
            await self._session.close()

    def _now(self) -> int:
        return int(self.clock())

    # --- claiming ----------------------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        next_renew = time.monotonic() + self.settings.lease_seconds / 3
        while not self._stopping:
            claimed = 0
            try:
                if time.monotonic() >= next_renew:
                    next_renew = time.monotonic() + self.settings.lease_seconds / 3
                    lease = self._now() + self.settings.lease_seconds
                    await self.store.write(outbox.renew, self.owner, sorted(self.held), lease)
                claimed = await self._claim_round()
            except StoreUnavailable as error:
                log.error("callbacks: store unavailable: %.200s", error)
            except Exception as error:  # the claimer must outlive a bug, or pushes would stop for good
                log.exception("callbacks: claim round failed: %.200s", error)
            if claimed or self._stopping:
                continue  # more may be due: claim again at once while there is room
            await self._kicked_or(self.settings.poll_interval)
            self._kick.clear()

    async def _kicked_or(self, seconds: float) -> None:
        """Wait for `wake()` or the timeout. Not asyncio.wait_for: on Python 3.11 a cancel that races the
        event being set can be lost there, and a stop would hang."""
        if self._kick.is_set():
            return
        waiter = asyncio.ensure_future(self._kick.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    def _cap(self, host: str) -> int:
        failing = self._host_failures[host] >= FAILING_AFTER
        return self.settings.per_host if failing else self.per_account

    def _room(self, account_id: int) -> int:
        """How many more pushes of this account may be claimed now (0 while it has more than half its share)."""
        load = self._account_load[account_id]
        cap = self.per_account
        for host in self._account_hosts.get(account_id, ()):
            load = max(load, self._host_load[host])
            cap = min(cap, self._cap(host))
        return 0 if load > cap // 2 else cap - load

    async def _claim_round(self) -> int:
        room = self.capacity - self._in_memory
        if room <= 0:
            return 0
        accounts = await self.store.read(outbox.pending_accounts)
        if not accounts:
            return 0
        start = self._turn % len(accounts)  # who is served first turns, so a full memory is shared in turn
        self._turn += 1
        wanted: dict[int, int] = {}
        for account_id in accounts[start:] + accounts[:start]:
            share = min(self._room(account_id), room)
            if share > 0:
                wanted[account_id] = share
                room -= share
            if room <= 0:
                break
        if not wanted:
            return 0
        self._kick.clear()
        now = self._now()
        pushes = await self.store.write(
            outbox.claim, self.owner, now, now + self.settings.lease_seconds, wanted
        )
        for push in pushes:
            self._hold(push)
        return len(pushes)

    def _hold(self, push: ClaimedPush) -> None:
        host = host_key(push.url) if push.url else ""
        self.held.add(push.id)
        self._in_memory += 1
        self._account_load[push.account_id] += 1
        self._host_load[host] += 1
        self._account_hosts.setdefault(push.account_id, set()).add(host)
        task = asyncio.create_task(self._push(push, host))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    # --- pushing -----------------------------------------------------------------------------------------------

    async def _push(self, push: ClaimedPush, host: str) -> None:
        try:
            status, error = await self._attempt(push, host)
        except Exception as error:  # a bug must not lose the push: it is tried again later
            log.exception("callbacks: push %d failed: %.200s", push.id, error)
            status, error = None, f"internal error: {error}"[:200]
        finally:
            self._in_memory -= 1
            self._account_load[push.account_id] -= 1
            self._host_load[host] -= 1
        self.attempted += 1
        now = self._now()
        if error is None:
            self.delivered += 1
            self._host_failures[host] = 0
            result = PushResult(push.id, "delivered", now, status)
        else:
            self._host_failures[host] += 1
            retry_at = next_attempt(push.attempts + 1, push.horizon_from, now, self.settings, self.rand)
            state = "failed" if retry_at is None else "pending"
            result = PushResult(push.id, state, now, status, error, retry_at)
            log.info(
                "callbacks: %s push %d to %.100s: %.200s (%s)",
                push.kind, push.id, host, error, "gave up" if retry_at is None else "will retry",
            )  # fmt: skip
        self._results.append(result)
        self._idle.clear()
        self._results_ready.set()
        if self._room(push.account_id) > 0:
            self._kick.set()

    async def _attempt(self, push: ClaimedPush, host: str) -> tuple[int | None, str | None]:
        """POST the payload once: (HTTP status or None, None on success or the error, at most 200 chars)."""
        if not push.url:
            return None, f"the account has no {push.kind} URL"
        if self.settings.forbid_private_targets:
            reason = literal_host_reason(push.url)
            if reason:
                return None, reason
        slots = self._host_slots.get(host)
        if slots is None:
            slots = self._host_slots[host] = asyncio.Semaphore(self.settings.per_host)
        async with slots, self._global_slots:
            return await self._post(push.url, push.payload)

    async def _post(self, url: str, payload: str) -> tuple[int | None, str | None]:
        assert self._session is not None
        try:
            async with self._session.post(
                url,
                data=payload.encode("utf-8"),
                headers={"Content-Type": CONTENT_TYPE},
                allow_redirects=False,
            ) as response:
                body = await response.content.read(BODY_LIMIT)
                if 200 <= response.status < 300:
                    return response.status, None
                text = " ".join(body[:120].decode("utf-8", "replace").split())
                return response.status, f"HTTP {response.status}{': ' + text if text else ''}"[:200]
        except TimeoutError:
            return (
                None,
                f"timeout (connect {self.settings.connect_timeout:g} s, total {self.settings.total_timeout:g} s)",
            )
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, ForbiddenTarget):
                return None, str(error.os_error)[:200]
            return None, f"cannot connect: {error.os_error.strerror or error.os_error}"[:200]
        except (aiohttp.ClientError, OSError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"[:200]

    # --- recording ---------------------------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            if not self._results:
                continue
            batch, self._results = self._results, []
            try:
                lost = await self.store.write(outbox.record, self.owner, batch)
            except StoreUnavailable as error:
                log.error("callbacks: cannot record %d push outcome(s): %.200s", len(batch), error)
                self._results = batch + self._results
                await asyncio.sleep(1.0)
                self._results_ready.set()
                continue
            if not self._results:
                self._idle.set()
            if lost:
                log.warning("callbacks: %d push(es) had lost their claim when recorded", len(lost))
            self.held.difference_update(r.id for r in batch)
