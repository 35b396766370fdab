"""The pure pieces: status mapping, id candidates, STOP words, payload fields and dates, MO reassembly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from octogate.incoming import ids, keywords, payloads, statuses
from octogate.incoming.receipts import read_receipt
from octogate.smpp.constants import EsmClass, MessageState

from .conftest import receipt_event

NOW = int(datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("stat", "push"),
    [("DELIVRD", "DELIVERED"), ("UNDELIV", "NOT_DELIVERED"), ("EXPIRED", "NOT_DELIVERED"),
     ("DELETED", "NOT_DELIVERED"), ("REJECTD", "NOT_ALLOWED"), ("UNKNOWN", "UNKNOWN_DELIVERY"),
     ("FAILED", "UNDEFINED"), ("X", "UNDEFINED")],
)  # fmt: skip
def test_the_rulings_mapping(stat: str, push: str) -> None:
    assert statuses.push_status(stat) == push


def test_intermediate_states_are_not_final() -> None:
    assert not statuses.is_final("ENROUTE") and not statuses.is_final("ACCEPTD") and not statuses.is_final("")
    assert statuses.is_final("DELIVRD") and statuses.is_final("WHATEVER")


def test_a_long_message_is_delivered_only_when_every_part_was() -> None:
    assert statuses.message_status(["DELIVRD", "DELIVRD", "DELIVRD"]) == "DELIVERED"
    assert statuses.message_status(["DELIVRD", "EXPIRED", "REJECTD"]) == "NOT_DELIVERED"
    assert statuses.message_status(["REJECTD", "DELIVRD"]) == "NOT_ALLOWED"
    assert statuses.message_row_status("DELIVERED") == "delivered"
    assert statuses.message_row_status("NOT_ALLOWED") == "undelivered"


def test_the_message_state_tlv_wins_over_the_text() -> None:
    assert statuses.receipt_stat("delivrd", None) == "DELIVRD"
    assert statuses.receipt_stat("DELIVRD", MessageState.UNDELIVERABLE) == "UNDELIV"
    assert statuses.receipt_stat("", MessageState.REJECTED) == "REJECTD"
    assert statuses.receipt_stat("odd", 99) == "ODD"


def test_a_part_is_keyed_by_its_canonical_id_and_its_value_in_the_other_base() -> None:
    assert ids.canonical(" 0000002A ") == "2a" and ids.canonical("000") == "0"
    assert ids.part_keys("0000002A") == [ids.PartKey("2a", True), ids.PartKey("42", False)]
    # all digits: decimal as written, its reading as hex (decimal form), and its hex form
    assert ids.part_keys("42") == [ids.PartKey("42", True), ids.PartKey("66", False), ids.PartKey("2a", False)]
    assert ids.part_keys("carrier-1") == [ids.PartKey("carrier-1", True)]
    assert ids.part_keys("") == [] and ids.part_keys("0") == [ids.PartKey("0", True)]


@pytest.mark.parametrize(
    ("recorded", "receipt"),
    [("0000002a", "42"), ("0000002A", "2a"), ("2a", "00000042"), ("42", "2A"), ("42", "0042"),
     ("000000ff", "255"), ("255", "FF"), ("26", "38"), ("38", "26"), ("7fffffffffffffffff", "2361183241434822606847")],
)  # fmt: skip
def test_a_receipt_finds_its_part_by_one_key_whatever_the_spelling(recorded: str, receipt: str) -> None:
    assert ids.receipt_key(receipt) in {k.key for k in ids.part_keys(recorded)}


@pytest.mark.parametrize(
    ("style", "recorded", "receipt"),
    [
        # both sides alike: case and leading zeros only
        ("same", "0000002A", "2a"), ("same", "42", "0042"), ("same", "Carrier-01", "CARRIER-01"), ("same", "0", "000"),
        # submit_sm_resp hex, receipts decimal
        ("hex-in-response", "0000002A", "42"), ("hex-in-response", "42", "66"), ("hex-in-response", "FF", "0255"),
        ("hex-in-response", "0", "0"), ("hex-in-response", "7fffffffffffffff", "9223372036854775807"),
        ("hex-in-response", "ab-1", "AB-1"),  # not a number in the declared bases: compared as written
        # submit_sm_resp decimal, receipts hex
        ("hex-in-receipt", "42", "0000002A"), ("hex-in-receipt", "0066", "42"), ("hex-in-receipt", "255", "fF"),
        ("hex-in-receipt", "9223372036854775807", "7FFFFFFFFFFFFFFF"), ("hex-in-receipt", "id-9", "ID-9"),
    ],
)  # fmt: skip
def test_a_declared_style_spells_a_receipt_exactly_as_its_part_is_keyed(
    style: ids.MessageIds, recorded: str, receipt: str
) -> None:
    assert ids.receipt_key(receipt, style) == ids.canonical(recorded)
    assert not ids.respelled(style)


@pytest.mark.parametrize(
    ("style", "key"), [("same", "42"), ("hex-in-response", "2a"), ("hex-in-receipt", "66")]
)
def test_an_all_digit_id_has_one_reading_under_a_declared_style(style: ids.MessageIds, key: str) -> None:
    """Under "auto" a receipt "42" may be decimal or hex: three keys (and a part spelled "42" wins, even when
    the receipt meant 0x2a's). Declared, one key."""
    assert [k.key for k in ids.part_keys("42")] == ["42", "66", "2a"] and ids.respelled("auto")
    assert ids.receipt_key("0042", style) == key
    assert ids.receipt_key("", style) == "" and ids.receipt_key("  ", style) == ""


def test_auto_keys_a_receipt_as_written() -> None:
    assert ids.receipt_key(" 0000002A ") == ids.receipt_key("0000002A", "auto") == "2a"
    assert ids.receipt_key("0042") == "42"


def test_the_connector_setting_reaches_the_receipt() -> None:
    update = read_receipt(receipt_event("id:42 stat:DELIVRD"), NOW, message_ids="hex-in-response")
    assert update is not None and update.message_ids == "hex-in-response"
    assert ids.receipt_key(update.carrier_id, update.message_ids) == "2a"
    default = read_receipt(receipt_event("id:42 stat:DELIVRD"), NOW)
    assert default is not None and default.message_ids == "auto"


def test_the_part_read_in_its_own_base_wins_then_the_pending_one_then_the_newest() -> None:
    @dataclass
    class Part:
        message_id: int
        status: str
        same_base: bool

    own, other = Part(1, "DELIVRD", True), Part(2, "submitted", False)
    assert ids.best_match([other, own], "submitted") is own
    pending, final = Part(3, "submitted", False), Part(4, "DELIVRD", False)
    assert ids.best_match([final, pending], "submitted") is pending
    assert ids.best_match([Part(5, "submitted", True), Part(6, "submitted", True)], "submitted").message_id == 6
    assert ids.best_match([], "submitted") is None


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", "  Stop ", "STOP SMS", "stop  sms", "ARRET", "arrêt", "ARRÊT", "Stop.", "STOPSMS"],
)
def test_stop_words(text: str) -> None:
    assert keywords.is_stop(text)


@pytest.mark.parametrize("text", ["Stop the music", "STOP au 36179", "non", "", "STOPPER", "please stop"])
def test_other_texts_are_not_stops(text: str) -> None:
    assert not keywords.is_stop(text)


def test_dates_are_paris_time_and_done_dates_read_with_or_without_seconds() -> None:
    assert payloads.paris_date(NOW) == "2026-11-24 10:00:00"
    summer = int(datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC).timestamp())
    assert payloads.paris_date(summer) == "2026-07-01 14:00:05"
    assert payloads.parse_done_date("2611240859") == NOW - 60
    assert payloads.parse_done_date("261124085930") == NOW - 30
    assert payloads.parse_done_date("26112408") is None and payloads.parse_done_date("") is None
    assert payloads.parse_done_date("2613240859") is None  # month 13
    assert payloads.done_at(None, NOW) == NOW
    assert payloads.done_at(NOW + 10 * 86_400, NOW) == NOW  # a broken SMSC clock
    assert payloads.done_at(NOW - 60, NOW) == NOW - 60


def test_push_fields_are_exactly_the_documents() -> None:
    assert payloads.receipt_fields("api100000000001", "+33601020304", "DELIVERED", NOW) == {
        "message_id": "api100000000001", "number": "+33601020304", "status": "DELIVERED",
        "delivery_date": "2026-11-24 10:00:00",
    }  # fmt: skip
    assert payloads.stop_fields("+33601020304", "Stop", NOW) == {
        "number": "+33601020304", "text": "Stop", "stop_date": "2026-11-24 10:00:00",
    }  # fmt: skip
    assert payloads.reply_fields("api100000000001", "+33601020304", "Oui", "17", NOW) == {
        "message_id": "api100000000001", "number": "+33601020304", "text": "Oui", "sms_ticket": "17",
        "answer_date": "2026-11-24 10:00:00",
    }  # fmt: skip


def test_a_receipt_is_read_from_the_text_or_the_tlvs() -> None:
    text = (
        "id:0A1B sub:001 dlvrd:001 submit date:2611240858 done date:2611240859 stat:DELIVRD err:000 text:Hi"
    )
    update = read_receipt(receipt_event(text), NOW)
    assert update is not None
    assert (update.carrier_id, update.stat, update.error, update.done_at) == (
        "0A1B",
        "DELIVRD",
        "000",
        NOW - 60,
    )
    tlv_only = read_receipt(
        receipt_event("", receipted_message_id="77", message_state=MessageState.EXPIRED), NOW
    )
    assert tlv_only is not None and (tlv_only.carrier_id, tlv_only.stat, tlv_only.done_at) == (
        "77",
        "EXPIRED",
        NOW,
    )
    assert read_receipt(receipt_event("no id here"), NOW) is None
    notice = read_receipt(
        receipt_event("id:1 stat:DELIVRD", esm_class=EsmClass.INTERMEDIATE_NOTIFICATION), NOW
    )
    assert notice is not None and not statuses.is_final(notice.stat)
