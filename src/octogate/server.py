"""`octogate serve`: the gateway's processes in one event loop: the HTTP API, the dispatcher and its SMPP
connectors (or the built-in SMSC simulator when no connector is configured); SMTP joins it when built."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import uvicorn

from octogate import heap
from octogate.background import BackgroundProcess, DeliveryFailed, run_background, stop_background
from octogate.config import ConfigError, Settings, parse_listen
from octogate.console.app import console_for
from octogate.http.app import OctopushApp
from octogate.http.serving import SignalledServer, uvicorn_config
from octogate.http.workers import ApiWorkers, worker_count
from octogate.keys import hash_api_key, new_api_key
from octogate.logs import LogSettings
from octogate.observability.admin import (
    ADMIN_PATHS,
    PROBES,
    ChildView,
    Endpoints,
    InlineView,
    LiveConnectors,
    OperatorEdge,
)
from octogate.observability.hooks import MeteredGateway
from octogate.observability.metrics import DELIVERY_UP
from octogate.service import normalise_login
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
    return OctopushApp(MeteredGateway(store, settings.rules), successes_wrapper=settings.successes_wrapper)


def listen_socket(what: str, address: str) -> socket.socket:
    """Bound and listening before anything is announced: a port in use is one line naming it, at once."""
    host, port = parse_listen(address)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ConfigError(f"cannot listen for {what} on {address[:100]}: {error.strerror}") from None
    family, kind, proto, _, where = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot listen for {what} on {address[:100]}: {error.strerror or error}") from None
    return sock


def _check_simulator_address(settings: Settings) -> None:
    """The built-in simulator listens in the delivery process; a fixed port already taken is found here, in
    one line, rather than by a child that dies."""
    wanted = settings.simulator.enabled if settings.simulator.enabled is not None else not settings.connectors
    if wanted and parse_listen(settings.simulator.listen)[1]:
        listen_socket("the built-in SMSC simulator", settings.simulator.listen).close()


async def _admin_server(edge: OperatorEdge, sock: socket.socket) -> uvicorn.Server:
    config = uvicorn.Config(edge, loop="none", lifespan="off", access_log=False, log_config=None)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    return server


async def serve(settings: Settings, logs: LogSettings | None = None) -> None:
    sockets: list[socket.socket] = []
    try:
        # Every address first: a port in use is found in a fraction of a second, before any other work.
        host, port = parse_listen(settings.http)
        sockets.append(listen_socket("HTTP", settings.http))
        admin_sock = None
        if settings.admin.strip().lower() != "off":
            admin_sock = listen_socket("the operator address (OCTOGATE_ADMIN)", settings.admin)
            sockets.append(admin_sock)
        _check_simulator_address(settings)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    warm()
    store = prepare_store(settings)
    try:
        app = build_app(store, settings)
        edge = OperatorEdge(app, None, PROBES)
        config = uvicorn_config(edge, settings, api=app)  # a bad certificate stops the start here, before any line
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
        live = LiveConnectors()  # the console's Connectors page reads the delivery side through it
        edge.app = console_for(app, settings, live)  # after the demo account: it may print the demo's password
        smtp = await start_smtp(app.gateway, smtp_settings_from(settings))
        try:
            await _serve(settings, logs, store, app, edge, config, smtp, sockets[0], admin_sock, (host, port), live)
        finally:
            await smtp.stop()
    finally:
        for sock in sockets:
            sock.close()
        store.close()


async def _serve(
    settings: Settings, logs: LogSettings | None, store: Store, app: OctopushApp, edge: OperatorEdge,
    config: uvicorn.Config, smtp: Any, http_sock: socket.socket, admin_sock: socket.socket | None,
    where: tuple[str, int], live: LiveConnectors,
) -> None:  # fmt: skip
    child: BackgroundProcess | None = None
    delivery = pushes = None
    view: ChildView | InlineView
    if settings.background == "process":
        child = BackgroundProcess(settings, logs)
        app.gateway.on_accepted.append(child.wake)
        try:
            await child.start()
        except DeliveryFailed as failure:
            await child.stop()
            raise ConfigError(str(failure)) from None
        view = ChildView(child)
    else:
        delivery, pushes = await run_background(store, settings)
        app.gateway.on_accepted.append(delivery.dispatcher.wake)
        view = InlineView(delivery)
        DELIVERY_UP.set(1)  # the delivery side is this process
    live.view = view
    operator = Endpoints(store, view)
    edge.operator = operator
    rates = asyncio.create_task(operator.rates.run(), name="status-rates")
    admin = await _admin_server(OperatorEdge(None, operator, ADMIN_PATHS), admin_sock) if admin_sock else None
    count = worker_count(settings)
    workers = ApiWorkers(settings, logs, http_sock, edge, count) if count > 1 else None
    try:
        if workers is not None:
            workers.on_wake.append(child.wake if child is not None else delivery.dispatcher.wake)  # type: ignore[union-attr]
            await workers.start()
        scheme = "https" if settings.tls_cert else "http"
        host, port = where
        print(
            f"octogate: Octopush API on {scheme}://{host}:{port}/api/sms  (database {store.url.redacted()})",
            flush=True,
        )
        print(smtp.describe(), flush=True)
        if workers is not None:
            print(f"octogate: {count} processes answer the API ([http] workers)", flush=True)
        log.info(
            "octogate started: API %s://%s:%d, %s, operator endpoints %s, database %s", scheme, host, port,
            smtp.describe().removeprefix("octogate: "),
            f"http://{settings.admin}/metrics" if admin_sock else "off", store.url.redacted(),
        )  # fmt: skip
        heap.settle()
        server = SignalledServer(config, [told.stopping for told in (child, workers) if told is not None])
        await server.serve(sockets=[http_sock])
        log.info(
            "octogate stopping: %d HTTP connection(s) were open; the delivery process finishes its submits",
            len(server.server_state.connections),
        )  # fmt: skip
    finally:
        if workers is not None:
            await workers.stop()
        rates.cancel()
        if admin is not None:
            await admin.shutdown()
        if child is not None:
            await child.stop()
        elif delivery is not None:
            await stop_background(delivery, pushes)
        log.info("octogate stopped")


def run(settings: Settings, logs: LogSettings | None = None) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        log.debug("uvloop not installed: using asyncio's default loop")
    asyncio.run(serve(settings, logs))
