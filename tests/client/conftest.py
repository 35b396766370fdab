"""A real `octogate serve` per test module, and fresh accounts on it made the way an operator makes them."""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from live.conftest import LiveServer, start_server
from octogate.client import AsyncOctopushClient, OctopushClient


@dataclass
class Account:
    server: LiveServer
    login: str
    api_key: str

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def client(self, **options: object) -> OctopushClient:
        return OctopushClient(self.login, self.api_key, base_url=self.base_url, **options)  # type: ignore[arg-type]

    def async_client(self, **options: object) -> AsyncOctopushClient:
        return AsyncOctopushClient(self.login, self.api_key, base_url=self.base_url, **options)  # type: ignore[arg-type]

    def operator(self, *args: str) -> None:
        """`octogate account … LOGIN …` on this account, as the operator runs it."""
        done = self.server.cli("account", *args)
        assert done.returncode == 0, done.stderr


def database_path(server: LiveServer) -> Path:
    return Path(server.database_url.removeprefix("sqlite:///"))


def rows(server: LiveServer, sql: str, *params: object) -> list[sqlite3.Row]:
    """What the server stored, read straight from its SQLite file."""
    with sqlite3.connect(database_path(server)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


def campaign_id(ticket: str) -> int:
    assert ticket.startswith("api")
    return int(ticket[3:]) - 100_000_000_000


def new_account(server: LiveServer, credit: str = "100") -> Account:
    login = f"client-{secrets.token_hex(4)}@example.com"
    done = server.cli("account", "create", login, "--credit", credit)
    assert done.returncode == 0, done.stderr
    key = re.search(r"api_key=(\S+)", done.stdout)
    assert key is not None
    return Account(server, login, key.group(1))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("octogate"))
    yield live
    live.stop()


@pytest.fixture
def account(server: LiveServer) -> Account:
    return new_account(server)
