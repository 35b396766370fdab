"""Real `octogate serve` processes with lowered limits, for the abuse cases of issue 11."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from live.conftest import LiveServer, start_server

LIMITS = """
[http]
max_url_bytes = 4096
max_header_bytes = 4096
max_headers = 20
header_timeout = 1.0
max_connections = 50
auth_free_failures = 3
auth_max_delay = 0.5
"""


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("limited")
    config = folder / "octogate.toml"
    config.write_text(LIMITS)
    server = start_server(folder, {"OCTOGATE_CONFIG": str(config)})
    yield server
    server.stop()


def address(server: LiveServer) -> tuple[str, int]:
    host, port = server.base_url.removeprefix("http://").split(":")
    return host, int(port)


def exchange(server: LiveServer, request: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes (or the timeout): what a client would see."""
    with socket.create_connection(address(server), timeout=timeout) as sock:
        sock.sendall(request)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def closed_by_server(sock: socket.socket, within: float = 5.0) -> bytes:
    """What the server sent before closing the connection; fails if it is still open after `within` seconds."""
    sock.settimeout(within)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for {within} s") from None
    return data


def write_config(folder: Path, text: str) -> Path:
    path = folder / "octogate.toml"
    path.write_text(text)
    return path
