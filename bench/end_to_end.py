"""End to end, as an operator runs it: /api/sms acceptance -> submit_sm -> receipt -> receipt pushed.

Starts `octogate serve` in a subprocess (a fresh SQLite file, or with --postgres a fresh schema in the local
PostgreSQL; the embedded SMSC simulator, which sends a delivery receipt for every message), points the
account's receipt URL at a receiver in this process, sends --messages requests through /api/sms
(--campaign-size recipients each, default 1) from --concurrency connections, and waits until a receipt push
has arrived for every message. Each run prints messages/s (first request to last push) and the CPU seconds
per message of octogate's processes (serve and its background delivery process) and, on PostgreSQL, of the
backends serving them (found by application_name in pg_stat_activity): the figure that holds on a machine
shared with other work. The summary gives the medians of --runs runs.

    .venv/bin/python bench/end_to_end.py                  # SQLite, 3 runs x 5,000 single-recipient requests
    .venv/bin/python bench/end_to_end.py --postgres       # the same on PostgreSQL
    .venv/bin/python bench/end_to_end.py --campaign-size 500 --messages 10000 --concurrency 4

Benchmarks print; they assert nothing (exit 1 only if a request was refused or pushes did not all arrive).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_accounting import CpuMeter, cpu_seconds, process_tree, with_application_name

DEMO_KEY = "bench-end-to-end-key"
LOGIN = "demo@octogate.local"
APPLICATION_NAME = f"octogate-e2e-{os.getpid()}"
FIELDS = {"user_login": LOGIN, "api_key": DEMO_KEY, "sms_type": "FR", "sms_sender": "Bench",
          "sms_text": "Your code is 123456", "transactional": "1"}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A minimal keep-alive HTTP/1.1 server that answers 200 to every push and keeps each receipt's key."""

    def __init__(self) -> None:
        self.receipts: set[tuple[str, str]] = set()
        self.pushes = 0
        self.changed = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.connections: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.connections):
            writer.close()
        await asyncio.sleep(0.1)  # the connection handlers see their end

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.add(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                fields = parse_qs(body.decode())
                self.pushes += 1
                self.receipts.add((fields.get("message_id", [""])[0], fields.get("number", [""])[0]))
                self.changed.set()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        self.connections.discard(writer)
        writer.close()


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    import psycopg

    schema = f"e2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base_url}?options={quote(f'-csearch_path={schema}', safe='')}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def start_serve(folder: str, database_url: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {**os.environ, "OCTOGATE_HTTP": f"127.0.0.1:{port}", "OCTOGATE_DATABASE_URL": database_url,
           "OCTOGATE_DEMO_KEY": DEMO_KEY, "OCTOGATE_SMTP": "off", "OCTOGATE_ADMIN": "off",
           "OCTOGATE_STORE_STATS": f"{folder}/store-waits"}  # fmt: skip
    env.pop("OCTOGATE_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "octogate.cli", "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=folder,
    )  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        print("  serve:", line.rstrip())
        if "Octopush API on" in line:
            return process, f"http://127.0.0.1:{port}"
    process.kill()
    raise SystemExit("octogate serve did not start")


def print_write_waits(folder: str) -> None:
    """What each octogate process's store said at its close: from `write` to durable, per operation."""
    for path in sorted(Path(folder).glob("store-waits.*.json")):
        waits = json.loads(path.read_text())
        for name, w in sorted(waits.items(), key=lambda item: -item[1]["count"]):
            print(f"  write to durable, process {path.name.split('.')[1]}: {name}: {w['count']:,.0f} writes, "
                  f"p50 {w['p50_ms']:.1f} ms, p99 {w['p99_ms']:.1f} ms, max {w['max_ms']:.1f} ms")  # fmt: skip


def _socket_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (to tell which PostgreSQL backend serves which process)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class CpuSplit:
    """CPU per octogate process, each with the PostgreSQL backends serving it (by their client port): where
    the CPU of a message goes. Read at the start and the end of a run."""

    def __init__(self, root: int, admin_url: str | None, application_name: str) -> None:
        self.root, self.admin_url, self.application_name = root, admin_url, application_name
        self.before: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        found: dict[str, float] = {}
        owners: dict[int, str] = {}
        for pid in process_tree(self.root):
            name = "serve" if pid == self.root else f"child {pid}"
            found[name] = cpu_seconds(pid) or 0.0
            for port in _socket_ports(pid):
                owners[port] = name
        if self.admin_url:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                rows = conn.execute("SELECT pid, client_port FROM pg_stat_activity WHERE application_name = %s",
                                    (self.application_name,)).fetchall()  # fmt: skip
            for pid, port in rows:
                key = f"PostgreSQL for {owners.get(port, '?')}"
                found[key] = found.get(key, 0.0) + (cpu_seconds(pid) or 0.0)
        return found

    def start(self) -> None:
        self.before = self._read()

    def used(self, messages: int) -> str:
        after = self._read()
        return ", ".join(f"{name} {(after[name] - self.before.get(name, 0.0)) / messages * 1e3:.2f}"
                         for name in sorted(after))  # fmt: skip


def cli(*args: str, database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "octogate.cli", *args, "--database-url", database_url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"octogate {' '.join(args[:2])} failed: {done.stderr[-300:]}")


async def one_run(
    base_url: str, receiver: Receiver, meter: CpuMeter, run: int, args: argparse.Namespace
) -> tuple[float, float, float]:
    """(messages/s, octogate CPU ms per message, PostgreSQL backends CPU ms per message)."""
    messages, size = args.messages, args.campaign_size
    batches = [
        ",".join(f"+336{run:02d}{n:06d}" for n in range(start, min(start + size, messages)))
        for start in range(0, messages, size)
    ]
    pending = asyncio.Queue[str]()
    for batch in batches:
        pending.put_nowait(batch)
    already = len(receiver.receipts)

    port = int(base_url.rsplit(":", 1)[1])

    async def sender() -> None:
        """One keep-alive connection, a raw HTTP/1.1 client: a few µs per request, so the client does not
        take the cores the gateway is measured on (httpx took ~5 ms of CPU per request here)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not pending.empty():
                body = urlencode({**FIELDS, "sms_recipients": pending.get_nowait()}).encode()
                writer.write(b"POST /api/sms HTTP/1.1\r\nHost: bench\r\nContent-Type: "
                             b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))  # fmt: skip
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))  # fmt: skip
                answer = await reader.readexactly(length)
                if b"<error_code>000</error_code>" not in answer:
                    raise SystemExit(f"refused: {answer[:200]!r}")
        finally:
            writer.close()

    meter.start()
    split = CpuSplit(meter.root_pid, meter.admin_url, APPLICATION_NAME)
    split.start()
    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(args.concurrency)))
    accepted = time.perf_counter()
    deadline = time.monotonic() + args.timeout
    while len(receiver.receipts) - already < messages:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(receiver.receipts) - already} of {messages} receipts pushed in time")
        receiver.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver.changed.wait(), 1.0)
    elapsed = time.perf_counter() - started
    octogate_s, postgres_s = meter.used()
    rate = messages / elapsed
    print(f"  run {run + 1}: {messages} messages accepted in {accepted - started:.2f} s, every receipt pushed "
          f"after {elapsed:.2f} s: {rate:,.0f} messages/s; CPU per message: octogate processes "
          f"{octogate_s / messages * 1e3:.2f} ms + PostgreSQL backends {postgres_s / messages * 1e3:.2f} ms "
          f"= {(octogate_s + postgres_s) / messages * 1e3:.2f} ms ({split.used(messages)})")  # fmt: skip
    return rate, octogate_s / messages * 1e3, postgres_s / messages * 1e3


async def bench(args: argparse.Namespace, folder: str, database_url: str) -> None:
    receiver = Receiver()
    await receiver.start()
    process, base_url = start_serve(folder, database_url)
    try:
        cli("account", "credit", LOGIN, "1000000", database_url=database_url)
        cli("account", "urls", LOGIN, "--receipt", f"http://127.0.0.1:{receiver.port}/receipt",
            database_url=database_url)  # fmt: skip
        meter = CpuMeter(process.pid, args.postgres_url if args.postgres else None, APPLICATION_NAME)
        results = [await one_run(base_url, receiver, meter, run, args) for run in range(args.runs)]
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: every store closes (and tells its write waits)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        await receiver.close()
    print_write_waits(folder)
    rates, octogate_ms, postgres_ms = (list(column) for column in zip(*results, strict=True))
    total = [o + p for o, p in zip(octogate_ms, postgres_ms, strict=True)]
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"end to end on {database} (/api/sms -> SMSC simulator -> receipt -> push received), "
          f"{args.runs} runs of {args.messages} messages, {args.campaign_size} per request, concurrency "
          f"{args.concurrency}: median {statistics.median(rates):,.0f} messages/s; CPU per message median "
          f"{statistics.median(total):.2f} ms [runs: {', '.join(f'{t:.2f}' for t in total)}] = octogate "
          f"processes {statistics.median(octogate_ms):.2f} ms + PostgreSQL backends "
          f"{statistics.median(postgres_ms):.2f} ms; {receiver.pushes} pushes received for "
          f"{len(receiver.receipts)} messages")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5_000, help="messages per run (5,000)")
    parser.add_argument("--campaign-size", type=int, default=1, help="recipients per request (1)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight (50)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the pushes of a run")
    parser.add_argument("--postgres", action="store_true", help="a fresh schema in local PostgreSQL")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octogate-bench-") as folder:
        if args.postgres:
            with postgres_schema(args.postgres_url) as url:
                asyncio.run(bench(args, folder, with_application_name(url, APPLICATION_NAME)))
        else:
            asyncio.run(bench(args, folder, f"sqlite:///{folder}/bench.db"))


if __name__ == "__main__":
    main()
