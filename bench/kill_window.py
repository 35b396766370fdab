"""The double-send window after a crash: `octogate serve` SIGKILLed mid-run, restarted, and what went twice.

Issue 9 item 6: SMSC acceptances are durable within 50 ms (group commit), so after a SIGKILL the messages
submitted again are at most those unanswered at the kill plus those answered in its last 50 ms. Each run starts
`octogate serve` (a fresh SQLite file, or with --postgres a fresh PostgreSQL schema) against an SMSC simulator in
a separate process that records every submit_sm and every answer with its time (bench/live_gateway.py), sends
--messages single-recipient requests through /api/sms, SIGKILLs serve (and its background process) once the
SMSC has accepted --kill-at of them, restarts it on the same database, and waits until every message is final
and its receipt pushed. Then it prints, per run: the messages submitted twice; how many were unanswered at the
kill and how many answered in its last 50 ms; whether every resent message is one of those; the earliest answer
(before the kill) of a resent message; the duplicate pushes; how long the restarted host took to send again.

    .venv/bin/python bench/kill_window.py               # SQLite, 3 runs
    .venv/bin/python bench/kill_window.py --postgres    # PostgreSQL, 3 runs

Benchmarks print; they assert nothing (exit 1 only if the run could not complete).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import DEMO_KEY, Receiver, cli, postgres_schema
from live_gateway import Gateway, Simulator, write_config

LOGIN = "kill@example.com"
BOUND = 0.050  # the group-commit promise: an acceptance is durable this long after it was answered


@dataclass
class RunResult:
    messages: int  # in the database at the end
    accepted_before_kill: int  # requests answered 000 before the kill
    resent: int
    unanswered: int
    answered_last: int
    within: bool
    earliest_ms: float  # how long before the kill the earliest resent message had been answered (0: none)
    push_duplicates: int
    resend_after_s: float  # restart -> first submit of the restarted host


def unfinished(database_url: str) -> int:
    final = "'delivered', 'undelivered', 'failed'"
    return count(database_url, f"SELECT COUNT(*) FROM messages WHERE status NOT IN ({final})")  # noqa: S608


def messages_in(database_url: str) -> int:
    return count(database_url, "SELECT COUNT(*) FROM messages")


def count(database_url: str, sql: str) -> int:
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url[len("sqlite:///") :], timeout=10)) as conn:
            return int(conn.execute(sql).fetchone()[0])
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


async def send_all(base_url: str, key: str, numbers: list[str], concurrency: int) -> int:
    """Single-recipient requests on keep-alive connections; returns how many were accepted."""
    port = int(base_url.rsplit(":", 1)[1])
    pending = list(reversed(numbers))
    accepted = 0

    async def sender() -> None:
        nonlocal accepted
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while pending:
                fields = {"user_login": LOGIN, "api_key": key, "sms_type": "FR", "sms_sender": "Bench",
                          "sms_text": "Your code is 123456", "transactional": "1", "sms_recipients": pending.pop()}
                body = urlencode(fields).encode()
                writer.write(b"POST /api/sms HTTP/1.1\r\nHost: bench\r\nContent-Type: "
                             b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))  # fmt: skip
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))  # fmt: skip
                if b"<error_code>000</error_code>" in await reader.readexactly(length):
                    accepted += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            return  # the gateway was killed
        finally:
            writer.close()

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return accepted


def analyse(events: list[tuple[str, str, float]], killed_at: float, restarted_at: float) -> dict[str, object]:
    submits: dict[str, list[float]] = {}
    answers: dict[str, list[float]] = {}
    for kind, number, when in events:
        (submits if kind == "S" else answers).setdefault(number, []).append(when)
    resent = [n for n, times in submits.items() if len(times) > 1]
    first_answer = {n: min(times) for n, times in answers.items()}
    # Sent by the dead run: before the restart (a submit_sm written just before the kill reaches the SMSC just
    # after it, and is as unanswered at the kill as one read before it).
    before = [n for n, times in submits.items() if min(times) < restarted_at]
    unanswered = {n for n in before if first_answer.get(n, float("inf")) > killed_at}
    answered_last = {n for n in before if killed_at - BOUND <= first_answer.get(n, float("inf")) <= killed_at}
    earliest = max((killed_at - first_answer[n] for n in resent if first_answer.get(n, killed_at) < killed_at),
                   default=0.0)  # fmt: skip
    again = [when for times in submits.values() for when in times if when > restarted_at]
    return {
        "resent": len(resent), "unanswered": len(unanswered), "answered_last": len(answered_last),
        "within": all(n in unanswered or n in answered_last for n in resent), "earliest_ms": earliest * 1e3,
        "resend_after_s": (min(again) - restarted_at) if again else 0.0,
    }  # fmt: skip


async def one_run(run: int, args: argparse.Namespace, folder: Path, database_url: str) -> RunResult:
    sim = Simulator.start(folder, args.latency_ms, args.receipt_delay_ms)
    config = write_config(folder, sim.port, args.window, args.lease_seconds)
    receiver = Receiver()
    await receiver.start()
    gateway = Gateway.start(folder, config, database_url, DEMO_KEY, f"serve-{run}-a")
    try:
        created = subprocess.run(  # noqa: ASYNC221 - before the run starts
            [sys.executable, "-m", "octogate.cli", "account", "create", LOGIN, "--credit", "1000000",
             "--database-url", database_url], capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        key = created.split("api_key=")[1].split()[0]
        cli("account", "urls", LOGIN, "--receipt", f"http://127.0.0.1:{receiver.port}/receipt",
            database_url=database_url)  # fmt: skip
        numbers = [f"+336{run:02d}{n:06d}" for n in range(args.messages)]
        # The API is still accepting when the kill comes (the load the group commit must hold under): requests
        # cut by it are not sent again (a cut request may have been committed: resending it would make a second
        # message, not a resend). The messages are what the database holds.
        sending = asyncio.create_task(send_all(gateway.base_url, key, numbers, args.concurrency))
        while sim.submits() < int(args.messages * args.kill_at):
            if sending.done():
                sending.result()  # a refusal stops the bench
            await asyncio.sleep(0.005)
        killed_at = time.time()
        gateway.kill()
        accepted = await sending
        await asyncio.sleep(0.2)  # the simulator's record of the last answers is flushed
        restarted_at = time.time()
        gateway = Gateway.start(folder, config, database_url, DEMO_KEY, f"serve-{run}-b")
        expected = messages_in(database_url)
        deadline = time.monotonic() + args.timeout
        total = 0
        while True:
            total = len({number for _, number in receiver.receipts})
            if total >= expected and not unfinished(database_url):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"run {run + 1}: {total} of {expected} pushed, {unfinished(database_url)} "
                                 "not final in time")  # fmt: skip
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a duplicate push in flight arrives
    finally:
        gateway.stop()
        await receiver.close()
        sim.stop()
    found = analyse(sim.events(), killed_at, restarted_at)
    result = RunResult(messages=expected, accepted_before_kill=accepted,
                       push_duplicates=receiver.pushes - len(receiver.receipts), **found)  # type: ignore[arg-type]  # fmt: skip
    print(f"  run {run + 1}: {result.messages} messages ({result.accepted_before_kill} answered before the kill), "
          f"{result.resent} messages submitted twice; {result.unanswered} unanswered at the kill, "
          f"{result.answered_last} answered in its last {BOUND * 1e3:.0f} ms; every resent one of those: "
          f"{'yes' if result.within else 'NO'}; earliest resent answer {result.earliest_ms:.0f} ms before the kill; "
          f"{result.push_duplicates} duplicate pushes; the restarted host sent again after "
          f"{result.resend_after_s:.1f} s", flush=True)  # fmt: skip
    return result


async def bench(args: argparse.Namespace) -> None:
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="octogate-kill-") as name:
            folder = Path(name)
            if args.postgres:
                with postgres_schema(args.postgres_url) as url:
                    results.append(await one_run(run, args, folder, url))
            else:
                results.append(await one_run(run, args, folder, f"sqlite:///{folder}/kill.db"))
    database = "PostgreSQL" if args.postgres else "SQLite"

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):g}"

    print(f"kill window on {database}, {args.runs} runs of {args.messages} messages (window {args.window}, SMSC "
          f"latency {args.latency_ms:g} ms, SIGKILL after {args.kill_at:.0%} submitted): median submitted twice "
          f"{median([r.resent for r in results])} [runs: {', '.join(str(r.resent) for r in results)}]; unanswered "
          f"at the kill {median([r.unanswered for r in results])}; answered in its last 50 ms "
          f"{median([r.answered_last for r in results])}; within the bound in "
          f"{sum(r.within for r in results)}/{len(results)} runs; earliest resent answer before the kill median "
          f"{median([round(r.earliest_ms) for r in results])} ms [runs: "
          f"{', '.join(f'{r.earliest_ms:.0f}' for r in results)}]; duplicate pushes median "
          f"{median([r.push_duplicates for r in results])} [runs: "
          f"{', '.join(str(r.push_duplicates) for r in results)}]")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kill-at", type=float, default=0.3,
                        help="share of messages submitted at the kill (0.3: the API is still accepting)")
    parser.add_argument("--window", type=int, default=10, help="the connector's SMPP window")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the SMSC's answer time")
    parser.add_argument("--receipt-delay-ms", type=float, default=200.0)
    parser.add_argument("--lease-seconds", type=int, default=300, help="[dispatch] lease_seconds (the default)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--postgres", action="store_true", help="a fresh schema in local PostgreSQL")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
