"""The whole path as an operator runs it: /api/sms -> submit_sm -> receipt -> receipt pushed, with its tail.

Starts the SMSC simulator as a process of its own (`octogate smsc-sim`, a receipt 1 s after each submit) and
`octogate serve` pointed at it by a configuration file with one [[connectors]] entry (a fresh SQLite file, or
with --postgres a fresh schema of the local PostgreSQL). The SMPP connection goes through a tap in this
process that timestamps every submit_sm on its way to the SMSC, without changing a byte. An account made with
`octogate account create` has its receipt URL (`octogate account urls`) on a keep-alive receiver in this
process. Then --messages single-recipient requests go to /api/sms from --concurrency connections, and the run
ends when every message's receipt has been pushed. Each run prints, and the summary gives the medians of
--runs runs of:

- accepted/s (first request to last answer), HTTP p50 and p99 (request written to answer read);
- submit_sm/s (first to last submit) and the longest interval without an HTTP answer (first request to last
  answer) and without a submit (first to last submit): the stalls a user sees;
- the lag from the last submit to the last push (the simulator's 1 s receipt delay included);
- CPU per message summed over every gateway process (serve and its children, not the simulator), plus the
  PostgreSQL backends serving it with --postgres (found by application_name), and the peak RSS of the
  gateway's processes (sampled every 0.2 s).

    .venv/bin/python bench/pipeline.py                     # SQLite, 3 runs x 20,000 requests at 50 at once
    .venv/bin/python bench/pipeline.py --postgres          # PostgreSQL (a fresh schema, dropped after)
    .venv/bin/python bench/pipeline.py --messages 2000     # a quick look
    .venv/bin/python bench/pipeline.py --history 1000000   # on a gateway that has sent a million messages

--history N stores, before the gateway starts, N messages finished a day earlier, with what each leaves behind
(its part, the part's carrier key on another connector, its delivered receipt push): the tables and indexes
a gateway in service writes into are that big.

Benchmarks print; they assert nothing (exit 1 only if a request was refused or pushes did not all arrive).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_accounting import CpuMeter, cpu_seconds, process_tree, thread_cpu_seconds, with_application_name
from end_to_end import FIELDS, Receiver, free_port, postgres_schema, print_write_waits
from octogate.store.db import Connection, DatabaseURL

LOGIN = "bench@pipeline.local"
APPLICATION_NAME = f"octogate-pipeline-{os.getpid()}"
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005


class TimedSet(set[Any]):
    """The receiver's set of pushed receipts, noting when each new one came (the receiver is end_to_end's)."""

    last = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []  # when each receipt was first pushed, in order

    def add(self, item: Any) -> None:
        self.last = time.perf_counter()
        if item not in self:
            self.times.append(self.last)
        super().add(item)


class SmppTap:
    """A TCP relay between the gateway and the SMSC that notes the time of every submit_sm and deliver_sm.

    It reads whole buffers and walks the PDU headers (command_length, command_id) without copying bodies, so
    it costs the bench a few µs per PDU and the gateway one local hop."""

    def __init__(self, smsc_port: int) -> None:
        self.smsc_port = smsc_port
        self.submits: list[float] = []
        self.delivers: list[float] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        smsc_r, smsc_w = await asyncio.open_connection("127.0.0.1", self.smsc_port)
        up = asyncio.create_task(self._pump(client_r, smsc_w, SUBMIT_SM, self.submits))
        down = asyncio.create_task(self._pump(smsc_r, client_w, DELIVER_SM, self.delivers))
        self.tasks |= {up, down}
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
            self.tasks.discard(task)
        for writer in (client_w, smsc_w):
            writer.close()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wanted: int,
                    times: list[float]) -> None:  # fmt: skip
        pending = b""  # the start of a PDU whose header is not complete yet
        skip = 0  # bytes of the current PDU still to pass
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while chunk := await reader.read(65536):
                now = time.perf_counter()
                writer.write(chunk)
                data, at = pending + chunk, skip
                while at + 8 <= len(data):
                    length = int.from_bytes(data[at : at + 4], "big")
                    if int.from_bytes(data[at + 4 : at + 8], "big") == wanted:
                        times.append(now)
                    at += max(length, 8)
                skip, pending = (at - len(data), b"") if at >= len(data) else (0, data[at:])
                await writer.drain()


@dataclass
class Run:
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    submits_per_s: float
    answer_gap_s: float
    submit_gap_s: float
    push_lag_s: float
    cpu_ms: float
    postgres_ms: float
    rss_mb: float

    @property
    def total_ms(self) -> float:
        return self.cpu_ms + self.postgres_ms


def longest_gap(times: list[float]) -> float:
    return gap_and_start(times)[0]


def gap_and_start(times: list[float]) -> tuple[float, float]:
    """The longest interval between two successive times, and when it began."""
    ordered = sorted(times)
    return max(((b - a, a) for a, b in itertools.pairwise(ordered)), default=(0.0, 0.0))


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def cli(*args: str, database_url: str, folder: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "octogate.cli", *args, "--database-url", database_url],
        capture_output=True, text=True, check=False, cwd=folder,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"octogate {' '.join(args[:2])} failed: {done.stderr[-300:]}")
    return done.stdout


def start_process(argv: list[str], ready: str, folder: str, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               cwd=folder)  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        print(f"  {argv[3]}:", line.rstrip())
        if ready in line:
            return process
    process.kill()
    raise SystemExit(f"octogate {argv[3]} did not start")


def stop_process(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)  # Ctrl-C: every store closes (and tells its write waits)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_config(folder: str, smpp_port: int, args: argparse.Namespace) -> str:
    path = Path(folder) / "octogate.toml"
    path.write_text(
        "[server]\nsmtp = \"off\"\n\n"
        "[[connectors]]\nname = \"bench-smsc\"\nhost = \"127.0.0.1\"\n"
        f"port = {smpp_port}\nsystem_id = \"octogate\"\npassword = \"secret\"\nwindow = {args.window}\n\n"
        "[callbacks]\nallow_targets = [\"127.0.0.0/8\"]\n"  # the receiver is on loopback (forbidden by default)
        f"\n[http]\nworkers = {args.workers}\n"
    )  # fmt: skip
    return str(path)


@dataclass
class Load:
    """What a run sends: the n-th request's bytes (HTTP/1.1, keep-alive) to `port`, and what every accepted
    answer contains."""

    port: int
    request: Callable[[int], bytes]
    accepted: bytes


async def send_requests(load: Load, numbers: Iterator[int], latencies: list[float],
                        answers: list[float]) -> None:  # fmt: skip
    """A raw keep-alive HTTP/1.1 client: a few µs per request, so the bench leaves the cores to the gateway
    (end_to_end.py's client, timed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", load.port)
    try:
        for n in numbers:
            request = load.request(n)
            sent = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))  # fmt: skip
            answer = await reader.readexactly(length)
            now = time.perf_counter()
            latencies.append(now - sent)
            answers.append(now)
            if load.accepted not in answer:
                raise SystemExit(f"refused: {answer[:200]!r}")
    finally:
        writer.close()


async def one_run(port: int, api_key: str, receiver: Receiver, tap: SmppTap, serve_pid: int, meter: CpuMeter,
                  run: int, args: argparse.Namespace) -> Run:  # fmt: skip
    fields = {**FIELDS, "user_login": LOGIN, "api_key": api_key}

    def request(n: int) -> bytes:
        body = urlencode({**fields, "sms_recipients": f"+336{run:02d}{n:06d}"}).encode()
        return (b"POST /api/sms HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip

    load = Load(port, request, b"<error_code>000</error_code>")
    return await measured_run(load, receiver, tap, serve_pid, meter, run, args)


async def measured_run(load: Load, receiver: Receiver, tap: SmppTap, root_pid: int, meter: CpuMeter, run: int,
                       args: argparse.Namespace) -> Run:  # fmt: skip
    """One run of --messages requests from --concurrency connections, until every receipt is pushed; the
    gateway is `root_pid` and its descendants."""
    messages = args.messages
    numbers = iter(range(messages))
    latencies: list[float] = []
    answers: list[float] = []
    already = len(receiver.receipts)
    submits_before = len(tap.submits)
    delivers_before = len(tap.delivers)
    peak_rss = 0.0
    sampling = True

    async def sample_rss() -> None:
        nonlocal peak_rss
        while sampling:
            peak_rss = max(peak_rss, rss_mb(process_tree(root_pid)))
            await asyncio.sleep(0.2)

    sampler = asyncio.create_task(sample_rss())
    per_process_before = {pid: cpu_seconds(pid) or 0.0 for pid in process_tree(root_pid)}
    per_thread_before = {pid: thread_cpu_seconds(pid) for pid in process_tree(root_pid)}
    meter.start()
    started = time.perf_counter()
    await asyncio.gather(*(send_requests(load, numbers, latencies, answers) for _ in range(args.concurrency)))
    accepted = time.perf_counter()
    deadline = time.monotonic() + args.timeout
    while len(receiver.receipts) - already < messages:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(receiver.receipts) - already} of {messages} receipts pushed in time")
        receiver.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver.changed.wait(), 1.0)
    octogate_s, postgres_s = meter.used()
    per_process = {pid: (cpu_seconds(pid) or 0.0) - per_process_before.get(pid, 0.0)
                   for pid in process_tree(root_pid)}  # fmt: skip
    per_thread = {pid: thread_cpu_seconds(pid) for pid in per_process}
    sampling = False
    await sampler
    submits = tap.submits[submits_before:]
    latencies.sort()
    result = Run(
        accepted_per_s=messages / (accepted - started),
        p50_ms=latencies[len(latencies) // 2] * 1e3,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
        submits_per_s=(len(submits) - 1) / (submits[-1] - submits[0]) if len(submits) > 1 else 0.0,
        answer_gap_s=longest_gap([started, *answers]),
        submit_gap_s=longest_gap(submits),
        push_lag_s=receiver.receipts.last - submits[-1],  # type: ignore[attr-defined]
        cpu_ms=octogate_s / messages * 1e3,
        postgres_ms=postgres_s / messages * 1e3,
        rss_mb=peak_rss,
    )
    def by_thread(pid: int) -> str:
        """The process's CPU per message by thread (`thread_cpu_seconds`), the busiest first."""
        before = per_thread_before.get(pid, {})
        used = {name: (now - before.get(name, 0.0)) / messages * 1e3 for name, now in per_thread[pid].items()}
        return ", ".join(f"{name} {ms:.3f}" for name, ms in sorted(used.items(), key=lambda i: -i[1]) if ms >= 0.001)

    split = "CPU ms/message " + ", ".join(
        f"pid {pid} {seconds / messages * 1e3:.2f} ({by_thread(pid)})"
        for pid, seconds in sorted(per_process.items()) if seconds > 0
    )  # fmt: skip
    _, answer_gap_at = gap_and_start([started, *answers])
    _, submit_gap_at = gap_and_start(submits)
    print_lags(submits, tap.delivers[delivers_before:], receiver.receipts.times[already:], started)  # type: ignore[attr-defined]
    print(f"  run {run + 1}: {report(result)}\n         longest gaps began {answer_gap_at - started:.1f} s "
          f"(answers) and {submit_gap_at - started:.1f} s (submits) after the first request; {split}; "
          f"{len(submits)} submit_sm, all pushed {receiver.receipts.last - started:.1f} s after the first "  # type: ignore[attr-defined]
          f"request")  # fmt: skip
    return result


def print_lags(submits: list[float], delivers: list[float], pushes: list[float], started: float) -> None:
    """Where the time from submit to push goes, message by message, matching the k-th submit with the k-th
    deliver_sm and the k-th push (each nearly in order: the SMSC answers in submit order, 1 s later): submit ->
    deliver_sm (the SMSC's delay, and the gateway's reading of receipts once the socket's buffers are full) and
    deliver_sm -> push (the gateway: receipt applied, push claimed, POSTed); then submit -> push at each tenth of
    the run, to see when a backlog builds."""
    count = min(len(submits), len(delivers), len(pushes))
    if count < 2:
        return
    submits, delivers, pushes = sorted(submits)[:count], sorted(delivers)[:count], sorted(pushes)[:count]

    def spread(lags: list[float]) -> str:
        lags = sorted(lags)
        return (f"p50 {lags[count // 2] * 1e3:.0f} p99 {lags[min(count - 1, int(count * 0.99))] * 1e3:.0f} "
                f"max {lags[-1] * 1e3:.0f} ms")  # fmt: skip

    deliver_lags = [d - s for s, d in zip(submits, delivers, strict=True)]
    push_lags = [p - d for d, p in zip(delivers, pushes, strict=True)]
    tenths = ", ".join(f"{(submits[k] - started):.1f}s:{(pushes[k] - submits[k]) * 1e3:.0f}"
                       for k in range(0, count, max(1, count // 10)))  # fmt: skip
    last = (pushes[-1] - submits[-1]) * 1e3
    print(f"         submit -> deliver_sm {spread(deliver_lags)}; deliver_sm -> push {spread(push_lags)}\n"
          f"         submit -> push (ms) by submit time: {tenths}, last {last:.0f}")  # fmt: skip


def report(r: Run) -> str:
    return (f"accepted {r.accepted_per_s:,.0f}/s, HTTP p50 {r.p50_ms:.1f} ms p99 {r.p99_ms:.1f} ms, "
            f"submit_sm {r.submits_per_s:,.0f}/s, longest gap: answers {r.answer_gap_s * 1e3:.0f} ms, "
            f"submits {r.submit_gap_s * 1e3:.0f} ms; last push {r.push_lag_s:.2f} s after last submit; CPU/msg "
            f"{r.total_ms:.3f} ms (gateway {r.cpu_ms:.3f} + PostgreSQL {r.postgres_ms:.3f}); "
            f"peak RSS {r.rss_mb:.0f} MB")  # fmt: skip


async def bench(args: argparse.Namespace, folder: str, database_url: str) -> None:
    env = {**os.environ, "OCTOGATE_DATABASE_URL": database_url, "OCTOGATE_STORE_STATS": f"{folder}/store-waits",
           "OCTOGATE_ADMIN": "off"}  # several benches may run on one machine
    env.pop("OCTOGATE_CONFIG", None)
    async with smsc_and_receiver(folder, env, args, TimedSet()) as (receiver, tap):
        http_port = free_port()
        env["OCTOGATE_CONFIG"] = write_config(folder, tap.port, args)
        env["OCTOGATE_HTTP"] = f"127.0.0.1:{http_port}"
        cli("account", "list", database_url=database_url, folder=folder)  # creates and migrates the database
        created = cli("account", "create", LOGIN, "--credit", "10000000", database_url=database_url, folder=folder)
        api_key = created.split("api_key=", 1)[1].split()[0]
        cli("account", "urls", LOGIN, "--receipt", f"http://127.0.0.1:{receiver.port}/receipt",
            database_url=database_url, folder=folder)  # fmt: skip
        if args.history:
            add_history(database_url, args.history)
        serve = start_process([sys.executable, "-m", "octogate.cli", "serve"], "Octopush API on", folder, env)
        try:
            await wait_bound(tap)
            meter = CpuMeter(serve.pid, args.postgres_url if args.postgres else None, APPLICATION_NAME)
            runs = [await one_run(http_port, api_key, receiver, tap, serve.pid, meter, run, args)
                    for run in range(args.runs)]  # fmt: skip
        finally:
            stop_process(serve)
    print_write_waits(folder)
    engine = "PostgreSQL" if args.postgres else f"SQLite {sqlite3.sqlite_version}"
    # The gateway runs under this interpreter, and its build shows in the figures (docs/performance.md).
    print_summary(f"pipeline on {engine}, Python {platform.python_version()}", runs, args)


@contextlib.asynccontextmanager
async def smsc_and_receiver(folder: str, env: dict[str, str], args: argparse.Namespace,
                            receipts: TimedSet) -> AsyncIterator[tuple[Receiver, SmppTap]]:  # fmt: skip
    """The receiver of pushes (keeping them in `receipts`), and `octogate smsc-sim` (account octogate:secret)
    as a process of its own with the tap in front of it; all stopped at the end."""
    receiver = Receiver()
    receiver.receipts = receipts
    await receiver.start()
    smsc_port = free_port()
    simulator = start_process(
        [sys.executable, "-m", "octogate.cli", "smsc-sim", "--listen", f"127.0.0.1:{smsc_port}",
         "--account", "octogate:secret", "--receipt-delay-ms", str(args.receipt_delay_ms)],
        "SMSC simulator listening", folder, env,
    )  # fmt: skip
    tap = SmppTap(smsc_port)
    await tap.start()
    try:
        yield receiver, tap
    finally:
        stop_process(simulator)
        await tap.close()
        await receiver.close()


def print_summary(title: str, runs: list[Run], args: argparse.Namespace) -> None:
    print(f"{title}, {args.runs} runs of {args.messages:,} single-recipient requests at "
          f"concurrency {args.concurrency}, window {args.window}, receipts after {args.receipt_delay_ms:.0f} ms; "
          f"medians:")  # fmt: skip
    median = Run(*(statistics.median(getattr(r, name) for r in runs) for name in Run.__dataclass_fields__))
    print(f"  {report(median)}")
    print(f"  CPU/msg per run: {', '.join(f'{r.total_ms:.3f}' for r in runs)} ms; HTTP p99 per run: "
          f"{', '.join(f'{r.p99_ms:.0f}' for r in runs)} ms; peak RSS per run: "
          f"{', '.join(f'{r.rss_mb:.0f}' for r in runs)} MB")  # fmt: skip


async def wait_bound(tap: SmppTap) -> None:
    """Until the gateway has connected to the SMSC (through the tap)."""
    deadline = time.monotonic() + 30
    while not tap.tasks:
        if time.monotonic() > deadline:
            raise SystemExit("the gateway did not connect to the SMSC simulator")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the bind itself


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The load and the SMSC of a run (what measured_run and start_simulator read)."""
    parser.add_argument("--messages", type=int, default=20_000, help="single-recipient requests per run (20,000)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight (50)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=int, default=64, help="the connector's SMPP window (64)")
    parser.add_argument("--receipt-delay-ms", type=float, default=1000.0, help="the simulator's (1000)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the pushes of a run")


HISTORY_CHUNK = 50_000


def add_history(database_url: str, count: int) -> None:
    """`count` messages of the bench account, finished a day ago: each with its delivered part, the part's key
    (connector `history`: never one the run's receipts could name) and its delivered receipt push."""
    started = time.monotonic()
    day_ago = int(time.time()) - 86_400
    conn = Connection(DatabaseURL.parse(database_url))
    try:
        with conn.transaction():
            account = conn.fetchone("SELECT id FROM accounts WHERE login = ?", (LOGIN,))
            assert account is not None, "the bench account is created first"
            account_id = account[0]
            campaign = conn.fetchone(
                "INSERT INTO campaigns (account_id, source, sms_type, sender_is_msisdn, text, transactional, "
                "with_replies, recipients, sms, cost, send_at, created_at) VALUES (?, 'http', 'FR', 0, 'history', "
                "0, 0, ?, ?, 0, ?, ?) RETURNING id",
                (account_id, count, count, day_ago, day_ago),
            )
            assert campaign is not None
            campaign_id = campaign[0]
            first = 1  # the database is new: the run's messages come after these
        for start in range(0, count, HISTORY_CHUNK):
            ids = range(first + start, first + min(count, start + HISTORY_CHUNK))
            at = [day_ago + (i - first) * 86_400 // count for i in ids]
            with conn.transaction():
                conn.bulk_insert("messages", (
                    "id", "campaign_id", "account_id", "recipient", "country", "calling_code", "sms", "cost",
                    "status", "priority", "send_at", "attempts", "connector", "parts", "submitted_at", "done_at",
                    "receipt_status",
                ), [(i, campaign_id, account_id, f"+3361{i % 10**8:08d}", "FR", 33, 1, 0, "delivered", 1, t, 1,
                     "bench-smsc", 1, t, t + 2, "DELIVERED") for i, t in zip(ids, at, strict=True)])  # fmt: skip
                conn.bulk_insert("message_parts", (
                    "message_id", "seq", "connector", "carrier_id", "status", "submitted_at", "done_at", "received_at",
                ), [(i, 1, "history", f"{i:x}", "DELIVRD", t, t + 1, t + 2) for i, t in zip(ids, at, strict=True)])
                conn.bulk_insert("part_keys", ("connector", "carrier_key", "message_id", "seq", "same_base"),
                                 [("history", f"{i:x}", i, 1, 1) for i in ids])  # fmt: skip
                conn.bulk_insert("callbacks", (
                    "account_id", "kind", "payload", "status", "attempts", "next_attempt_at", "created_at",
                    "delivered_at", "delivered_code",
                ), [(account_id, "receipt", f"message_id={i}&status=DELIVERED", "delivered", 1, t + 2, t + 2, t + 3,
                     200) for i, t in zip(ids, at, strict=True)])  # fmt: skip
        if conn.dialect == "postgresql":  # the ids given explicitly did not move the sequence
            conn.execute("SELECT setval(pg_get_serial_sequence('messages', 'id'), MAX(id)) FROM messages")
            for table in ("messages", "message_parts", "part_keys", "callbacks"):
                conn.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        conn.close()
    print(f"  history: {count:,} finished messages stored in {time.monotonic() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--postgres", action="store_true", help="a fresh schema in local PostgreSQL")
    parser.add_argument("--workers", type=int, default=0, help="[http] workers: API processes (0: the default)")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--history", type=int, default=0, help="finished messages stored before the runs (0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octogate-pipeline-") as folder:
        if args.postgres:
            with postgres_schema(args.postgres_url) as url:
                asyncio.run(bench(args, folder, with_application_name(url, APPLICATION_NAME)))
        else:
            asyncio.run(bench(args, folder, f"sqlite:///{folder}/bench.db"))


if __name__ == "__main__":
    main()
