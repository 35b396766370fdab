"""The one leased-worker loop: claim due work from the queue, hold it under a lease, record results.

The dispatcher (route and submit) and the push worker (POST) are subclasses that keep only their own job;
everything about leases lives here, once:
* a claimer claims when the job has room (`_want`), renews the lease of what this process holds, and takes
  over expired leases; between rounds it waits for a wake-up or the poll interval;
* wake-ups: `wake()` in this process, the queue's local notifications on SQLite, and on PostgreSQL a LISTEN
  on a dedicated connection, so work accepted on any host is claimed here at once;
* a recorder writes results in batches through the group-commit writer; if a batch fails for any other reason
  than an unavailable store (a statement the database refused included) it is recorded item by item, and an
  item that still fails is logged and given back to the queue for a later attempt, its attempt counted; the
  `record_tries`-th time in a row it is failed for good with the error as its reason: a bad item never stops
  the loop, never blocks the others, and is not attempted forever (a push POSTed every lease);
* `stop` claims no more, gives back what is buffered, lets the work in flight finish and be recorded;
  `abort` stops at once (what a crash leaves: the leases run out).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import sql

from octogate.store import queue
from octogate.store.db import Connection
from octogate.store.queue import QueueSpec, Want
from octogate.store.records import StoreUnavailable
from octogate.store.store import Store
from octogate.tasks import cancel_and_wait, woken_or

log = logging.getLogger(__name__)

T = TypeVar("T")  # a claimed item
R = TypeVar("R")  # the result of working on one
SWEEP_EVERY = 5.0  # seconds between two looks for expired leases
RECORD_RETRY = 1.0  # seconds before results are written again when the store was unavailable
LISTEN_RETRY = (0.1, 5.0)  # seconds between two attempts to (re)open the LISTEN connection: min, max
#: times in a row an item's result may fail to be recorded before the item is failed for good (neither kind has
#: an attempt limit of its own: messages retry until their validity, pushes until their horizon, 48 h)
RECORD_TRIES = 3


def new_owner() -> str:
    """Names this process in `claimed_by` and in bind leases: `hostname:pid:random` (a restarted pid is someone
    else; a later run on the same machine can tell whether it is dead)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def dead_local_owner(owner: str, hostname: str) -> bool:
    """An owner that was a process of this machine which no longer exists (this host's earlier run)."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or parts[0] != hostname[:60]:
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False  # this process (another runtime of it, in tests): alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's process: alive
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet (a SIGKILLed serve's delivery process, until init reaps
    it): dead, though `kill(pid, 0)` still finds it. Linux only; elsewhere such a process counts as alive."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class LeasedWorker(Generic[T, R]):
    """Claims items of one queue kind and records their results; subclasses do the work in between."""

    #: what a clean stop does with items held but whose result was never recorded (their work was cut short):
    #: give them back at once (a push may be POSTed twice), or leave them to their lease (an unanswered
    #: submit_sm may have gone out: the lease's wait is what keeps a message from going twice at once)
    release_unfinished = False
    label = "worker"  # in logs
    #: after a claim that found work, or a wake-up, the claimer lets this long pass before claiming again: one
    #: claim (one transaction) takes what a burst of enqueues made due, instead of one claim per commit
    claim_coalesce = 0.010
    #: the recorder lets results gather this long before writing them (0: at once, e.g. SMSC acceptances,
    #: whose durability bounds what a crash sends twice)
    record_coalesce = 0.010
    #: batches of results being written at once
    record_writes = 1
    #: results waiting when a claim is written go in the claim's own write (one transaction for both, not two:
    #: a commit costs the delivery process ~1 ms of CPU on SQLite); the recorder takes what no claim took
    record_with_claim = False
    #: see RECORD_TRIES
    record_tries = RECORD_TRIES

    def __init__(
        self,
        store: Store,
        spec: QueueSpec,
        *,
        lease_seconds: int,
        poll_interval: float,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        sweep_every: float = SWEEP_EVERY,
        listen: bool = True,
    ) -> None:
        self.store = store
        self.spec = spec
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.clock = clock
        self.owner = owner or new_owner()
        self.sweep_every = sweep_every
        self.listen = listen and store.url.dialect == "postgresql"
        self.held: set[int] = set()  # claimed by this process, result not yet recorded
        self.rounds = 0  # looks at the store for due work (tests and health checks read it)
        self.listening = asyncio.Event()  # set while the LISTEN connection is open (PostgreSQL)
        self._kick = asyncio.Event()
        self._stopping = False
        self._results: list[R] = []
        self._reported_at: list[float] = []  # time.monotonic() of each result's report
        self._record_tasks: set[asyncio.Task[None]] = set()
        self._results_ready = asyncio.Event()
        self._recorded = asyncio.Event()  # set while no result waits to be recorded
        self._recorded.set()
        self._recording_in_claim = 0  # results taken by the claim being written (`record_with_claim`)
        self._claimer: asyncio.Task[None] | None = None
        self._recorder: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # --- what a subclass provides -------------------------------------------------------------------------------

    def _want(self) -> Want | None:
        """How much to claim now, per key; None when there is no room (or no way to do the work)."""
        raise NotImplementedError

    def _claim_op(self) -> Callable[..., list[T]]:
        """The store operation `(conn, owner, now, lease_until, want) -> items` (the kind's claim)."""
        raise NotImplementedError

    def _record_op(self) -> Callable[..., list[int]]:
        """The store operation `(conn, owner, results, now) -> ids whose claim was lost`."""
        raise NotImplementedError

    def _take(self, items: list[T]) -> None:
        """Hand claimed items to the job."""
        raise NotImplementedError

    @staticmethod
    def _item_id(item: T) -> int:
        return int(item.id)  # type: ignore[attr-defined]

    @staticmethod
    def _result_id(result: R) -> int:
        return int(result.id)  # type: ignore[attr-defined]

    def _drain(self) -> list[int]:
        """Items claimed but not started, removed from the job (a clean stop gives them back)."""
        return []

    async def _start_work(self) -> None:
        """Start the job's own tasks."""

    async def _finish_work(self, grace: float) -> None:
        """Let the work in flight finish (up to `grace`), then cancel what is left."""

    async def _abort_work(self) -> None:
        """Cancel the job's own tasks at once."""

    def _default_grace(self) -> float:
        return 5.0

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def wake(self) -> None:
        """New work may be due: claim now rather than at the next poll."""
        self._kick.set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.store.url.dialect == "sqlite":

            def notified() -> None:  # from the writer thread; a wake already pending covers this one too
                if not self._kick.is_set():
                    loop.call_soon_threadsafe(self.wake)

            self._unsubscribe = queue.on_notify(self.spec, notified)
        if self.listen:
            self._listener = asyncio.create_task(self._listen_loop(), name=f"{self.label}-listener")
        await self._take_over_dead_local_runs()
        await self._start_work()
        self._claimer = asyncio.create_task(self._claim_loop(), name=f"{self.label}-claimer")
        self._recorder = asyncio.create_task(self._record_loop(), name=f"{self.label}-recorder")

    async def stop(self, grace: float | None = None) -> None:
        """Clean stop: claim no more, give back what is buffered, let work in flight finish (up to `grace`)
        and be recorded."""
        if grace is None:
            grace = self._default_grace()
        self._stopping = True
        self._kick.set()
        if self._claimer is not None:  # a claim being written must finish: its rows would wait out the lease
            await asyncio.wait({self._claimer}, timeout=grace)
        await cancel_and_wait(self._claimer)
        await self._give_back(self._drain())
        await self._finish_work(grace)
        await woken_or(self._recorded, grace)
        await cancel_and_wait(self._recorder)
        for task in list(self._record_tasks):
            await cancel_and_wait(task)
        await self._quiet()
        if self.release_unfinished:
            await self._give_back(sorted(self.held))

    async def abort(self) -> None:
        """Stop at once, recording and giving back nothing: what a crash leaves (tests use it)."""
        self._stopping = True
        for task in (self._claimer, self._recorder, *self._record_tasks):
            await cancel_and_wait(task)
        await self._abort_work()
        await self._quiet()

    async def _quiet(self) -> None:
        await cancel_and_wait(self._listener)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def _give_back(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        try:
            await self.store.write(queue.release, self.spec, self.owner, list(ids), self._now())
        except StoreUnavailable as error:  # their lease will run out instead
            log.error("%s: cannot give back %d item(s): %.200s", self.label, len(ids), error)
        self.held.difference_update(ids)

    async def _take_over_dead_local_runs(self) -> None:
        """Claims left by a dead earlier run of this machine (a crash, a SIGKILL) are taken over at once rather
        than after their lease: that process is known to be gone, so nothing of it is still being sent."""
        hostname = socket.gethostname()
        try:
            owners = await self.store.read(queue.owners, self.spec)
            dead = [owner for owner in owners if owner != self.owner and dead_local_owner(owner, hostname)]
            freed = await self.store.write(queue.take_over_from, self.spec, dead, self._now()) if dead else 0
            if freed:
                log.warning("%s: %d item(s) claimed by an earlier run of this host taken over", self.label, freed)
        except StoreUnavailable as error:
            log.error("%s: cannot look for claims of an earlier run: %.200s", self.label, error)

    # --- claiming ----------------------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        next_sweep = 0.0
        next_renew = time.monotonic() + self.lease_seconds / 3
        while not self._stopping:
            claimed = 0
            try:
                if time.monotonic() >= next_renew:  # renew first: the sweep must never find our own claims
                    next_renew = time.monotonic() + self.lease_seconds / 3
                    await self.store.write(
                        queue.renew, self.spec, self.owner, sorted(self.held), self._lease_until()
                    )
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_every
                    await self._take_over_dead_local_runs()  # one that was not dead yet at start
                    freed = await self.store.write(queue.take_over_expired, self.spec, self._now(), self.owner)
                    if freed:
                        log.warning("%s: %d item(s) whose claim expired are claimable again", self.label, freed)
                claimed = await self._claim_round()
            except StoreUnavailable as error:
                log.error("%s: store unavailable: %.200s", self.label, error)
            except Exception:  # a bug must not stop the work for good: logged, and the loop goes on
                log.exception("%s: claim round failed", self.label)
            if self._stopping:
                continue
            if not claimed:
                await woken_or(self._kick, self.poll_interval)
            if self.claim_coalesce and not self._stopping:  # more may be due: claim again once some gathered
                await asyncio.sleep(self.claim_coalesce)
            self._kick.clear()

    async def _claim_round(self) -> int:
        self.rounds += 1
        want = self._want()
        if want is None:
            return 0
        self._kick.clear()  # what was enqueued until now is visible to this claim
        now = self._now()
        if self.record_with_claim and self._results:
            items = await self._record_and_claim(now, want)
        else:
            items = await self.store.write(self._claim_op(), self.owner, now, now + self.lease_seconds, want)
        self.held.update(self._item_id(item) for item in items)
        if items:
            self._take(items)
        return len(items)

    async def _record_and_claim(self, now: int, want: Want) -> list[T]:
        """The results waiting, recorded in the claim's transaction. If that write fails, the results go to the
        recorder (which records a failing batch item by item) and the failure to the claim loop."""
        batch, self._results = self._results, []
        reported, self._reported_at = self._reported_at, []
        self._recording_in_claim += len(batch)
        try:
            lost, items = await self.store.write(
                _record_then_claim, self._record_op(), self._claim_op(), self.owner, batch, now,
                now + self.lease_seconds, want,
            )  # fmt: skip
        except BaseException:
            self._results[:0] = batch
            self._reported_at[:0] = reported
            self._results_ready.set()
            raise
        finally:
            self._recording_in_claim -= len(batch)
        self._written(batch, reported, lost)
        if not self._results and not self._record_tasks and not self._recording_in_claim:
            self._recorded.set()
        return items

    # --- wake-ups from other hosts -----------------------------------------------------------------------------

    async def _listen_loop(self) -> None:
        """LISTEN on this kind's channel (in this schema) on a dedicated connection; wake at each NOTIFY. The
        connection is reopened if it breaks, with a wake-up (a notification may have been missed)."""
        delay = LISTEN_RETRY[0]
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.store.url.target, autocommit=True) as conn:
                    cursor = await conn.execute(f"SELECT {queue.CHANNEL_SQL.replace('?', '%s')}", (self.spec.name,))
                    row = await cursor.fetchone()
                    assert row is not None
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(row[0])))
                    self.listening.set()
                    self.wake()
                    delay = LISTEN_RETRY[0]
                    async for _ in conn.notifies():
                        self.wake()
            except psycopg.Error as error:
                log.warning("%s: LISTEN connection lost (%.200s); wake-ups by polling meanwhile", self.label, error)
            finally:
                self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, LISTEN_RETRY[1])

    # --- recording ---------------------------------------------------------------------------------------------

    def report(self, result: R) -> None:
        """The job's result for one claimed item: recorded in the next batch."""
        self._results.append(result)
        self._reported_at.append(time.monotonic())
        self._recorded.clear()
        self._results_ready.set()

    async def _record_loop(self) -> None:
        """Take what was reported and write it; up to `record_writes` batches in flight at once, so that a result
        reported while a batch is being committed goes to the writer at once instead of after that commit (the
        writer commits the waiting batches together)."""
        while True:
            await self._results_ready.wait()
            if self.record_coalesce and not self._stopping:
                await asyncio.sleep(self.record_coalesce)
            self._results_ready.clear()
            while len(self._record_tasks) >= self.record_writes:
                await asyncio.wait(set(self._record_tasks), return_when=asyncio.FIRST_COMPLETED)
            batch, self._results = self._results, []
            reported, self._reported_at = self._reported_at, []
            if batch:
                task = asyncio.create_task(self._record_batch(batch, reported), name=f"{self.label}-record")
                self._record_tasks.add(task)
                task.add_done_callback(self._record_done)
            elif not self._record_tasks and not self._recording_in_claim:
                self._recorded.set()

    def _record_done(self, task: asyncio.Task[None]) -> None:
        self._record_tasks.discard(task)
        if not self._results and not self._record_tasks and not self._recording_in_claim:
            self._recorded.set()

    async def _record_batch(self, batch: list[R], reported: list[float]) -> None:
        try:
            lost, kept = await self._record(batch), []
        except StoreUnavailable as error:
            log.error("%s: cannot record %d result(s), retrying: %.200s", self.label, len(batch), error)
            lost, kept = [], batch
        self._written([] if kept else batch, [] if kept else reported, lost)
        if kept:
            await asyncio.sleep(RECORD_RETRY)
            self._results[:0] = kept
            self._reported_at[:0] = reported
            self._recorded.clear()
            self._results_ready.set()

    def _written(self, batch: list[R], reported: list[float], lost: list[int]) -> None:
        """Results written (or given up): no longer held, and their wait from report to durable noted."""
        if lost:
            log.warning("%s: %d item(s) had lost their claim when recorded", self.label, len(lost))
        done = {self._result_id(r) for r in batch}
        self.held.difference_update(done)
        durable = time.monotonic()
        for when in reported:
            self.store.note_wait(f"{self.label}: reported -> durable", durable - when)
        self._recorded_some(len(done))

    def _recorded_some(self, count: int) -> None:
        """Hook: `count` results were written (or given up)."""

    async def _record(self, batch: list[R]) -> list[int]:
        """Write a batch; on a fault other than an unavailable store, item by item so that only the bad item
        fails. Raises StoreUnavailable when the store does not answer (the batch is then written again later)."""
        lost, failure = await self._try_record(batch, f"{len(batch)} result(s)")
        if failure is None:
            return lost
        if len(batch) == 1:  # the item's own failure: not written again alone
            await self._unrecordable(batch[0], failure)
            return []
        for result in batch:  # one by one, so that only the bad item fails
            written, failure = await self._try_record([result], f"item {self._result_id(result)}")
            if failure is None:
                lost.extend(written)
            else:
                await self._unrecordable(result, failure)
        return lost

    async def _try_record(self, batch: list[R], what: str) -> tuple[list[int], Exception | None]:
        """(what the write returned, None), or ([], the failure) when the write failed on its own content,
        logged. The store reports a statement the database refused (a value out of range, a bug in the SQL) as
        unavailable too: such a failure is told from an outage by a write that asks nothing (`_store_answers`),
        or a bad item would hold its whole batch back forever; an outage is raised (StoreUnavailable)."""
        try:
            return await self.store.write(self._record_op(), self.owner, batch, self._now()), None
        except StoreUnavailable as error:
            if not await self._store_answers():
                raise  # nothing else will be written either: the whole batch is retried
            log.error("%s: recording %s refused: %.200s", self.label, what, error)
            return [], error
        except Exception as error:
            log.exception("%s: recording %s failed", self.label, what)
            return [], error

    async def _store_answers(self) -> bool:
        """Whether the store takes a write now: if so, a write that failed as unavailable failed on its own."""
        try:
            await self.store.write(_answer)
        except StoreUnavailable:
            return False
        return True

    async def _unrecordable(self, result: R, error: Exception) -> None:
        """An item whose result cannot be recorded: settled by `_fallback_op` instead of blocking the recorder."""
        item_id = self._result_id(result)
        reason = f"internal error while recording: {type(error).__name__}: {error}"[:200]
        try:
            settled = await self.store.write(
                self._fallback_op(result), self.spec, self.owner, item_id, self._now(), self._lease_until(), reason
            )
        except Exception:
            log.exception("%s: item %d could not be given back either: its lease will run out", self.label, item_id)
            return
        if settled == self.spec.failed:
            log.error(
                "%s: item %d failed for good: its result could not be recorded, try after try (%s)",
                self.label, item_id, reason,
            )  # fmt: skip

    def _fallback_op(self, result: R) -> Callable[..., Any]:
        """Hook: how to settle an item whose result cannot be recorded. By default back to the queue with the
        error, due again after a lease (what a crash would have given it), and failed for good the
        `record_tries`-th time in a row (`queue.settle_unrecordable`), with `_failed_columns` and
        `_on_failed_op`."""
        return functools.partial(
            _settle_unrecordable, tries=self.record_tries, failed_columns=self._failed_columns(),
            on_failed=self._on_failed_op(),
        )  # fmt: skip

    def _failed_columns(self) -> Mapping[str, Any]:
        """Hook: the kind's own columns set when an unrecordable item is failed for good."""
        return {}

    def _on_failed_op(self) -> Callable[[Connection, int, int], object] | None:
        """Hook: what an item failed for good owes besides (e.g. a receipt push), `(conn, item id, now)` in the
        same transaction. If it raises too, the item is failed all the same."""
        return None

    # --- time --------------------------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _lease_until(self) -> int:
        return self._now() + self.lease_seconds


def _record_then_claim(
    conn: Connection, record: Callable[..., list[int]], claim: Callable[..., list[T]], owner: str, results: list[R],
    now: int, lease_until: int, want: Want,
) -> tuple[list[int], list[T]]:  # fmt: skip
    """One transaction: the results recorded (what they free is claimable at once), then the claim."""
    return record(conn, owner, results, now), claim(conn, owner, now, lease_until, want)


def _answer(conn: Connection) -> None:
    conn.fetchone("SELECT 1")


def _settle_unrecordable(
    conn: Connection, spec: QueueSpec, owner: str, item_id: int, now: int, due: int, reason: str, *, tries: int,
    failed_columns: Mapping[str, Any], on_failed: Callable[[Connection, int, int], object] | None,
) -> str | None:  # fmt: skip
    status = queue.settle_unrecordable(
        conn, spec, owner, item_id, due, reason, tries=tries, failed_columns=failed_columns
    )
    if status == spec.failed and on_failed is not None:
        try:
            with conn.savepoint():
                on_failed(conn, item_id, now)
        except Exception:  # its own savepoint rolled back: the item is failed without it rather than tried again
            log.exception("item %d failed for good, but what that owes could not be written", item_id)
    return status
