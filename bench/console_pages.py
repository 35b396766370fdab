"""Server time of every console page with 1,000,000 messages in the store (issue 13: <= 100 ms each).

The store is filled in bulk by SQL (generate_series on PostgreSQL, a recursive CTE on SQLite): 200 accounts,
9,000 campaigns of 100 messages over 30 days plus one of 100,000 three days ago (the newest id: on the first
page of the lists), 2% of messages not final (about 67,000 messages reached a final status in the last 48 h),
50,000 incoming texts, 10,000 STOPs, 100,000 pushes with their attempts, 10,000 mails and audit entries. The
benchmarked customer owns a fifth of it, the big campaign included. Each page is asked through the real ASGI
app (in process: no network), signed in as a browser is; the median of several runs is printed.

    .venv/bin/python bench/console_pages.py [--database postgresql|sqlite|both] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import statistics
import tempfile
import time
from urllib.parse import quote

import httpx
import psycopg

from octogate.config import Settings
from octogate.console.app import WithConsole, build_console
from octogate.operations import Operator
from octogate.server import build_app, prepare_store
from octogate.store.store import Store
from octogate.store.tickets import ticket_for

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
MESSAGES = 1_000_000
SMALL_CAMPAIGNS = 9_000  # of 100 messages; campaign 9001 has the other 100,000
BIG = SMALL_CAMPAIGNS + 1
BENCH_LOGIN = "bench@octogate.test"
PASSWORD = "bench password 1"  # noqa: S105 - a throwaway database's
DAYS = 30

# Campaign g belongs to account 1 (the benchmarked customer) when g % 5 = 0 or g is the big one.
OWNER = "CASE WHEN {g} % 5 = 0 OR {g} = {big} THEN 1 ELSE 2 + {g} % 199 END"
STATUS = (
    "CASE WHEN {m} % 200 = 0 THEN 'queued' WHEN {m} % 200 = 1 THEN 'submitted' WHEN {m} % 200 < 8 THEN 'failed' "
    "WHEN {m} % 200 < 18 THEN 'undelivered' ELSE 'delivered' END"
)


def fill(url: str, dialect: str, now: int) -> None:
    """Bulk rows, straight in SQL: the benchmark is about reading them."""
    start = now - DAYS * 86400
    if dialect == "postgresql":
        raw = psycopg.connect(url, autocommit=True)
        run = raw.execute
        series = "generate_series(1, {n}) AS s(i)"
        pad = "lpad((i % 100000000)::text, 8, '0')"
        hexed = "to_hex(i)"
    else:
        import sqlite3

        raw = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)  # type: ignore[assignment]
        run = raw.execute
        run("CREATE TEMP TABLE nums (i INTEGER PRIMARY KEY)")
        run(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {MESSAGES}) "  # noqa: S608
            "INSERT INTO nums SELECT i FROM n")  # fmt: skip
        series = "(SELECT i FROM nums WHERE i <= {n})"
        pad = "printf('%08d', i % 100000000)"
        hexed = "printf('%x', i)"
    campaign_of = f"(CASE WHEN i <= {SMALL_CAMPAIGNS * 100} THEN (i - 1) / 100 + 1 ELSE {BIG} END)"
    step = DAYS * 86400 // SMALL_CAMPAIGNS
    created = f"(CASE WHEN {{g}} = {BIG} THEN {now - 3 * 86400} ELSE {start} + {{g}} * {step} END)"
    statements = [
        "BEGIN",
        f"INSERT INTO accounts (login, api_key_hash, balance, created_at) SELECT CASE WHEN i = 1 THEN '{BENCH_LOGIN}' "  # noqa: S608
        f"ELSE 'customer' || i || '@example.com' END, 'x', 100000000, {start} FROM {series.format(n=200)}",
        "INSERT INTO campaigns (id, account_id, source, sms_type, sender, sender_is_msisdn, text, transactional, "  # noqa: S608
        "with_replies, recipients, sms, cost, send_at, created_at) "
        f"SELECT i, {OWNER.format(g='i', big=BIG)}, 'http', 'FR', 'Shop', 0, 'Sale today STOP au XXXXX', 0, 0, "
        f"CASE WHEN i = {BIG} THEN 100000 ELSE 100 END, CASE WHEN i = {BIG} THEN 100000 ELSE 100 END, 6500000, "
        f"{created.format(g='i')}, {created.format(g='i')} FROM {series.format(n=BIG)}",
        "INSERT INTO messages (campaign_id, account_id, recipient, country, calling_code, sms, cost, status, "  # noqa: S608
        "priority, send_at, attempts, connector, parts, submitted_at, done_at, receipt_status) "
        f"SELECT {campaign_of}, {OWNER.format(g=campaign_of, big=BIG)}, '+336' || {pad}, 'FR', 33, 1, 65000, "
        f"{STATUS.format(m='i')}, 1, {created.format(g=campaign_of)}, 1, 'smsc', 1, "
        f"{created.format(g=campaign_of)} + 1, "
        f"CASE WHEN i % 200 < 2 THEN NULL ELSE {created.format(g=campaign_of)} + 5 + i % 3000 END, "
        f"CASE WHEN i % 200 < 8 THEN NULL WHEN i % 200 < 18 THEN 'NOT_DELIVERED' ELSE 'DELIVERED' END "
        f"FROM {series.format(n=MESSAGES)}",
        # Every message's one part through the built-in simulator, carrier id = its id in hex (the sandbox scope).
        "INSERT INTO part_keys (connector, carrier_key, message_id, seq, same_base) "  # noqa: S608
        f"SELECT 'simulator', {hexed}, i, 1, 1 FROM {series.format(n=MESSAGES)}",
        "INSERT INTO incoming (connector, source, destination, text, kind, account_id, campaign_id, message_id, "  # noqa: S608
        f"received_at) SELECT 'smsc', '+336' || {pad}, '36179', CASE WHEN i % 4 = 0 THEN 'STOP' ELSE 'Thanks!' END, "
        f"CASE WHEN i % 4 = 0 THEN 'stop' ELSE 'reply' END, 1 + i % 10, 1 + i % {SMALL_CAMPAIGNS}, i, "
        f"{start} + i * 50 FROM {series.format(n=50_000)}",
        f"INSERT INTO stops (account_id, number, text, created_at) SELECT 1, '+337' || {pad}, 'STOP', {start} + i "  # noqa: S608
        f"FROM {series.format(n=10_000)}",
        "INSERT INTO callbacks (id, account_id, kind, payload, status, attempts, next_attempt_at, created_at, "  # noqa: S608
        "delivered_at, last_error) SELECT i, 1 + i % 20, 'receipt', 'status=DELIVERED', CASE WHEN i % 50 = 0 THEN "
        "'failed' ELSE 'delivered' END, CASE WHEN i % 50 = 0 THEN 12 ELSE 1 END, "
        f"{start} + i * 20, {start} + i * 20, CASE WHEN i % 50 = 0 THEN NULL ELSE {start} + i * 20 + 1 END, "
        f"CASE WHEN i % 50 = 0 THEN 'HTTP 503' ELSE NULL END FROM {series.format(n=100_000)}",
        "INSERT INTO callback_attempts (callback_id, attempt, attempted_at, status_code) "  # noqa: S608
        f"SELECT i, 1, {start} + i * 20, CASE WHEN i % 50 = 0 THEN 503 ELSE 200 END FROM {series.format(n=100_000)}",
        "INSERT INTO inbox (received_at, mail_from, subject, message_id, login, request_id, outcome, error_code, "  # noqa: S608
        f"ticket, reason) SELECT {start} + i * 200, 'shop@example.com', 'sms', '<m' || i || '>', '{BENCH_LOGIN}', "
        f"'r' || i, 'accepted', NULL, NULL, 'sent' FROM {series.format(n=10_000)}",
        "INSERT INTO audit_log (at, actor, action, target, detail) SELECT "  # noqa: S608
        f"{start} + i * 200, 'cli', 'account.credit', '{BENCH_LOGIN}', '1 EUR: top-up' FROM {series.format(n=10_000)}",
        "COMMIT",
    ]
    for statement in statements:
        run(statement)
    if dialect == "postgresql":
        for table in ("campaigns", "callbacks"):
            run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")  # noqa: S608
        run(
            "VACUUM ANALYZE"
        )  # what autovacuum does after a million inserts: statistics and the visibility map
    else:
        run("ANALYZE")
    raw.close()


async def measure(store: Store, runs: int) -> list[tuple[str, float, int]]:
    app = build_app(store, Settings())
    console = WithConsole(app, build_console(app.gateway))
    Operator(store).set_account_password(BENCH_LOGIN, PASSWORD)
    Operator(store).create_operator("ops@octogate.test", PASSWORD)
    transport = httpx.ASGITransport(app=console)
    customer = httpx.AsyncClient(transport=transport, base_url="http://bench")
    operator = httpx.AsyncClient(transport=transport, base_url="http://bench")
    for client, login, role in (
        (customer, BENCH_LOGIN, "customer"),
        (operator, "ops@octogate.test", "operator"),
    ):
        form = await client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        done = await client.post(
            "/console/login", data={"csrf": token, "login": login, "password": PASSWORD, "role": role}
        )
        assert done.status_code == 303, done.text
    token = re.search(r'name="csrf" value="([^"]+)"', (await customer.get("/console/send")).text).group(1)  # type: ignore[union-attr]
    big, small = ticket_for(BIG), ticket_for(SMALL_CAMPAIGNS // 2)
    estimate = {
        "csrf": token, "recipients": ",".join(f"+336{n:08d}" for n in range(100)), "text": "Sale STOP au XXXXX",
        "sender": "Shop", "sms_type": "FR",
    }  # fmt: skip
    pages: list[tuple[str, httpx.AsyncClient, str, dict[str, str] | None]] = [
        ("customer overview + 48 h chart", customer, "/console/home", None),
        ("customer campaigns", customer, "/console/campaigns", None),
        (
            "customer campaigns, page 40",
            customer,
            f"/console/campaigns?before={SMALL_CAMPAIGNS - 40 * 25 * 5}",
            None,
        ),
        ("customer campaign of 100,000", customer, f"/console/campaigns/{big}", None),
        ("  … its failed recipients", customer, f"/console/campaigns/{big}?status=failed", None),
        (
            "  … recipients page after 90,000",
            customer,
            f"/console/campaigns/{big}?after={MESSAGES - 10_000}",
            None,
        ),
        ("customer send form", customer, "/console/send", None),
        ("customer estimate, 100 recipients", customer, "/console/send/estimate", estimate),
        ("customer replies", customer, "/console/replies", None),
        ("customer STOPs only", customer, "/console/replies?kind=stop", None),
        ("customer STOP list", customer, "/console/stops", None),
        ("customer pushes", customer, "/console/pushes", None),
        ("customer failed pushes", customer, "/console/pushes?status=failed", None),
        ("customer API key", customer, "/console/key", None),
        ("operator accounts", operator, "/console/op/accounts", None),
        ("operator account", operator, f"/console/op/accounts/{quote(BENCH_LOGIN)}", None),
        ("operator campaigns", operator, "/console/op/campaigns", None),
        ("operator campaign (small)", operator, f"/console/op/campaigns/{small}", None),
        ("operator prices", operator, "/console/op/prices", None),
        ("operator connectors", operator, "/console/op/connectors", None),
        ("operator queue", operator, "/console/op/queue", None),
        ("operator pushes + failing hosts", operator, "/console/op/pushes", None),
        ("operator e-mail inbox", operator, "/console/op/inbox", None),
        ("operator traffic, 24 h", operator, "/console/op/traffic", None),
        ("operator audit log", operator, "/console/op/audit", None),
    ]
    results = []
    for name, client, path, data in pages:
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            answer = await (client.post(path, data=data) if data else client.get(path))
            times.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[-500:])
        results.append((name, statistics.median(times), len(answer.content)))
    # The sandbox page's scope for a customer: of the carrier ids of 50 phones x 50 messages (2,500, every
    # account's), those of the customer's own messages; one read on part_keys' primary key (the page's other
    # time is the simulator's control interface, bench/sandbox_latency.py).
    portal = console.console.console.portal
    ids = [format(i, "x") for i in range(1, MESSAGES, MESSAGES // 2500)][:2500]
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        owned = await portal.owned_carrier_ids(1, "simulator", ids)
        times.append((time.perf_counter() - began) * 1000)
    assert 0 < len(owned) < len(ids)
    results.append(("customer sandbox scope, 2,500 ids", statistics.median(times), 0))
    await customer.aclose()
    await operator.aclose()
    return results


def bench(dialect: str, runs: int) -> None:
    now = int(time.time())
    schema = None
    if dialect == "postgresql":
        schema = f"bench_{secrets.token_hex(4)}"
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='octogate-bench-')}/console.db"
    try:
        store = prepare_store(Settings(database_url=url))
        began = time.perf_counter()
        fill(url, dialect, now)
        print(
            f"\n{dialect}: {MESSAGES:,} messages loaded in {time.perf_counter() - began:.1f} s; median of {runs} runs"
        )
        results = asyncio.run(measure(store, runs))
        store.close()
        for name, ms, size in results:
            flag = "" if ms <= 100 else "   OVER 100 ms"
            print(f"  {name:<36} {ms:7.1f} ms  {size / 1024:6.1f} KiB{flag}")
        print(f"  slowest: {max(r[1] for r in results):.1f} ms")
    finally:
        if schema:
            with psycopg.connect(POSTGRES, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for dialect in ("postgresql", "sqlite") if args.database == "both" else (args.database,):
        bench(dialect, args.runs)


if __name__ == "__main__":
    main()
