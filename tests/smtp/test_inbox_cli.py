"""`octogate inbox` (through the parser the integrator wires) and the SMTP settings' parsing."""

from __future__ import annotations

import argparse

import pytest

from octogate.cli.mail import add_inbox_command
from octogate.config import ConfigError, Settings
from octogate.server import prepare_store
from octogate.store import inbox
from octogate.store.inbox import InboxEntry


def entry(n: int, **changes: object) -> InboxEntry:
    values: dict[str, object] = {
        "received_at": 1_795_510_800 + n, "mail_from": f"shop{n}@example.com",
        "subject": "user_login=shop%40example.com&api_key=[removed]", "message_id": f"<{n}@example.com>",
        "login": "shop@example.com", "request_id": f"Request{n:08d}", "outcome": "accepted",
        "error_code": None, "ticket": f"api10000000000{n}", "reason": "1 SMS, 1 recipient(s)",
    }  # fmt: skip
    values.update(changes)
    return InboxEntry(**values)  # type: ignore[arg-type]


def run_inbox(database_url: str, *options: str) -> None:
    parser = argparse.ArgumentParser(prog="octogate")
    add_inbox_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["inbox", "--database-url", database_url, *options])
    args.handler(args, Settings())


def test_inbox_lists_newest_first_with_outcomes(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = prepare_store(Settings(database_url=database_url))
    try:
        store.run(inbox.record, entry(1))
        store.run(inbox.record, entry(2, outcome="refused", error_code=120, ticket=None, reason="reused"))
        store.run(
            inbox.record, entry(3, outcome="ignored", login="other@example.com", reason="no request_id")
        )
        store.run(inbox.record, entry(4, subject="x\x00y" * 400, mail_from="\udcff" + "a" * 400))
    finally:
        store.close()
    run_inbox(database_url, "--limit", "3")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["id", "received", "(UTC)"]
    outcomes = [line.split()[3] for line in lines[1::2]]
    assert outcomes == ["accepted", "ignored", "refused"]
    assert "   120  " in lines[5] and "reused" in lines[5]
    assert "x?y" in lines[2] and "\x00" not in lines[2]  # stored cleaned and bounded
    run_inbox(database_url, "--login", "Other@Example.com")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "no request_id" in lines[1]
    run_inbox(database_url, "--login", "nobody@example.com")
    assert capsys.readouterr().out.strip() == "no mail received"


def test_stored_texts_are_bounded() -> None:
    long = inbox.bounded(entry(1, subject="s" * 5000, reason="r" * 900, login=None))
    assert len(long.subject) == inbox.BOUNDS["subject"] and len(long.reason) == inbox.BOUNDS["reason"]
    assert long.login is None


def test_limit_must_be_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_inbox("sqlite:///unused.db", "--limit", "0")
    assert "between 1 and 10000" in capsys.readouterr().err


def test_smtp_settings() -> None:
    pytest.importorskip("aiosmtpd")
    from octogate.smtp.server import SmtpSettings, parse_smtp_listen

    assert parse_smtp_listen("off") is None and parse_smtp_listen("OFF") is None
    assert parse_smtp_listen("192.0.2.1:25") == ("192.0.2.1", 25)
    assert parse_smtp_listen("[::1]:2525") == ("::1", 2525)
    default = SmtpSettings.from_values()
    assert default.listen == ("127.0.0.1", 2525) and default.push_address == "sms@octogate.local"
    assert SmtpSettings.from_values("off", "Example.COM").push_address == "sms@example.com"
    for bad in (
        {"listen": "nope"},
        {"domain": "a@b"},
        {"domain": " "},
        {"tls_cert": "c.pem"},
        {"max_size": 10},
    ):
        with pytest.raises(ConfigError):
            SmtpSettings.from_values(**bad)  # type: ignore[arg-type]


def test_smtp_settings_from_octogates_settings() -> None:
    pytest.importorskip("aiosmtpd")
    from octogate.smtp.server import smtp_settings_from

    assert smtp_settings_from(Settings()).listen == ("127.0.0.1", 2525)
    https = smtp_settings_from(Settings(tls_cert="c.pem", tls_key="k.pem"))
    assert (https.tls_cert, https.tls_key) == ("c.pem", "k.pem")  # STARTTLS with the HTTPS certificate
