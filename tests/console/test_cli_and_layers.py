"""`octogate account password` and `octogate operator …`, and the console's place among the layers."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import httpx
import pytest

import octogate
from console_web import sign_in
from octogate.console.app import WithConsole
from octogate.operations import Operator
from octogate.store.store import Store
from support import make_customer, run_cli

CONSOLE = Path(octogate.__file__).parent / "console"


def test_passwords_are_set_from_standard_input(
    store: Store, database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = make_customer(store)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    status, out, _ = run_cli(
        capsys, "account", "password", customer.login, "--password-stdin", "--database-url", database_url
    )
    assert status == 0 and "console password set" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    status, _, err = run_cli(
        capsys, "operator", "create", "ops@example.com", "--password-stdin", "--database-url", database_url
    )
    assert status == 1 and "10 to 200 characters" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("operator password\n"))
    status, out, _ = run_cli(
        capsys, "operator", "create", "OPS@example.com", "--password-stdin", "--database-url", database_url
    )
    assert status == 0 and "operator ops@example.com created" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("operator password\n"))
    status, _, err = run_cli(
        capsys, "operator", "create", "ops@example.com", "--password-stdin", "--database-url", database_url
    )
    assert status == 1 and "already exists" in err
    actions = [entry.action for entry in Operator(store).audit_log()]
    assert actions == ["operator.create", "account.password"]  # newest first; the refusals left nothing


def test_without_a_terminal_the_password_must_come_on_standard_input(
    store: Store, database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    status, _, err = run_cli(capsys, "operator", "create", "ops@example.com", "--database-url", database_url)
    assert status == 1 and "--password-stdin" in err


async def test_a_customer_with_no_console_password_cannot_sign_in(
    store: Store, web: httpx.AsyncClient
) -> None:
    customer = make_customer(store)
    assert (await sign_in(web, customer.login, password="")).status_code == 401


async def test_the_demo_password_is_made_once(store: Store, console: WithConsole) -> None:
    portal = console.console.console.portal  # type: ignore[attr-defined]
    customer = make_customer(store)
    first = portal.demo_password(customer.login)
    assert first and first.startswith("demo-")
    assert portal.demo_password(customer.login) is None  # kept as a hash: never shown again


def test_the_console_reaches_the_store_only_through_the_service_layer() -> None:
    for path in CONSOLE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("octogate.store"), path.name


def test_one_connector_is_paused_and_resumed_from_the_cli(
    store: Store, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_cli(capsys, "pause", "--connector", "simulator", "--database-url", database_url)
    assert status == 0 and "connector simulator paused" in out
    assert [p.connector for p in Operator(store).connector_pauses()] == ["simulator"]
    status, _, err = run_cli(capsys, "pause", "--connector", "orange", "--database-url", database_url)
    assert status == 1 and "no connector 'orange' in the configuration (simulator)" in err
    status, out, _ = run_cli(capsys, "resume", "--connector", "simulator", "--database-url", database_url)
    assert status == 0 and "connector simulator resumed" in out and Operator(store).connector_pauses() == []
    [resumed, paused] = Operator(store).audit_log(None, 2, None)
    assert (resumed.action, resumed.actor, paused.action) == ("connector.resume", "cli", "connector.pause")
