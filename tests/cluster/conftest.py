"""Several `octogate serve` hosts on one database: real processes, each its own HTTP port, started together.

"Together" is made exact: each process imports octogate first (the slow part of a start), then waits for a
gate file; the test opens the gate once every process is waiting, so their starts collide in the database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

GATED_SERVE = """
import os, sys, time
import octogate.cli, octogate.server  # the slow imports, before the gate
gate, ready = sys.argv[1], sys.argv[2]
open(ready, "w").close()
while not os.path.exists(gate):
    time.sleep(0.001)
octogate.cli.main(["serve"])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Host:
    base_url: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def stop(self) -> None:
        """SIGTERM to the host's process group (server and background process), SIGKILL if it lingers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_hosts_together(
    tmp_path: Path, database_url: str, count: int, within: float = 60.0, extra_env: dict[str, str] | None = None
) -> list[Host]:
    """`count` serve processes released at one instant; returned once each has started its HTTP server (or
    exited). The caller stops them (`Host.stop`)."""
    gate = tmp_path / "gate"
    hosts: list[Host] = []
    for n in range(count):
        port = free_port()
        env = {
            **os.environ,
            "OCTOGATE_HTTP": f"127.0.0.1:{port}",
            "OCTOGATE_SMTP": "off",
            "OCTOGATE_ADMIN": "off",
            "OCTOGATE_DATABASE_URL": database_url,
        }
        env.pop("OCTOGATE_DEMO_KEY", None)
        env.update(extra_env or {})
        process = subprocess.Popen(
            [sys.executable, "-c", GATED_SERVE, str(gate), str(tmp_path / f"ready-{n}")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
        )  # fmt: skip
        host = Host(f"http://127.0.0.1:{port}", process)
        threading.Thread(target=_drain, args=(process, host.output), daemon=True).start()
        hosts.append(host)
    deadline = time.monotonic() + within
    while not all((tmp_path / f"ready-{n}").exists() for n in range(count)):
        if time.monotonic() > deadline or any(h.process.poll() is not None for h in hosts):
            break
        time.sleep(0.01)
    gate.touch()
    for host in hosts:
        while time.monotonic() < deadline and host.process.poll() is None and "Octopush API on" not in host.text:
            time.sleep(0.02)
    return hosts


def _drain(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    with contextlib.suppress(ValueError):
        for line in process.stdout:
            lines.append(line)


def answers_balance(host: Host, login: str, api_key: str, within: float = 30.0) -> str | None:
    """The host's /api/balance answer (XML), once its HTTP server takes connections."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            response = httpx.post(
                f"{host.base_url}/api/balance", data={"user_login": login, "api_key": api_key}, timeout=5
            )
            return response.text
        except httpx.TransportError:
            time.sleep(0.05)
    return None
