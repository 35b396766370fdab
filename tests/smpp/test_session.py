"""Session state machine tests: two Sessions wired back to back, no sockets."""

from __future__ import annotations

import pytest

from octogate.smpp.constants import CommandId, CommandStatus
from octogate.smpp.pdu import (
    BindTransmitterResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLinkResp,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
    UnbindResp,
    UnknownPdu,
    decode,
    encode,
)
from octogate.smpp.session import (
    BindMode,
    ConnectionBroken,
    Event,
    InvalidPdu,
    PeerUnbound,
    RequestReceived,
    ResponseReceived,
    Role,
    SendData,
    Session,
    SessionState,
    SessionStateError,
)


def only(events: list[Event], kind: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def bound_pair(mode: BindMode = BindMode.TRANSCEIVER) -> tuple[Session, Session]:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    events = smsc.receive_data(esme.bind(mode, "octo", "pw"))
    assert esme.state is SessionState.BINDING
    (request,) = only(events, RequestReceived)
    assert request.pdu.system_id == "octo" and request.pdu.password == "pw"
    resp = smsc.respond(request.pdu, system_id="SIM")
    assert smsc.is_bound and smsc.system_id == "octo"
    (answer,) = esme.receive_data(resp)
    assert isinstance(answer, ResponseReceived) and answer.pdu.system_id == "SIM"
    return esme, smsc


def test_bind_submit_deliver_unbind() -> None:
    esme, smsc = bound_pair()
    assert esme.state is SessionState.BOUND_TRX and smsc.state is SessionState.BOUND_TRX
    sms = [SubmitSm(destination_addr=f"336{i}", short_message=b"x") for i in range(3)]
    wire = b"".join(esme.send(p) for p in sms)
    assert [p.sequence_number for p in sms] == [2, 3, 4]  # 1 went to the bind
    assert esme.outstanding(CommandId.SUBMIT_SM) == 3
    requests = only(smsc.receive_data(wire), RequestReceived)
    answers = b"".join(smsc.respond(r.pdu, message_id=f"id{r.pdu.sequence_number}")
                       for r in reversed(requests))
    got = esme.receive_data(answers)
    assert [(e.request.destination_addr, e.pdu.message_id) for e in got] == [
        ("3362", "id4"), ("3361", "id3"), ("3360", "id2")]
    assert esme.outstanding() == 0
    # SMSC -> ESME deliver_sm, answered by the caller
    (dlr,) = esme.receive_data(smsc.send(DeliverSm(source_addr="3361", short_message=b"hi")))
    assert isinstance(dlr, RequestReceived)
    (resp,) = smsc.receive_data(esme.respond(dlr.pdu))
    assert isinstance(resp.pdu, DeliverSmResp) and resp.request is not None
    # unbind from the ESME: the SMSC answers by itself
    events = smsc.receive_data(esme.unbind())
    assert esme.state is SessionState.UNBINDING
    assert isinstance(events[1], PeerUnbound) and smsc.state is SessionState.UNBOUND
    esme.receive_data(events[0].data)
    assert esme.state is SessionState.UNBOUND


def test_enquire_link_answered_automatically_both_ways() -> None:
    esme, smsc = bound_pair()
    for a, b in ((esme, smsc), (smsc, esme)):
        (reply,) = b.receive_data(a.enquire_link())
        assert isinstance(reply, SendData) and isinstance(reply.pdu, EnquireLinkResp)
        (answered,) = a.receive_data(reply.data)
        assert isinstance(answered, ResponseReceived) and answered.request is not None
        assert a.outstanding() == 0


def test_enquire_link_allowed_before_bind() -> None:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    (reply,) = smsc.receive_data(esme.enquire_link())
    assert isinstance(reply.pdu, EnquireLinkResp)


def test_illegal_sends_are_refused() -> None:
    esme = Session(Role.ESME)
    with pytest.raises(SessionStateError, match=r"in state open"):
        esme.send(SubmitSm())
    with pytest.raises(SessionStateError, match="does not send"):
        esme.send(DeliverSm())
    with pytest.raises(SessionStateError):
        esme.unbind()
    esme.bind(BindMode.RECEIVER, "a", "b")
    with pytest.raises(SessionStateError, match="binding"):
        esme.bind(BindMode.RECEIVER, "a", "b")
    # matched by sequence number, as SMSCs are not always exact about the response class
    esme.receive_data(encode(BindTransmitterResp(sequence_number=1)))
    assert esme.state is SessionState.BOUND_RX
    smsc = Session(Role.SMSC)
    with pytest.raises(SessionStateError):
        smsc.send(DeliverSm())
    with pytest.raises(SessionStateError, match="no pending request"):
        smsc.send(SubmitSmResp(sequence_number=9))


def test_receiver_cannot_submit_and_transmitter_gets_no_deliver() -> None:
    esme, _smsc = bound_pair(BindMode.RECEIVER)
    with pytest.raises(SessionStateError):
        esme.send(SubmitSm())
    tx, smsc_tx = bound_pair(BindMode.TRANSMITTER)
    with pytest.raises(SessionStateError):
        smsc_tx.send(DeliverSm())
    # a misbehaving SMSC delivering to a transmitter gets ESME_RINVBNDSTS, not a RequestReceived
    rogue = encode(DeliverSm(sequence_number=5))
    (reply,) = tx.receive_data(rogue)
    assert isinstance(reply, SendData) and reply.pdu.command_status == CommandStatus.ESME_RINVBNDSTS


def test_smsc_refuses_submit_before_bind_and_second_bind() -> None:
    smsc = Session(Role.SMSC)
    (reply,) = smsc.receive_data(encode(SubmitSm(sequence_number=3)))
    assert isinstance(reply.pdu, SubmitSmResp) and reply.pdu.command_status == CommandStatus.ESME_RINVBNDSTS
    _esme, smsc = bound_pair()
    (reply,) = smsc.receive_data(Session(Role.ESME).bind(BindMode.TRANSMITTER, "x", "y"))
    assert reply.pdu.command_status == CommandStatus.ESME_RALYBND


def test_failed_bind_returns_to_open_and_can_retry() -> None:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    (req,) = smsc.receive_data(esme.bind(BindMode.TRANSCEIVER, "octo", "bad"))
    (resp,) = esme.receive_data(smsc.respond(req.pdu, CommandStatus.ESME_RINVPASWD))
    assert resp.pdu.command_status == CommandStatus.ESME_RINVPASWD
    assert esme.state is SessionState.OPEN and smsc.state is SessionState.OPEN
    (req,) = smsc.receive_data(esme.bind(BindMode.TRANSCEIVER, "octo", "good"))
    esme.receive_data(smsc.respond(req.pdu))
    assert esme.state is SessionState.BOUND_TRX


def test_unknown_command_gets_generic_nack() -> None:
    _, smsc = bound_pair()
    (reply,) = smsc.receive_data(encode(UnknownPdu(sequence_number=8, raw_command_id=CommandId.QUERY_SM)))
    assert isinstance(reply.pdu, GenericNack) and reply.pdu.command_status == CommandStatus.ESME_RINVCMDID
    assert reply.pdu.sequence_number == 8


def test_malformed_request_is_nacked_and_stream_continues() -> None:
    esme, smsc = bound_pair()
    bad = bytes.fromhex("00000013 00000004 00000000 00000063 000102".replace(" ", ""))
    good = esme.send(SubmitSm(short_message=b"ok"))
    events = smsc.receive_data(bad + good)
    assert isinstance(events[0], InvalidPdu)
    assert isinstance(events[1], SendData) and events[1].pdu.sequence_number == 0x63
    assert isinstance(events[2], RequestReceived) and events[2].pdu.short_message == b"ok"


def test_malformed_response_settles_its_request() -> None:
    esme, _smsc = bound_pair()
    esme.send(SubmitSm(short_message=b"x"))
    seq = 2
    bad = bytes.fromhex(f"00000013 80000004 00000000 {seq:08x} 414243".replace(" ", ""))
    events = esme.receive_data(bad)
    (resp,) = only(events, ResponseReceived)
    assert isinstance(resp.pdu, GenericNack) and resp.request is not None
    assert esme.outstanding() == 0


def test_framing_error_breaks_the_connection() -> None:
    smsc = Session(Role.SMSC, max_pdu_length=512)
    events = smsc.receive_data(bytes.fromhex("00001000 00000004 00000000 00000007") + b"x" * 20)
    assert isinstance(events[0], SendData) and events[0].pdu.command_status == CommandStatus.ESME_RINVCMDLEN
    assert isinstance(events[1], ConnectionBroken)
    assert smsc.state is SessionState.CLOSED
    with pytest.raises(SessionStateError):
        smsc.send(DeliverSm())


def test_connection_lost_returns_outstanding_and_unbind_from_smsc() -> None:
    esme, smsc = bound_pair()
    sent = [SubmitSm(short_message=b"a"), SubmitSm(short_message=b"b")]
    for p in sent:
        esme.send(p)
    events = esme.receive_data(smsc.unbind())
    assert isinstance(events[0], SendData) and isinstance(decode(events[0].data), UnbindResp)
    assert isinstance(events[1], PeerUnbound)
    assert esme.connection_lost() == sent
    assert esme.outstanding() == 0 and esme.state is SessionState.CLOSED


def test_sequence_numbers_wrap() -> None:
    esme, _ = bound_pair()
    esme._next_seq = 0x7FFFFFFF
    a, b = SubmitSm(), SubmitSm()
    esme.send(a)
    esme.send(b)
    assert (a.sequence_number, b.sequence_number) == (0x7FFFFFFF, 1)
