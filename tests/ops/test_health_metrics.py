"""Health, readiness and metrics of a real `octogate serve`: what a load balancer and Prometheus read."""

from __future__ import annotations

import re
import smtplib
from pathlib import Path
from urllib.parse import urlencode

import httpx

from ops.conftest import Process, free_port, launch, serve_env, start_serve, wait_for


def demo_key(output: str) -> tuple[str, str]:
    login = re.search(r"user_login=(\S+)", output)
    key = re.search(r"api_key=(\S+)", output)
    assert login and key, output
    return login.group(1), key.group(1)


def test_metrics_count_a_real_send_across_both_processes(tmp_path: Path, processes: list[Process]) -> None:
    smtp_port = free_port()
    server = start_serve(serve_env(tmp_path, OCTOGATE_SMTP=f"127.0.0.1:{smtp_port}"))
    processes.append(server)
    assert server.get("/healthz").json() == {"status": "ok"}
    assert server.get("/healthz", admin=True).status_code == 200
    wait_for(lambda: server.get("/readyz").status_code == 200, what="/readyz 200")
    assert server.get("/metrics").status_code == 404  # metrics are the operator address's only
    before = server.metrics()
    assert before[("octogate_delivery_process_up", ())] == 1.0
    login, key = demo_key(server.output())
    answer = httpx.post(f"{server.base_url}/api/sms/json", data={
        "user_login": login, "api_key": key, "sms_recipients": "+33601020304,+33601020305",
        "sms_text": "hello STOP au XXXXX", "sms_type": "FR", "sms_sender": "Shop", "transactional": "1",
    }, timeout=10).json()  # fmt: skip
    assert answer["error_code"] == "000"

    def delivered() -> bool:
        return server.sample("octogate_messages_final_total", connector="simulator", status="DELIVRD") == 2

    wait_for(delivered, what="two DELIVRD receipts counted")
    after = server.metrics()
    assert after[("octogate_messages_accepted_total", (("source", "http"),))] == 2
    assert after[("octogate_messages_submitted_total", (("connector", "simulator"),))] == 2
    assert after[("octogate_submit_sm_total", (("connector", "simulator"), ("result", "ok")))] == 2
    assert after[("octogate_submit_sm_seconds_count", (("connector", "simulator"),))] == 2
    assert after[("octogate_receipts_total", (("connector", "simulator"), ("outcome", "applied")))] == 2
    assert after[("octogate_binds_up", (("connector", "simulator"),))] == 1
    assert after[("octogate_http_requests_total", (("code", "200"), ("path", "/api/sms/json")))] == 1
    assert after[("octogate_queue_messages", (("status", "queued"),))] == 0
    assert ("octogate_push_backlog", (("state", "pending"),)) in after
    # an e-mail to SMS is counted too
    subject = urlencode({"user_login": login, "api_key": key})
    fields = {"sms_recipients": "+33601020307", "sms_text": "by mail STOP au XXXXX", "sms_type": "FR",
              "sms_sender": "Shop", "request_id": "mailrequest001"}  # fmt: skip
    body = "start=start&" + urlencode(fields) + "&end=end"
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as mail:
        mail.sendmail("shop@example.com", ["sms@octogate.local"],
                      f"Subject: {subject}\r\nFrom: shop@example.com\r\n\r\n{body}\r\n")  # fmt: skip
    assert server.sample("octogate_emails_total", outcome="accepted") == 1, [
        ln for ln in server.lines if "mail" in ln]
    assert server.sample("octogate_messages_accepted_total", source="smtp") == 1
    # and a send through the REST API, under its own path and source, its refusals too
    rest = f"{server.base_url}/v1/public/sms-campaign/send"
    headers = {"api-login": login, "api-key": key}
    sent = httpx.post(rest, headers=headers, timeout=10, json={
        "recipients": [{"phone_number": "+33601020308"}, {"phone_number": "+33601020309"}], "text": "rest",
        "purpose": "alert",
    })  # fmt: skip
    assert sent.status_code == 201
    refused = httpx.post(rest, headers=headers, json={"recipients": [], "text": "rest"}, timeout=10)
    assert refused.status_code == 422
    assert server.sample("octogate_messages_accepted_total", source="rest") == 2
    assert server.sample("octogate_api_refusals_total", source="rest", code="103") == 1
    assert server.sample("octogate_http_requests_total", path="/v1/public/sms-campaign/send", code="201") == 1
    # what the process logged never holds the key or the text
    assert key not in "\n".join(line for line in server.lines if "api_key=" not in line)
    assert "hello STOP" not in server.output()


def test_readyz_waits_for_a_bound_connector_then_follows_the_bind(tmp_path: Path, processes: list[Process]) -> None:
    smsc = free_port()
    config = tmp_path / "octogate.toml"
    config.write_text(
        f'[[connectors]]\nname = "main"\nhost = "127.0.0.1"\nport = {smsc}\nsystem_id = "octogate"\n'
        'password = "secret"\nreconnect_min = 0.1\nreconnect_max = 0.5\n'
    )
    server = start_serve(serve_env(tmp_path, OCTOGATE_CONFIG=str(config)))
    processes.append(server)
    answer = server.get("/readyz")
    assert answer.status_code == 503
    assert "no connector bound on this host (main)" in answer.json()["reasons"]
    server.line("main: cannot connect to 127.0.0.1")  # the retries, with their reason

    simulator = Process(launch(["smsc-sim", "--listen", f"127.0.0.1:{smsc}"], dict(serve_env(tmp_path))))
    processes.append(simulator)
    wait_for(lambda: server.get("/readyz").status_code == 200, what="/readyz 200 once bound")
    server.line("main: bound as transceiver")
    assert server.sample("octogate_binds_up", connector="main") == 1

    simulator.stop()
    server.line("main: bind down (")
    wait_for(lambda: server.get("/readyz").status_code == 503, what="/readyz 503 once the bind is down")
    status = server.cli("status")
    assert status.returncode == 0, status.stderr
    assert "gateway: NOT READY: no connector bound" in status.stdout
    assert re.search(r"main\s+NOT BOUND", status.stdout), status.stdout
