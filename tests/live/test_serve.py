"""`octogate serve` as a user runs it: the demo account, raw HTTP quirks of real callers, restarts."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import quote

from live.conftest import LiveServer, start_server


def raw_request(server: LiveServer, request: bytes) -> bytes:
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def balance_request(server: LiveServer, target: str, trailing: bytes = b"") -> bytes:
    body = f"user_login={quote(server.login)}&api_key={quote(server.api_key)}".encode()
    head = (
        f"POST {target} HTTP/1.1\r\nHost: octogate\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return raw_request(server, head + body + trailing)


def test_a_proxy_style_target_routes_like_the_path(live_server: LiveServer) -> None:
    answer = balance_request(live_server, "http://www.octopush-dm.com/api/balance")
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b'<balance type="FR">1538.46</balance>' in answer


def test_bytes_after_a_correct_content_length_are_tolerated(live_server: LiveServer) -> None:
    answer = balance_request(live_server, "/api/balance", trailing=b"\r\n\r\nGARBAGE from an old client")
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b"<error_code>000</error_code>" in answer
    assert b"400 Bad Request" not in answer


def simulated_cost(server: LiveServer, raw_text: bytes) -> bytes:
    """A simulated GET send whose text is written into the URL as raw bytes, not percent-encoded."""
    query = (
        f"user_login={quote(server.login)}&api_key={quote(server.api_key)}&sms_recipients=%2B33601020304"
        "&sms_type=XXX&transactional=1&request_mode=simu&sms_text="
    ).encode()
    answer = raw_request(server, b"GET /api/sms?" + query + raw_text + b" HTTP/1.1\r\nHost: octogate\r\n"
                         b"Connection: close\r\n\r\n")  # fmt: skip
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert b"<error_code>000</error_code>" in answer, answer[-400:]
    return answer.split(b"<cost>", 1)[1].split(b"</cost>", 1)[0]


def test_raw_utf8_and_latin1_in_a_get_url_are_read_as_text(live_server: LiveServer) -> None:
    """Hand-built URLs of old clients carry accents unencoded; Octopush's web server takes them. 70 UCS-2
    characters are one SMS, 71 are two: the bytes were read as characters, not refused with a 400."""
    one = float(simulated_cost(live_server, "ő".encode() * 70))
    assert float(simulated_cost(live_server, "ő".encode() * 71)) == 2 * one
    assert float(simulated_cost(live_server, "\xe9t\xe9".encode("latin-1"))) == one  # été, written in Latin-1


def test_a_restart_keeps_accounts_and_a_fixed_demo_key_can_be_set(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    first.stop()
    fixed = start_server(tmp_path, {"OCTOGATE_DEMO_KEY": "sandbox-key-for-tests-0001"})
    try:
        assert fixed.login == first.login
        assert fixed.api_key == "sandbox-key-for-tests-0001"
        assert b"<error_code>000</error_code>" in balance_request(fixed, "/api/balance")
    finally:
        fixed.stop()


def test_a_body_cut_short_by_the_client_is_not_applied(live_server: LiveServer) -> None:
    body = (
        f"user_login={quote(live_server.login)}&api_key={quote(live_server.api_key)}&sms_type=FR&sms_sender=Shop"
        "&transactional=1&sms_text=Code+1234&sms_recipients=%2B33601020304,%2B3360102"
    ).encode()
    head = (
        b"POST /api/sms HTTP/1.1\r\nHost: octogate\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    with socket.create_connection(
        ("127.0.0.1", int(live_server.base_url.rsplit(":", 1)[1])), timeout=5
    ) as sock:
        sock.sendall(head + body)
    time.sleep(0.5)
    balance = balance_request(live_server, "/api/balance")
    assert b'<balance type="FR">1538.46</balance>' in balance  # nothing was debited
