"""End to end: /api/sms acceptance to submit_sm_resp at the SMSC, through `octogate serve` as a user runs it.

Starts `octogate serve` in a subprocess (fresh SQLite file, free port, the embedded SMSC simulator), sends
campaigns through /api/sms, polls the database until every message is 'submitted', and prints messages/s
from the first request to the last submit (median of the runs).

    .venv/bin/python bench/end_to_end.py [--messages 10000] [--campaign-size 500] [--concurrency 4] [--runs 3]

Benchmarks print; they assert nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from octogate.store import delivery
from octogate.store.db import Connection, DatabaseURL

DEMO_KEY = "bench-end-to-end-key"
LOGIN = "demo@octogate.local"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(folder: str) -> tuple[subprocess.Popen[str], str, str]:
    port = free_port()
    database_url = f"sqlite:///{folder}/bench.db"
    env = {**os.environ, "OCTOGATE_HTTP": f"127.0.0.1:{port}", "OCTOGATE_DATABASE_URL": database_url,
           "OCTOGATE_DEMO_KEY": DEMO_KEY, "OCTOGATE_SMTP": "off"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "octogate.cli", "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=folder,
    )  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        print("  serve:", line.rstrip())
        if "Octopush API on" in line:
            return process, f"http://127.0.0.1:{port}", database_url
    process.kill()
    raise SystemExit("octogate serve did not start")


def submitted(conn: Connection) -> int:
    """Messages the SMSC has accepted: submitted, and those whose receipt already moved them on."""
    counts = delivery.status_counts(conn)
    return sum(counts.get(status, 0) for status in ("submitted", "delivered", "undelivered"))


async def one_run(
    base_url: str, conn: Connection, run: int, messages: int, size: int, concurrency: int
) -> float:
    already = submitted(conn)
    batches = [
        ",".join(f"+336{run:02d}{n:06d}" for n in range(start, min(start + size, messages)))
        for start in range(0, messages, size)
    ]
    pending = asyncio.Queue[str]()
    for batch in batches:
        pending.put_nowait(batch)

    async def sender(client: httpx.AsyncClient) -> None:
        while not pending.empty():
            recipients = pending.get_nowait()
            answer = await client.post(
                "/api/sms",
                data={"user_login": LOGIN, "api_key": DEMO_KEY, "sms_type": "FR", "sms_sender": "Bench",
                      "sms_text": "Your code is 123456", "transactional": "1", "sms_recipients": recipients},
            )  # fmt: skip
            if "<error_code>000</error_code>" not in answer.text:
                raise SystemExit(f"refused: {answer.text[:200]}")

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
    accepted = time.perf_counter()
    deadline = time.monotonic() + 600
    while submitted(conn) - already < messages:
        if time.monotonic() > deadline:
            raise SystemExit("messages were not all submitted within 10 minutes")
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    rate = messages / elapsed
    print(f"  run {run + 1}: {messages} messages accepted in {accepted - started:.2f}s, "
          f"all submitted after {elapsed:.2f}s: {rate:,.0f} messages/s")  # fmt: skip
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--campaign-size", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octogate-bench-") as folder:
        process, base_url, database_url = start_serve(folder)
        try:
            credit = subprocess.run(
                [sys.executable, "-m", "octogate.cli", "account", "credit", LOGIN, "1000000",
                 "--database-url", database_url],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if credit.returncode:
                raise SystemExit(f"cannot credit the demo account: {credit.stderr[:200]}")
            conn = Connection(DatabaseURL.parse(database_url))
            rates = [
                asyncio.run(one_run(base_url, conn, run, args.messages, args.campaign_size, args.concurrency))
                for run in range(args.runs)
            ]
            conn.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"end to end (/api/sms acceptance to submit_sm_resp, embedded simulator, SQLite): "
          f"median {statistics.median(rates):,.0f} messages/s over {args.runs} runs of {args.messages}")  # fmt: skip


if __name__ == "__main__":
    main()
