"""The async face of the store: reads, and writes through one group-commit writer thread.

Why group commit: an answer may only leave once its campaign is durable, and a durable commit costs an fsync
(SQLite, synchronous=FULL) or a WAL flush (PostgreSQL). The writer takes every operation waiting in its queue,
runs each in its own savepoint inside one transaction, commits once, then answers them all: under load one
fsync serves hundreds of requests, and an operation that fails is rolled back alone.

On PostgreSQL every statement is a network round trip, and a savepoint costs two more per operation. So a
batch is first tried without savepoints, its pipelinable operations (`db.pipelined_when`, e.g. a small
campaign: one statement) sent together in pipeline mode, one round trip for all of them. If any operation
raises, or leaves the transaction aborted, that attempt is rolled back whole and the batch is run again the
careful way, each operation in its savepoint: failures are rare, and the answer is the same either way.

Reads on SQLite run inline on the event loop (an indexed read on a WAL database costs microseconds, less than
a thread hop); on PostgreSQL, pipelinable reads (the API's one read per call) are sent together by one thread,
the others run in a small thread pool.

Batches are bounded in time (BATCH_SECONDS): operations marked `db.durable_soon` (submit outcomes: an SMSC
acceptance not yet durable is sent again after a crash) are taken first, and the others waiting then go in the
same commit (a commit, ~0.3 ms of the delivery writer's CPU on SQLite, serves both; an acceptance waits for the
others' statements, within the time bound, instead of for a commit of its own).

A writer may also *linger*: wait until its oldest waiting operation is `linger` seconds old before committing,
so that one commit serves more of them. The delivery process does so on SQLite, where every one of its commits
holds the one write lock the API process needs to answer (and costs an fsync): its claims, receipts and push
outcomes wait up to 20 ms more, the API waits less behind it (docs/performance.md). An operation marked
`db.durable_soon` ends the wait at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import psycopg

from octogate.osnames import name_thread
from octogate.store import schema
from octogate.store.db import (
    LOCK_PAUSE,
    Connection,
    DatabaseError,
    DatabaseURL,
    Deferred,
    IntegrityError,
    can_hurry,
    can_pipeline,
)
from octogate.store.housekeeping import Housekeeper
from octogate.store.records import StoreUnavailable

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
MAX_BATCH = 512
#: A batch stops taking operations after this long and commits: a write queued meanwhile (an SMSC acceptance,
#: marked db.durable_soon, goes first) waits for at most about this plus one commit.
BATCH_SECONDS = 0.015
PIPELINE_RUN = 128  # pipelinable operations sent together before the time budget is looked at again
_EMPTY = object()
RETRIED_ERRORS = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)

#: (fn, args, loop, future, when it was queued: time.monotonic())
Operation = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, asyncio.Future[Any], float]
#: Where a process writes, when its store closes, how long writes waited to be durable (a diagnostic: the
#: benches set it; `{value}.{pid}.json`).
STATS_ENV = "OCTOGATE_STORE_STATS"


class Store:
    def __init__(
        self, url: str | DatabaseURL, *, read_threads: int = 4, lock_pause: float = LOCK_PAUSE, linger: float = 0.0,
    ) -> None:  # fmt: skip
        """`lock_pause`: on SQLite, the longest pause of the writer between two tries for the write lock the
        other process holds (`Connection._begin_immediate`). `linger`: seconds the writer lets its oldest
        operation wait for others before committing (see the module's docstring)."""
        self.url = url if isinstance(url, DatabaseURL) else DatabaseURL.parse(url)
        self.connect().__exit__()  # fail here, at start, if the database cannot be reached
        self._local = threading.local()
        self._read_connections: list[Connection] = []
        self._lock = threading.Lock()
        self._readers = ThreadPoolExecutor(read_threads, thread_name_prefix="octogate-read")
        self._writer = _GroupCommitWriter(self.url, lock_pause=lock_pause, linger=linger)
        self._writer.start()
        # On PostgreSQL the operations marked db.durable_soon (SMSC acceptances) have a writer of their own: behind
        # the main writer's batch in progress they waited 50-250 ms under load (measured), and what is not durable
        # at a crash is sent again. SQLite has one writer lock anyway: they go first in the one writer's queue.
        self._urgent_writer: _GroupCommitWriter | None = None
        if self.url.dialect == "postgresql":
            self._urgent_writer = _GroupCommitWriter(self.url, self._writer.waits, name="octogate-writer-urgent")
            self._urgent_writer.start()
        self._housekeeper: Housekeeper | None = None
        self._pipelined_reads: _GroupReader | None = None
        if self.url.dialect == "postgresql":
            self._pipelined_reads = _GroupReader(self.url)
            self._pipelined_reads.start()

    def connect(self) -> _ClosingConnection:
        """A new connection for a caller that manages its own transactions (CLI, migrations, tests)."""
        return _ClosingConnection(self.url)

    def migrate(self) -> list[int]:
        with self.connect() as conn:
            return schema.migrate(conn)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            if self.url.dialect == "sqlite":
                return self._read_in_thread(fn, args)
            if self._pipelined_reads is not None and can_pipeline(fn, args):
                loop = asyncio.get_running_loop()
                future: asyncio.Future[T] = loop.create_future()
                self._pipelined_reads.queue.put((fn, args, loop, future, 0.0))
                return await future
            return await asyncio.get_running_loop().run_in_executor(
                self._readers, self._read_in_thread, fn, args
            )
        except DatabaseError as error:
            log.error("store read failed: %.200s", error)
            raise StoreUnavailable(str(error)[:200]) from error

    def _reader(self) -> Connection:
        """This thread's read connection (the event loop's on SQLite, a pool thread's on PostgreSQL)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = Connection(self.url)
            with self._lock:
                self._read_connections.append(conn)
        return conn

    def _read_in_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(self._reader(), *args)
        except DatabaseError:
            self._forget_reader()  # a broken connection is replaced at the next read
            raise

    def _forget_reader(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                self._read_connections.remove(conn)
            conn.close()

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` in the next group commit; return once it is durable.

        `fn` may run twice (on PostgreSQL a batch that fails is rolled back and run again in savepoints), so
        it acts only through `conn` and leaves its arguments as it found them."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        writer = self._urgent_writer if self._urgent_writer is not None and can_hurry(fn) else self._writer
        writer.queue.put((fn, args, loop, future, time.monotonic()))
        return await future

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Synchronous one-off transaction, for the CLI."""
        with self.connect() as conn, conn.transaction(exclusive=True):
            return fn(conn, *args)

    def note_wait(self, name: str, seconds: float) -> None:
        """Count a wait measured elsewhere (e.g. from a worker's result to its durable record) with the
        writes' own, in the same summary."""
        self._writer.waits.add_named(name, seconds)

    def write_waits(self) -> dict[str, dict[str, float]]:
        """Per operation: how many were written, and how long they waited from `write` to durable (ms)."""
        return self._writer.waits.summary()

    def keep_tidy(self) -> None:
        """On PostgreSQL, vacuum the queue tables as their churn needs (`housekeeping`); once per process that
        runs the workers. SQLite reuses a deleted row's space by itself."""
        if self.url.dialect == "postgresql" and self._housekeeper is None:
            self._housekeeper = Housekeeper(self.url)
            self._housekeeper.start()

    def close(self) -> None:
        if self._housekeeper is not None:
            self._housekeeper.stop()
        self._writer.stop()
        if self._urgent_writer is not None:
            self._urgent_writer.stop()
        if self._pipelined_reads is not None:
            self._pipelined_reads.stop()
        path = os.environ.get(STATS_ENV)
        if path:
            with contextlib.suppress(OSError), open(f"{path}.{os.getpid()}.json", "w") as out:
                json.dump(self.write_waits(), out)
        self._readers.shutdown(wait=True)
        with self._lock:
            connections, self._read_connections = self._read_connections, []
        for conn in connections:
            conn.close()


class WriteWaits:
    """How long operations waited from `Store.write` to durable, per operation function: the group commit's
    promise (an SMSC acceptance recorded within 50 ms) checked where it is kept. A histogram per operation
    (0.5 ms steps up to 100 ms, 10 ms steps up to 10 s): bounded memory in a server that runs for months."""

    BUCKETS = 200 + 990 + 1

    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}
        self._max: dict[str, float] = {}

    def add(self, fn: Callable[..., Any], seconds: float) -> None:
        self.add_named(f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}", seconds)

    def add_named(self, name: str, seconds: float) -> None:
        counts = self._counts.get(name)
        if counts is None:
            counts = self._counts[name] = [0] * self.BUCKETS
        ms = seconds * 1e3
        counts[min(int(ms * 2) if ms < 100 else 200 + int((ms - 100) / 10), self.BUCKETS - 1)] += 1
        self._max[name] = max(self._max.get(name, 0.0), ms)

    @staticmethod
    def _upper_ms(bucket: int) -> float:
        return (bucket + 1) / 2 if bucket < 200 else 100 + (bucket - 199) * 10

    def summary(self) -> dict[str, dict[str, float]]:
        """Per operation: count, and p50/p99 (the upper bound of their bucket) and max wait in ms."""
        result = {}
        for name, counts in list(self._counts.items()):
            total = sum(counts)
            marks: dict[str, float] = {"count": total}
            for label, share in (("p50_ms", 0.5), ("p99_ms", 0.99)):
                seen, rank = 0, max(1, int(total * share + 0.999999))
                for bucket, count in enumerate(counts):
                    seen += count
                    if seen >= rank:
                        marks[label] = min(self._upper_ms(bucket), self._max[name])
                        break
            marks["max_ms"] = self._max[name]
            result[name] = marks
        return result


class _ClosingConnection:
    def __init__(self, url: DatabaseURL) -> None:
        self.conn = Connection(url)

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def _sort_in(item: Any, urgent: deque[Operation], others: deque[Operation]) -> bool:
    """An operation into its queue (`db.durable_soon` ones apart); True for the stop sentinel (None)."""
    if item is None:
        return True
    (urgent if can_hurry(item[0]) else others).append(item)
    return False


class _GroupCommitWriter(threading.Thread):
    def __init__(
        self, url: DatabaseURL, waits: WriteWaits | None = None, name: str = "octogate-writer",
        lock_pause: float = LOCK_PAUSE, linger: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__(name=name, daemon=True)
        self.url = url
        self.lock_pause = lock_pause
        self.linger = linger
        self.queue: queue.SimpleQueue[Operation | None] = queue.SimpleQueue()
        self.conn: Connection | None = None
        self.waits = waits or WriteWaits()

    def stop(self) -> None:
        self.queue.put(None)
        self.join(timeout=30)

    def run(self) -> None:
        name_thread(self.name)
        urgent: deque[Operation] = deque()  # operations marked db.durable_soon: taken first
        others: deque[Operation] = deque()
        stopping = False
        while not stopping or urgent or others:
            item = self.queue.get() if not (urgent or others or stopping) else self._next()
            while item is not _EMPTY:
                stopping |= _sort_in(item, urgent, others)
                item = self._next()
            if self.linger and others and not (urgent or stopping):
                wait = others[0][4] + self.linger - time.monotonic()
                if wait > 0:
                    try:
                        item = self.queue.get(timeout=wait)
                    except queue.Empty:
                        pass  # waited long enough: commit
                    else:
                        stopping |= _sort_in(item, urgent, others)
                        continue  # take what else came, and look again
            # Urgent operations first, and with them what else is waiting: their commit serves both.
            batch = [urgent.popleft() for _ in range(min(len(urgent), MAX_BATCH))]
            batch += [others.popleft() for _ in range(min(len(others), MAX_BATCH - len(batch)))]
            if not batch:
                continue
            done = self._commit(batch)
            for operation in reversed(batch[done:]):  # not reached within the time budget: next batch, first
                (urgent if can_hurry(operation[0]) else others).appendleft(operation)
        if self.conn is not None:
            self.conn.close()

    def _next(self) -> Operation | object | None:
        try:
            return self.queue.get_nowait()
        except queue.Empty:
            return _EMPTY

    def _commit(self, batch: list[Operation]) -> int:
        """Commit a prefix of `batch`: at least one operation, as many as BATCH_SECONDS allow. Its length."""
        deadline = time.monotonic() + BATCH_SECONDS
        outcomes: list[tuple[bool, Any]] | None = None
        try:
            if self.conn is None:
                self.conn = Connection(self.url, lock_pause=self.lock_pause, writer=True)
            conn = self.conn
            outcomes, limit = self._apply_together(conn, batch, deadline)
            if outcomes is None:
                with conn.transaction(exclusive=True):
                    outcomes = []
                    for fn, args, *_ in batch[:limit]:
                        outcomes.append(self._apply(conn, fn, args))
                        if conn.dialect == "sqlite" and time.monotonic() > deadline:
                            break
        except Exception as error:  # the writer must outlive any batch, or every later request would hang
            log.error("group commit of %d operations failed: %.200s", len(batch), error)
            self._drop_connection()
            unavailable = StoreUnavailable(str(error)[:200])
            outcomes = [(False, unavailable)] * len(batch)
        # One wake-up per event loop for the whole batch, not one per operation.
        answers: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], tuple[bool, Any]]]] = {}
        durable = time.monotonic()
        for (fn, _, loop, future, queued), outcome in zip(batch, outcomes, strict=False):
            answers.setdefault(loop, []).append((future, outcome))
            self.waits.add(fn, durable - queued)
        for loop, settled in answers.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:
                log.warning("%d operations finished after their event loop closed", len(settled))
        return len(outcomes)

    @staticmethod
    def _apply_together(
        conn: Connection, batch: list[Operation], deadline: float
    ) -> tuple[list[tuple[bool, Any]] | None, int]:
        """A prefix of the batch without savepoints, on PostgreSQL runs of pipelinable operations in one round
        trip each: (its outcomes, its length), or (None, its length) with nothing applied if any operation
        failed: the caller then runs that prefix in savepoints. On SQLite too: two statements an operation
        less (SAVEPOINT, RELEASE), each one more wait for the GIL while the write lock is held."""
        results: list[Any] = []
        try:
            # exclusive as the savepoints' run below; a failure of BEGIN or COMMIT itself is the batch's
            with conn.transaction(exclusive=True):
                try:
                    _run_together(conn, batch, results, deadline)
                except Exception as error:
                    log.debug("a batch of %d is run again in savepoints: %.200s", len(batch), error)
                    raise _Retry from error
                if conn.failed():  # an operation swallowed an error: COMMIT would roll everything back
                    raise _Retry
        except _Retry:
            return None, min(len(batch), len(results) + 1)  # up to the one that failed
        return [_resolve(result) for result in results], len(results)

    @staticmethod
    def _apply(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
        for attempt in range(3):
            try:
                with conn.savepoint():
                    return True, fn(conn, *args)
            except RETRIED_ERRORS:
                if attempt == 2:
                    raise
            except (
                IntegrityError
            ) as error:  # a constraint an operation did not expect: a bug, reported as such
                return False, error
            except DatabaseError as error:
                return False, StoreUnavailable(str(error)[:200])
            except Exception as error:  # an operation's own refusal (credit, duplicate): its alone
                return False, error
        raise AssertionError("unreachable")

    def _drop_connection(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except DatabaseError:
                log.debug("closing a broken connection failed", exc_info=True)
            self.conn = None


class _GroupReader(threading.Thread):
    """PostgreSQL reads that can be pipelined (`db.pipelined_when`, e.g. the one read of each API call): every
    read waiting is sent at once, one round trip and one thread wake-up for all of them, instead of a pool
    thread and a round trip each."""

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__(name="octogate-reads", daemon=True)
        self.url = url
        self.queue: queue.SimpleQueue[Operation | None] = queue.SimpleQueue()
        self.conn: Connection | None = None

    def stop(self) -> None:
        self.queue.put(None)
        self.join(timeout=30)

    def run(self) -> None:
        name_thread(self.name)
        stopping = False
        while not stopping:
            item: object = self.queue.get()
            batch: list[Operation] = []
            while item is not _EMPTY:
                if item is None:
                    stopping = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    item = _EMPTY
            if batch:
                self._read(batch)
        if self.conn is not None:
            self.conn.close()

    def _read(self, batch: list[Operation]) -> None:
        try:
            if self.conn is None:
                self.conn = Connection(self.url)
            conn = self.conn
            try:
                with conn.pipeline():
                    results = [fn(conn, *args) for fn, args, *_ in batch]
                outcomes = [_resolve(result) for result in results]
            except Exception:  # one read failed: each again alone, so only its caller hears of it
                outcomes = [self._alone(conn, fn, args) for fn, args, *_ in batch]
        except Exception as error:  # no connection: every reader is told, the next batch reconnects
            outcomes = [(False, error)] * len(batch)
        if any(not ok and isinstance(value, DatabaseError) for ok, value in outcomes):
            self._drop_connection()
        answers: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], tuple[bool, Any]]]] = {}
        for (_, _, loop, future, _), outcome in zip(batch, outcomes, strict=True):
            ok, value = outcome
            if not ok and isinstance(value, DatabaseError):
                log.error("store read failed: %.200s", value)
                outcome = (False, StoreUnavailable(str(value)[:200]))
            answers.setdefault(loop, []).append((future, outcome))
        for loop, settled in answers.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:
                log.warning("%d reads finished after their event loop closed", len(settled))

    @staticmethod
    def _alone(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
        try:
            return True, fn(conn, *args)
        except Exception as error:
            return False, error

    def _drop_connection(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(*DatabaseError):
                self.conn.close()
            self.conn = None


def _run_together(conn: Connection, batch: list[Operation], results: list[Any], deadline: float) -> None:
    """Run operations into `results` until the batch or its time is over (one operation at least)."""
    start = 0
    pipelines = conn.dialect == "postgresql"
    while start < len(batch) and not (start and time.monotonic() > deadline):
        end = start
        while (
            pipelines and end < len(batch) and end - start < PIPELINE_RUN and can_pipeline(batch[end][0], batch[end][1])
        ):
            end += 1
        if end > start:
            with conn.pipeline():
                results.extend(fn(conn, *args) for fn, args, *_ in batch[start:end])
            start = end
        else:
            fn, args, *_ = batch[start]
            results.append(fn(conn, *args))
            start += 1


class _Retry(Exception):
    """The optimistic attempt at a batch is abandoned (rolled back) for the careful one."""


def _resolve(result: Any) -> tuple[bool, Any]:
    """A pipelined operation's answer, read after the commit: a refusal here wrote nothing."""
    if not isinstance(result, Deferred):
        return True, result
    try:
        return True, result.resolve()
    except Exception as error:
        return False, error


def _settle_all(settled: list[tuple[asyncio.Future[Any], tuple[bool, Any]]]) -> None:
    for future, (ok, value) in settled:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
