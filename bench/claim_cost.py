"""Cost of one dispatcher claim on PostgreSQL with a large backlog: one account, N queued messages of one
campaign (one send_at, as a real campaign has), 16 claimed per round. Prints the median of 20 claims.

    .venv/bin/python bench/claim_cost.py [--queued 200000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time

import psycopg

from octogate.store import queue
from octogate.store.store import Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queued", type=int, default=200_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{args.database_url}?options=-csearch_path%3D{schema}"
    store = Store(url)
    try:
        store.migrate()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO accounts (login, api_key_hash, created_at) VALUES ('bench', 'x', 0)")
            conn.execute(
                "INSERT INTO campaigns (account_id, source, sms_type, sender_is_msisdn, text, transactional, "
                "with_replies, recipients, sms, cost, send_at, created_at) VALUES (1, 'http', 'FR', 0, 't', 0, 0, "
                "%s, %s, 0, 0, 0)",
                (args.queued, args.queued),
            )
            conn.execute(
                "INSERT INTO messages (campaign_id, account_id, recipient, country, calling_code, sms, cost, "
                "priority, send_at) SELECT 1, 1, '+336' || g, 'FR', 33, 1, 0, 1, 0 FROM generate_series(1, %s) g",
                (args.queued,),
            )
            conn.execute("ANALYZE messages")
        times = []
        with store.connect() as conn:
            for _ in range(20):
                started = time.perf_counter()
                with conn.transaction():
                    queue.claim_fair(conn, queue.MESSAGES, "bench", 10**9, 10**9 + 300, queue.Want(16, {}))
                times.append(time.perf_counter() - started)
        print(f"claim of 16 among {args.queued:,} queued: median {statistics.median(times) * 1000:.2f} ms")
    finally:
        store.close()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
