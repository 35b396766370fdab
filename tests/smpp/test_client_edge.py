"""SmppClient against a scripted SMSC (a Session(Role.SMSC) on a loopback socket) for the cases the
simulator does not produce: timeouts, generic_nack, data_sm, SMSC-initiated enquire_link, garbage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from octogate.smpp.client import ConnectorConfig, DeliverEvent, SmppClient, SmppRetriableError
from octogate.smpp.constants import CommandId, CommandStatus
from octogate.smpp.pdu import (
    DataSm,
    DataSmResp,
    DeliverSm,
    EnquireLink,
    GenericNack,
    Pdu,
    SmppError,
    SubmitSm,
)
from octogate.smpp.session import RequestReceived, ResponseReceived, Role, SendData, Session

SubmitHandler = Callable[[Session, SubmitSm, int], "bytes | None"]


class ScriptedSmsc:
    """Accepts any bind; ``on_submit(session, pdu, n)`` returns the octets to answer the n-th submit
    (counting from 1 over all connections), or None to stay silent."""

    def __init__(self, on_submit: SubmitHandler) -> None:
        self.on_submit = on_submit
        self.submits = 0
        self.binds = 0
        self.responses: list[Pdu] = []
        self.bound = asyncio.Event()
        self.submitted = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._current: tuple[Session, asyncio.StreamWriter] | None = None
        self._waiting: dict[int, asyncio.Future[Pdu]] = {}

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            if self._current is not None:
                self._current[1].close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(Role.SMSC)
        try:
            while data := await reader.read(65536):
                for event in session.receive_data(data):
                    if isinstance(event, SendData):
                        writer.write(event.data)
                    elif isinstance(event, ResponseReceived):
                        self.responses.append(event.pdu)
                        fut = self._waiting.pop(event.pdu.sequence_number, None)
                        if fut is not None:
                            fut.set_result(event.pdu)
                    elif isinstance(event, RequestReceived):
                        if isinstance(event.pdu, SubmitSm):
                            self.submits += 1
                            self.submitted.set()
                            answer = self.on_submit(session, event.pdu, self.submits)
                            if answer is not None:
                                writer.write(answer)
                        else:  # a bind
                            self.binds += 1
                            writer.write(session.respond(event.pdu, system_id="SCRIPT"))
                            self._current = (session, writer)
                            self.bound.set()
        except ConnectionError:
            return
        finally:
            writer.close()

    async def request(self, pdu: Pdu) -> Pdu:
        """Send a request to the bound client and wait for its answer."""
        assert self._current is not None
        session, writer = self._current
        data = session.send(pdu)
        fut: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._waiting[pdu.sequence_number] = fut
        writer.write(data)
        return await asyncio.wait_for(fut, 5)

    def write_raw(self, data: bytes) -> None:
        assert self._current is not None
        self._current[1].write(data)


def ok(session: Session, pdu: SubmitSm, n: int) -> bytes:
    return session.respond(pdu, message_id=f"m{n}")


def config(port: int, **overrides: object) -> ConnectorConfig:
    values: dict[str, object] = {"name": "edge", "host": "127.0.0.1", "port": port, "system_id": "x",
                                 "password": "y", "reconnect_min": 0.02, "reconnect_max": 0.1,
                                 "response_timeout": 5.0}
    values.update(overrides)
    return ConnectorConfig(**values)  # type: ignore[arg-type]


async def run_client(smsc: ScriptedSmsc, on_deliver: Callable[[DeliverEvent], object] | None = None,
                     **overrides: object) -> SmppClient:
    port = await smsc.start()
    client = SmppClient(config(port, **overrides), on_deliver)  # type: ignore[arg-type]
    await client.start()
    await client.wait_connected(5)
    return client


async def test_response_timeout_drops_connection_and_finally_raises_retriable() -> None:
    smsc = ScriptedSmsc(lambda session, pdu, n: None)  # never answers a submit
    client = await run_client(smsc, response_timeout=0.2, submit_retries=1)
    try:
        with pytest.raises(SmppRetriableError, match="failed 2 times"):
            await client.submit_text("Octo", None, None, "3361", "hello", registered_delivery=False)
        assert client.stats.timeouts == 2
        assert smsc.submits == 2 and smsc.binds >= 2  # reconnected after the first timeout
    finally:
        await client.stop(grace=0.5)
        await smsc.stop()


async def test_generic_nack_queue_full_is_retried_then_accepted() -> None:
    def handler(session: Session, pdu: SubmitSm, n: int) -> bytes:
        if n == 1:
            return session.send(GenericNack(sequence_number=pdu.sequence_number,
                                            command_status=CommandStatus.ESME_RMSGQFUL))
        return ok(session, pdu, n)

    smsc = ScriptedSmsc(handler)
    client = await run_client(smsc)
    try:
        outcome = await client.submit_text("Octo", None, None, "3361", "hello", registered_delivery=False)
        assert outcome.ok and outcome.message_ids == ["m2"]
        assert client.stats.throttled == 1
    finally:
        await client.stop(grace=0.5)
        await smsc.stop()


async def test_permanent_status_on_one_part_of_a_long_message() -> None:
    def handler(session: Session, pdu: SubmitSm, n: int) -> bytes:
        if pdu.short_message[5] == 2:  # UDH: part 2
            return session.respond(pdu, CommandStatus.ESME_RSUBMITFAIL)
        return ok(session, pdu, n)

    smsc = ScriptedSmsc(handler)
    client = await run_client(smsc)
    try:
        outcome = await client.submit_text("Octo", None, None, "3361", "z" * 400, registered_delivery=True)
        assert [p.ok for p in outcome.parts] == [True, False, True]
        assert outcome.permanent_failure and outcome.status == CommandStatus.ESME_RSUBMITFAIL
        assert outcome.parts[0].message_id and outcome.parts[1].message_id is None
    finally:
        await client.stop(grace=0.5)
        await smsc.stop()


async def test_data_sm_enquire_link_and_garbage_from_the_smsc() -> None:
    received: list[DeliverEvent] = []

    async def on_deliver(event: DeliverEvent) -> None:
        received.append(event)

    smsc = ScriptedSmsc(ok)
    client = await run_client(smsc, on_deliver)
    try:
        mo = DataSm(source_addr="33611", destination_addr="38000", data_coding=8)
        mo.message_payload = "Привет".encode("utf-16-be")
        answer = await smsc.request(mo)
        assert isinstance(answer, DataSmResp) and answer.command_status == CommandStatus.ESME_ROK
        (event,) = received
        assert (event.command, event.text, event.source_addr) == ("data_sm", "Привет", "33611")
        assert event.short_message == b"" and not event.is_receipt
        assert (await smsc.request(EnquireLink())).command_id == CommandId.ENQUIRE_LINK_RESP
        # a malformed request is nacked and the connection survives
        smsc.write_raw(bytes.fromhex("00000013000000050000000000000077000102"))
        outcome = await client.submit_text("Octo", None, None, "3361", "still ok", registered_delivery=False)
        assert outcome.ok
        nacks = [r for r in smsc.responses if isinstance(r, GenericNack)]
        assert [(n.sequence_number, n.command_status) for n in nacks] == [
            (0x77, CommandStatus.ESME_RINVCMDLEN)]
        assert smsc.binds == 1
    finally:
        await client.stop(grace=0.5)
        await smsc.stop()


async def test_a_deliver_sm_is_answered_when_the_future_on_deliver_returned_is_done() -> None:
    """The gateway's receipts: `on_deliver` returns the store's future (no coroutine); the deliver_sm is answered
    only once it is done, ESME_RX_T_APPN when it failed or when `on_deliver` itself raised."""
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[None]] = []
    both_received = asyncio.Event()

    def on_deliver(event: DeliverEvent) -> asyncio.Future[None]:
        if event.text == "broken":
            raise RuntimeError("cannot read it")
        futures.append(loop.create_future())
        if len(futures) == 2:
            both_received.set()
        return futures[-1]

    smsc = ScriptedSmsc(ok)
    client = await run_client(smsc, on_deliver)
    try:
        stored = asyncio.create_task(smsc.request(DeliverSm(source_addr="33611", short_message=b"stored")))
        failed = asyncio.create_task(smsc.request(DeliverSm(source_addr="33611", short_message=b"failed")))
        await asyncio.wait_for(both_received.wait(), 5)
        await asyncio.sleep(0.05)
        assert not stored.done() and not failed.done()  # not answered before the store said so
        futures[0].set_result(None)
        futures[1].set_exception(OSError("disk full"))
        assert (await stored).command_status == CommandStatus.ESME_ROK
        assert (await failed).command_status == CommandStatus.ESME_RX_T_APPN
        broken = await smsc.request(DeliverSm(source_addr="33611", short_message=b"broken"))
        assert broken.command_status == CommandStatus.ESME_RX_T_APPN
        assert client.stats.deliver_failures == 2
    finally:
        await client.stop(grace=0.5)
        await smsc.stop()


async def test_unencodable_addresses_are_permanent_failures() -> None:
    smsc = ScriptedSmsc(ok)
    client = await run_client(smsc)
    try:
        too_long = await client.submit_text("Octo", None, None, "3" * 21, "x", registered_delivery=False)
        assert too_long.status == CommandStatus.ESME_RINVDSTADR
        not_latin1 = await client.submit_text("Octo€", None, None, "3361", "x", registered_delivery=False)
        assert not_latin1.status == CommandStatus.ESME_RINVSRCADR
        assert smsc.submits == 0 and client.in_flight == 0
        assert (await client.submit_text("Octo", None, None, "3361", "x", registered_delivery=False)).ok
    finally:
        await client.stop(grace=0.5)
        await smsc.stop()


async def test_receiver_bind_cannot_submit() -> None:
    smsc = ScriptedSmsc(ok)
    client = await run_client(smsc, bind_mode="receiver")
    try:
        with pytest.raises(SmppError, match="receiver"):
            await client.submit_text("Octo", None, None, "3361", "x", registered_delivery=False)
    finally:
        await client.stop(grace=0.5)
        await smsc.stop()


async def test_stop_makes_waiting_submits_retriable() -> None:
    smsc = ScriptedSmsc(lambda session, pdu, n: None)
    client = await run_client(smsc, window=1)
    try:
        first = asyncio.create_task(client.submit_text("O", None, None, "1", "a", registered_delivery=False))
        second = asyncio.create_task(client.submit_text("O", None, None, "2", "b", registered_delivery=False))
        await asyncio.wait_for(smsc.submitted.wait(), 5)
        await client.stop(grace=0.2)
        for task in (first, second):
            with pytest.raises(SmppRetriableError):
                await task
        assert smsc.submits == 1  # the window of 1 held the second one back
    finally:
        await smsc.stop()


def test_config_validation() -> None:
    for bad in ({"bind_mode": "both"}, {"concatenation": "udh9"}, {"gsm_data_coding": 8}, {"window": 0},
                {"reconnect_min": 0}):
        with pytest.raises(ValueError):
            config(1, **bad)
