"""A real `octogate serve` process, started the way a user starts it, on free ports and a fresh database."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    database_url: str
    login: str
    api_key: str
    process: subprocess.Popen[str]
    output: list[str]
    admin_url: str = ""
    reader: threading.Thread | None = None  # keeps `output` filled, up to the pipe's end

    def kill(self) -> None:
        """A crash: SIGKILL to the server and its background process at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self._ended()

    def stop(self) -> None:
        self.process.terminate()
        self._ended()
        # On the test's stdout, which pytest shows under a failed test and only there.
        print(
            f"octogate serve exited with {self.process.returncode}; its output:\n{''.join(self.output)[-20_000:]}"
        )

    def _ended(self) -> None:
        """Reaped, and its output read to the end (the last lines say why it stopped) before the pipe closes."""
        self.process.wait(timeout=10)
        if self.reader is not None:
            self.reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "octogate.cli", *args, "--database-url", self.database_url],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip


def start_server(tmp_path: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    admin = f"127.0.0.1:{free_port()}"
    database_url = f"sqlite:///{tmp_path}/live.db"
    env = {
        **os.environ,
        "OCTOGATE_ADMIN": admin,
        "OCTOGATE_HTTP": f"127.0.0.1:{port}",
        "OCTOGATE_SMTP": f"127.0.0.1:{free_port()}",
        "OCTOGATE_DATABASE_URL": database_url,
    }
    env.update(extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "octogate.cli", "serve"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Octopush API on" in line:
            break
    output = "".join(lines)
    login = re.search(r"user_login=(\S+)", output)
    key = re.search(r"api_key=(\S+)", output)
    if not login:
        _fail(process, "did not start", output)
    base_url = f"http://127.0.0.1:{port}"
    while True:
        try:
            httpx.get(f"{base_url}/api/balance", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                _fail(process, f"does not answer on {base_url}", output)
            time.sleep(0.05)
    # A restart on an existing database cannot show the demo key again (only its hash is kept).
    server = LiveServer(
        base_url, database_url, login.group(1), key.group(1) if key else "", process, lines,
        f"http://{env['OCTOGATE_ADMIN']}" if env["OCTOGATE_ADMIN"] != "off" else "",
    )  # fmt: skip
    server.reader = threading.Thread(target=_drain, args=(process, lines), daemon=True)
    server.reader.start()
    return server


def _fail(process: subprocess.Popen[str], why: str, output: str) -> NoReturn:
    """Kill the server's process group and fail with everything it printed, the lines after the start included."""
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
        os.killpg(process.pid, signal.SIGKILL)
    rest, _ = process.communicate(timeout=10)
    raise AssertionError(f"octogate serve {why}:\n{output}{rest}")


def _drain(process: subprocess.Popen[str], lines: list[str]) -> None:
    """Keep reading the server's output, so that it never blocks on a full pipe; tests may read `output`."""
    assert process.stdout is not None
    try:
        for line in process.stdout:
            lines.append(line)
    except ValueError:  # the pipe was closed (a reader that outlived the join)
        return


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path)
    yield server
    server.stop()


def process_group(pgid: int) -> set[int]:
    """The live processes of a process group (a `serve` started in a session of its own and its children)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:  # after "pid (comm)": state, ppid, pgrp
            pids.add(int(entry.name))
    return pids


def connection_owner(client_port: int, server_port: int, pids: set[int]) -> int | None:
    """Which of `pids` holds the client end of the IPv4 loopback connection `client_port` -> `server_port`:
    the connection's socket inode from /proc/net/tcp, then the process with a descriptor on it (Linux)."""
    local, remote = f"0100007F:{client_port:04X}", f"0100007F:{server_port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    inode = next((f[9] for f in map(str.split, lines) if f[1] == local and f[2] == remote), None)
    if inode is None:
        return None
    link = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:  # ended meanwhile
            continue
        for fd in fds:
            with contextlib.suppress(OSError):  # a descriptor closed since it was listed
                if os.readlink(fd) == link:
                    return pid
    return None
