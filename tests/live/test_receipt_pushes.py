"""The whole path as a customer sees it: /api/sms → the dispatcher → the embedded SMSC → receipts → pushes
to the customer's URL, through a crash of the gateway while the customer's endpoint is down."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import httpx

from live.conftest import free_port, start_server
from octogate.client import DeliveryReceipt, DeliveryStatus, parse_callback

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


@contextmanager
def receiver(port: int) -> Iterator[list[tuple[str, dict[str, str]]]]:
    """A customer's endpoint: records (content type, form fields) of every POST, answers 200 and nothing."""
    received: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], dict(parse_qsl(body.decode("utf-8")))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


def wait_for(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {within} s: {what}")


def test_receipts_reach_the_customer_even_across_a_crash(tmp_path: Path) -> None:
    config = tmp_path / "octogate.toml"
    config.write_text(CONFIG)
    push_port = free_port()
    server = start_server(tmp_path, {"OCTOGATE_CONFIG": str(config)})
    database = server.database_url.removeprefix("sqlite:///")
    try:
        urls = server.cli("account", "urls", server.login, "--all", f"http://127.0.0.1:{push_port}/push")
        assert urls.returncode == 0, urls.stderr
        answer = httpx.post(
            f"{server.base_url}/api/sms",
            data={
                "user_login": server.login, "api_key": server.api_key, "sms_type": "FR", "sms_sender": "Shop",
                "sms_text": "Your code: 1234", "transactional": "1",
                "sms_recipients": "+33601020304,+33691234567",
            },
        )  # fmt: skip
        ticket = answer.text.split("<ticket>")[1].split("</ticket>")[0]

        def attempted() -> bool:
            with sqlite3.connect(database) as conn:
                return conn.execute("SELECT COUNT(*) FROM callbacks WHERE attempts >= 1").fetchone()[0] == 2

        # The customer's endpoint is down: both receipts are owed, tried, and waiting for a retry...
        wait_for(attempted, 30, "both receipt pushes attempted while the receiver is down")
    finally:
        server.kill()  # ...when the gateway crashes.

    with receiver(push_port) as received:
        restarted = start_server(tmp_path, {"OCTOGATE_CONFIG": str(config)})
        try:
            wait_for(lambda: len(received) >= 2, 45, "both receipts pushed after the restart")
            time.sleep(0.5)  # a duplicate would show up now
        finally:
            restarted.stop()

    assert len(received) == 2
    assert {content_type for content_type, _ in received} == {
        "application/x-www-form-urlencoded; charset=UTF-8"
    }
    fields = sorted((form for _, form in received), key=lambda form: form["number"])
    assert [set(form) for form in fields] == [{"message_id", "number", "status", "delivery_date"}] * 2
    receipts = [parse_callback(form) for form in fields]
    assert all(isinstance(receipt, DeliveryReceipt) and receipt.message_id == ticket for receipt in receipts)
    assert [(r.number, r.status) for r in receipts if isinstance(r, DeliveryReceipt)] == [
        ("+33601020304", DeliveryStatus.DELIVERED),
        ("+33691234567", DeliveryStatus.INVALID_DESTINATION_ADDRESS),
    ]
