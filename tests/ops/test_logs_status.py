"""The events an operator reads in the logs (JSON here), and `octogate status` without a ticket, on a real
serve delivering to a real `smsc-sim` that throttles, with pushes to a customer that is down, then up."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from ops.conftest import Process, free_port, launch, serve_env, start_serve, wait_for

TEXT = "secret text of a customer"


class Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver_port() -> Iterator[int]:
    yield free_port()


def events(lines: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_json_logs_throttling_push_target_and_status(
    tmp_path: Path, processes: list[Process], receiver_port: int
) -> None:
    smsc = free_port()
    config = tmp_path / "octogate.toml"
    config.write_text(
        f'[[connectors]]\nname = "main"\nhost = "127.0.0.1"\nport = {smsc}\nsystem_id = "octogate"\n'
        'password = "secret"\nreconnect_min = 0.1\nreconnect_max = 0.5\nwindow = 20\n'
        "[callbacks]\nbackoff_min = 1\nbackoff_max = 2\nforbid_private_targets = false\n"
    )
    env = serve_env(tmp_path, OCTOGATE_CONFIG=str(config), OCTOGATE_LOG_FORMAT="json")
    simulator = Process(launch(["smsc-sim", "--listen", f"127.0.0.1:{smsc}", "--tps", "5",
                                "--receipt-delay-ms", "10"], env))  # fmt: skip
    processes.append(simulator)
    simulator.line("SMSC simulator listening")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "octogate.cli", *args], capture_output=True, text=True,
                              env=env, timeout=60, check=False)  # fmt: skip

    created = cli("account", "create", "shop@example.com", "--credit", "50")
    key = re.search(r"api_key[=: ]+(\S+)", created.stdout + created.stderr)
    assert created.returncode == 0 and key, created.stdout + created.stderr
    api_key = key.group(1)
    assert cli("account", "urls", "shop@example.com", "--receipt",
               f"http://127.0.0.1:{receiver_port}/receipts").returncode == 0  # fmt: skip

    server = start_serve(env)
    processes.append(server)
    wait_for(lambda: server.get("/readyz").status_code == 200, what="/readyz 200")
    recipients = ",".join(f"+336010203{i:02d}" for i in range(30))
    answer = httpx.post(f"{server.base_url}/api/sms/json", data={
        "user_login": "shop@example.com", "api_key": api_key, "sms_recipients": recipients,
        "sms_text": TEXT + " STOP au XXXXX", "sms_type": "FR", "sms_sender": "Shop", "transactional": "1",
    }, timeout=10).json()  # fmt: skip
    assert answer["error_code"] == "000", answer

    server.line("main: SMSC throttling (ESME_RTHROTTLED)")
    server.line("push target http://127.0.0.1:", "failing: cannot connect")
    status = server.cli("status")
    assert status.returncode == 0, status.stderr
    connector_line = r"main\s+bound\s+binds 1/1 here \(of 1\)  window \d+/20  rate ([\d.]+/s|unlimited)"
    assert re.search(connector_line, status.stdout), status.stdout  # the throttle may have ended already
    assert re.search(r"pushes: \d+ pending, [1-9]\d* failing; oldest failing since .* to 127.0.0.1", status.stdout), (
        status.stdout
    )
    assert "queue: queued" in status.stdout and "per minute on this host" in status.stdout, status.stdout

    receiver = ThreadingHTTPServer(("127.0.0.1", receiver_port), Ok)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        server.line("push target http://127.0.0.1:", "recovered after")
        server.line("main: SMSC throttling over after")
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert server.sample("octogate_throttles_total", connector="main") >= 1
    assert server.sample("octogate_submit_sm_total", connector="main", result="throttled") >= 1
    assert server.sample("octogate_pushes_total", outcome="retry") >= 1
    assert server.sample("octogate_pushes_total", outcome="delivered") >= 1

    server.stop()
    logged = events(server.lines)
    assert {event["process"] for event in logged} == {"octogate", "octogate-delivery"}, logged[:5]
    messages = [str(event["msg"]) for event in logged]
    assert any(m.startswith("octogate started: API http://") for m in messages)
    assert any(m.startswith("octogate: delivering over SMPP to main") for m in messages)
    assert any(m.startswith("delivery stopping:") for m in messages)
    assert any(m == "octogate stopped" for m in messages)
    assert all(set(event) >= {"ts", "level", "logger", "msg", "pid"} for event in logged)
    stray = [line for line in server.lines if line.strip() and not line.startswith("{")
             and not line.startswith("octogate: ")]  # fmt: skip
    assert not stray, stray
    everything = server.output()
    assert api_key not in everything and TEXT not in everything and "secret" not in everything


def test_status_when_serve_is_not_running(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    done = subprocess.run([sys.executable, "-m", "octogate.cli", "status"], capture_output=True, text=True,
                          env=env, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 3
    assert done.stdout.splitlines()[0].startswith("gateway: UNKNOWN: serve does not answer on 127.0.0.1:")
    assert "queue: queued 0, sending 0, submitted 0" in done.stdout
    assert "pushes: 0 pending, 0 failing" in done.stdout


def test_status_of_a_ticket_still_works(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    done = subprocess.run([sys.executable, "-m", "octogate.cli", "status", "api100000000042"], capture_output=True,
                          text=True, env=env, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1
    assert "api100000000042" in done.stderr and "Traceback" not in done.stderr
