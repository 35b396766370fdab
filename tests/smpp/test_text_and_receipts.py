"""Text encoding choices for submit_sm parts, and receipt text parsing."""

from __future__ import annotations

from datetime import datetime

import pytest

from octogate.smpp.constants import DataCoding, EsmClass, Tag
from octogate.smpp.pdu import SubmitSm
from octogate.smpp.receipts import format_receipt_text, parse_receipt_text
from octogate.smpp.text import decode_part, encode_text
from octogate.sms.gsm import decode_short_message


def reassemble(text: str, **kwargs: object) -> tuple[str, int, int]:
    encoded = encode_text(text, ref=0x1234, **kwargs)  # type: ignore[arg-type]
    out = []
    for part in encoded.parts:
        pdu = SubmitSm(esm_class=part.esm_class, data_coding=encoded.data_coding,
                       short_message=part.short_message, tlvs=list(part.tlvs))
        out.append(decode_part(pdu, pdu.short_message, pdu.esm_class, pdu.data_coding))
    return "".join(p.text for p in out), encoded.data_coding, len(encoded.parts)


@pytest.mark.parametrize("concatenation", ["udh8", "udh16", "sar", "payload"])
@pytest.mark.parametrize("text", ["short", "x" * 161, "{" * 81, "ê" * 71, "😀" * 36, "a" * 34 + "😀" * 40])
def test_every_method_reassembles_to_the_text(concatenation: str, text: str) -> None:
    got, _, parts = reassemble(text, concatenation=concatenation)
    assert got == text
    if concatenation == "payload" or text == "short":
        assert parts == 1
    else:
        assert parts > 1


def test_udh_and_sar_layout() -> None:
    udh8 = encode_text("a" * 200, ref=0x1234, concatenation="udh8").parts
    assert udh8[1].short_message[:6] == bytes([5, 0, 3, 0x34, 2, 2]) and udh8[1].esm_class == EsmClass.UDHI
    udh16 = encode_text("a" * 200, ref=0x1234, concatenation="udh16").parts
    assert udh16[0].short_message[:7] == bytes([6, 8, 4, 0x12, 0x34, 2, 1])
    sar = encode_text("a" * 200, ref=0x1234, concatenation="sar").parts
    assert [len(p.short_message) for p in sar] == [160, 40] and sar[0].esm_class == 0
    assert dict(sar[1].tlvs) == {Tag.SAR_MSG_REF_NUM: b"\x12\x34", Tag.SAR_TOTAL_SEGMENTS: b"\x02",
                                 Tag.SAR_SEGMENT_SEQNUM: b"\x02"}
    (payload,) = encode_text("a" * 200, ref=1, concatenation="payload").parts
    assert payload.short_message == b"" and dict(payload.tlvs)[Tag.MESSAGE_PAYLOAD] == b"a" * 200


def test_escape_pairs_are_never_cut() -> None:
    parts = encode_text("a" * 152 + "€" + "b" * 10, ref=1).parts
    body = parts[0].short_message[6:]
    assert body[-1] != 0x1B and len(body) == 152  # the euro sign moved whole to part 2
    assert parts[1].short_message[6:8] == b"\x1be"


@pytest.mark.parametrize(("coding", "text", "expected_dc"), [
    (DataCoding.LATIN1, "Crème brûlée à 5€?", DataCoding.UCS2),   # € not in Latin-1: UCS-2
    (DataCoding.LATIN1, "Crème brûlée", DataCoding.LATIN1),  # not GSM (û), but Latin-1: 140 a part
    (DataCoding.IA5, "plain ascii", DataCoding.IA5),
    (DataCoding.IA5, "déjà", DataCoding.UCS2),
    (DataCoding.IA5, "€", DataCoding.UCS2),
    (DataCoding.SMSC_DEFAULT, "déjà", DataCoding.SMSC_DEFAULT),
])
def test_gsm_data_coding_option(coding: int, text: str, expected_dc: int) -> None:
    got, dc, _ = reassemble(text, gsm_data_coding=coding)
    assert (got, dc) == (text, expected_dc)


def test_latin1_long_text_splits_by_octets() -> None:
    encoded = encode_text("é" * 300, ref=7, gsm_data_coding=DataCoding.LATIN1)
    assert [len(p.short_message) for p in encoded.parts] == [140, 140, 38]
    assert decode_short_message(encoded.parts[0].short_message[6:], 3) == "é" * 134


def test_receipt_round_trip_and_tolerance() -> None:
    text = format_receipt_text("0a1b", "UNDELIV", submitted=datetime(2024, 1, 2, 3, 4),
                               done=datetime(2024, 1, 2, 3, 5), err=1, text="Hello world, this is long")
    assert text == ("id:0a1b sub:001 dlvrd:000 submit date:2401020304 done date:2401020305 stat:UNDELIV "
                    "err:001 text:Hello world, this is")
    r = parse_receipt_text(text)
    assert r is not None and (r.message_id, r.stat, r.err, r.done_date) == ("0a1b", "UNDELIV", "001", "2401020305")
    odd = parse_receipt_text("ID:77 STAT:delivrd Text:hi there")
    assert odd is not None and (odd.message_id, odd.stat, odd.text) == ("77", "DELIVRD", "hi there")
    assert parse_receipt_text("hello, not a receipt") is None


def test_receipts_close_to_the_canonical_form_read_as_the_tolerant_reading_has_them() -> None:
    head = "id:0a1b sub:001 dlvrd:001 submit date:2401020304 done date:2401020305 "
    # An empty stat: the tolerant reading takes what follows as its value, as it always has.
    empty = parse_receipt_text(head + "stat: err:000 text:hi")
    assert empty is not None and (empty.stat, empty.err) == ("ERR:000", "")
    # Spaces after "text:" are not part of the text; a field named inside the text ends it.
    spaced = parse_receipt_text(head + "stat:DELIVRD err:000 text:  hi")
    assert spaced is not None and spaced.text == "hi"
    inner = parse_receipt_text(head + "stat:DELIVRD err:000 text:see id:99 ok")
    assert inner is not None and (inner.message_id, inner.text) == ("0a1b", "see")
    # The usual form: every field, the stat upper-cased.
    plain = parse_receipt_text(head + "stat:delivrd err:000 text:Hello, world")
    assert plain is not None and (plain.stat, plain.err, plain.text) == ("DELIVRD", "000", "Hello, world")
