"""Codec tests: round trips, hand-built SMPP 3.4 byte vectors, and a cross-check against smpp.pdu3."""

from __future__ import annotations

import io

import pytest

from octogate.smpp.constants import CommandId, CommandStatus, EsmClass, MessageState, Tag
from octogate.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    PduDecodeError,
    PduEncodeError,
    PduFramingError,
    PduReader,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    Unbind,
    UnbindResp,
    UnknownPdu,
    decode,
    encode,
    make_response,
)


def h(text: str) -> bytes:
    """Hex with spaces, newlines and ``#`` comments, so vectors can be laid out field by field."""
    return bytes.fromhex("".join(line.split("#")[0].replace(" ", "") for line in text.splitlines()))


SAMPLES: list[Pdu] = [
    BindTransmitter(sequence_number=1, system_id="octo", password="secret", system_type="GW",
                    addr_ton=1, addr_npi=1, address_range="336"),
    BindReceiver(sequence_number=2, system_id="octo", password="pw"),
    BindTransceiver(sequence_number=3, system_id="octo", password="pw", interface_version=0x34),
    BindTransmitterResp(sequence_number=1, system_id="SMSC", tlvs=[Tlv(Tag.SC_INTERFACE_VERSION, b"\x34")]),
    BindReceiverResp(sequence_number=2, system_id="SMSC"),
    BindTransceiverResp(sequence_number=3, system_id="SMSC"),
    BindTransceiverResp(sequence_number=3, command_status=CommandStatus.ESME_RINVPASWD),
    Outbind(sequence_number=4, system_id="SMSC", password="pw"),
    Unbind(sequence_number=5),
    UnbindResp(sequence_number=5),
    EnquireLink(sequence_number=6),
    EnquireLinkResp(sequence_number=6),
    GenericNack(sequence_number=7, command_status=CommandStatus.ESME_RINVCMDID),
    SubmitSm(sequence_number=8, service_type="CMT", source_addr_ton=5, source_addr="Octopush",
             dest_addr_ton=1, dest_addr_npi=1, destination_addr="33612345678", esm_class=EsmClass.UDHI,
             registered_delivery=1, data_coding=8, short_message=b"\x05\x00\x03\x2a\x02\x01\x00h\x00i",
             validity_period="000001000000000R",
             tlvs=[Tlv(Tag.USER_MESSAGE_REFERENCE, b"\x00\x07"), Tlv(0x1401, b"vendor")]),
    SubmitSmResp(sequence_number=8, message_id="a1b2c3"),
    SubmitSmResp(sequence_number=9, command_status=CommandStatus.ESME_RTHROTTLED),
    DeliverSm(sequence_number=10, source_addr="33612345678", destination_addr="Octopush",
              esm_class=EsmClass.DELIVERY_RECEIPT, short_message=b"id:1 stat:DELIVRD",
              tlvs=[Tlv(Tag.RECEIPTED_MESSAGE_ID, b"1\x00"), Tlv(Tag.MESSAGE_STATE, b"\x02")]),
    DeliverSmResp(sequence_number=10),
    DeliverSmResp(sequence_number=11, command_status=CommandStatus.ESME_RX_T_APPN),
    DataSm(sequence_number=12, source_addr="3361", destination_addr="3362", data_coding=0,
           tlvs=[Tlv(Tag.MESSAGE_PAYLOAD, b"x" * 400)]),
    DataSmResp(sequence_number=12, message_id="77"),
    AlertNotification(sequence_number=13, source_addr="3361", esme_addr="octo",
                      tlvs=[Tlv(Tag.MS_AVAILABILITY_STATUS, b"\x00")]),
    UnknownPdu(sequence_number=14, raw_command_id=CommandId.QUERY_SM, body=b"123\x00\x01\x01336\x00"),
]


@pytest.mark.parametrize("pdu", SAMPLES, ids=lambda p: f"{p.name}-{p.sequence_number}-{p.command_status}")
def test_round_trip(pdu: Pdu) -> None:
    wire = encode(pdu)
    assert int.from_bytes(wire[:4], "big") == len(wire)
    again = decode(wire)
    assert again == pdu
    assert encode(again) == wire


def test_every_command_is_covered_by_a_sample() -> None:
    from octogate.smpp.pdu import PDU_CLASSES

    assert set(PDU_CLASSES.values()) <= {type(p) for p in SAMPLES}


# --- byte vectors laid out by hand from the SMPP 3.4 specification ---------------------------------

def test_bind_transmitter_vector() -> None:
    expected = h("""
        00000026 00000002 00000000 00000001  # length 38, bind_transmitter, status 0, sequence 1
        6f63746f00                           # system_id "octo"
        73656372657400                       # password "secret"
        475700                               # system_type "GW"
        34                                   # interface_version 3.4
        01 01                                # addr_ton, addr_npi
        33333600                             # address_range "336"
    """)
    assert encode(SAMPLES[0]) == expected
    assert decode(expected) == SAMPLES[0]


def test_submit_sm_vector() -> None:
    pdu = SubmitSm(sequence_number=0x0102, source_addr_ton=1, source_addr_npi=1, source_addr="33600",
                   dest_addr_ton=1, dest_addr_npi=1, destination_addr="33612", registered_delivery=1,
                   short_message=b"Hi")
    wire = h("""
        0000002d 00000004 00000000 00000102  # length 45, submit_sm, status 0, sequence 0x102
        00                                   # service_type ""
        01 01                                # source_addr_ton, source_addr_npi
        333336303000                         # source_addr "33600"
        01 01                                # dest_addr_ton, dest_addr_npi
        333336313200                         # destination_addr "33612"
        00 00 00                             # esm_class, protocol_id, priority_flag
        00 00                                # schedule_delivery_time, validity_period (NULL)
        01 00 00 00                          # registered_delivery, replace, data_coding, dflt_msg_id
        02 4869                              # sm_length 2, short_message "Hi"
    """)
    assert encode(pdu) == wire
    assert decode(wire) == pdu


def test_submit_sm_resp_error_has_no_body() -> None:
    # §4.4.2: no message_id when command_status != 0.
    assert encode(SubmitSmResp(sequence_number=3, command_status=CommandStatus.ESME_RINVDSTADR)) == h(
        "00000010 80000004 0000000b 00000003")
    # ...but a body sent anyway by a lenient SMSC still decodes.
    pdu = decode(h("00000011 80000004 00000058 00000003 00"))
    assert isinstance(pdu, SubmitSmResp) and pdu.command_status == CommandStatus.ESME_RTHROTTLED


def test_enquire_link_and_generic_nack_vectors() -> None:
    assert encode(EnquireLink(sequence_number=9)) == h("00000010 00000015 00000000 00000009")
    nack = GenericNack(sequence_number=9, command_status=3)
    assert encode(nack) == h("00000010 80000000 00000003 00000009")


def test_receipt_tlvs_typed_access() -> None:
    wire = h("""
        0000004d 00000005 00000000 0000002a  # length 77, deliver_sm, seq 42
        00 01 01 333336313200 00 00 4f63746f00  # service_type, source 1/1 "33612", dest 0/0 "Octo"
        04 00 00 00 00 00 00 00 00           # esm_class receipt, then 8 one-octet zero/NULL fields
        08 69643a3132333400                  # sm_length 8, "id:1234" + NUL kept as data
        001e 0005 3132333400                 # receipted_message_id "1234"
        0427 0001 02                         # message_state DELIVERED
        0423 0003 030045                     # network_error_code GSM / 0x45
        1500 0002 abcd                       # vendor TLV
    """)
    pdu = decode(wire)
    assert isinstance(pdu, DeliverSm)
    assert pdu.esm_class & EsmClass.DELIVERY_RECEIPT
    assert pdu.short_message == b"id:1234\x00"
    assert pdu.receipted_message_id == "1234"
    assert pdu.message_state == MessageState.DELIVERED
    assert pdu.network_error_code == (3, 0x45)
    assert pdu.tlvs[-1] == (0x1500, b"\xab\xcd")
    assert encode(pdu) == wire


def test_tlv_setters_keep_order_and_remove() -> None:
    pdu = SubmitSm(tlvs=[Tlv(0x3FFF, b"v")])
    pdu.sar_msg_ref_num = 0x1234
    pdu.sar_total_segments = 3
    pdu.sar_segment_seqnum = 2
    pdu.source_port = 80
    pdu.destination_port = 8080
    pdu.user_message_reference = 9
    pdu.message_payload = b"abc"
    pdu.sc_interface_version = 0x34
    pdu.network_error_code = (3, 1)
    again = decode(encode(pdu))
    assert [t for t, _ in again.tlvs] == [0x3FFF, 0x020C, 0x020E, 0x020F, 0x020A, 0x020B, 0x0204, 0x0424,
                                        0x0210, 0x0423]
    assert (again.sar_msg_ref_num, again.sar_total_segments, again.sar_segment_seqnum) == (0x1234, 3, 2)
    assert (again.source_port, again.destination_port, again.user_message_reference) == (80, 8080, 9)
    assert again.message_payload == b"abc" and again.sc_interface_version == 0x34
    again.sar_total_segments = None
    assert again.get_tlv(Tag.SAR_TOTAL_SEGMENTS) is None and again.sar_total_segments is None


def test_unknown_and_vendor_tlvs_survive() -> None:
    tlvs = [Tlv(0x1400, b""), Tlv(0x2000, b"\x00\x01\x02"), Tlv(0x7777, b"odd"), Tlv(0x3FFF, b"z" * 300)]
    for pdu in (SubmitSm(short_message=b"a", tlvs=list(tlvs)), DeliverSmResp(tlvs=list(tlvs)),
                BindTransmitter(system_id="x", tlvs=list(tlvs)), EnquireLink(tlvs=list(tlvs))):
        assert decode(encode(pdu)).tlvs == tlvs


@pytest.mark.parametrize(
    ("pdu", "message"),
    [
        (BindTransmitter(system_id="a" * 16), "system_id"),
        (BindTransmitter(password="p" * 9), "password"),
        (SubmitSm(destination_addr="1" * 21), "destination_addr"),
        (SubmitSm(short_message=b"x" * 255), "short_message"),
        (SubmitSm(esm_class=256), "out of range"),
        (SubmitSm(source_addr="é€"), "Latin-1"),
    ],
)
def test_encode_refuses_what_the_wire_cannot_carry(pdu: Pdu, message: str) -> None:
    with pytest.raises(PduEncodeError, match=message):
        encode(pdu)


def test_decode_errors_carry_header_for_the_answer() -> None:
    wire = encode(SubmitSm(sequence_number=77, short_message=b"hello"))
    truncated = bytearray(wire[:-3])
    truncated[0:4] = len(truncated).to_bytes(4, "big")
    with pytest.raises(PduDecodeError) as info:
        decode(bytes(truncated))
    assert info.value.sequence_number == 77
    assert info.value.command_id == CommandId.SUBMIT_SM
    assert info.value.status == CommandStatus.ESME_RINVMSGLEN
    bad_tlv = h("00000013 80000015 00000000 00000001 000102")
    with pytest.raises(PduDecodeError) as info:
        decode(bad_tlv)
    assert info.value.status == CommandStatus.ESME_RINVOPTPARSTREAM


def test_reader_frames_byte_by_byte_and_in_bulk() -> None:
    stream = b"".join(encode(p) for p in SAMPLES)
    reader = PduReader()
    got: list[Pdu] = []
    for i in range(len(stream)):
        reader.feed(stream[i:i + 1])
        got.extend(reader)
    assert got == SAMPLES
    reader.feed(stream + stream[:5])
    assert list(reader) == SAMPLES
    assert reader.buffered == 5


def test_reader_rejects_bad_command_length() -> None:
    reader = PduReader(max_pdu_length=1024)
    reader.feed(h("0000000f 00000015 00000000 00000001"))
    with pytest.raises(PduFramingError, match="command_length 15"):
        reader.next_pdu()
    with pytest.raises(PduFramingError):  # stays broken: the stream cannot be re-synchronised
        reader.feed(b"more")
    big = PduReader(max_pdu_length=1024)
    big.feed(h("00000401 00000004 00000000 00000009"))
    with pytest.raises(PduFramingError, match=r"16\.\.1024") as info:
        big.next_pdu()
    assert info.value.sequence_number == 9


def test_reader_continues_after_a_bad_body() -> None:
    bad = h("00000013 00000015 00000000 00000001 000102")
    good = encode(EnquireLink(sequence_number=2))
    reader = PduReader()
    reader.feed(bad + good)
    with pytest.raises(PduDecodeError):
        reader.next_pdu()
    assert reader.next_pdu() == EnquireLink(sequence_number=2)


def test_make_response() -> None:
    resp = make_response(SubmitSm(sequence_number=4), message_id="x")
    assert isinstance(resp, SubmitSmResp) and resp.sequence_number == 4 and resp.message_id == "x"
    nack = make_response(UnknownPdu(sequence_number=5, raw_command_id=0x21))
    assert isinstance(nack, GenericNack) and nack.command_status == CommandStatus.ESME_RINVCMDID
    assert isinstance(make_response(EnquireLink(sequence_number=1)), EnquireLinkResp)
    assert isinstance(make_response(Unbind(sequence_number=1)), UnbindResp)
    assert isinstance(make_response(DataSm(sequence_number=1)), DataSmResp)
    assert isinstance(make_response(BindReceiver(sequence_number=1)), BindReceiverResp)


# --- cross-check against the smpp.pdu3 library ---------------------------------------------------

smpp_pdu = pytest.importorskip("smpp.pdu.pdu_encoding")
from smpp.pdu import operations as ops  # noqa: E402
from smpp.pdu import pdu_types as pt  # noqa: E402


def _theirs(pdu: object) -> bytes:
    return smpp_pdu.PDUEncoder().encode(pdu)


def _decode_theirs(wire: bytes) -> object:
    return smpp_pdu.PDUEncoder().decode(io.BytesIO(wire))


def test_cross_check_submit_sm() -> None:
    theirs = ops.SubmitSM(
        7, service_type="", source_addr_ton=pt.AddrTon.ALPHANUMERIC, source_addr_npi=pt.AddrNpi.UNKNOWN,
        source_addr="Octo", dest_addr_ton=pt.AddrTon.INTERNATIONAL, dest_addr_npi=pt.AddrNpi.ISDN,
        destination_addr="33612345678",
        esm_class=pt.EsmClass(pt.EsmClassMode.DEFAULT, pt.EsmClassType.DEFAULT,
                              [pt.EsmClassGsmFeatures.UDHI_INDICATOR_SET]),
        protocol_id=0, priority_flag=pt.PriorityFlag.LEVEL_0, schedule_delivery_time=None,
        validity_period=None,
        registered_delivery=pt.RegisteredDelivery(pt.RegisteredDeliveryReceipt.SMSC_DELIVERY_RECEIPT_REQUESTED),
        replace_if_present_flag=pt.ReplaceIfPresentFlag.DO_NOT_REPLACE, data_coding=pt.DataCoding(),
        sm_default_msg_id=0, short_message=b"\x05\x00\x03\x01\x02\x01hello", user_message_reference=3,
        sar_msg_ref_num=0x0102, sar_total_segments=2, sar_segment_seqnum=1)
    ours = SubmitSm(sequence_number=7, source_addr_ton=5, source_addr="Octo", dest_addr_ton=1,
                    dest_addr_npi=1, destination_addr="33612345678", esm_class=EsmClass.UDHI,
                    registered_delivery=1, short_message=b"\x05\x00\x03\x01\x02\x01hello")
    ours.user_message_reference = 3
    ours.sar_msg_ref_num = 0x0102
    ours.sar_total_segments = 2
    ours.sar_segment_seqnum = 1
    assert encode(ours) == _theirs(theirs)


def test_cross_check_deliver_sm_receipt_decodes_in_theirs() -> None:
    ours = DeliverSm(sequence_number=3, source_addr_ton=1, source_addr_npi=1, source_addr="33612345678",
                     destination_addr="Octo", esm_class=EsmClass.DELIVERY_RECEIPT,
                     short_message=b"id:abc sub:001 dlvrd:001 submit date:2401010000 done date:2401010001 "
                                   b"stat:DELIVRD err:000 text:hello")
    # smpp.pdu3 writes TLVs in its own fixed order (message_state first): follow it to compare bytes.
    ours.message_state = MessageState.DELIVERED
    ours.receipted_message_id = "abc"
    theirs = _decode_theirs(encode(ours))
    assert theirs.params["receipted_message_id"] == b"abc"
    assert theirs.params["message_state"] == pt.MessageState.DELIVERED
    assert theirs.params["short_message"] == ours.short_message
    assert theirs.params["esm_class"].type == pt.EsmClassType.SMSC_DELIVERY_RECEIPT
    assert _theirs(theirs) == encode(ours)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (BindTransceiver(sequence_number=1, system_id="octo", password="pw", system_type=""),
         lambda: ops.BindTransceiver(1, system_id="octo", password="pw", system_type=None,
                                     interface_version=0x34, addr_ton=pt.AddrTon.UNKNOWN,
                                     addr_npi=pt.AddrNpi.UNKNOWN, address_range=None)),
        (BindTransceiverResp(sequence_number=1, system_id="sim",
                             tlvs=[Tlv(Tag.SC_INTERFACE_VERSION, b"\x34")]),
         lambda: ops.BindTransceiverResp(1, system_id="sim", sc_interface_version=0x34)),
        (BindTransmitterResp(sequence_number=2, command_status=CommandStatus.ESME_RINVPASWD),
         lambda: ops.BindTransmitterResp(2, status=pt.CommandStatus.ESME_RINVPASWD)),
        (SubmitSmResp(sequence_number=3, message_id="0000abcd"),
         lambda: ops.SubmitSMResp(3, message_id="0000abcd")),
        (SubmitSmResp(sequence_number=3, command_status=CommandStatus.ESME_RTHROTTLED),
         lambda: ops.SubmitSMResp(3, status=pt.CommandStatus.ESME_RTHROTTLED)),
        (DeliverSmResp(sequence_number=4), lambda: ops.DeliverSMResp(4)),
        (EnquireLink(sequence_number=5), lambda: ops.EnquireLink(5)),
        (EnquireLinkResp(sequence_number=5), lambda: ops.EnquireLinkResp(5)),
        (Unbind(sequence_number=6), lambda: ops.Unbind(6)),
        (UnbindResp(sequence_number=6), lambda: ops.UnbindResp(6)),
        (GenericNack(sequence_number=7, command_status=CommandStatus.ESME_RINVCMDLEN),
         lambda: ops.GenericNack(7, status=pt.CommandStatus.ESME_RINVCMDLEN)),
        (Outbind(sequence_number=8, system_id="smsc", password="pw"),
         lambda: ops.Outbind(8, system_id="smsc", password="pw")),
        (DataSmResp(sequence_number=9, message_id="42"), lambda: ops.DataSMResp(9, message_id="42")),
    ],
    ids=lambda v: v.name if isinstance(v, Pdu) else "",
)
def test_cross_check_encoding(ours: Pdu, theirs: object) -> None:
    assert encode(ours) == _theirs(theirs())  # type: ignore[operator]


def test_fast_short_message_decoder_matches_the_generic_one() -> None:
    """The hand-unrolled submit_sm/deliver_sm decoder must agree with the layout-driven one, on valid
    PDUs and on every truncation or corruption of them."""
    import random

    generic = Pdu.decode_body.__func__  # type: ignore[attr-defined]
    rng = random.Random(1234)
    bodies = [encode(p)[16:] for p in SAMPLES if isinstance(p, (SubmitSm, DeliverSm))]
    cases: list[bytes] = []
    for body in bodies:
        cases.extend(body[:i] for i in range(len(body) + 1))
        for _ in range(200):
            mutated = bytearray(body)
            mutated[rng.randrange(len(body))] = rng.choice([0, 1, 0xFF, rng.randrange(256)])
            cases.append(bytes(mutated))
    for body in cases:
        for cls in (SubmitSm, DeliverSm):
            try:
                expected: object = generic(cls, body, 1, 0)
            except PduDecodeError as exc:
                expected = ("error", exc.status)
            try:
                got: object = cls.decode_body(body, 1, 0)
            except PduDecodeError as exc:
                got = ("error", exc.status)
            assert got == expected, body.hex()
