"""SmppClient against SmscSimulator over real loopback sockets (ephemeral ports only)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from octogate.smpp.client import ConnectorConfig, DeliverEvent, SmppClient, SmppRetriableError
from octogate.smpp.constants import CommandStatus, DataCoding, EsmClass, MessageState
from octogate.smpp.simulator import SimulatorConfig, SmscSimulator

ACCOUNT = {"octo": "s3cret"}


def connector(port: int, **overrides: object) -> ConnectorConfig:
    values: dict[str, object] = {
        "name": "test", "host": "127.0.0.1", "port": port, "system_id": "octo", "password": "s3cret",
        "reconnect_min": 0.02, "reconnect_max": 0.2, "response_timeout": 5.0, "connection_wait": 10.0,
        "enquire_link_interval": 30.0,
    }
    values.update(overrides)
    return ConnectorConfig(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def running(sim_config: SimulatorConfig | None = None, *, on_deliver: Callable[[DeliverEvent],
                  Awaitable[None]] | None = None, **client_overrides: object
                  ) -> AsyncIterator[tuple[SmscSimulator, SmppClient]]:
    sim = SmscSimulator(sim_config or SimulatorConfig(accounts=dict(ACCOUNT)))
    port = await sim.start()
    client = SmppClient(connector(port, **client_overrides), on_deliver)
    await client.start()
    try:
        yield sim, client
    finally:
        await client.stop(grace=1.0)
        await sim.stop(grace=1.0)


def fits_one_sms(short_message: bytes, esm_class: int, data_coding: int) -> bool:
    """True when the part fits the 140-octet TP-UD once the SMSC packs it (GSM: 7 bits per septet,
    the UDH padded to a septet boundary)."""
    udh = short_message[0] + 1 if esm_class & EsmClass.UDHI else 0
    body = len(short_message) - udh
    if data_coding == DataCoding.SMSC_DEFAULT:
        return (udh * 8 + 6) // 7 + body <= 160
    return udh + body <= 140


class Inbox:
    """on_deliver callback collecting events."""

    def __init__(self) -> None:
        self.events: list[DeliverEvent] = []
        self.changed = asyncio.Event()

    async def __call__(self, event: DeliverEvent) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_count(self, n: int, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len(self.events) < n:
                self.changed.clear()
                await self.changed.wait()


async def test_bind_submit_and_receipt() -> None:
    inbox = Inbox()
    async with running(on_deliver=inbox) as (sim, client):
        await client.wait_connected(5)
        assert client.connected
        outcome = await client.submit_text("Octopush", 5, 0, "33612345678", "Hello @ world {x}",
                                           registered_delivery=True)
        assert outcome.ok and not outcome.permanent_failure
        (message_id,) = outcome.message_ids
        assert message_id
        await inbox.wait_count(1)
        receipt = inbox.events[0]
        assert receipt.is_receipt and receipt.esm_class == EsmClass.DELIVERY_RECEIPT
        assert receipt.receipted_message_id == message_id == receipt.message_id
        assert receipt.message_state == MessageState.DELIVERED
        parsed = receipt.receipt()
        assert parsed is not None and parsed.stat == "DELIVRD" and parsed.message_id == message_id
        assert receipt.source_addr == "33612345678" and receipt.destination_addr == "Octopush"
        (msg,) = sim.messages
        assert (msg.source_addr, msg.source_addr_ton, msg.source_addr_npi) == ("Octopush", 5, 0)
        assert (msg.destination_addr, msg.dest_addr_ton, msg.dest_addr_npi) == ("33612345678", 1, 1)
        assert msg.text == "Hello @ world {x}" and msg.data_coding == DataCoding.SMSC_DEFAULT
        await sim.wait_for(lambda: len(sim.receipts) == 1)  # the client acknowledged it


async def test_permanent_error_is_returned_not_raised() -> None:
    cfg = SimulatorConfig(accounts=dict(ACCOUNT), invalid_prefixes=("999",))
    async with running(cfg) as (sim, client):
        outcome = await client.submit_text("Octo", None, None, "999123", "hi", registered_delivery=False)
        assert outcome.permanent_failure
        assert outcome.status == CommandStatus.ESME_RINVDSTADR
        assert outcome.parts[0].message_id is None
        assert sim.messages == [] and sim.rejected == [("999123", CommandStatus.ESME_RINVDSTADR)]


@pytest.mark.parametrize("concatenation", ["udh8", "udh16", "sar", "payload"])
async def test_long_messages_arrive_as_concatenated_parts(concatenation: str) -> None:
    gsm_text = ("Long GSM text with escapes {[~]} and the euro € sign. " * 8).strip()  # > 3 parts
    ucs2_text = "Emoji 😀 straddling part limits, Привет! " * 6
    async with running(concatenation=concatenation) as (sim, client):
        first = await client.submit_text("Octo", None, None, "33600000001", gsm_text, registered_delivery=False)
        second = await client.submit_text("Octo", None, None, "33600000002", ucs2_text,
                                          registered_delivery=False)
        assert first.ok and second.ok
        assert first.data_coding == DataCoding.SMSC_DEFAULT and second.data_coding == DataCoding.UCS2
        await sim.wait_for(lambda: len(sim.messages) == 2)
        by_dest = {m.destination_addr: m for m in sim.messages}
        assert by_dest["33600000001"].text == gsm_text
        assert by_dest["33600000002"].text == ucs2_text
        if concatenation == "payload":
            assert [len(m.parts) for m in sim.messages] == [1, 1]
        else:
            assert len(by_dest["33600000001"].parts) == len(first.parts) > 2
            assert len(by_dest["33600000002"].parts) == len(second.parts) > 2
            refs = {p.concat[0] for m in sim.messages for p in m.parts if p.concat}
            assert len(refs) == 2  # one reference per message
            for m in sim.messages:
                assert [p.concat[2] for p in m.parts if p.concat] == list(range(1, len(m.parts) + 1))
                for p in m.parts:
                    assert fits_one_sms(p.short_message, p.esm_class, p.data_coding)
                    assert bool(p.esm_class & EsmClass.UDHI) == concatenation.startswith("udh")


async def test_wrong_password_logs_clearly_and_retries(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="octogate.smpp.client")
    cfg = SimulatorConfig(accounts={"octo": "other"})
    async with running(cfg) as (sim, client):
        await sim.wait_for(lambda: sim.bind_failures >= 2)  # retried, with backoff
        assert not client.connected
        assert client.last_bind_status == CommandStatus.ESME_RINVPASWD
        assert any("ESME_RINVPASWD" in r.getMessage() and "password" in r.getMessage() for r in caplog.records)
        sim.set_account("octo", "s3cret")
        await client.wait_connected(5)
        assert client.last_bind_status is None
        outcome = await client.submit_text("Octo", None, None, "33611", "after the fix", registered_delivery=False)
        assert outcome.ok


async def test_window_is_never_exceeded() -> None:
    cfg = SimulatorConfig(accounts=dict(ACCOUNT), latency_ms=100)
    async with running(cfg, window=4) as (sim, client):
        outcomes = await asyncio.gather(*(
            client.submit_text("Octo", None, None, f"3361{i:04d}", f"msg {i}", registered_delivery=False)
            for i in range(20)))
        assert all(o.ok for o in outcomes)
        assert sim.max_in_flight == 4  # the window was used fully, and never exceeded
        assert client.stats.max_in_flight == 4
        assert len({o.message_ids[0] for o in outcomes}) == 20


async def test_throttling_slows_down_and_every_message_succeeds() -> None:
    cfg = SimulatorConfig(accounts=dict(ACCOUNT), max_per_second=40)
    async with running(cfg, window=10) as (sim, client):
        outcomes = await asyncio.gather(*(
            client.submit_text("Octo", None, None, f"3362{i:04d}", f"msg {i}", registered_delivery=False)
            for i in range(60)))
        assert all(o.ok for o in outcomes)
        assert sim.throttled > 0 and client.stats.throttled == sim.throttled
        assert sorted(m.destination_addr for m in sim.messages) == [f"3362{i:04d}" for i in range(60)]
        assert client.current_rate < float("inf")  # it learned a finite rate


async def test_simulator_restart_mid_stream_loses_and_duplicates_nothing() -> None:
    cfg = SimulatorConfig(accounts=dict(ACCOUNT), latency_ms=5)
    async with running(cfg, window=8) as (sim, client):
        await client.wait_connected(5)
        destinations = [f"3363{i:04d}" for i in range(200)]
        tasks = [asyncio.create_task(client.submit_text("Octo", None, None, d, f"n{d}", registered_delivery=False))
                 for d in destinations]
        await sim.wait_for(lambda: len(sim.messages) >= 40)
        await sim.stop()
        assert not sim.running
        await asyncio.sleep(0.2)  # the client keeps trying to reconnect meanwhile
        await sim.start()
        outcomes = await asyncio.gather(*tasks)
        assert all(o.ok for o in outcomes)
        got = sorted(m.destination_addr for m in sim.messages)
        assert got == destinations  # each exactly once
        assert len({o.message_ids[0] for o in outcomes}) == 200
        assert sim.binds >= 2 and client.stats.binds >= 2


async def test_deliver_acknowledged_only_after_callback_and_retried_on_failure() -> None:
    calls: list[str] = []

    async def flaky(event: DeliverEvent) -> None:
        calls.append(event.text)
        if len(calls) == 1:
            raise RuntimeError("database down")

    cfg = SimulatorConfig(accounts=dict(ACCOUNT), redelivery_delay_ms=20)
    async with running(cfg, on_deliver=flaky) as (sim, client):
        await client.wait_connected(5)
        statuses = await sim.inject_mo("33699", "38000", "stop")
        assert statuses == [CommandStatus.ESME_ROK]
        assert calls == ["stop", "stop"]  # first answered ESME_RX_T_APPN, then delivered again
        assert client.stats.deliver_failures == 1


async def test_long_mo_carries_concat_info() -> None:
    inbox = Inbox()
    text = "Réponse longue: " + "0123456789 " * 30
    async with running(on_deliver=inbox) as (sim, client):
        await client.wait_connected(5)
        statuses = await sim.inject_mo("33611", "38000", text)
        assert len(statuses) > 1 and set(statuses) == {CommandStatus.ESME_ROK}
        await inbox.wait_count(len(statuses))
        parts = sorted(inbox.events, key=lambda e: e.concat.seq if e.concat else 0)
        assert all(e.concat is not None and e.concat.total == len(statuses) for e in parts)
        assert len({e.concat.ref for e in parts if e.concat}) == 1
        assert all(not e.is_receipt and e.esm_class & EsmClass.UDHI for e in parts)
        assert "".join(e.text for e in parts) == text
        assert parts[0].short_message[:3] == b"\x05\x00\x03"  # raw UDH kept for the owner


async def test_submit_raises_retriable_when_no_connection() -> None:
    sim = SmscSimulator(SimulatorConfig(accounts=dict(ACCOUNT)))
    port = await sim.start()
    await sim.stop()  # nothing listens on the port any more
    client = SmppClient(connector(port, connection_wait=0.3))
    await client.start()
    try:
        with pytest.raises(SmppRetriableError, match="no bound connection"):
            await client.submit_text("Octo", None, None, "33611", "hi", registered_delivery=False)
        assert client.last_error
    finally:
        await client.stop(grace=0.5)


async def test_enquire_link_keeps_the_link_and_stop_unbinds() -> None:
    async with running(enquire_link_interval=0.05) as (sim, client):
        await client.wait_connected(5)
        await asyncio.sleep(0.3)  # several enquire_link round trips
        assert client.connected
        outcome = await client.submit_text("Octo", None, None, "33611", "still there", registered_delivery=False)
        assert outcome.ok
    assert not client.connected
    assert sim.binds == 1  # never had to reconnect


async def test_receipt_mix_decimal_ids_and_receipts_wait_for_a_receiver() -> None:
    cfg = SimulatorConfig(accounts=dict(ACCOUNT), receipt_mix={"UNDELIV": 1.0}, message_id_style="decimal",
                          receipt_delay_ms=10)
    async with running(cfg, bind_mode="transmitter") as (sim, sender):
        first = await sender.submit_text("Octo", None, None, "33611", "one", registered_delivery=True)
        quiet = await sender.submit_text("Octo", None, None, "33612", "two", registered_delivery=False)
        assert first.ok and quiet.ok
        assert all(i and i.isdigit() for i in first.message_ids + quiet.message_ids)
        inbox = Inbox()
        receiver = SmppClient(connector(sim.port, name="rx", bind_mode="receiver"), inbox)
        await receiver.start()
        try:
            await inbox.wait_count(1)  # queued while only a transmitter was bound
            (event,) = inbox.events
            assert event.message_id == first.message_ids[0]
            assert event.message_state == MessageState.UNDELIVERABLE
            receipt = event.receipt()
            assert receipt is not None and (receipt.stat, receipt.err, receipt.dlvrd) == ("UNDELIV", "001", "000")
            await sim.wait_for(lambda: len(sim.receipts) == 1)
        finally:
            await receiver.stop(grace=1.0)


def test_cli_arguments() -> None:
    from octogate.smpp.simulator import config_from_args

    cfg = config_from_args(["--listen", "127.0.0.1:0", "--account", "a:b", "--account", "c:d:e",
                            "--latency-ms", "20", "--tps", "50", "--receipt-delay-ms", "5", "--fail-rate", "0.25",
                            "--invalid-prefix", "999"])
    assert (cfg.host, cfg.port) == ("127.0.0.1", 0)
    assert cfg.accounts == {"a": "b", "c": "d:e"}
    assert (cfg.latency_ms, cfg.max_per_second, cfg.receipt_delay_ms) == (20, 50, 5)
    assert cfg.receipt_mix == {"DELIVRD": 0.75, "UNDELIV": 0.25} and cfg.invalid_prefixes == ("999",)
    with pytest.raises(SystemExit):
        config_from_args(["--listen", "nowhere"])
    with pytest.raises(SystemExit):
        config_from_args(["--fail-rate", "2"])


async def test_serve_runs_until_cancelled() -> None:
    from octogate.smpp.simulator import serve

    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(SimulatorConfig(accounts=dict(ACCOUNT)), ready=ready.set_result))
    port = await asyncio.wait_for(ready, 5)
    client = SmppClient(connector(port))
    await client.start()
    try:
        await client.wait_connected(5)
        outcome = await client.submit_text("Octo", None, None, "33611", "cli", registered_delivery=False)
        assert outcome.ok
    finally:
        await client.stop(grace=1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_deliver_backpressure_and_connection_callback() -> None:
    running_now = 0
    peak = 0
    release = asyncio.Event()
    two_running = asyncio.Event()
    states: list[bool] = []

    async def slow(event: DeliverEvent) -> None:
        nonlocal running_now, peak
        running_now += 1
        peak = max(peak, running_now)
        if running_now == 2:
            two_running.set()
        await release.wait()
        running_now -= 1

    sim = SmscSimulator(SimulatorConfig(accounts=dict(ACCOUNT)))
    port = await sim.start()
    client = SmppClient(connector(port, max_pending_delivers=2), slow, on_connection_change=states.append)
    await client.start()
    try:
        await client.wait_connected(5)
        injected = asyncio.gather(*(sim.inject_mo("3361", "38000", f"mo {i}") for i in range(6)))
        await asyncio.wait_for(two_running.wait(), 5)
        await asyncio.sleep(0.05)  # give a third callback every chance to start, were it allowed
        assert peak == 2
        release.set()
        assert await injected == [[CommandStatus.ESME_ROK]] * 6
        assert peak == 2
    finally:
        await client.stop(grace=1.0)
        await sim.stop()
    assert states == [True, False]


async def test_inject_mo_without_receiver_times_out_and_is_withdrawn() -> None:
    sim = SmscSimulator(SimulatorConfig(accounts=dict(ACCOUNT)))
    port = await sim.start()
    try:
        with pytest.raises(TimeoutError):
            await sim.inject_mo("3361", "38000", "nobody listens", within=0.1)
        inbox = Inbox()
        client = SmppClient(connector(port), inbox)
        await client.start()
        try:
            await client.wait_connected(5)
            assert await sim.inject_mo("3361", "38000", "now") == [CommandStatus.ESME_ROK]
            assert [e.text for e in inbox.events] == ["now"]  # the timed-out MO never shows up
        finally:
            await client.stop(grace=1.0)
    finally:
        await sim.stop()


async def test_resending_only_missing_parts_under_the_same_reference() -> None:
    text = "Part of a long message. " * 15  # 360 characters: 3 parts of 153
    async with running() as (sim, client):
        first = await client.submit_text("Octo", None, None, "33611", text, registered_delivery=False,
                                         ref=77, skip_parts={2})
        assert [p.seq for p in first.parts] == [1, 3] and first.ok
        assert sim.messages == []  # incomplete: part 2 missing
        second = await client.submit_text("Octo", None, None, "33611", text, registered_delivery=False,
                                          ref=77, skip_parts={1, 3})
        assert [p.seq for p in second.parts] == [2]
        (message,) = sim.messages
        assert message.text == text and [p.concat for p in message.parts] == [(77, 3, 1), (77, 3, 2), (77, 3, 3)]
