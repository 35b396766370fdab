"""The sandbox as a customer's CI uses it: a real `octogate serve` on the embedded simulator (delivery in its own
process), messages sent through /api/sms, the phones played with `octogate sandbox ...` commands (real
processes) and the control interface, and the customer's pushes received on a real local endpoint."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from callbacks.support import Receiver
from live.conftest import LiveServer, free_port, start_server
from octogate.sandbox.client import SandboxClient
from octogate.sandbox.model import Conversation, ReceiptState

CONFIG = """
[rules]
marketing_hours = false

[simulator]
receipt_delay_ms = 50

[callbacks]
backoff_min = 1
backoff_max = 2
poll_interval = 0.1
lease_seconds = 10
"""
LONG_UCS2 = "Vos billets ✓ sont prêts : présentez ce SMS à l'entrée, porte B, dès 19 h. Bon concert ! STOP au XXXXX"


class Gateway:
    def __init__(self, server: LiveServer, control: str, push_port: int) -> None:
        self.server = server
        self.control = control
        self.push_port = push_port

    def sandbox(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`octogate sandbox ARGS` as a CI script runs it: the gateway found through the environment."""
        env = {**os.environ, "OCTOGATE_SIMULATOR_CONTROL": self.control}
        return subprocess.run([sys.executable, "-m", "octogate.cli", "sandbox", *args], capture_output=True,
                              text=True, timeout=60, check=False, env=env)  # fmt: skip

    async def send(self, number: str, text: str = "Concert ce soir ! STOP au XXXXX", **fields: str) -> float:
        """A campaign to one number; returns when the API answered (monotonic)."""
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            answer = await http.post("/api/sms", data={
                "user_login": self.server.login, "api_key": self.server.api_key, "sms_type": "FR",
                "sms_sender": "Olympia", "sms_recipients": number, "sms_text": text, **fields,
            })  # fmt: skip
        assert "<error_code>000</error_code>" in answer.text, answer.text
        return time.monotonic()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("sandbox-live")
    config = folder / "octogate.toml"
    config.write_text(CONFIG)
    control = f"127.0.0.1:{free_port()}"
    server = start_server(folder, {"OCTOGATE_CONFIG": str(config), "OCTOGATE_SIMULATOR_CONTROL": control})
    try:
        push_port = free_port()
        urls = server.cli("account", "urls", server.login, "--all", f"http://127.0.0.1:{push_port}/push")
        assert urls.returncode == 0, urls.stderr
        yield Gateway(server, control, push_port)
    finally:
        server.stop()


@pytest.fixture
async def pushes(gateway: Gateway) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start(gateway.push_port)
    yield receiver
    await receiver.stop()


async def shown(client: SandboxClient, number: str, count: int, within: float = 10.0) -> Conversation:
    """The phone's conversation once it has `count` entries (long polls: each answers as soon as anything moves)."""
    deadline = time.monotonic() + within
    version: int | None = None
    while True:
        conversation = await client.conversation(number, since=version, wait=1)
        if len(conversation.messages) >= count:
            return conversation
        assert time.monotonic() < deadline, f"{number} shows {len(conversation.messages)} of {count} messages"
        version = conversation.version


def test_serve_prints_where_its_sandbox_listens(gateway: Gateway) -> None:
    output = "".join(gateway.server.output)
    assert f"sandbox control interface on http://{gateway.control}" in output


async def test_a_sent_message_is_in_the_sandbox_within_a_second(gateway: Gateway) -> None:
    number = "+33611000001"
    async with SandboxClient(f"http://{gateway.control}") as client:
        before = await client.conversations()
        answered = await gateway.send(number, LONG_UCS2)
        listing = before
        while not any(c.number == number for c in listing.conversations):
            assert time.monotonic() - answered < 5, "not in the listing"
            listing = await client.conversations(since=listing.version, wait=2)
        elapsed = time.monotonic() - answered
        assert elapsed < 1.0, f"shown {elapsed:.2f} s after the API answered"  # the bound
        conversation = await shown(client, number, 1)
    [message] = conversation.messages
    assert message.text == LONG_UCS2.replace("XXXXX", "36179")
    assert (message.sender, message.encoding, message.sms_count, len(message.parts)) == ("Olympia", "ucs2", 2, 2)
    assert "".join(p.text for p in message.parts) == message.text


async def test_a_reply_from_the_sandbox_reaches_the_customer(gateway: Gateway, pushes: Receiver) -> None:
    number = "+33611000002"
    await gateway.send(number, "Une place pour ce soir ? Répondez OUI. STOP au XXXXX", with_replies="1")
    async with SandboxClient(f"http://{gateway.control}") as client:
        await shown(client, number, 1)
    done = await asyncio.to_thread(gateway.sandbox, "reply", number, "OUI, deux places")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{number} -> Olympia: 'OUI, deux places' (acknowledged)"
    await pushes.wait_for(1, within=20, path="/push")
    replies = [r.fields for r in pushes.received if "answer_date" in r.fields]
    assert [(f["number"], f["text"]) for f in replies] == [(number, "OUI, deux places")]
    listed = await asyncio.to_thread(gateway.sandbox, "list", number)
    assert "sent by the phone: acknowledged\n    OUI, deux places" in listed.stdout


async def test_stop_from_the_sandbox_puts_the_number_on_the_stop_list(gateway: Gateway, pushes: Receiver) -> None:
    number = "+33611000003"
    await gateway.send(number)
    async with SandboxClient(f"http://{gateway.control}") as client:
        await shown(client, number, 1)
    done = await asyncio.to_thread(gateway.sandbox, "stop", number)
    assert done.returncode == 0, done.stderr
    stops = gateway.server.cli("stops", gateway.server.login)
    assert number in stops.stdout, stops.stdout
    await pushes.wait_for(1, within=20)
    assert any(r.fields.get("number") == number and "stop_date" in r.fields for r in pushes.received)


async def test_outcome_undelivered_makes_the_next_receipt_undelivered(gateway: Gateway, pushes: Receiver) -> None:
    number = "+33611000004"
    chosen = await asyncio.to_thread(gateway.sandbox, "outcome", "undelivered", number)
    assert chosen.returncode == 0 and f"{number}: undelivered" in chosen.stdout, chosen.stderr
    await gateway.send(number)
    async with SandboxClient(f"http://{gateway.control}") as client:
        conversation = await shown(client, number, 1)
        while (receipt := conversation.messages[0].receipt) and receipt.state != ReceiptState.ACKNOWLEDGED:
            conversation = await client.conversation(number, since=conversation.version, wait=2)
    assert receipt is not None and receipt.stat == "UNDELIV"

    def pushed() -> list[dict[str, str]]:
        return [r.fields for r in pushes.received if r.fields.get("number") == number and "status" in r.fields]

    deadline = time.monotonic() + 20
    while not pushed():
        assert time.monotonic() < deadline, "no receipt push"
        await asyncio.sleep(0.05)
    assert [f["status"] for f in pushed()] == ["NOT_DELIVERED"]


def test_the_cli_says_what_is_wrong_in_one_line(gateway: Gateway, tmp_path: Path) -> None:
    bad = gateway.sandbox("outcome", "lost")
    assert bad.returncode == 1 and bad.stderr.startswith("octogate: error: outcome is one of")
    nobody = gateway.sandbox("list", "--control", f"127.0.0.1:{free_port()}")
    assert nobody.returncode == 1 and "no sandbox control interface answers" in nobody.stderr
    assert len(nobody.stderr.splitlines()) == 1


def test_the_standalone_simulator_has_its_control_interface_too() -> None:
    control = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "octogate.cli", "smsc-sim", "--listen", f"127.0.0.1:{free_port()}", "--control",
         control], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("sandbox control interface"):
            line = process.stdout.readline()
            assert line, f"the simulator stopped: {lines}"
            lines.append(line)
        assert lines[-1].strip() == f"sandbox control interface on http://{control}", lines
        about = httpx.get(f"http://{control}/", timeout=5).json()
        assert about["service"].startswith("octogate SMSC simulator") and about["version"] == 0
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
