"""What a REST client sees when the HTTP edge refuses before the app (issue 11's limits on a `/v1/` path),
through a real `octogate serve` with the caps lowered: the REST API's JSON error body, never XML or plain text;
the 1.6.1 paths keep their own answers (tests/harden/test_http_limits.py)."""

from __future__ import annotations

import json
import socket
import time

import httpx

from harden.conftest import address, closed_by_server, exchange
from live.conftest import LiveServer

BALANCE = b"/v1/public/wallet/check-balance"
SEND = b"/v1/public/sms-campaign/send"


def refusal(reply: bytes, status: int) -> dict[str, object]:
    """A raw answer's JSON body, after checking its status line and content type."""
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), head[:200]
    assert b"content-type: application/json; charset=UTF-8" in head and b"connection: close" in head
    document = json.loads(body)
    assert set(document) == {"code", "message", "error_code"} and document["code"] == 100
    assert document["error_code"] == "100" and isinstance(document["message"], str)
    return document


def test_an_over_long_url_on_a_rest_path_is_a_json_414(limited: LiveServer) -> None:
    query = b"?country_codes[]=" + b"F" * 5000
    for target in (BALANCE + query, b"http://gw" + BALANCE + query, SEND + query):
        reply = exchange(limited, b"GET " + target + b" HTTP/1.1\r\nHost: gw\r\n\r\n")
        assert "URL is longer than 4096 bytes" in str(refusal(reply, 414)["message"])
    # the 1.6.1 API's over-long URL is still its own answer, and elsewhere plain 414
    assert exchange(limited, b"GET /api/balance?x=" + b"x" * 5000 + b" HTTP/1.1\r\n\r\n").endswith(
        b"<error_code>100</error_code></octopush>"
    )
    assert b"text/plain" in exchange(limited, b"GET /v2/x?" + b"x" * 5000 + b" HTTP/1.1\r\n\r\n")


def test_too_many_or_too_large_headers_on_a_rest_path_are_a_json_431(limited: LiveServer) -> None:
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    refusal(exchange(limited, b"POST " + SEND + b" HTTP/1.1\r\n" + many + b"\r\n"), 431)
    large = b"api-key: " + b"a" * 6000 + b"\r\n"
    message = refusal(exchange(limited, b"GET " + BALANCE + b" HTTP/1.1\r\n" + large + b"\r\n"), 431)["message"]
    assert "at most 20 headers, 4096 bytes" in str(message)


def test_slow_headers_on_a_rest_path_are_a_json_408(limited: LiveServer) -> None:
    with socket.create_connection(address(limited), timeout=10) as sock:
        sock.sendall(b"GET " + BALANCE + b" HTTP/1.1\r\nHost: gw\r\n")  # and never the blank line
        refusal(closed_by_server(sock), 408)


def test_a_request_that_is_not_http_on_a_rest_path_is_a_json_400(limited: LiveServer) -> None:
    reply = exchange(limited, b"POST " + SEND + b" HTTP/1.1\r\nHost: gw\r\nContent-Length: ten\r\n\r\n{}")
    refusal(reply, 400)
    plain = exchange(limited, b"POST /api/sms HTTP/1.1\r\nHost: gw\r\nContent-Length: ten\r\n\r\n")
    assert plain.startswith(b"HTTP/1.1 400 ") and b"text/plain" in plain


def test_unknown_rest_paths_and_wrong_credentials_answer_json(limited: LiveServer) -> None:
    with httpx.Client(base_url=limited.base_url, timeout=10) as client:
        for path in ("/v1", "/v1/public/contact/create", "/v1/public/sms-campaign/send/more"):
            answer = client.post(path)
            assert answer.status_code == 404
            assert answer.json() == {"code": 404, "message": "not supported by this gateway", "error_code": "404"}
        # wrong credentials slow down (3 free failures, then 0.25 s doubling to 0.5 s) and stay a JSON 401
        wrong = {"api-login": limited.login, "api-key": "wrong"}
        timed = []
        for _ in range(6):
            started = time.perf_counter()
            answer = client.get(BALANCE.decode(), headers=wrong)
            timed.append(time.perf_counter() - started)
            assert answer.status_code == 401 and answer.json()["error_code"] == "101"
        assert all(elapsed >= 0.25 for elapsed in timed[3:])
        right = client.get(BALANCE.decode(), headers={"api-login": limited.login, "api-key": limited.api_key})
        assert right.status_code == 200 and right.json()["unit"] == "euros"
