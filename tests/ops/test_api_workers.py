"""`[http] workers`: several processes answer the API on serve's one port; the operator still sees one gateway
(metrics count every request, the console answers through any of them) and no worker outlives serve."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from conftest import fresh_schema
from ops.conftest import Process, Serve, serve_env, start_serve, wait_for
from ops.test_health_metrics import demo_key

WORKERS = 3


def start_with_workers(tmp_path: Path, processes: list[Process], **env: str) -> Serve:
    config = tmp_path / "octogate.toml"
    config.write_text(f"[http]\nworkers = {WORKERS}\n")
    server = start_serve(serve_env(tmp_path, OCTOGATE_CONFIG=str(config), **env))
    processes.append(server)
    server.line(f"{WORKERS} processes answer the API")
    return server


def worker_pids(server: Serve) -> list[int]:
    """serve's API workers (named octogate-api-N), alive."""
    found = []
    for pid in Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split():
        try:
            if Path(f"/proc/{pid}/comm").read_text().startswith("octogate-api-") and not gone(int(pid)):
                found.append(int(pid))
        except OSError:
            continue
    return found


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for whoever adopted it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def send(server: Serve, login: str, key: str, count: int) -> None:
    """Each on a new connection: the kernel gives each to whichever process accepts first."""
    for _ in range(count):
        answer = httpx.post(f"{server.base_url}/api/sms", data={
            "user_login": login, "api_key": key, "sms_recipients": "+33601020304", "sms_text": "one",
            "sms_type": "FR", "sms_sender": "Shop", "transactional": "1",
        }, timeout=10)  # fmt: skip
        assert "<error_code>000</error_code>" in answer.text, answer.text


def test_metrics_count_the_requests_of_every_worker_and_a_killed_one_is_restarted(
    tmp_path: Path, processes: list[Process]
) -> None:
    with fresh_schema() as url:  # PostgreSQL: where workers are meant to run
        server = start_with_workers(tmp_path, processes, OCTOGATE_DATABASE_URL=url)
        login, key = demo_key(server.output())
        workers = wait_for(
            lambda: len(pids := worker_pids(server)) == WORKERS - 1 and pids, what="the workers"
        )
        send(server, login, key, 40)
        wait_for(lambda: server.sample("octogate_http_requests_total", path="/api/sms", code="200") == 40,
                 what="40 counted")  # fmt: skip
        wait_for(
            lambda: server.sample("octogate_messages_accepted_total", source="http") == 40, what="40 accepted"
        )
        wait_for(lambda: server.sample("octogate_messages_submitted_total", connector="simulator") == 40,
                 what="the delivery process woken for every campaign")  # fmt: skip

        os.kill(workers[0], signal.SIGKILL)
        server.line("ERROR", "API worker", "died", "restarting in 1 s")
        server.line("API worker", "started again")
        wait_for(lambda: len(pids := worker_pids(server)) == WORKERS - 1 and workers[0] not in pids,
                 what="a new worker")  # fmt: skip
        assert not Path(f"/proc/{workers[0]}").exists()  # reaped by serve, not left defunct
        # the dead worker's counts are kept (at most its last second could be lost: none here, it had reported)
        assert server.sample("octogate_http_requests_total", path="/api/sms", code="200") == 40
        send(server, login, key, 10)
        wait_for(
            lambda: server.sample("octogate_messages_accepted_total", source="http") == 50, what="50 accepted"
        )
        server.stop()


def test_the_console_and_probes_answer_through_every_worker(tmp_path: Path, processes: list[Process]) -> None:
    server = start_with_workers(tmp_path, processes)
    for _ in range(12):  # new connections: some land on workers, which pass these paths on to serve
        page = httpx.get(f"{server.base_url}/console/login", timeout=10)
        assert page.status_code == 200 and "<form" in page.text
        assert page.headers["content-security-policy"]
        assert server.get("/readyz").status_code in (200, 503)
        assert server.get("/healthz").json() == {"status": "ok"}


def test_no_worker_outlives_serve(tmp_path: Path, processes: list[Process]) -> None:
    server = start_with_workers(tmp_path, processes)
    workers = wait_for(lambda: len(pids := worker_pids(server)) == WORKERS - 1 and pids, what="the workers")
    server.process.send_signal(signal.SIGTERM)  # serve alone, not its process group
    assert server.process.wait(timeout=30) == 0
    wait_for(lambda: all(gone(pid) for pid in workers), what="every worker gone")

    again = start_with_workers(tmp_path, processes)
    workers = wait_for(lambda: len(pids := worker_pids(again)) == WORKERS - 1 and pids, what="the workers")
    again.process.kill()  # SIGKILL: serve cannot stop them; they notice their parent is gone
    again.process.wait(timeout=10)
    wait_for(lambda: all(gone(pid) for pid in workers), what="every worker gone")


def test_ctrl_c_stops_every_process_without_a_death_reported(tmp_path: Path, processes: list[Process]) -> None:
    """Ctrl-C in a terminal signals the whole process group at once: serve, its delivery process and its API
    workers. A normal stop, not a death to alert on and restart."""
    server = start_with_workers(tmp_path, processes)
    wait_for(lambda: len(worker_pids(server)) == WORKERS - 1, what="the workers")
    server.line("delivering over SMPP")
    os.killpg(server.process.pid, signal.SIGINT)
    assert server.process.wait(timeout=30) == 0
    server.stop()  # the rest of its output
    assert "octogate stopped" in server.output()
    assert "died" not in server.output() and "restarting" not in server.output(), server.output()[-2000:]
