"""`octogate send` and `octogate balance` against a real server: what they print, what the server stored,
where credentials come from, and that the key is never echoed."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from client.conftest import Account, campaign_id, new_account, rows
from live.conftest import LiveServer, free_port
from octogate.client.cli import add_client_commands, cmd_balance, cmd_send
from octogate.client.credentials import CredentialsError, resolve
from support import run_cli as run


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither the developer's environment nor their ~/.config may leak into these tests."""
    for name in ("OCTOPUSH_LOGIN", "OCTOPUSH_API_KEY", "OCTOPUSH_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def creds(account: Account) -> list[str]:
    return ["--login", account.login, "--api-key", account.api_key, "--url", account.base_url]


def field(out: str, name: str) -> str:
    found = re.search(rf"^{name}: (.*)$", out, re.MULTILINE)
    assert found is not None, out
    return found.group(1)


def test_send_prints_ticket_cost_balance_date_and_failures(
    capsys: pytest.CaptureFixture[str], account: Account
) -> None:
    status, out, err = run(
        capsys, "send", "--to", "+447911123456, +85021234567", "--text", "Hello", "--sender", "MyShop",
        *creds(account),
    )  # fmt: skip
    assert status == 0, err
    ticket = field(out, "ticket")
    assert (
        rows(account.server, "SELECT recipients FROM campaigns WHERE id = ?", campaign_id(ticket))[0][0] == 1
    )
    assert field(out, "cost") == "0.05 €"
    assert field(out, "balance") == "99.95 €"
    assert abs(datetime.fromisoformat(field(out, "sending date")) - datetime.now(UTC)) < timedelta(minutes=1)
    assert field(out, "failures") == "1"
    assert "  +85021234567: 151 The recipient's country is not covered." in out
    assert account.api_key not in out + err


def test_send_with_a_date_simulation_and_every_flag(
    capsys: pytest.CaptureFixture[str], account: Account
) -> None:
    at = "2031-05-06T07:08:09+02:00"
    common = ["--to", "+447911123456", "--text", "Your order", "--type", "WWW", "--sender", "+447700900123",
              "--msisdn-sender", "--at", at, "--transactional", "--with-replies", "--request-id", "cli-1",
              "--request-keys", "TRMYSDabcdeWNQ", *creds(account)]  # fmt: skip
    status, out, err = run(capsys, "send", *common, "--simulate")
    assert status == 0, err
    assert "simulation: nothing was sent or billed" in out and field(out, "ticket") == "XXXSIMULATIONXXX"

    status, out, err = run(capsys, "send", *common)
    assert status == 0, err
    assert datetime.fromisoformat(field(out, "sending date")) == datetime.fromisoformat(at)
    [campaign] = rows(
        account.server,
        "SELECT sms_type, sender, sender_is_msisdn, transactional, with_replies, request_id, send_at "
        "FROM campaigns WHERE id = ?",
        campaign_id(field(out, "ticket")),
    )
    epoch = int(datetime.fromisoformat(at).timestamp())
    assert tuple(campaign) == ("WWW", "447700900123", 1, 1, 1, "cli-1", epoch)

    status, out, err = run(capsys, "send", *common)
    assert status == 1 and err.strip() == (
        "octogate: error: 120 An SMS with the same request_id has already been sent."
    )


def write_csv(path: Path, count: int) -> None:
    lines = ["number,first_name,last_name,field1,field2,field3"]
    lines += [f"+336{index:08d},First{index},Last{index},{index},b{index},c{index}" for index in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_5000_row_csv_with_mail_merge_in_five_campaigns(
    capsys: pytest.CaptureFixture[str], server: LiveServer, tmp_path: Path
) -> None:
    account = new_account(server, credit="1000")
    recipients = tmp_path / "recipients.csv"
    write_csv(recipients, 5000)
    text = "Hi {prenom} {nom}, #{ch1} {ch2}{ch3}. STOP au XXXXX"
    status, out, err = run(
        capsys, "send", "--csv", str(recipients), "--text", text, "--sender", "MyShop", "--batch-size", "1000",
        "--request-id", "bulk", *creds(account),
    )  # fmt: skip
    assert status == 0, err

    tickets = field(out, "tickets").split(", ")
    assert len(tickets) == 5 and len(set(tickets)) == 5
    assert field(out, "campaigns") == "5 sent, 0 failed"
    assert field(out, "failures") == "0"
    campaigns = rows(
        server,
        "SELECT id, recipients, cost, request_id FROM campaigns WHERE id IN (?, ?, ?, ?, ?) ORDER BY id",
        *(campaign_id(ticket) for ticket in tickets),
    )
    assert [(c["recipients"], c["request_id"]) for c in campaigns] == [
        (1000, f"bulk-{n}") for n in range(1, 6)
    ]
    stored_cost = sum(Decimal(c["cost"]) for c in campaigns) / 1_000_000
    assert Decimal(field(out, "total cost").removesuffix(" €")) == stored_cost == Decimal("325.00")
    assert Decimal(field(out, "balance").removesuffix(" €")) == Decimal("675.00")

    [merged] = rows(
        server,
        "SELECT text FROM messages WHERE campaign_id = ? AND recipient = '+33600004321'",
        campaign_id(tickets[4]),
    )
    assert merged["text"] == "Hi First4321 Last4321, #4321 b4321c4321. STOP au XXXXX"

    progress = err.strip().splitlines()
    assert len(progress) == 5 and progress[-1].startswith("[" + "#" * 30 + "] 5000/5000")
    assert progress[0].startswith("[" + "#" * 6 + "-" * 24 + "] 1000/5000")


def test_a_failed_batch_is_reported_and_the_next_ones_go_on(
    capsys: pytest.CaptureFixture[str], account: Account, tmp_path: Path
) -> None:
    recipients = tmp_path / "from-a-french-spreadsheet.csv"
    too_long = "x" * 31  # a mail-merge value over 30 characters: the server refuses that campaign (115)
    recipients.write_text(
        "\ufeffPhone;First Name;Field_1\n"
        "+447911000001;Ann;a\n+447911000002;Bob;b\n"
        f"+447911000003;Cid;{too_long}\n+447911000004;Dan;d\n"
        ";Nobody;e\n"
        "+447911000005;Eve;e\n+447911000006;Fay;f\n",
        encoding="utf-8",
    )
    status, out, err = run(
        capsys, "send", "--csv", str(recipients), "--text", "Hi {prenom} {ch1}", "--sender", "MyShop",
        "--batch-size", "2", *creds(account),
    )  # fmt: skip
    assert status == 1
    assert field(out, "campaigns") == "2 sent, 1 failed"
    assert "failed campaign 2 (lines 4-5): 115 Mail-merge field filled in incorrectly." in out
    assert "campaign 2 (lines 4-5) failed: 115" in err
    assert "skipped 1 rows without a number (lines 6" in err
    assert Decimal(field(out, "total cost").removesuffix(" €")) == Decimal("0.20")
    sent = rows(
        account.server,
        "SELECT m.recipient, m.text FROM messages m JOIN campaigns c ON c.id = m.campaign_id "
        "JOIN accounts a ON a.id = c.account_id WHERE a.login = ? ORDER BY m.id",
        account.login,
    )
    assert [tuple(row) for row in sent] == [
        ("+447911000001", "Hi Ann a"),
        ("+447911000002", "Hi Bob b"),
        ("+447911000005", "Hi Eve e"),
        ("+447911000006", "Hi Fay f"),
    ]


def test_a_csv_without_a_number_column(
    capsys: pytest.CaptureFixture[str], account: Account, tmp_path: Path
) -> None:
    recipients = tmp_path / "bad.csv"
    recipients.write_text("name,city\nAnn,Paris\n")
    status, _, err = run(capsys, "send", "--csv", str(recipients), "--text", "Hi", *creds(account))
    assert status == 1 and "no number column" in err


def test_balance(capsys: pytest.CaptureFixture[str], account: Account) -> None:
    status, out, err = run(capsys, "balance", *creds(account))
    assert status == 0, err
    assert out.splitlines() == ["premium (FR): 1538.46 SMS", "low cost (XXX): 2222.22 SMS", "credit: 100.00"]


def test_credentials_come_from_options_then_environment_then_file(tmp_path: Path) -> None:
    config = tmp_path / "client.toml"
    config.write_text('login = "file@example.com"\napi_key = "file-key"\nurl = "http://file:1"\n')
    env = {"OCTOPUSH_LOGIN": "env@example.com", "OCTOPUSH_URL": "http://env:2"}

    found = resolve(login=None, api_key=None, url=None, config=config, environ=env)
    assert (found.login, found.api_key, found.base_url) == ("env@example.com", "file-key", "http://env:2")
    found = resolve(login="opt@example.com", api_key="opt-key", url=None, config=config, environ=env)
    assert (found.login, found.api_key, found.base_url) == ("opt@example.com", "opt-key", "http://env:2")
    found = resolve(login=None, api_key=None, url=None, config=config, environ={})
    assert (found.login, found.api_key, found.base_url) == ("file@example.com", "file-key", "http://file:1")
    assert "file-key" not in repr(found)

    found = resolve(login="a@b.c", api_key="k", url=None, config=None, environ={})
    assert found.base_url == "https://www.octopush-dm.com"
    with pytest.raises(CredentialsError, match="no API key"):
        resolve(login="a@b.c", api_key=None, url=None, config=None, environ={})
    with pytest.raises(CredentialsError, match="not found"):
        resolve(login="a@b.c", api_key="k", url=None, config=tmp_path / "missing.toml", environ={})


def test_the_default_config_file_and_the_environment_drive_the_cli(
    capsys: pytest.CaptureFixture[str], account: Account, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home_config = tmp_path / "home" / ".config" / "octogate" / "client.toml"
    home_config.parent.mkdir(parents=True)
    home_config.write_text(f'login = "{account.login}"\napi_key = "wrong-key"\nurl = "http://127.0.0.1:1"\n')
    monkeypatch.setenv("OCTOPUSH_URL", account.base_url)
    status, _, err = run(capsys, "balance")
    assert (
        status == 1 and err.strip() == "octogate: error: 101 Bad credentials."
    )  # the file's key, the env's URL
    monkeypatch.setenv("OCTOPUSH_API_KEY", account.api_key)
    status, out, err = run(capsys, "balance")
    assert status == 0 and "credit: 100.00" in out
    assert account.api_key not in out + err


def test_the_key_is_never_echoed(
    capsys: pytest.CaptureFixture[str], account: Account, tmp_path: Path
) -> None:
    secret = "s3cr3t-never-shown"
    unreachable = f"http://127.0.0.1:{free_port()}"
    bad_toml = tmp_path / "broken.toml"
    bad_toml.write_text(f'api_key = "{secret}\n')  # unterminated string
    attempts = [
        ["balance", "--login", account.login, "--api-key", secret, "--url", account.base_url],
        ["balance", "--login", account.login, "--api-key", secret, "--url", unreachable],
        ["send", "--to", "+447911123456", "--text", "Hi", "--login", "x@y.z", "--api-key", secret, "--url",
         unreachable],
        ["balance", "--client-config", str(bad_toml)],
    ]  # fmt: skip
    for argv in attempts:
        status, out, err = run(capsys, *argv)
        assert status == 1 and err.startswith("octogate: error: ")
        assert secret not in out + err


def test_the_verbs_register_on_the_main_parser_with_the_handler_signature() -> None:
    parser = argparse.ArgumentParser(prog="octogate")
    parser.add_argument("--config")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve")
    add_client_commands(commands)
    send = parser.parse_args(["send", "--csv", "f.csv", "--text", "Hi"])
    assert send.handler is cmd_send and send.batch_size == 500 and send.sms_type == "FR"
    assert parser.parse_args(["balance"]).handler is cmd_balance
    with pytest.raises(SystemExit):
        parser.parse_args(["send", "--to", "+33601020304", "--csv", "f.csv", "--text", "Hi"])
    with pytest.raises(SystemExit):
        parser.parse_args(["send", "--to", "+33601020304", "--text", "Hi", "--batch-size", "0"])


def test_python_dash_m_runs_the_verbs(account: Account, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "OCTOPUSH_LOGIN": account.login,
           "OCTOPUSH_API_KEY": account.api_key, "OCTOPUSH_URL": account.base_url}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "octogate.client.cli", "balance"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "premium (FR): 1538.46 SMS" in done.stdout


def test_a_csv_with_the_documents_column_names_in_latin1(
    capsys: pytest.CaptureFixture[str], account: Account, tmp_path: Path
) -> None:
    """The console's send form reads `prenom`, `nom`, `ch1`..: the same file through `octogate send --csv`
    used to send "Hi {prenom}" as it stood. A spreadsheet's Latin-1 export is read too."""
    recipients = tmp_path / "clients.csv"
    recipients.write_bytes("numero;prenom;nom;ch1\n+447911000001;Zoé;Noël;7\n".encode("latin-1"))
    status, _, err = run(
        capsys, "send", "--csv", str(recipients), "--text", "Hi {prenom} {nom} #{ch1}", "--sender", "MyShop",
        *creds(account),
    )  # fmt: skip
    assert status == 0, err
    sent = rows(
        account.server,
        "SELECT m.text FROM messages m JOIN campaigns c ON c.id = m.campaign_id "
        "JOIN accounts a ON a.id = c.account_id WHERE a.login = ?",
        account.login,
    )
    assert [row["text"] for row in sent] == ["Hi Zoé Noël #7"]
