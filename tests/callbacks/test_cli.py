"""The operator's push commands, through argparse as `octogate` wires them: `account urls` and `callbacks`."""

from __future__ import annotations

import argparse

import pytest

from callbacks.support import account_id, enqueue, statuses
from octogate.cli import CommandError
from octogate.cli.pushes import add_callback_commands
from octogate.config import Settings
from octogate.server import prepare_store
from octogate.store import outbox
from support import make_customer


def run(capsys: pytest.CaptureFixture[str], db: str, *argv: str) -> str:
    parser = argparse.ArgumentParser(prog="octogate")
    commands = parser.add_subparsers(dest="command", required=True)
    account = commands.add_parser("account").add_subparsers(dest="action", required=True)
    add_callback_commands(commands, account)
    args = parser.parse_args([*argv, "--database-url", db])
    args.handler(args, Settings())
    return capsys.readouterr().out


@pytest.fixture
def db(database_url: str) -> str:
    prepare_store(Settings(database_url=database_url)).close()
    return database_url


def test_account_urls_set_show_and_clear(capsys: pytest.CaptureFixture[str], db: str) -> None:
    store = prepare_store(Settings(database_url=db))
    try:
        login = make_customer(store).login
    finally:
        store.close()
    out = run(capsys, db, "account", "urls", login.upper(), "--all", "https://hooks.example.com/all")
    assert out.splitlines() == [
        *(f"{login}: {kind:<12} https://hooks.example.com/all" for kind in ("receipt", "stop", "reply")),
        *(f"{login}: rest-{kind:<7} -" for kind in ("receipt", "stop", "reply")),
    ]
    out = run(capsys, db, "account", "urls", login, "--stop", "http://stop.example.com/s", "--clear", "reply")
    assert f"{login}: stop         http://stop.example.com/s" in out and f"{login}: reply        -" in out
    assert f"{login}: receipt      https://hooks.example.com/all" in out
    assert run(capsys, db, "account", "urls", login) == out  # no option: shows


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/x", "http://"])
def test_account_urls_refuses_non_http_urls_in_one_line(
    capsys: pytest.CaptureFixture[str], db: str, url: str
) -> None:
    with pytest.raises(CommandError) as refused:
        run(capsys, db, "account", "urls", "anyone@example.com", "--receipt", url)
    assert "http" in str(refused.value) and "\n" not in str(refused.value)


def test_account_urls_unknown_account(capsys: pytest.CaptureFixture[str], db: str) -> None:
    with pytest.raises(CommandError, match="no account"):
        run(capsys, db, "account", "urls", "nobody@example.com", "--all", "https://a.example.com/")


def test_callbacks_lists_pending_and_failed_and_retries(capsys: pytest.CaptureFixture[str], db: str) -> None:
    store = prepare_store(Settings(database_url=db))
    try:
        shop, other = make_customer(store).login, make_customer(store).login
        for login in (shop, other):
            store.run(
                outbox.set_urls, login, {"receipt": "http://127.0.0.1:9/x", "reply": "http://127.0.0.1:9/x"}
            )
        waiting = enqueue(store, account_id(store, shop), {"status": "DELIVERED"})
        gone = enqueue(store, account_id(store, other), {"text": "bonjour"}, kind="reply")
        with store.connect() as conn:
            conn.execute(
                "UPDATE callbacks SET status = 'failed', attempts = 7, last_error = 'HTTP 500: boom' WHERE id = ?",
                (gone,),
            )
        out = run(capsys, db, "callbacks")
        rows = out.splitlines()[1:]
        assert len(rows) == 2 and str(waiting) in rows[0] and "pending" in rows[0] and shop in rows[0]
        assert "reply" in rows[1] and "failed" in rows[1] and "HTTP 500: boom" in rows[1] and " 7 " in rows[1]
        out = run(capsys, db, "callbacks", "--failed")
        assert len(out.splitlines()) == 2 and other in out and shop not in out
        out = run(capsys, db, "callbacks", "--account", shop, "--limit", "5")
        assert shop in out and other not in out
        assert run(capsys, db, "callbacks", "--retry", "all-failed").strip() == "1 push(es) due now"
        assert statuses(store)[gone][0] == "pending"
        assert run(capsys, db, "callbacks", "--failed").strip() == "no failed pushes"
        assert run(capsys, db, "callbacks", "--retry", str(waiting)).strip() == "1 push(es) due now"
        with pytest.raises(CommandError):
            run(capsys, db, "callbacks", "--retry", "999999")
        with pytest.raises(CommandError):
            run(capsys, db, "callbacks", "--retry", "everything")
    finally:
        store.close()
