"""Shared fixtures: a real database (SQLite file, or a fresh schema of the PostgreSQL at 127.0.0.1:5432),
the real ASGI app over httpx, and accounts made the way an operator makes them."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from octogate.config import Settings
from octogate.http.app import OctopushApp
from octogate.octopush.campaign import Rules
from octogate.server import build_app, prepare_store
from octogate.store.store import Store
from support import Clock, Customer, make_customer

POSTGRES = os.environ.get("OCTOGATE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# A Tuesday, 10:00 in Paris: inside French marketing hours, so only tests about hours see a deferral.
TUESDAY_10H_PARIS = int(datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp())


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/octogate.db"
        return
    with fresh_schema() as url:
        yield url


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL of the test PostgreSQL whose search_path is a new, empty schema, dropped afterwards."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, for tests that are about PostgreSQL only (several hosts on one database)."""
    with fresh_schema() as url:
        yield url


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:
    """A store on a fresh PostgreSQL schema, for tests about PostgreSQL only."""
    store = prepare_store(Settings(database_url=postgres_url))
    yield store
    store.close()


@pytest.fixture
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db')}/octogate.db"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = prepare_store(Settings(database_url=database_url))
    yield store
    store.close()


@pytest.fixture
def customer(store: Store) -> Customer:
    return make_customer(store)


@pytest.fixture
def clock() -> Clock:
    return Clock(TUESDAY_10H_PARIS)


@pytest.fixture
def settings() -> Settings:
    return Settings(rules=Rules())


@pytest.fixture
def app(store: Store, settings: Settings, clock: Clock) -> OctopushApp:
    """The real ASGI app on the test's store, with the test's clock."""
    built = build_app(store, settings)
    built.gateway.clock = clock
    return built


@pytest.fixture
async def api(app: OctopushApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://octogate.test"
    ) as client:
        yield client
