"""Database connections: SQLite (the embedded default) or PostgreSQL, behind one small DB-API wrapper.

Every query in octogate is written once, with `?` placeholders, and runs on both: the wrapper translates
placeholders for psycopg and hides the two drivers' few differences (transactions, bulk copy, errors).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg

Row = tuple[Any, ...]
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])
BUSY_SECONDS = 10.0  # how long a SQLite writer waits for the write lock before giving up
LOCK_PAUSE = 0.0005  # seconds between two tries for SQLite's write lock (the first pause, and by default all)
IntegrityError: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)
DatabaseError: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)


#: beside the SQLite file: the group-commit writers of every process take it (flock) around their transactions,
#: so one waiting for SQLite's write lock sleeps until the holder is done: a failed BEGIN IMMEDIATE costs ~40 µs
#: of CPU, and the API's writer tried ~4 times a commit while the delivery process's held the lock. The kernel
#: lets it go with a process that dies; a writer of another program (the CLI) is still waited for by trying.
WRITERS_LOCK = "-writers.lock"
SQLITE_ROWS_PER_INSERT = 64  # rows of one multi-row INSERT (`bulk_insert`): 64 x 10 columns, well under 32,766
#: prepared statements a SQLite connection keeps (sqlite3's default, 128, is less than `bulk_insert`'s texts of
#: two tables and the others a writer runs: a statement pushed out is prepared again, ~50 µs for a long INSERT)
STATEMENTS_CACHED = 512


@lru_cache(maxsize=256)
def _multi_row_insert(table: str, columns: tuple[str, ...], rows: int) -> str:
    one = f"({', '.join('?' for _ in columns)})"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)}"  # noqa: S608


class UnsupportedDatabaseURL(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    dialect: str  # "sqlite" | "postgresql"
    target: str  # a file path for SQLite, a libpq conninfo URL for PostgreSQL

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        """`sqlite:///relative.db`, `sqlite:////absolute.db` or `postgresql://user@host:port/db?...`."""
        scheme = urlsplit(url).scheme
        if scheme == "sqlite":
            path = url[len("sqlite://") :]
            if not path.startswith("/") or len(path) < 2:
                raise UnsupportedDatabaseURL(
                    "a SQLite URL looks like sqlite:///file.db or sqlite:////abs/file.db"
                )
            return cls("sqlite", path[1:])
        if scheme in {"postgresql", "postgres"}:
            return cls("postgresql", url)
        raise UnsupportedDatabaseURL(
            f"unsupported database URL scheme {scheme!r}: use sqlite:// or postgresql://"
        )

    def redacted(self) -> str:
        if self.dialect == "sqlite":
            return f"sqlite:///{self.target}"
        parts = urlsplit(self.target)
        host = parts.hostname or "localhost"
        return f"postgresql://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class Deferred:
    """A statement sent in a pipeline: its row is read, and turned into the operation's result, after the
    pipeline's one round trip. `finish` may raise a refusal only when the statement wrote nothing."""

    __slots__ = ("_cursor", "_finish")

    def __init__(self, cursor: Any, finish: Callable[[Row | None], Any]) -> None:
        self._cursor = cursor
        self._finish = finish

    def resolve(self) -> Any:
        row = self._cursor.fetchone()
        return self._finish(None if row is None else tuple(row))


def pipelined_when(predicate: Callable[..., bool]) -> Callable[[F], F]:
    """Mark an operation that, when `predicate(*args)` holds, only sends statements through
    `Connection.deferred` (it reads no result inline): the group-commit writer may then send it together with
    its neighbours, one network round trip for all of them (PostgreSQL pipeline mode)."""

    def mark(fn: F) -> F:
        fn.pipelined_when = predicate  # type: ignore[attr-defined]
        return fn

    return mark


def durable_soon(fn: F) -> F:
    """Mark an operation whose result must be durable quickly, whatever else is queued (the outcomes of
    submits: an SMSC acceptance not yet recorded is sent again after a crash): the group-commit writer takes
    it before the other operations waiting."""
    fn.durable_soon = True  # type: ignore[attr-defined]
    return fn


def can_hurry(fn: Callable[..., Any]) -> bool:
    return bool(getattr(fn, "durable_soon", False))


def can_pipeline(fn: Callable[..., Any], args: Sequence[Any]) -> bool:
    predicate = getattr(fn, "pipelined_when", None)
    return predicate is not None and bool(predicate(*args))


def create_private(path: str) -> None:
    """Create the SQLite file (and its folder) readable by its owner only, before SQLite opens it: SQLite gives
    the -wal and -shm files it makes later the main file's permissions, so all three stay 0600."""
    if path == ":memory:" or os.path.exists(path):
        return
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # made by another process meanwhile: kept as is


_FIELD_ORDER: dict[tuple[Any, tuple[str, ...]], bool] = {}


def _in_field_order(record: Callable[..., Any], names: tuple[str, ...]) -> bool:
    """Whether `names` are the first positional fields of `record` (a dataclass or named tuple), in order:
    then passing a row's values by position puts each in the field its name says (checked once per shape)."""
    key = (record, names)
    known = _FIELD_ORDER.get(key)
    if known is None:
        fields: tuple[str, ...] | None = getattr(record, "_fields", None)
        if fields is None and dataclasses.is_dataclass(record):
            fields = tuple(f.name for f in dataclasses.fields(record) if f.init and not f.kw_only)
        known = _FIELD_ORDER[key] = fields is not None and fields[: len(names)] == names
    return known


def _while_locked(raw: sqlite3.Connection, sql: str, longest: float = LOCK_PAUSE) -> None:
    """Run `sql`, again while SQLite answers "locked" (for up to BUSY_SECONDS), pausing from half a millisecond,
    doubling up to `longest`."""
    deadline = time.monotonic() + BUSY_SECONDS
    pause = LOCK_PAUSE
    while True:
        try:
            raw.execute(sql)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, longest)


class Connection:
    """One connection, in autocommit mode; transactions are explicit (`transaction()`, savepoints)."""

    def __init__(self, url: DatabaseURL, *, lock_pause: float = LOCK_PAUSE, writer: bool = False) -> None:
        """`writer`: a connection that writes only in `transaction(exclusive=True)` (a group-commit writer's).
        On SQLite its busy handler is off for good, the write lock taken by `_begin_immediate`'s own tries,
        instead of turned off and on again around each of them (two statements a transaction, ~3 µs a message
        of the delivery writer's CPU); and the writers of every process queue for that lock on a file lock
        (`WRITERS_LOCK`) first, asleep, instead of trying again and again while another one holds it."""
        self.dialect = url.dialect
        self.lock_pause = lock_pause  # SQLite: the longest pause between two tries for the write lock
        self._writer = writer
        self._queue_fd: int | None = None  # the writers' file lock (SQLite writers only)
        self._translated: dict[str, str] = {}
        self._pipelining = False
        if url.dialect == "sqlite":
            create_private(url.target)
            raw = sqlite3.connect(
                url.target, isolation_level=None, check_same_thread=False, timeout=10.0,
                cached_statements=STATEMENTS_CACHED,
            )  # fmt: skip
            # WAL: readers never block the writer; FULL: an acknowledged commit survives a power cut. Tried
            # again while locked: of hosts started together on a new file, one switching it to WAL holds its
            # write lock, and SQLite fails the others' switch at once, without its busy handler.
            _while_locked(raw, "PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=FULL")
            raw.execute("PRAGMA foreign_keys=ON")
            # Sorts and IN-lists of a batch statement in memory: as files, each cost an open and unlink (one
            # every ~20 messages in the delivery process, strace).
            raw.execute("PRAGMA temp_store=MEMORY")
            raw.execute(f"PRAGMA busy_timeout = {0 if writer else int(BUSY_SECONDS * 1000)}")
            if writer and url.target != ":memory:":
                self._queue_fd = os.open(url.target + WRITERS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            self._sqlite: sqlite3.Connection | None = raw
            self._pg: psycopg.Connection[Any] | None = None
        else:
            self._sqlite = None
            self._pg = psycopg.connect(url.target, autocommit=True)

    def _sql(self, sql: str) -> str:
        if self._pg is None:
            return sql
        translated = self._translated.get(sql)
        if translated is None:
            translated = self._translated[sql] = sql.replace("?", "%s")
        return translated

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        if self._sqlite is not None:
            return self._sqlite.execute(sql, params)
        assert self._pg is not None
        return self._pg.execute(self._sql(sql), params, prepare=True)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self._sqlite is not None:
            self._sqlite.executemany(sql, rows)
            return
        assert self._pg is not None
        with self._pg.cursor() as cursor:
            cursor.executemany(self._sql(sql), rows)

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Many rows at once: multi-row INSERTs on SQLite, COPY on PostgreSQL (several times faster there).

        Not executemany on SQLite: it steps each row with the GIL released, and a writer thread whose process
        keeps the GIL busy (an event loop answering requests) then waits for it again after every row, up to
        the interpreter's switch interval each time, holding SQLite's write lock all along (20 rows: ~20
        context switches and 1.2-1.6 ms of CPU a transaction, against ~7 and 0.7 ms for one statement, measured
        beside a busy thread). One statement for up to SQLITE_ROWS_PER_INSERT rows (a text per count, each
        prepared once: `STATEMENTS_CACHED`)."""
        if self._pg is None:
            pending = list(rows)
            for start in range(0, len(pending), SQLITE_ROWS_PER_INSERT):
                chunk = pending[start : start + SQLITE_ROWS_PER_INSERT]
                self.execute(_multi_row_insert(table, tuple(columns), len(chunk)), [v for row in chunk for v in row])
            return
        with (
            self._pg.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def in_list(self, expression: str) -> str:
        """`expression IN (the values of ONE parameter, `list_param`)`: one statement text (prepared once on
        PostgreSQL) whatever the number of values, instead of an `IN (?, ?, ...)` per length."""
        if self._pg is not None:
            return f"{expression} = ANY(?)"
        return f"{expression} IN (SELECT value FROM json_each(?))"  # noqa: S608 - expression is code

    def list_param(self, values: Sequence[Any]) -> Any:
        """The parameter `in_list` reads: an array on PostgreSQL, a JSON list on SQLite."""
        return list(values) if self._pg is not None else json.dumps(list(values))

    def rows_source(self, alias: str, columns: Sequence[tuple[str, str]]) -> str:
        """A FROM item `alias(column, ...)` of rows passed as parameters (`rows_params`): many rows updated,
        joined or inserted by one statement. `columns` are (name, PostgreSQL type: bigint, int, text)."""
        names = ", ".join(name for name, _ in columns)
        if self._pg is not None:
            arrays = ", ".join(f"?::{kind}[]" for _, kind in columns)
            return f"unnest({arrays}) AS {alias}({names})"
        picks = ", ".join(f"json_extract(value, '$[{i}]') AS {name}" for i, (name, _) in enumerate(columns))
        return f"(SELECT {picks} FROM json_each(?)) AS {alias}"  # noqa: S608 - names are code

    def unindexed(self, column: str) -> str:
        """`column` in a condition that must not choose the plan: SQLite would otherwise scan the column's index
        (every row of a status) and join the `rows_source` to each row, instead of looking each row up by id
        (SQLite's documented unary `+`); PostgreSQL's planner needs no hint."""
        return column if self._pg is not None else f"+{column}"

    def rows_params(self, rows: Sequence[Sequence[Any]], width: int) -> tuple[Any, ...]:
        """The parameters of a `rows_source` of `width` columns: one array per column on PostgreSQL, one JSON
        list of rows on SQLite."""
        if self._pg is not None:
            return tuple([row[i] for row in rows] for i in range(width))
        return (json.dumps([list(row) for row in rows]),)

    def deferred(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any], finish: Callable[[Row | None], R]
    ) -> R:
        """`finish(first row)` now, or, inside `pipeline()`, a `Deferred` the writer resolves after the sync."""
        if self._pipelining:
            return Deferred(self.execute(sql, params), finish)  # type: ignore[return-value]
        return finish(self.fetchone(sql, params))

    @contextmanager
    def pipeline(self) -> Iterator[Connection]:
        """PostgreSQL pipeline mode: statements are sent without waiting; the block's end is one round trip
        and raises the first error (the statements after it were not run)."""
        assert self._pg is not None, "pipeline mode is PostgreSQL's"
        with self._pg.pipeline():
            self._pipelining = True
            try:
                yield self
            finally:
                self._pipelining = False

    @contextmanager
    def batch(self) -> Iterator[Connection]:
        """Statements sent together, their rows read after the block (`later`): one network round trip on
        PostgreSQL (pipeline mode) instead of one per statement; on SQLite, in-process, they simply run."""
        if self._pg is None:
            yield self
            return
        with self.pipeline():
            yield self

    def later(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], list[Row]]:
        """Run a statement now; its rows when the returned function is called (after a `batch` block)."""
        cursor = self.execute(sql, params)
        if self._pg is None:
            rows = [tuple(row) for row in cursor.fetchall()]
            return lambda: rows
        return lambda: [tuple(row) for row in cursor.fetchall()]

    def failed(self) -> bool:
        """True when PostgreSQL's transaction is aborted: a COMMIT now would silently roll it back."""
        aborted = psycopg.pq.TransactionStatus.INERROR
        return self._pg is not None and self._pg.info.transaction_status == aborted

    def fetchone(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Row | None:
        row = self.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(row) for row in self.execute(sql, params).fetchall()]

    def records(self, record: Callable[..., R], sql: str, params: Sequence[Any] = ()) -> list[R]:
        """Rows as named records: each row's columns passed by name (the SELECT's column names or aliases), so
        a reordered SELECT can never put a value in the wrong field."""
        cursor = self.execute(sql, params)
        names = tuple(column[0] for column in cursor.description)
        if _in_field_order(record, names):  # the same call, positionally: ~1 µs a row less
            return [record(*row) for row in cursor.fetchall()]
        return [record(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    def record(self, record: Callable[..., R], sql: str, params: Sequence[Any] = ()) -> R | None:
        """The first row as a named record, or None."""
        cursor = self.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        return record(**{column[0]: value for column, value in zip(cursor.description, row, strict=True)})

    @contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[Connection]:
        """A transaction; `exclusive` takes SQLite's write lock at once (no upgrade deadlock later)."""
        queue_fd = self._queue_fd if exclusive else None
        if queue_fd is not None:
            fcntl.flock(queue_fd, fcntl.LOCK_EX)  # asleep (the GIL let go) while another writer commits
        try:
            if exclusive and self._sqlite is not None:
                self._begin_immediate(self._sqlite, self.lock_pause, busy_handler_on=not self._writer)
            else:
                self.execute("BEGIN")
            try:
                yield self
            except BaseException:
                self.execute("ROLLBACK")
                raise
            self.execute("COMMIT")
        finally:
            if queue_fd is not None:
                fcntl.flock(queue_fd, fcntl.LOCK_UN)

    @staticmethod
    def _begin_immediate(raw: sqlite3.Connection, longest: float = LOCK_PAUSE, busy_handler_on: bool = True) -> None:
        """Take SQLite's write lock, trying every half millisecond (the pause doubling up to `longest`). SQLite's
        own busy handler sleeps up to 100 ms between tries, and the other writer (serve and its background
        process share the file) often takes the lock back in between: a write then waited 100-250 ms for a lock
        free most of the time. (A backoff from 0.5 to 4 ms between tries in both processes was measured: the
        API's writes waited twice as long, and the end to end bench fell from 449 to 341 messages/s.) A failed
        try is not free (~40 µs of CPU measured, most of a SQLite read transaction begun and dropped): the
        delivery process, whose writes wait for no customer, pauses up to 2 ms (`Store(lock_pause=)`).
        `busy_handler_on`: SQLite's handler is turned off for these tries and on again after them."""
        if busy_handler_on:
            raw.execute("PRAGMA busy_timeout = 0")
        try:
            _while_locked(raw, "BEGIN IMMEDIATE", longest)
        finally:
            if busy_handler_on:
                raw.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")

    @contextmanager
    def savepoint(self) -> Iterator[Connection]:
        self.execute("SAVEPOINT op")
        try:
            yield self
            # Inside the try: if the operation swallowed a database error, PostgreSQL's transaction is aborted,
            # RELEASE fails, and the operation is rolled back here instead of silently spoiling its batch.
            self.execute("RELEASE SAVEPOINT op")
        except BaseException:
            self.execute("ROLLBACK TO SAVEPOINT op")
            self.execute("RELEASE SAVEPOINT op")
            raise

    def close(self) -> None:
        if self._queue_fd is not None:
            os.close(self._queue_fd)
            self._queue_fd = None
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            self._pg.close()
