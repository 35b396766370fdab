"""Receipts processed per second: a campaign through the embedded SMSC simulator with receipts on, timed from
its acceptance until every message has a final state (its receipt applied and its push written).

Runs in one process the pieces `octogate serve` runs (the API app, the dispatcher and connectors of
`octogate.dispatch.runtime.Delivery`, the incoming handler) on a fresh SQLite file per run (or --database-url),
and prints receipts/s for each run and their median.

    .venv/bin/python bench/receipts_throughput.py [--messages 10000] [--runs 3] [--receipt-delay-ms 0]

Benchmarks print; they assert nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time

import httpx

from octogate.config import Settings, SimulatorSettings
from octogate.dispatch.runtime import Delivery
from octogate.keys import hash_api_key, new_api_key
from octogate.server import build_app, prepare_store
from octogate.sms.money import to_micro
from octogate.store import delivery, queries
from octogate.store.store import Store

LOGIN = "bench@octogate.local"
FINAL = ("delivered", "undelivered", "failed")


def final_count(store: Store) -> int:
    with store.connect() as conn:
        counts = delivery.status_counts(conn)
    return sum(counts.get(status, 0) for status in FINAL)


async def one_run(database_url: str, messages: int, receipt_delay_ms: float, campaign_size: int) -> float:
    settings = Settings(
        database_url=database_url,
        simulator=SimulatorSettings(receipt_delay_ms=receipt_delay_ms, fail_rate=0.1, window=64),
    )
    store = prepare_store(settings)
    key = new_api_key()
    store.run(queries.create_account, LOGIN, hash_api_key(key), to_micro("1000000"), int(time.time()))
    with store.connect() as conn:
        conn.execute("UPDATE accounts SET receipt_url = ? WHERE login = ?", ("http://customer.test/r", LOGIN))
    app = build_app(store, settings)
    running = await Delivery.start(store, settings)
    app.gateway.on_accepted.append(running.dispatcher.wake)
    try:
        started = time.perf_counter()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            for start in range(0, messages, campaign_size):
                recipients = ",".join(
                    f"+336{n:08d}" for n in range(start, min(start + campaign_size, messages))
                )
                answer = await client.post("/api/sms", data={
                    "user_login": LOGIN, "api_key": key, "sms_type": "FR", "sms_sender": "Bench",
                    "sms_text": "Your code is 123456", "transactional": "1", "sms_recipients": recipients,
                })  # fmt: skip
                if "<error_code>000</error_code>" not in answer.text:
                    raise SystemExit(f"refused: {answer.text[:200]}")
        accepted = time.perf_counter()
        deadline = time.monotonic() + 600
        while (done := await asyncio.to_thread(final_count, store)) < messages:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done} of {messages} messages final after 10 minutes")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        with store.connect() as conn:
            row = conn.fetchone("SELECT COUNT(*) FROM callbacks WHERE kind = 'receipt'")
        assert running.incoming is not None
        print(f"  {messages} accepted in {accepted - started:.2f}s, all final after {elapsed:.2f}s "
              f"({row[0] if row else 0} receipt pushes owed; handler: {running.incoming.counts}): "
              f"{messages / elapsed:,.0f} receipts/s")  # fmt: skip
        return messages / elapsed
    finally:
        await running.stop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--campaign-size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--receipt-delay-ms", type=float, default=0.0)
    parser.add_argument("--database-url", help="default: a fresh SQLite file per run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rates = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="octogate-bench-") as folder:
            url = args.database_url or f"sqlite:///{folder}/bench.db"
            print(f"run {run + 1}:")
            rates.append(asyncio.run(one_run(url, args.messages, args.receipt_delay_ms, args.campaign_size)))
    print(f"receipts: median {statistics.median(rates):,.0f} receipts/s over {args.runs} runs of {args.messages} "
          f"(acceptance to every message final, embedded simulator)")  # fmt: skip


if __name__ == "__main__":
    main()
