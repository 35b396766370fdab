"""The operator's commands: what they print, what they change, and one-line errors with a non-zero exit."""

from __future__ import annotations

import re

import pytest

from octogate.config import Settings
from octogate.keys import api_key_matches
from octogate.server import prepare_store
from octogate.store import queries
from support import run_cli as run


@pytest.fixture
def db(database_url: str) -> str:
    prepare_store(Settings(database_url=database_url)).close()
    return database_url


def test_account_lifecycle(capsys: pytest.CaptureFixture[str], db: str) -> None:
    status, out, _ = run(
        capsys, "account", "create", "Shop@Example.com", "--credit", "12.5", "--database-url", db
    )
    assert status == 0
    key = re.search(r"api_key=(\S+)", out)
    assert key is not None
    store = prepare_store(Settings(database_url=db))
    try:
        account = store.run(queries.account, "shop@example.com")
        assert account.balance == 12_500_000 and api_key_matches(key.group(1), account.api_key_hash)

        assert run(capsys, "account", "credit", "shop@example.com", "7.5", "--database-url", db)[
            1
        ].strip() == ("shop@example.com: balance 20.00 EUR")
        status, out, _ = run(
            capsys,
            "account",
            "set",
            "shop@example.com",
            "--blacklisted",
            "--pending-order",
            "--database-url",
            db,
        )
        assert status == 0 and "blacklisted=1" in out and "pending_order=1" in out
        listing = run(capsys, "account", "list", "--database-url", db)[1]
        assert re.search(r"shop@example.com\s+20.00 EUR\s+blacklisted pending-order", listing)

        status, out, _ = run(capsys, "account", "rotate-key", "shop@example.com", "--database-url", db)
        new_key = out.strip().removeprefix("api_key=")
        account = store.run(queries.account, "shop@example.com")
        assert api_key_matches(new_key, account.api_key_hash)
        assert not api_key_matches(key.group(1), account.api_key_hash)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["account", "credit", "nobody@example.com", "5"], "no account with login"),
        (["account", "credit", "x@example.com", "five"], "not an amount"),
        (["account", "set", "x@example.com"], "nothing to set"),
        (["account", "create", "x@example.com", "--credit", "-1"], "cannot be negative"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], db: str, argv: list[str], message: str
) -> None:
    status, _, err = run(capsys, *argv, "--database-url", db)
    assert status == 1
    assert err.count("\n") == 1 and message in err


def test_duplicate_account_and_overdraft_are_refused(capsys: pytest.CaptureFixture[str], db: str) -> None:
    assert run(capsys, "account", "create", "a@example.com", "--credit", "1", "--database-url", db)[0] == 0
    status, _, err = run(capsys, "account", "create", "a@example.com", "--database-url", db)
    assert status == 1 and "already exists" in err
    status, _, err = run(capsys, "account", "credit", "a@example.com", "-2", "--database-url", db)
    assert status == 1 and "below zero" in err


def test_unknown_database_scheme_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "account", "list", "--database-url", "mysql://x")
    assert status == 1 and "unsupported database URL" in err


def test_prices_show_and_load(capsys: pytest.CaptureFixture[str], db: str, tmp_path: object) -> None:
    status, csv_text, _ = run(capsys, "prices", "--database-url", db)
    assert status == 0 and csv_text.startswith("calling_code,country,name,FR,XXX,WWW")
    assert "\n33,FR,France,0.0650,0.0450,0.0650" in csv_text
    path = f"{tmp_path}/prices.csv"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("calling_code,country,name,FR,XXX,WWW\n33,FR,France,0.0700,,0.0800\n")
    status, out, _ = run(capsys, "prices", "--load", path, "--database-url", db)
    assert status == 0 and "loaded 1 countries" in out
    assert run(capsys, "prices", "--database-url", db)[1].splitlines()[1] == "33,FR,France,0.0700,,0.0800"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("calling_code,country,name,FR,XXX,WWW\n33,FR,France,cheap,,\n")
    status, _, err = run(capsys, "prices", "--load", path, "--database-url", db)
    assert status == 1 and "line 2" in err


def test_prices_from_a_latin1_export(capsys: pytest.CaptureFixture[str], db: str, tmp_path: object) -> None:
    """A CSV saved by a spreadsheet in Latin-1 ("Côte d'Ivoire") loads as the console's upload does (it was a
    UnicodeDecodeError traceback); a UTF-8 file with a byte-order mark loads too."""
    path = f"{tmp_path}/prices.csv"
    with open(path, "wb") as handle:
        handle.write("calling_code,country,name,FR,XXX,WWW\n225,CI,Côte d'Ivoire,0.1000,,0.1000\n".encode("latin-1"))
    status, out, err = run(capsys, "prices", "--load", path, "--database-url", db)
    assert status == 0 and "loaded 1 countries" in out, err
    assert "225,CI,Côte d'Ivoire,0.1000,,0.1000" in run(capsys, "prices", "--database-url", db)[1]
    with open(path, "wb") as handle:
        handle.write("\ufeffcalling_code,country,name,FR,XXX,WWW\n33,FR,France,0.0700,,0.0800\n".encode())
    assert run(capsys, "prices", "--load", path, "--database-url", db)[0] == 0


def test_pause_and_resume(capsys: pytest.CaptureFixture[str], db: str) -> None:
    assert "paused" in run(capsys, "pause", "--database-url", db)[1]
    store = prepare_store(Settings(database_url=db))
    try:
        assert store.run(queries.gateway_state).paused
        run(capsys, "resume", "--database-url", db)
        assert not store.run(queries.gateway_state).paused
    finally:
        store.close()


@pytest.mark.parametrize(
    "argv",
    [["account", "create"], ["account", "set", "x@example.com", "--blacklisted", "--not-blacklisted"], ["nonsense"]],
)
def test_bad_syntax_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert err.count("\n") == 1 and "error:" in err and "--help" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("callbacks", "--retry", "99999999999999999999"),  # past 64 bits: the database cannot read it
        ("callbacks", "--retry", "²"),  # a digit to str.isdigit, not to int
        ("callbacks", "--limit", "99999999999999999999"),
        ("status", "api100000000001", "--limit", "-1"),  # PostgreSQL refuses a negative LIMIT
        ("inbox", "--limit", "²"),
    ],
)
def test_odd_numbers_are_a_one_line_error(capsys: pytest.CaptureFixture[str], db: str, argv: tuple[str, ...]) -> None:
    status, _, err = run(capsys, *argv, "--database-url", db)
    assert status in (1, 2)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(r"--retry takes a push id|between 1 and", err)
