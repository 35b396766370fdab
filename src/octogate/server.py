"""`octogate serve`: the gateway's processes in one event loop: the HTTP API, the dispatcher and its SMPP
connectors (or the built-in SMSC simulator when no connector is configured); SMTP joins it when built."""

from __future__ import annotations

import asyncio
import logging
import time

import uvicorn

from octogate import heap
from octogate.background import BackgroundProcess, run_background, stop_background
from octogate.config import Settings, parse_listen
from octogate.http.app import OctopushApp
from octogate.http.protocol import TolerantHttpToolsProtocol
from octogate.keys import hash_api_key, new_api_key
from octogate.service import Gateway, normalise_login
from octogate.sms.money import to_micro
from octogate.sms.numbers import warm
from octogate.sms.prices import default_price_table
from octogate.smtp.server import smtp_settings_from, start_smtp
from octogate.store import queries, schema
from octogate.store.db import Connection
from octogate.store.prices import rows_from_price_table
from octogate.store.records import UnknownAccount
from octogate.store.store import Store

log = logging.getLogger("octogate")


def prepare_store(settings: Settings) -> Store:
    """Open, migrate, and give a new database the shipped price table: one critical section under the start
    lock, so any number of hosts started together on an empty database all come up."""
    store = Store(settings.database_url)
    with store.connect() as conn:
        schema.migrate(conn, seed=seed_prices)
    return store


def seed_prices(conn: Connection) -> None:
    """The shipped price table, on a database that has none (never over the operator's prices)."""
    if not queries.price_rows(conn):
        queries.replace_prices(conn, rows_from_price_table(default_price_table()))


def ensure_demo_account(store: Store, settings: Settings) -> tuple[str, str | None]:
    """The sandbox's account. Its key is shown when it is made (or set by OCTOGATE_DEMO_KEY): keys are kept
    only as hashes, so a later start cannot show it again. Under the start lock: of several hosts started
    together, one makes it (and shows its key), the others find it made."""
    login = normalise_login(settings.demo_login)
    with store.connect() as conn, schema.start_section(conn):
        return login, _demo_account(conn, login, settings)


def _demo_account(conn: Connection, login: str, settings: Settings) -> str | None:
    key = settings.demo_key
    try:
        queries.account(conn, login)
    except UnknownAccount:
        key = key or new_api_key()
        queries.create_account(conn, login, hash_api_key(key), to_micro(settings.demo_credit), int(time.time()))
        return key
    if key:
        queries.set_api_key_hash(conn, login, hash_api_key(key))
    return key


def build_app(store: Store, settings: Settings) -> OctopushApp:
    return OctopushApp(Gateway(store, settings.rules), successes_wrapper=settings.successes_wrapper)


async def serve(settings: Settings) -> None:
    warm()
    store = prepare_store(settings)
    try:
        host, port = parse_listen(settings.http)
        # The sandbox's funded account exists only while messages go to the built-in simulator.
        if settings.demo and not settings.connectors:
            login, key = ensure_demo_account(store, settings)
            print(f"demo account: user_login={login}")
            if key:
                print(f"              api_key={key}", flush=True)
            else:
                print(
                    "              api_key: the account exists already (its key was shown when it was made); "
                    "`octogate account rotate-key` gives a new one",
                    flush=True,
                )
        app = build_app(store, settings)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http=TolerantHttpToolsProtocol,
            loop="none",
            lifespan="off",
            access_log=False,
            proxy_headers=False,  # nothing reads the client's address: no X-Forwarded-* pass per request
            log_level="warning",
            ssl_certfile=settings.tls_cert,
            ssl_keyfile=settings.tls_key,
        )
        if settings.background == "process":
            child = BackgroundProcess(settings)
            app.gateway.on_accepted.append(child.wake)
        else:
            delivery, pushes = await run_background(store, settings)
            app.gateway.on_accepted.append(delivery.dispatcher.wake)
        smtp = await start_smtp(app.gateway, store, smtp_settings_from(settings))
        scheme = "https" if settings.tls_cert else "http"
        print(
            f"octogate: Octopush API on {scheme}://{host}:{port}/api/sms  (database {store.url.redacted()})",
            flush=True,
        )
        print(smtp.describe(), flush=True)
        heap.settle()
        try:
            await uvicorn.Server(config).serve()
        finally:
            await smtp.stop()
            if settings.background == "process":
                await child.stop()
            else:
                await stop_background(delivery, pushes)
    finally:
        store.close()


def run(settings: Settings) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        log.debug("uvloop not installed: using asyncio's default loop")
    asyncio.run(serve(settings))
