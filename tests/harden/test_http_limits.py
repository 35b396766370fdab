"""HTTP limits through a real `octogate serve` (issue 11, point 6), with the caps lowered so the abuse is small."""

from __future__ import annotations

import select
import socket
import threading
import time
from pathlib import Path
from xml.etree import ElementTree

import httpx

from harden.conftest import address, closed_by_server, exchange
from live.conftest import LiveServer, start_server
from octogate.http.limits import KEEP_ALIVE_SECONDS
from octogate.http.protocol import SWEEP_EVERY

GENEROUS = 0.1  # seconds: "other clients answered within 100 ms"


def answer_time(server: LiveServer) -> float:
    """An honest call on a new connection: seconds until its whole answer is read."""
    started = time.perf_counter()
    reply = exchange(server, b"GET /api/balance HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    elapsed = time.perf_counter() - started
    assert b"<error_code>100</error_code>" in reply  # no parameters: the API's own answer
    return elapsed


def best_of(server: LiveServer, tries: int = 3) -> float:
    """The shared machine may stall one call; the best of a few is what the server offers."""
    return min(answer_time(server) for _ in range(tries))


def test_an_over_long_query_string_gets_an_octopush_answer(limited: LiveServer) -> None:
    query = b"user_login=a&api_key=b&sms_text=" + b"x" * 5000
    reply = exchange(limited, b"GET /api/sms?" + query + b" HTTP/1.1\r\nHost: gw\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"text/xml" in head
    assert ElementTree.fromstring(body).findtext("error_code") == "100"
    reply = exchange(limited, b"POST /api/sms/json?" + query + b" HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n")
    assert reply.endswith(b'{"error_code": "100"}')
    assert exchange(limited, b"GET /elsewhere?" + query + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 414 ")


def test_too_many_or_too_large_headers_are_refused(limited: LiveServer) -> None:
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    assert exchange(limited, b"GET /api/sms HTTP/1.1\r\n" + many + b"\r\n").startswith(b"HTTP/1.1 431 ")
    large = b"X-Big: " + b"a" * 6000 + b"\r\n"
    assert exchange(limited, b"GET /api/sms HTTP/1.1\r\n" + large + b"\r\n").startswith(b"HTTP/1.1 431 ")
    assert best_of(limited) < GENEROUS


def test_a_client_streaming_a_huge_header_leaves_others_answered(limited: LiveServer) -> None:
    sent = 0
    refused = threading.Event()

    def stream() -> None:
        nonlocal sent
        with socket.create_connection(address(limited), timeout=10) as sock:
            sock.sendall(b"GET /api/sms HTTP/1.1\r\nX-Huge: ")
            try:
                while sent < 200 * 1024 * 1024:
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            except OSError:
                refused.set()  # the server answered and closed: the header is never read whole

    streamer = threading.Thread(target=stream)
    streamer.start()
    times = []
    try:
        while streamer.is_alive() or not times:
            times.append(answer_time(limited))
    finally:
        streamer.join(timeout=30)
    assert refused.is_set() and sent < 50 * 1024 * 1024  # cut short, not read to the end
    assert min(times) < GENEROUS and best_of(limited) < GENEROUS


def test_slow_connections_beyond_the_cap_leave_others_answered(limited: LiveServer) -> None:
    slow = []
    try:
        for _ in range(2000):  # forty times the lowered cap of 50, none finishing its headers
            sock = socket.create_connection(address(limited), timeout=5)
            sock.sendall(b"GET /api/balance HTTP/1.1\r\nHost: gw\r\n")
            slow.append(sock)
        assert best_of(limited) < GENEROUS
        # the oldest were closed to make room; a slow one left open is closed at the header timeout (1 s)
        reply = closed_by_server(slow[-1])
        assert reply == b"" or reply.startswith(b"HTTP/1.1 408 ")
    finally:
        for sock in slow:
            sock.close()


def test_the_default_limits_answer_a_64_kib_url_as_the_api_does(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        query = b"user_login=a&api_key=b&sms_text=" + b"x" * 70_000
        reply = exchange(server, b"GET /api/sms?" + query + b" HTTP/1.1\r\nHost: gw\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"<error_code>100</error_code></octopush>")
        almost = b"user_login=a&api_key=b&sms_text=" + b"x" * 60_000
        reply = exchange(server, b"GET /api/sms?" + almost + b" HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert reply.endswith(b"<error_code>101</error_code></octopush>")  # read whole: the key is checked
    finally:
        server.stop()


def test_keep_alive_clients_keep_working(limited: LiveServer) -> None:
    with httpx.Client(base_url=limited.base_url) as client:
        for _ in range(5):
            assert "<error_code>100</error_code>" in client.get("/api/balance").text


def test_a_slow_head_after_answered_requests_on_one_connection_is_refused_408(limited: LiveServer) -> None:
    """A keep-alive connection's later requests have the same header deadline as its first one."""
    with socket.create_connection(address(limited), timeout=10) as sock:
        for _ in range(2):  # heads in one read each: answered, the connection kept
            sock.sendall(b"GET /api/balance HTTP/1.1\r\nHost: gw\r\n\r\n")
            assert read_answer_head(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /api/balance HTTP/1.1\r\nHost: gw\r\n")  # and never the blank line
        assert closed_by_server(sock).startswith(b"HTTP/1.1 408 ")


def test_an_idle_keep_alive_connection_is_closed_once_its_keep_alive_has_passed(limited: LiveServer) -> None:
    """Closed by the server's sweep between KEEP_ALIVE_SECONDS and one sweep later after its last answer, while
    a connection whose requests keep coming stays open."""
    balance = b"GET /api/balance HTTP/1.1\r\nHost: gw\r\n\r\n"
    with socket.create_connection(address(limited), timeout=10) as idle, \
            socket.create_connection(address(limited), timeout=10) as busy:  # fmt: skip
        idle.sendall(balance)
        assert read_answer_head(idle).startswith(b"HTTP/1.1 200 ")
        answered = time.monotonic()
        idle.setblocking(False)
        closed_after = None
        while closed_after is None and time.monotonic() - answered < KEEP_ALIVE_SECONDS + SWEEP_EVERY + 3:
            busy.sendall(balance)  # every ~0.5 s: never idle for long
            assert read_answer_head(busy).startswith(b"HTTP/1.1 200 ")
            ready, _, _ = select.select([idle], [], [], 0.5)
            if ready:
                assert idle.recv(65536) == b""  # closed, and nothing more was sent
                closed_after = time.monotonic() - answered
        assert closed_after is not None, "the idle connection was kept open"
        assert KEEP_ALIVE_SECONDS - 0.05 <= closed_after <= KEEP_ALIVE_SECONDS + SWEEP_EVERY + 1
        busy.sendall(balance)  # open all along, and still answered
        assert read_answer_head(busy).startswith(b"HTTP/1.1 200 ")


def read_answer_head(sock: socket.socket) -> bytes:
    """One whole answer read off a kept connection (by its Content-Length): its head."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_slow_uploads_beyond_the_cap_leave_others_answered(limited: LiveServer) -> None:
    slow = []
    try:
        for _ in range(200):  # headers sent at once, then a body that never comes
            sock = socket.create_connection(address(limited), timeout=5)
            sock.sendall(b"POST /api/sms HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\n\r\nuser_login=")
            slow.append(sock)
        assert best_of(limited) < GENEROUS
        assert closed_by_server(slow[0]) == b""  # closed unanswered to make room: never applied half-read
    finally:
        for sock in slow:
            sock.close()
