"""Pushes signed with the account's secret (issue 11, point 7): the format, the client's check, and a real
`octogate serve` in its sandbox pushing a signed receipt to a loopback receiver (private targets forbidden,
loopback allowed only because nothing leaves the machine)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from live.conftest import free_port, start_server
from octogate.client import BadSignature, DeliveryReceipt, callback_app, parse_push
from octogate.client.signatures import HEADER, SignatureError, signature, verify
from octogate.operations import Operator, Refused
from octogate.store.store import Store
from support import make_customer

SECRET = "s3cret-shared-with-the-customer"
BODY = b"message_id=api1&number=%2B33601020304&status=DELIVERED&delivery_date=2026-01-02+03%3A04%3A05"


def test_a_signature_verifies_and_anything_changed_does_not() -> None:
    header = signature(SECRET, BODY, 1_700_000_000)
    assert re.fullmatch(r"t=1700000000,v1=[0-9a-f]{64}", header)
    verify(SECRET, header, BODY, now=1_700_000_010)
    for secret, body, now, why in [
        ("another-secret-entirely", BODY, 1_700_000_010, "does not match"),
        (SECRET, BODY + b"&extra=1", 1_700_000_010, "does not match"),
        (SECRET, BODY, 1_700_000_000 + 301, "too far from now"),
    ]:
        with pytest.raises(SignatureError, match=why):
            verify(secret, header, body, now=now)
    for bad in (None, "", "v1=abc", "t=soon,v1=abc"):
        with pytest.raises(SignatureError):
            verify(SECRET, bad, BODY, now=1_700_000_000)
    rotated = f"{signature('the-old-secret-still-here', BODY, 1_700_000_000)},v1={header.split('v1=')[1]}"
    verify(SECRET, rotated, BODY, now=1_700_000_000)  # any one v1 may match


def test_the_parser_checks_only_when_given_the_secret() -> None:
    now = time.time()
    header = signature(SECRET, BODY, int(now))
    assert isinstance(parse_push(BODY, secret=SECRET, signature=header), DeliveryReceipt)
    assert isinstance(parse_push(BODY), DeliveryReceipt)  # an Octopush-style receiver: nothing checked
    with pytest.raises(BadSignature):
        parse_push(BODY, secret=SECRET, signature=None)
    with pytest.raises(BadSignature):
        parse_push(BODY, secret="not-the-right-secret", signature=header)


async def test_the_receiver_app_refuses_unsigned_pushes_when_it_has_the_secret() -> None:
    handled: list[object] = []
    app = callback_app(handled.append, secret=SECRET)
    transport = httpx.ASGITransport(app=app)
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        unsigned = await client.post("/", content=BODY, headers=form)
        now = int(time.time())
        forged = await client.post("/", content=BODY, headers={**form, HEADER: signature("x" * 20, BODY, now)})
        signed = await client.post("/", content=BODY, headers={**form, HEADER: signature(SECRET, BODY, now)})
    assert (unsigned.status_code, forged.status_code, signed.status_code) == (401, 401, 200)
    assert len(handled) == 1


def test_the_operator_sets_checks_and_removes_a_secret(store: Store) -> None:
    customer = make_customer(store)
    operator = Operator(store)
    made = operator.set_push_secret(customer.login)
    assert made is not None and len(made) >= 32
    assert operator.set_push_secret(customer.login, "chosen-by-the-customer") == "chosen-by-the-customer"
    for bad in ("short", "with a space inside it", "x" * 129):
        with pytest.raises(Refused):
            operator.set_push_secret(customer.login, bad)
    assert operator.set_push_secret(customer.login, remove=True) is None
    with pytest.raises(Refused, match="no account"):
        operator.set_push_secret("nobody@example.com")


@contextmanager
def receiver(port: int) -> Iterator[list[tuple[str | None, bytes]]]:
    """A customer's endpoint on loopback: records (signature header, raw body) of every POST."""
    received: list[tuple[str | None, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get(HEADER), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


def test_serve_signs_the_receipt_push_of_an_account_with_a_secret(tmp_path: Path) -> None:
    config = tmp_path / "octogate.toml"
    config.write_text("[simulator]\nreceipt_delay_ms = 50\n[callbacks]\npoll_interval = 0.2\n")
    push_port = free_port()
    server = start_server(tmp_path, {"OCTOGATE_CONFIG": str(config)})
    try:
        made = server.cli("account", "push-secret", server.login)
        assert made.returncode == 0, made.stderr
        secret = re.search(r"secret (\S+)", made.stdout).group(1)  # type: ignore[union-attr]
        assert server.cli("account", "urls", server.login, "--all", f"http://127.0.0.1:{push_port}/p").returncode == 0
        with receiver(push_port) as received:
            answer = httpx.post(f"{server.base_url}/api/sms", data={
                "user_login": server.login, "api_key": server.api_key, "sms_type": "FR", "sms_sender": "Shop",
                "sms_text": "Your code: 1234", "transactional": "1", "sms_recipients": "+33601020304",
            })  # fmt: skip
            assert "<error_code>000</error_code>" in answer.text
            deadline = time.monotonic() + 30
            while not received and time.monotonic() < deadline:
                time.sleep(0.05)
        assert received, "no receipt push arrived"
        header, body = received[0]
        receipt = parse_push(body, secret=secret, signature=header)
        assert isinstance(receipt, DeliveryReceipt) and receipt.number == "+33601020304"
    finally:
        server.stop()
