"""E-mail to SMS throughput: mails answered 250 (campaign durably stored, inbox row written) per second.

The SMTP server runs on this process's event loop over a real store (a fresh SQLite file by default, as
`octogate serve` runs it); smtplib clients run in other processes (the server keeps its core, as in
production). Rows: one client sending over one session, one client opening a session per mail (what PHP's
mail() and most scripts do), and a few concurrent clients. Median of the runs. Also prints the cost of
parsing one mail with `email.policy.compat32` and with `policy.default` (the choice in smtp/parse.py).

    .venv/bin/python bench/smtp_throughput.py [--mails 400] [--clients 4] [--runs 3] [--database-url URL]

Benchmarks print; they assert nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import secrets
import smtplib
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.policy import Policy, compat32
from email.policy import default as default_policy
from urllib.parse import quote

import psycopg

from octogate.config import Settings
from octogate.keys import hash_api_key, new_api_key
from octogate.server import prepare_store
from octogate.service import Gateway
from octogate.smtp.parse import parse_mail
from octogate.smtp.server import SmtpSettings, start_smtp
from octogate.store import queries
from octogate.store.store import Store

PUSH = "sms@octogate.bench"


def mail(login: str, api_key: str, request_id: str) -> bytes:
    """The document's layout, one recipient."""
    return (
        f"From: bench@example.com\r\nTo: {PUSH}\r\n"
        f"Subject: user_login={quote(login, safe='')}&api_key={quote(api_key, safe='')}\r\n"
        f"Message-ID: <{request_id}@example.com>\r\n\r\n"
        "Hello,\r\nstart=start&sms_text=Bench+message.+STOP+au+XXXXX&sms_recipients=%2B33601020304"
        f"&sms_type=FR&sms_sender=Bench&request_id={request_id}&end=end\r\n-- \r\nBench\r\n"
    ).encode()


def client(port: int, login: str, api_key: str, prefix: str, count: int, per_session: int) -> int:
    """Runs in a worker process: send `count` mails, `per_session` per SMTP session; returns the 250s."""
    ok = 0
    sent = 0
    while sent < count:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as session:
            session.ehlo("bench.example.com")
            for _ in range(min(per_session, count - sent)):
                request_id = f"{prefix}{sent:08d}"
                session.mail("bench@example.com")
                session.rcpt(PUSH)
                code, _ = session.data(mail(login, api_key, request_id))
                ok += code == 250
                sent += 1
    return ok


async def one_run(
    pool: ProcessPoolExecutor, port: int, login: str, key: str, mails: int, clients: int, per_session: int
) -> float:
    loop = asyncio.get_running_loop()
    share = mails // clients
    started = time.perf_counter()
    futures = [
        loop.run_in_executor(pool, client, port, login, key, secrets.token_hex(6), share, per_session)
        for _ in range(clients)
    ]
    accepted = sum(await asyncio.gather(*futures))
    elapsed = time.perf_counter() - started
    if accepted != share * clients:
        print(f"  warning: {share * clients - accepted} mails not answered 250")
    return accepted / elapsed


def parse_costs(samples: int = 2000) -> tuple[float, float, float]:
    """µs per mail: parse_mail (compat32), and what it needs (two headers, the text part decoded) done
    with compat32 and with policy.default, on a multipart/alternative mail as webmails send them."""
    message = MIMEMultipart("alternative")
    message["Subject"] = "user_login=bench%40example.com&api_key=" + "K" * 32
    message["Message-ID"] = "<Parse0000000001@example.com>"
    message.attach(
        MIMEText(mail("bench@example.com", "K" * 32, "Parse0000000001").decode(), "plain", "utf-8")
    )
    message.attach(MIMEText("<p>Hello</p>", "html", "utf-8"))
    data = message.as_bytes()

    def bare(policy: Policy) -> None:
        parsed = BytesParser(policy=policy).parsebytes(data)
        str(parsed["Subject"]), str(parsed["Message-ID"])
        next(p for p in parsed.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)

    timings = []
    for work in (lambda: parse_mail(data), lambda: bare(compat32), lambda: bare(default_policy)):
        started = time.perf_counter()
        for _ in range(samples):
            work()
        timings.append((time.perf_counter() - started) / samples * 1e6)
    return timings[0], timings[1], timings[2]


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    """A fresh SQLite file, or a throwaway schema of the given PostgreSQL database (dropped afterwards)."""
    if not url:
        yield f"sqlite:///{tempfile.mkdtemp(prefix='octogate-smtp-bench-')}/bench.db"
        return
    if not url.startswith(("postgresql:", "postgres:")):
        yield url
        return
    schema = f"bench_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


async def bench(args: argparse.Namespace) -> None:
    with scratch_database(args.database_url) as url:
        await measure(url, args)
    ours, compat, modern = parse_costs()
    print(
        f"parsing one mail: parse_mail {ours:.0f} µs; bare email parsing compat32 {compat:.0f} µs, "
        f"policy.default {modern:.0f} µs ({modern / compat:.0f}×)"
    )


async def measure(url: str, args: argparse.Namespace) -> None:
    store: Store = prepare_store(Settings(database_url=url))
    login, key = f"bench-{secrets.token_hex(4)}@example.com", new_api_key()
    store.run(queries.create_account, login, hash_api_key(key), 10**15, int(time.time()))
    gateway = Gateway(store)
    server = await start_smtp(
        gateway, store, SmtpSettings(listen=("127.0.0.1", 0), domain="octogate.bench", timeout=300)
    )
    assert server.address is not None
    port = server.address[1]
    print(f"database {store.url.redacted()}; {args.mails} mails per run, median of {args.runs} runs")
    rows = [
        ("sequential, one session", 1, args.mails),
        ("sequential, a session per mail", 1, 1),
        (f"{args.clients} concurrent clients, one session each", args.clients, args.mails),
    ]
    try:
        with ProcessPoolExecutor(args.clients, mp_context=multiprocessing.get_context("spawn")) as pool:
            await one_run(pool, port, login, key, args.clients * 5, args.clients, 5)  # warm the workers
            for label, clients, per_session in rows:
                rates = [
                    await one_run(pool, port, login, key, args.mails, clients, per_session)
                    for _ in range(args.runs)
                ]
                shown = ", ".join(f"{rate:,.0f}" for rate in rates)
                print(f"{label:<45} median {statistics.median(rates):>7,.0f} mails/s  ({shown})")
    finally:
        await server.stop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=400, help="mails per run (default 400)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--database-url", help="default: a fresh SQLite file; PostgreSQL: a throwaway schema of this database"
    )
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
