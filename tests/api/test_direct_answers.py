"""The API's own calls answered by the protocol's direct path are the answers the ASGI path gives, in order,
counted, and closed when asked, through a real `octogate serve`."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live.conftest import LiveServer, start_server
from octogate.config import Settings
from octogate.http.app import MAX_BODY, OctopushApp
from octogate.http.direct import direct_request
from octogate.http.limits import uvicorn_limits


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(Path(tmp_path_factory.mktemp("direct")))
    yield live
    live.stop()


def exchange(server: LiveServer, data: bytes) -> bytes:
    """Everything the server sends on one connection until it closes it."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return re.sub(rb"date: [^\r]+", b"date: -", received)


def post(path: bytes, close: bool) -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + (b"Connection: close\r\n" if close else b""))  # fmt: skip


def by_length(path: bytes, form: bytes, close: bool = True) -> bytes:
    return post(path, close) + b"Content-Length: %d\r\n\r\n" % len(form) + form


def chunked(path: bytes, form: bytes, close: bool = True) -> bytes:
    """The same call with a chunked body: the direct path leaves those to the ASGI cycle."""
    half = len(form) // 2
    body = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, form[:half], len(form) - half, form[half:])
    return post(path, close) + b"Transfer-Encoding: chunked\r\n\r\n" + body


def credentials(server: LiveServer) -> bytes:
    return b"user_login=" + server.login.encode() + b"&api_key=" + server.api_key.encode()


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (b"/api/balance", b"CREDENTIALS"),
        (b"/api/balance/json", b"CREDENTIALS"),
        (b"/api/credit", b"CREDENTIALS"),
        (b"/api/sms", b"CREDENTIALS&sms_text=Bonjour"),  # refused: no recipients
        (b"/api/sms/json", b"user_login=nobody%40example.com&api_key=wrong"),
        (b"/api/sms", b""),
    ],
)
def test_a_call_answered_directly_gets_the_answer_the_asgi_path_gives(
    server: LiveServer, path: bytes, form: bytes
) -> None:
    form = form.replace(b"CREDENTIALS", credentials(server))
    direct = exchange(server, by_length(path, form))
    assert direct.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close\r\n" in direct
    assert direct == exchange(server, chunked(path, form))


def test_pipelined_calls_are_answered_in_order_whichever_path_answers_them(server: LiveServer) -> None:
    balance = by_length(b"/api/balance", credentials(server), close=False)
    answers = exchange(server, balance + b"PUT /api/sms HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
                       + chunked(b"/api/balance/json", credentials(server), close=False)
                       + b"GET /api/credit?" + credentials(server) + b" HTTP/1.1\r\n\r\n"
                       + b"GET /api/sms/json HTTP/1.1\r\nConnection: close\r\n\r\n")  # fmt: skip
    heads = re.findall(rb"HTTP/1\.1 (\d+) [^\r]*\r\n(?:[^\r]+\r\n)*?content-type: ([^;\r]+)", answers)
    assert heads == [(b"200", b"text/xml"), (b"405", b"text/plain"), (b"200", b"application/json"),
                     (b"200", b"text/xml"), (b"200", b"application/json")]  # fmt: skip
    assert answers.count(b"<error_code>000</error_code>") == 2 and b'"error_code": "000"' in answers
    assert answers.endswith(b'{"error_code": "100"}')  # the last, then the connection closed as it asked


def test_an_http_1_0_call_is_answered_and_closed(server: LiveServer) -> None:
    answer = exchange(server, b"GET /api/balance?" + credentials(server) + b" HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close\r\n" in answer
    assert answer.endswith(b"</octopush>") and b"<error_code>000</error_code>" in answer


def test_calls_answered_directly_are_counted_by_path_and_code(server: LiveServer) -> None:
    def counted() -> float:
        text = httpx.get(server.admin_url + "/metrics").text
        found = re.search(r'octogate_http_requests_total\{code="200",path="/api/credit"\} (\S+)', text)
        return float(found.group(1)) if found else 0.0

    before = counted()
    for _ in range(3):
        exchange(server, by_length(b"/api/credit", credentials(server)))
    assert counted() == before + 3


def test_only_the_apis_form_calls_take_the_direct_path() -> None:
    form = [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"42")]
    sms = direct_request(b"POST", b"/api/sms/json?x=1", form, "1.1", True)
    assert sms is not None and (sms.endpoint, sms.as_json, sms.query, sms.keep_alive) == ("sms", True, b"x=1", True)
    old = direct_request(b"GET", b"/api/balance", [], "1.0", True)
    assert old is not None and not old.keep_alive  # HTTP/1.0: closed after its answer
    for method, url, headers in [
        (b"PUT", b"/api/sms", form),
        (b"HEAD", b"/api/balance", []),
        (b"POST", b"/v1/sms-campaign/send", form),
        (b"GET", b"/console/", []),
        (b"POST", b"/api/sms", [(b"content-type", b"multipart/form-data; boundary=x")]),
        (b"POST", b"/api/sms", [(b"transfer-encoding", b"chunked")]),
        (b"POST", b"/api/sms", [(b"expect", b"100-continue"), (b"content-length", b"42")]),
        (b"POST", b"/api/sms", [(b"content-length", str(MAX_BODY + 1).encode())]),
    ]:
        assert direct_request(method, url, headers, "1.1", True) is None, (method, url, headers)


def test_the_protocol_is_bound_to_the_api_it_answers_directly() -> None:
    api = OctopushApp(object())  # type: ignore[arg-type]
    assert uvicorn_limits(Settings(), api)["http"].api is api
