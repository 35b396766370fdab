"""Real `octogate serve` (and `smsc-sim`) processes for the operator's tests: free ports, a fresh SQLite file,
stdout and stderr read line by line in the background so that tests can wait for a log line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

WAIT = 30.0  # seconds a condition may take on a loaded machine before the test fails


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], within: float = WAIT, what: str = "condition") -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            value = condition()
        except (httpx.TransportError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:.0f} s")
        time.sleep(0.05)


@dataclass
class Process:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def line(self, *needles: str, within: float = WAIT) -> str:
        """Wait for an output line holding every needle."""
        return str(wait_for(
            lambda: next((ln for ln in list(self.lines) if all(n in ln for n in needles)), None),
            within, f"a line with {needles!r} in:\n" + self.output()[-3000:],
        ))  # fmt: skip

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._reader.join(timeout=10)  # the rest of the output, up to EOF
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass
class Serve(Process):
    base_url: str = ""
    admin_url: str = ""
    database_url: str = ""

    def get(self, path: str, *, admin: bool = False) -> httpx.Response:
        return httpx.get((self.admin_url if admin else self.base_url) + path, timeout=5)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics, parsed by prometheus_client's own parser."""
        text = self.get("/metrics", admin=True).text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "octogate.cli", *args],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "OCTOGATE_DATABASE_URL": self.database_url,
                 "OCTOGATE_ADMIN": self.admin_url.removeprefix("http://"), **(env or {})},
        )  # fmt: skip

    def child_pid(self) -> int:
        """The delivery process (the serve process's child that is not multiprocessing's resource tracker)."""
        def find() -> int | None:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            for pid in children:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"spawn_main" in command:
                    return int(pid)
            return None

        return int(wait_for(find, what="the delivery process"))


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    port, admin = free_port(), free_port()
    return {
        **os.environ,
        "OCTOGATE_HTTP": f"127.0.0.1:{port}",
        "OCTOGATE_ADMIN": f"127.0.0.1:{admin}",
        "OCTOGATE_SMTP": "off",
        "OCTOGATE_DATABASE_URL": f"sqlite:///{tmp_path}/ops.db",
        **extra,
    }


def launch(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "octogate.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )  # fmt: skip


def start_serve(env: dict[str, str], *args: str) -> Serve:
    server = Serve(
        launch(["serve", *args], env),
        base_url=f"http://{env['OCTOGATE_HTTP']}", admin_url=f"http://{env['OCTOGATE_ADMIN']}",
        database_url=env["OCTOGATE_DATABASE_URL"],
    )  # fmt: skip
    server.line("Octopush API on")
    wait_for(lambda: server.get("/healthz").status_code == 200, what="/healthz")
    return server


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Processes a test started: stopped at its end, whatever happened."""
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()
