"""The REST API on a real `octogate serve`: the typed clients (sync and async), `octogate send --api rest`, and a
REST campaign's receipt pushed as JSON to a real receiver and read by the client's parser."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from client.conftest import Account, new_account, rows
from live.conftest import LiveServer, free_port, start_server
from live.test_receipt_pushes import wait_for
from octogate.client import (
    AsyncOctopushRestClient,
    CampaignParameters,
    Code,
    OctopushError,
    OctopushRestClient,
    OctopushTransportError,
    Recipient,
    RestDeliveryReceipt,
    RestDeliveryStatus,
    parse_push,
)
from support import run_cli

CONFIG = """
[simulator]
receipt_delay_ms = 50
invalid_prefixes = ["3369"]

[callbacks]
backoff_min = 1
backoff_max = 2
poll_interval = 0.2
lease_seconds = 10
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("rest-live")
    config = folder / "octogate.toml"
    config.write_text(CONFIG)
    live = start_server(folder, {"OCTOGATE_CONFIG": str(config)})
    yield live
    live.stop()


@pytest.fixture
def account(server: LiveServer) -> Account:
    return new_account(server)


def rest(account: Account) -> OctopushRestClient:
    return OctopushRestClient(account.login, account.api_key, base_url=account.base_url)


@contextmanager
def receiver(port: int) -> Iterator[list[tuple[str, str, bytes]]]:
    """A customer's endpoint: records (path, content type, body) of every POST, answers 200."""
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        yield received
    finally:
        http.shutdown()
        http.server_close()


def test_the_sync_client_sends_reads_and_is_refused_with_codes(account: Account) -> None:
    with rest(account) as client:
        result = client.send(["+33601020304", Recipient("+447911123456", first_name="Ann")], "Hi {first_name}",
                             purpose="alert", sender="MyShop")  # fmt: skip
        assert result.sms_ticket.startswith("sms_") and not result.simulated
        assert (result.number_of_contacts, result.number_of_sms_needed) == (2, 2)
        assert (result.total_cost, result.residual_credit) == (Decimal("0.115"), Decimal("99.885"))
        assert client.balance().amount == Decimal("99.885")
        assert client.balance("sms_premium", "FR", with_details=True).wallet_packs[0].credit == 1536
        assert client.credits(["FR", "ES"])["ES"].low_cost_sms == 1816
        simulated = client.send(["+33601020304"], "Sale", simulation_mode=True)
        assert simulated.simulated and simulated.residual_credit == Decimal("99.885")
        with pytest.raises(OctopushError) as refused:
            client.send([f"+336010{n:05d}" for n in range(501)], "Too many", purpose="alert")
        assert (refused.value.code, refused.value.status) == (Code.MISSING_PARAMETERS, 422)
        assert "500" in refused.value.message
    rows_ = rows(account.server, "SELECT source, sender, text FROM campaigns c JOIN accounts a ON a.id = "
                 "c.account_id WHERE a.login = ?", account.login)  # fmt: skip
    assert [tuple(r) for r in rows_] == [("rest", "MyShop", "Hi {first_name}")]
    with OctopushRestClient(account.login, "not-the-key", base_url=account.base_url) as wrong, pytest.raises(
        OctopushError
    ) as bad_key:
        wrong.balance()
    assert (bad_key.value.code, bad_key.value.status) == (Code.BAD_CREDENTIALS, 401)
    assert "not-the-key" not in str(bad_key.value)
    nowhere = f"http://127.0.0.1:{free_port()}"
    with OctopushRestClient(account.login, account.api_key, base_url=nowhere) as client, pytest.raises(
        OctopushTransportError
    ):
        client.balance()


async def test_the_async_client(account: Account) -> None:
    async with AsyncOctopushRestClient(account.login, account.api_key, base_url=account.base_url) as client:
        edited = await client.edit_campaign_parameters(CampaignParameters(sender_for_sms_premium="Boutique"))
        assert edited.sender_for_sms_premium == "Boutique"
        sent = await client.send(["+33601020304"], "Code 1234", purpose="alert")  # no sender, no type
        assert sent.number_of_contacts == 1
        assert (await client.campaign_parameters()).sender_for_sms_premium == "Boutique"
        with pytest.raises(OctopushError) as long_text:
            await client.send(["+33601020304"], "x" * 1300, purpose="alert")
        assert (long_text.value.code, long_text.value.status) == (Code.TEXT_TOO_LONG, 422)
    senders = rows(account.server, "SELECT sender FROM campaigns c JOIN accounts a ON a.id = c.account_id "
                   "WHERE a.login = ?", account.login)  # fmt: skip
    assert [r[0] for r in senders] == ["Boutique"]


def test_curl_shapes_on_the_listener(account: Account) -> None:
    headers = {"api-key": account.api_key, "api-login": account.login}
    answer = httpx.post(f"{account.base_url}/v1/public/sms-campaign/send", headers=headers,
                        content=b"not json")  # fmt: skip
    assert (answer.status_code, answer.json()["code"]) == (400, 100)
    out_of_scope = httpx.post(f"{account.base_url}/v1/public/contact-list/create", headers=headers, json={})
    assert out_of_scope.status_code == 404
    assert out_of_scope.json() == {"code": 404, "message": "not supported by this gateway", "error_code": "404"}


def test_octogate_send_api_rest(
    capsys: pytest.CaptureFixture[str], account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    creds = ["--login", account.login, "--api-key", account.api_key, "--url", account.base_url]
    status, out, err = run_cli(capsys, "send", "--api", "rest", "--to", "+33601020304", "--text", "Sale",
                               "--sender", "MyShop", *creds)  # fmt: skip
    assert status == 0, err
    assert "ticket: sms_" in out and "sms: 1" in out and "residual credit: 99.935" in out
    assert account.api_key not in out + err
    table = tmp_path / "numbers.csv"
    table.write_text("number;first_name;field1\n+33601020304;Ann;A1\n+34612345678;Luz;L1\n")
    status, out, err = run_cli(capsys, "send", "--api", "rest", "--csv", str(table), "--text",
                               "{first_name} {param1}", "--transactional", *creds)  # fmt: skip
    assert status == 0, err
    assert "campaigns: 1 sent, 0 failed" in out
    texts = rows(account.server, "SELECT m.text FROM messages m JOIN accounts a ON a.id = m.account_id "
                 "WHERE a.login = ? ORDER BY m.id", account.login)  # fmt: skip
    assert [r[0] for r in texts] == ["Sale STOP au XXXXX", "Ann A1", "Luz L1"]
    status, out, err = run_cli(capsys, "send", "--api", "rest", "--to", "+33601020304", "--text", "x",
                               "--sender", "A", *creds)  # fmt: skip
    assert status == 1 and "106" in err


def test_a_rest_campaigns_receipts_are_pushed_as_json_and_parsed(account: Account) -> None:
    port = free_port()
    with rest(account) as client, receiver(port) as received:
        client.edit_campaign_parameters(
            CampaignParameters(callback_url_for_deliveries=f"http://127.0.0.1:{port}/receipts")
        )
        sent = client.send(["+33601020304", "+33691234567"], "Your code: 1234", purpose="alert", sender="Shop")
        wait_for(lambda: len(received) >= 2, 30, "both receipts pushed")
    assert {(path, content_type) for path, content_type, _ in received} == {
        ("/receipts", "application/json; charset=UTF-8")
    }
    receipts = sorted((parse_push(body) for _, _, body in received), key=lambda r: r.number)
    assert all(isinstance(r, RestDeliveryReceipt) and r.message_id == sent.sms_ticket for r in receipts)
    assert [(r.number, r.status) for r in receipts if isinstance(r, RestDeliveryReceipt)] == [
        ("+33601020304", RestDeliveryStatus.DELIVERED), ("+33691234567", RestDeliveryStatus.BAD_DESTINATION),
    ]  # fmt: skip
