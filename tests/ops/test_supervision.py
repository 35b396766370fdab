"""A dead delivery process is started again, and every start-up failure is one line and a non-zero exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ops.conftest import Process, free_port, serve_env, start_serve, wait_for
from ops.test_health_metrics import demo_key

START_FAILURE_WITHIN = 5.0  # the bound


def test_a_killed_delivery_process_is_restarted_logged_and_counted(tmp_path: Path, processes: list[Process]) -> None:
    server = start_serve(serve_env(tmp_path))
    processes.append(server)
    wait_for(lambda: server.get("/readyz").status_code == 200, what="/readyz 200")
    login, key = demo_key(server.output())
    httpx.post(f"{server.base_url}/api/sms", data={
        "user_login": login, "api_key": key, "sms_recipients": "+33601020304", "sms_text": "one",
        "sms_type": "FR", "sms_sender": "Shop", "transactional": "1",
    }, timeout=10)  # fmt: skip
    wait_for(lambda: server.sample("octogate_messages_submitted_total", connector="simulator") == 1,
             what="one message submitted")  # fmt: skip
    child = server.child_pid()
    # what top -H shows the operator: the delivery process and each process's writer thread by name
    assert Path(f"/proc/{child}/comm").read_text().strip() == "octogate-deliv"
    for pid in (server.process.pid, child):
        names = {(task / "comm").read_text().strip() for task in Path(f"/proc/{pid}/task").iterdir()}
        assert "octogate-writer" in names

    os.kill(child, signal.SIGKILL)
    answer = wait_for(lambda: (r := server.get("/readyz")).status_code == 503 and r, what="/readyz 503")
    assert "delivery process died (signal SIGKILL)" in answer.json()["reasons"][0]
    server.line("ERROR", "delivery process died (signal SIGKILL)", "restarting in 1 s")
    server.line("delivery process started again")
    wait_for(lambda: server.get("/readyz").status_code == 200, what="/readyz 200 after the restart")
    assert server.child_pid() != child
    assert not Path(f"/proc/{child}").exists()  # reaped, not left defunct
    assert server.sample("octogate_delivery_restarts_total") == 1
    # the dead process's counts are kept: counters never go backwards
    assert server.sample("octogate_messages_submitted_total", connector="simulator") == 1


def test_each_campaign_wakes_the_delivery_process_before_and_after_a_restart(
    tmp_path: Path, processes: list[Process]
) -> None:
    """The API skips the wake-up byte while the child has not read the last one: a campaign accepted after the
    child read it must still wake it (a poll of a minute would otherwise send it), and so must one accepted by
    the next child after a restart."""
    config = tmp_path / "octogate.toml"
    config.write_text("[dispatch]\npoll_interval = 60\n")
    server = start_serve(serve_env(tmp_path, OCTOGATE_CONFIG=str(config)))
    processes.append(server)
    wait_for(lambda: server.get("/readyz").status_code == 200, what="/readyz 200")
    login, key = demo_key(server.output())

    def send_and_see_submitted(total: int, batch: int = 1) -> None:
        for n in range(batch):
            answer = httpx.post(f"{server.base_url}/api/sms", data={
                "user_login": login, "api_key": key, "sms_recipients": f"+336010203{total + n:02d}",
                "sms_text": "hello", "sms_type": "FR", "sms_sender": "Shop", "transactional": "1",
            }, timeout=10)  # fmt: skip
            assert "<error_code>000</error_code>" in answer.text
        wait_for(lambda: server.sample("octogate_messages_submitted_total", connector="simulator") == total + batch,
                 within=10, what=f"{total + batch} messages submitted without waiting for the poll")  # fmt: skip

    send_and_see_submitted(0, batch=3)
    send_and_see_submitted(3)
    send_and_see_submitted(4)
    child = server.child_pid()
    os.kill(child, signal.SIGKILL)
    server.line("delivery process started again")
    wait_for(lambda: server.get("/readyz").status_code == 200, what="/readyz 200 after the restart")
    send_and_see_submitted(5)
    send_and_see_submitted(6)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def start_failure(env: dict[str, str], *args: str) -> tuple[int, list[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "octogate.cli", "serve", *args], capture_output=True, text=True, env=env,
        timeout=30, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, lines, elapsed


@pytest.mark.parametrize("what", ["OCTOGATE_HTTP", "OCTOGATE_SMTP", "OCTOGATE_ADMIN"])
def test_a_port_in_use_is_one_line_and_a_fast_exit(tmp_path: Path, taken_port: int, what: str) -> None:
    env = serve_env(tmp_path, OCTOGATE_SMTP=f"127.0.0.1:{free_port()}")
    env[what] = f"127.0.0.1:{taken_port}"
    code, lines, elapsed = start_failure(env)
    assert code != 0
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 1, lines
    assert f"127.0.0.1:{taken_port}" in errors[0] and "in use" in errors[0]
    assert not any("Octopush API on" in line for line in lines)
    assert elapsed < START_FAILURE_WITHIN, lines


def test_the_simulators_port_in_use(tmp_path: Path, taken_port: int) -> None:
    config = tmp_path / "octogate.toml"
    config.write_text(f'[simulator]\nlisten = "127.0.0.1:{taken_port}"\n')
    code, lines, elapsed = start_failure(serve_env(tmp_path, OCTOGATE_CONFIG=str(config)))
    assert code != 0
    assert lines == [
        f"octogate: error: cannot listen for the built-in SMSC simulator on 127.0.0.1:{taken_port}: "
        "Address already in use"
    ]
    assert elapsed < START_FAILURE_WITHIN


def test_smsc_sim_on_a_busy_port(taken_port: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "octogate.cli", "smsc-sim", "--listen", f"127.0.0.1:{taken_port}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "address already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_certificate(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    code, lines, elapsed = start_failure(serve_env(tmp_path), "--tls-cert", str(bad), "--tls-key", str(bad))
    assert code != 0
    assert len(lines) == 1 and f"cannot load the TLS certificate {bad}" in lines[0], lines
    assert elapsed < START_FAILURE_WITHIN


def test_a_missing_postgresql_database(tmp_path: Path) -> None:
    url = "postgresql://127.0.0.1:5432/octogate_no_such_database"
    code, lines, elapsed = start_failure(serve_env(tmp_path, OCTOGATE_DATABASE_URL=url))
    assert code != 0
    assert len(lines) == 1 and 'database "octogate_no_such_database" does not exist' in lines[0], lines
    assert elapsed < START_FAILURE_WITHIN


def test_a_route_naming_an_unknown_connector_stops_the_start(tmp_path: Path) -> None:
    """Not a delivery process left dead while the API charges: serve does not start at all."""
    config = tmp_path / "octogate.toml"
    config.write_text(
        '[[connectors]]\nname = "main"\nhost = "127.0.0.1"\nport = 9\nsystem_id = "x"\npassword = "y"\n'
        '[[routes]]\nconnectors = ["other"]\n'
    )
    code, lines, _ = start_failure(serve_env(tmp_path, OCTOGATE_CONFIG=str(config)))
    assert code == 2  # a configuration mistake, found before anything starts
    assert lines[-1].startswith("octogate: config: routes[0].connectors:") and "other" in lines[-1], lines
    assert not any("Octopush API on" in line for line in lines)
