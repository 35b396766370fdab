"""Pushes delivered per second by the push worker to a local receiver (median of several runs).

The receiver is a minimal keep-alive HTTP/1.1 responder in its own process (so it does not share the worker's
core); each run enqueues N receipts with `enqueue_push` in a fresh database and times the worker from start
until every push is recorded as delivered.

    .venv/bin/python bench/callbacks_throughput.py [--pushes 10000] [--runs 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import secrets
import socket
import statistics
import tempfile
import time
from dataclasses import replace

import psycopg
import uvloop

from cpu_accounting import own_cpu_seconds
from octogate.callbacks.worker import PushWorker
from octogate.config import CallbackSettings, Settings
from octogate.keys import hash_api_key, new_api_key
from octogate.server import prepare_store
from octogate.store import outbox, queries
from octogate.store.callbacks import enqueue_push
from octogate.store.db import Connection
from octogate.store.store import Store

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class Responder(asyncio.Protocol):
    """Answers 200 to every request on a keep-alive connection (requests carry a Content-Length body)."""

    def __init__(self) -> None:
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = 0
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                break
            self.buffer = self.buffer[end + 4 + length :]
            answers += 1
        if answers:
            self.transport.write(ANSWER * answers)  # type: ignore[attr-defined]


def serve_forever(sock: socket.socket) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Responder, sock=sock)
        await server.serve_forever()

    asyncio.run(main())


def enqueue_many(conn: Connection, account_id: int, count: int, now: int) -> None:
    for n in range(count):
        fields = {
            "message_id": f"sms_{n:013x}", "number": f"+336{n:08d}", "status": "DELIVERED",
            "delivery_date": "2026-11-24 10:00:05",
        }  # fmt: skip
        enqueue_push(conn, account_id, "receipt", fields, now)


def fresh_store(database_url: str | None) -> tuple[Store, str | None]:
    """A new SQLite file, or a new schema of the PostgreSQL database (dropped after the run)."""
    if not database_url:
        return prepare_store(
            Settings(database_url=f"sqlite:///{tempfile.mkdtemp(prefix='octogate-bench-')}/o.db")
        ), None
    schema = f"bench_{secrets.token_hex(6)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in database_url else "?"
    return prepare_store(
        Settings(database_url=f"{database_url}{separator}options=-csearch_path%3D{schema}")
    ), schema


def drop_schema(database_url: str, schema: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


async def one_run(store: Store, port: int, count: int, settings: CallbackSettings) -> tuple[float, float]:
    login = f"bench-{time.monotonic_ns()}@example.com"
    account = store.run(queries.create_account, login, hash_api_key(new_api_key()), 0, int(time.time()))
    store.run(outbox.set_urls, login, {"receipt": f"http://127.0.0.1:{port}/receipts"})
    store.run(enqueue_many, account.id, count, int(time.time()))
    worker = PushWorker(store, settings)
    started, cpu_started = time.perf_counter(), own_cpu_seconds()
    await worker.start()
    while worker.delivered < count or worker.held:  # noqa: ASYNC110 - a benchmark polls the counters
        await asyncio.sleep(0.01)
    elapsed, used = time.perf_counter() - started, own_cpu_seconds() - cpu_started
    await worker.stop()
    with store.connect() as conn:
        row = conn.fetchone(
            "SELECT COUNT(*) FROM callbacks WHERE account_id = ? AND status = 'delivered'", (account.id,)
        )
    assert row is not None and row[0] == count, f"{row} of {count} delivered"
    return count / elapsed, used / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--per-host", type=int, default=64, help="one receiver: the per-host limit is the limit"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    settings = replace(  # the receiver is on loopback, which the SSRF guard refuses by default
        CallbackSettings(), per_host=args.per_host, concurrency=args.concurrency, poll_interval=0.05,
        forbid_private_targets=False,
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    receiver = multiprocessing.get_context("fork").Process(target=serve_forever, args=(sock,), daemon=True)
    receiver.start()
    rates, costs = [], []
    try:
        for run in range(args.runs):
            store, schema = fresh_store(args.database_url)
            try:
                rate, cost = uvloop.run(one_run(store, port, args.pushes, settings))  # the gateway's loop
            finally:
                store.close()
                if schema and args.database_url:
                    drop_schema(args.database_url, schema)
            rates.append(rate)
            costs.append(cost)
            print(f"run {run + 1}: {rate:,.0f} pushes/s, {cost:.1f} µs of CPU per push", flush=True)
    finally:
        receiver.terminate()
        receiver.join()
    print(
        f"median {statistics.median(rates):,.0f} pushes/s, {statistics.median(costs):.1f} µs of CPU per push "
        f"(claimed, POSTed, recorded; the receiver's CPU not counted) ({args.pushes} pushes, per_host={args.per_host}, "
        f"concurrency={args.concurrency})"
    )


if __name__ == "__main__":
    main()
