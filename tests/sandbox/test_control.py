"""The control interface over real sockets: an SMPP client submits to the simulator as the gateway does, and the
sandbox's typed client (or raw HTTP) reads what each phone received, replies, sends STOP, chooses receipts."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from octogate.sandbox.model import Direction, Outcome, ReceiptState, SandboxError
from octogate.smpp import simulator as simulator_module
from octogate.sms.segments import split_text

from .conftest import Sandbox

PHONE = "+33612345678"
OTHER = "+33687654321"
#: not in the GSM alphabet: UCS-2, 67 characters a part once the UDH is in
JSON = {"Content-Type": "application/json"}
LONG_UCS2 = "Votre code ✓ est 4821. " + "Merci de votre confiance, à très bientôt chez nous ! " * 3


async def submit(sandbox: Sandbox, number: str, text: str, *, sender: str = "MyShop") -> list[str]:
    outcome = await sandbox.gateway.client.submit_text(sender, 5, 0, number.lstrip("+"), text,
                                                       registered_delivery=True)  # fmt: skip
    assert outcome.ok
    return [p.message_id or "" for p in outcome.parts]


async def receipts_for(sandbox: Sandbox, ids: list[str]) -> dict[str, str]:
    """Wait until the gateway has the receipt of each id; their stats."""
    def got() -> bool:
        return set(ids) <= {e.message_id for e in sandbox.gateway.receipts()}

    await sandbox.sim.wait_for(got, 10)
    return {e.message_id or "": e.receipt().stat for e in sandbox.gateway.receipts() if e.message_id in ids}


@pytest.mark.parametrize("concatenation", ["udh8", "sar", "payload"])
async def test_a_long_ucs2_message_is_shown_whole_with_its_parts(sandbox: Sandbox, concatenation: str) -> None:
    sandbox.gateway.client.config.concatenation = concatenation  # type: ignore[misc]
    ids = await submit(sandbox, PHONE, LONG_UCS2)
    await receipts_for(sandbox, ids)
    conversation = await sandbox.client.conversation(PHONE)
    [message] = conversation.messages
    assert (message.direction, message.sender, message.recipient) == (Direction.MT, "MyShop", PHONE)
    assert message.text == LONG_UCS2 and message.encoding == "ucs2"
    wire_parts = len(split_text(LONG_UCS2, udh_length=6)[1])
    assert wire_parts == 3
    assert message.sms_count == wire_parts
    assert len(message.parts) == (1 if concatenation == "payload" else wire_parts)
    assert "".join(p.text for p in message.parts) == LONG_UCS2
    assert [p.message_id for p in message.parts] == ids
    assert all(p.receipt.state == ReceiptState.ACKNOWLEDGED and p.receipt.stat == "DELIVRD" for p in message.parts)
    assert message.receipt is not None and message.receipt.stat == "DELIVRD"


async def test_the_outcome_of_the_next_receipts_per_number_and_for_all(sandbox: Sandbox) -> None:
    outcomes = await sandbox.client.set_outcome(Outcome.UNDELIVERED, PHONE)
    assert outcomes.numbers == {PHONE: Outcome.UNDELIVERED} and outcomes.default is None
    to_phone, to_other = await submit(sandbox, PHONE, "one"), await submit(sandbox, OTHER, "two")
    stats = await receipts_for(sandbox, to_phone + to_other)
    assert [stats[i] for i in to_phone + to_other] == ["UNDELIV", "DELIVRD"]

    await sandbox.client.set_outcome(Outcome.REJECTED)  # for every number...
    await sandbox.client.set_outcome(None, PHONE)  # ...this one included again
    to_phone, to_other = await submit(sandbox, PHONE, "three"), await submit(sandbox, OTHER, "four")
    stats = await receipts_for(sandbox, to_phone + to_other)
    assert [stats[i] for i in to_phone + to_other] == ["REJECTD", "REJECTD"]
    conversation = await sandbox.client.conversation(PHONE)
    assert conversation.outcome == Outcome.REJECTED
    assert [m.receipt.stat for m in conversation.messages if m.receipt] == ["UNDELIV", "REJECTD"]


async def test_outcome_none_sends_no_receipt(sandbox: Sandbox) -> None:
    await sandbox.client.set_outcome(Outcome.NONE, PHONE)
    silent = await submit(sandbox, PHONE, "nobody home")
    later = await submit(sandbox, OTHER, "sent after it")
    await receipts_for(sandbox, later)  # receipts go out in order: the first one would have come before
    assert not {e.message_id for e in sandbox.gateway.receipts()} & set(silent)
    [message] = (await sandbox.client.conversation(PHONE)).messages
    assert message.receipt is not None and message.receipt.state == ReceiptState.NONE


async def test_the_phone_replies_to_whoever_texted_it(sandbox: Sandbox) -> None:
    await submit(sandbox, PHONE, "Your table for 2 at 8pm? Reply YES", sender="Bistro")
    reply = "Oui, merci beaucoup ! On sera là à l'heure 👍 " * 2  # UCS-2, two parts
    sent = await sandbox.client.reply(PHONE, reply)
    assert (sent.direction, sent.sender, sent.recipient, sent.state) == (Direction.MO, PHONE, "Bistro",
                                                                          "acknowledged")  # fmt: skip
    assert sent.sms_count == 2 and sent.encoding == "ucs2"
    texts = sandbox.gateway.texts()
    assert len(texts) == 2 and {(t.source_addr, t.destination_addr) for t in texts} == {("33612345678", "Bistro")}
    assert "".join(t.text for t in sorted(texts, key=lambda t: t.concat.seq if t.concat else 0)) == reply
    stop = await sandbox.client.stop(PHONE)
    assert stop.text == "STOP" and stop.state == "acknowledged"
    conversation = await sandbox.client.conversation(PHONE)
    assert [(m.direction, m.text[:4]) for m in conversation.messages] == [
        (Direction.MT, "Your"), (Direction.MO, "Oui,"), (Direction.MO, "STOP")
    ]
    listing = await sandbox.client.conversations()
    assert [(c.number, c.messages, c.last_text) for c in listing.conversations] == [(PHONE, 3, "STOP")]


async def test_a_new_message_ends_a_long_poll_at_once(sandbox: Sandbox) -> None:
    before = await sandbox.client.conversations()
    poll = asyncio.create_task(sandbox.client.conversations(since=before.version, wait=20))
    await asyncio.sleep(0)  # let the poll reach the server before the submit
    submitted = time.monotonic()
    await submit(sandbox, PHONE, "Hello")
    listing = await poll
    assert time.monotonic() - submitted < 1.0  # the bound: shown within 1 s of its submit
    assert listing.version > before.version and listing.conversations[0].last_text == "Hello"
    # nothing new: the poll is held `wait` seconds, then answers the same listing
    quiet = await sandbox.client.conversations(since=listing.version + 1000, wait=1)
    assert quiet.conversations == listing.conversations


async def test_refusals_are_one_line_of_json(sandbox: Sandbox) -> None:
    base = sandbox.client.base_url
    async with httpx.AsyncClient(base_url=base) as http:
        cases = [
            (await http.post(f"/conversations/{PHONE}/reply", content=b"{nope", headers=JSON), 400,
             "the body is not JSON"),
            (await http.post(f"/conversations/{PHONE}/reply", json={"text": ""}), 400, "text"),
            (await http.post(f"/conversations/{PHONE}/reply", json={"text": "hi"}), 400, "nothing was sent"),
            (await http.post("/conversations/MyShop/stop", json={}), 400, "not a phone number"),
            (await http.post("/outcome", json={"outcome": "lost"}), 400, "outcome is one of"),
            (await http.get("/conversations", params={"since": "x"}), 400, "since"),
            (await http.get("/nowhere"), 404, "Not Found"),
            (await http.delete("/outcome"), 405, "Method Not Allowed"),
        ]
        for response, status, words in cases:
            assert response.status_code == status
            assert response.headers["content-type"] == "application/json; charset=utf-8"
            assert words in response.json()["error"]
        about = (await http.get("/")).json()
        assert "POST /conversations/{number}/reply" in about["routes"]
        assert about["smpp"] == f"127.0.0.1:{sandbox.sim.port}"
    assert (await sandbox.client.conversation(PHONE)).messages == ()  # nothing half-done


async def test_no_gateway_bound_means_nobody_can_receive_the_reply(sandbox: Sandbox) -> None:
    await submit(sandbox, PHONE, "Hello")
    await sandbox.gateway.client.stop(grace=1.0)
    await sandbox.sim.wait_for(lambda: sandbox.sim.receivers("octo") == 0, 5)
    with pytest.raises(SandboxError, match="no gateway is bound") as refused:
        await sandbox.client.reply(PHONE, "anyone?")
    assert refused.value.status == 409


async def test_a_phone_keeps_its_latest_messages_and_clear_forgets_them(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulator_module, "CONVERSATION_LIMIT", 3)
    for n in range(5):
        await submit(sandbox, PHONE, f"message {n}")
    conversation = await sandbox.client.conversation(PHONE)
    assert [m.text for m in conversation.messages] == ["message 2", "message 3", "message 4"]
    assert [m.text for m in (await sandbox.client.conversation(PHONE, limit=1)).messages] == ["message 4"]
    await sandbox.client.set_outcome(Outcome.NONE)
    await sandbox.client.clear()
    assert (await sandbox.client.conversations()).conversations == ()
    assert (await sandbox.client.outcomes()).default is None


async def test_nothing_listening_is_said_in_one_line() -> None:
    from octogate.sandbox.client import SandboxClient

    async with SandboxClient("http://127.0.0.1:9") as client:
        with pytest.raises(SandboxError, match=r"no sandbox control interface answers at http://127\.0\.0\.1:9"):
            await client.conversations()


async def test_a_web_page_cannot_drive_the_phones(sandbox: Sandbox) -> None:
    """No authentication on loopback, so: no domain name but localhost (DNS rebinding), and JSON bodies only (a
    cross-site form or text/plain POST needs no preflight; JSON does, and it is never answered)."""
    await submit(sandbox, PHONE, "Hello")
    base = sandbox.client.base_url
    port = base.rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=base) as http:
        rebound = await http.get("/conversations", headers={"Host": f"attacker.example:{port}"})
        assert rebound.status_code == 403 and "IP address or localhost" in rebound.json()["error"]
        form = await http.post(f"/conversations/{PHONE}/reply", data={"text": "pwned"})
        plain = await http.post(f"/conversations/{PHONE}/stop", content=b'{"text": "STOP"}',
                                headers={"Content-Type": "text/plain"})  # fmt: skip
        assert (form.status_code, plain.status_code) == (415, 415)
        assert (await http.get("/conversations", headers={"Host": f"localhost:{port}"})).status_code == 200
    assert sandbox.gateway.texts() == []
