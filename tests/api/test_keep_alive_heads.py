"""A keep-alive connection's later requests have the same header deadline as its first one."""

from __future__ import annotations

import socket
from pathlib import Path

from live.conftest import start_server


def read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def closed_by_server(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_a_slow_head_after_an_answered_request_is_refused_408(tmp_path: Path) -> None:
    config = tmp_path / "octogate.toml"
    config.write_text("[http]\nheader_timeout = 1.0\n")
    server = start_server(tmp_path, {"OCTOGATE_CONFIG": str(config)})
    try:
        host, port = server.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            for _ in range(2):  # heads in one read: answered, the connection kept
                sock.sendall(b"GET /api/balance HTTP/1.1\r\nHost: gw\r\n\r\n")
                assert read_answer(sock).startswith(b"HTTP/1.1 200 ")
            sock.sendall(b"GET /api/balance HTTP/1.1\r\nHost: gw\r\n")  # and never the blank line
            assert closed_by_server(sock).startswith(b"HTTP/1.1 408 ")
    finally:
        server.stop()
