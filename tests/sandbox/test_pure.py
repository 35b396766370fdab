"""The sandbox's pure parts: numbers, outcomes, a message's receipt, JSON round trips, the CLI's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from octogate.cli.sandbox import format_conversation, format_listing, format_outcomes
from octogate.config import ConfigError, load_settings
from octogate.dispatch.runtime import simulator_config
from octogate.sandbox.client import control_url
from octogate.sandbox.model import (
    MAX_TEXT,
    Book,
    Conversation,
    ConversationSummary,
    Direction,
    Listing,
    Outcome,
    Outcomes,
    Part,
    PhoneMessage,
    Receipt,
    ReceiptState,
    SandboxError,
    check_number,
    check_text,
    encoding_name,
    parse_outcome,
)
from octogate.sandbox.view import message_receipt
from octogate.smpp.simulator import phone_key

DELIVERED = Receipt(ReceiptState.ACKNOWLEDGED, "DELIVRD", 100.0)


def test_one_phone_whatever_the_spelling() -> None:
    assert phone_key("+33612345678") == phone_key("0033612345678") == phone_key("33612345678") == "33612345678"
    assert phone_key("+33 6 12 34 56 78") == "33612345678"
    assert phone_key("MyShop") == "MyShop"
    assert check_number("+33612345678") == "33612345678"
    # digits that are not ASCII (superscripts, other scripts) would reach the gateway as the sender of a text
    for bad in ("MyShop", "+33", "+3361234567890123", "", "06-12", "+²²²²", "+٣٣٦١٢٣٤٥٦٧٨"):
        with pytest.raises(SandboxError) as refused:
            check_number(bad)
        assert refused.value.status == 400


def test_outcomes_as_users_write_them() -> None:
    assert parse_outcome(" Undelivered ") is Outcome.UNDELIVERED
    assert parse_outcome("none") is Outcome.NONE
    assert parse_outcome("auto") is None and parse_outcome("default") is None
    with pytest.raises(SandboxError, match="delivered, undelivered, rejected, none"):
        parse_outcome("lost")


def test_texts_are_bounded() -> None:
    assert check_text("Yes") == "Yes"
    for bad in ("", "   ", None, 42, "x" * (MAX_TEXT + 1)):
        with pytest.raises(SandboxError):
            check_text(bad)


def test_encodings_by_name() -> None:
    assert [encoding_name(c) for c in (0, 1, 3, 8, 4)] == ["gsm7", "ascii", "latin1", "ucs2", "data_coding 4"]


def test_a_message_receipt_is_its_worst_part() -> None:
    failed = Receipt(ReceiptState.ACKNOWLEDGED, "UNDELIV", 120.0)
    pending = Receipt(ReceiptState.PENDING, "DELIVRD", None)
    none = Receipt(ReceiptState.NONE, None, None)
    assert message_receipt([DELIVERED, DELIVERED]) == DELIVERED
    assert message_receipt([DELIVERED, failed]) == Receipt(ReceiptState.ACKNOWLEDGED, "UNDELIV", 120.0)
    assert message_receipt([DELIVERED, pending]) == Receipt(ReceiptState.PENDING, "DELIVRD", None)
    assert message_receipt([none, none]) == none


def _conversation() -> Conversation:
    parts = (Part(1, "00aa", "Bonjour ✓ ", 140, 99.5, DELIVERED), Part(2, "00ab", "suite", 18, 99.6, DELIVERED))
    mt = PhoneMessage(1, Direction.MT, 99.6, "MyShop", "+33612345678", "Bonjour ✓ suite", "ucs2", 2, parts,
                      DELIVERED)
    mo = PhoneMessage(2, Direction.MO, 101.25, "+33612345678", "MyShop", "Oui 👍", "ucs2", 1, state="acknowledged")
    return Conversation(7, "+33612345678", Outcome.REJECTED, (mt, mo))


def test_records_survive_json() -> None:
    conversation = _conversation()
    assert Conversation.from_json(conversation.to_json()) == conversation
    listing = Listing(7, (ConversationSummary("+33612345678", 2, 101.25, "Oui 👍", Direction.MO, None),),
                      Outcomes(Outcome.UNDELIVERED, {"+33612345678": Outcome.NONE}))
    assert Listing.from_json(listing.to_json()) == listing
    assert listing.to_json()["outcomes"] == {"default": "undelivered", "numbers": {"+33612345678": "none"}}


def test_the_cli_shows_what_the_phone_shows() -> None:
    shown = format_conversation(_conversation())
    assert shown.splitlines()[0] == "+33612345678: next receipts rejected"
    assert "MyShop -> +33612345678  ucs2, 2 SMS  receipt DELIVRD (acknowledged, 1970-01-01 00:01:40Z)" in shown
    assert "    Bonjour ✓ suite" in shown and "sent by the phone: acknowledged" in shown
    assert format_listing(Listing(0, (), Outcomes(None, {}))) == "no phone has received or sent anything yet"
    assert format_outcomes(Outcomes(None, {"+33612345678": Outcome.NONE})) == (
        "every number: auto (the configured mix)\n+33612345678: none"
    )


def test_the_control_address_comes_from_the_configuration(tmp_path: Path) -> None:
    assert control_url(load_settings(environ={})) == "http://127.0.0.1:2776"
    settings = load_settings(environ={"OCTOGATE_SIMULATOR_CONTROL": "[::1]:3999"})
    assert control_url(settings) == "http://[::1]:3999"
    assert simulator_config(settings.simulator, "pw").control == ("::1", 3999)
    assert control_url(settings, "127.0.0.1:4000") == "http://127.0.0.1:4000"
    config = tmp_path / "octogate.toml"
    config.write_text('[simulator]\ncontrol = "off"\n')
    off = load_settings(str(config), environ={})
    assert simulator_config(off.simulator, "pw").control is None
    with pytest.raises(SandboxError, match="control interface is off"):
        control_url(off)
    with pytest.raises(ConfigError):
        load_settings(environ={"OCTOGATE_SIMULATOR_CONTROL": "nowhere"})


def test_a_customer_book_keeps_its_messages_and_the_texts_to_its_senders() -> None:
    def mt(ident: int, sender: str, part_id: str) -> PhoneMessage:
        part = Part(1, part_id, "hi", 2, 1.0, DELIVERED)
        return PhoneMessage(ident, Direction.MT, float(ident), sender, "+33612345678", f"from {sender}", "gsm7", 1,
                            (part,), DELIVERED)  # fmt: skip

    def mo(ident: int, to: str) -> PhoneMessage:
        return PhoneMessage(ident, Direction.MO, float(ident), "+33612345678", to, f"to {to}", "gsm7", 1,
                            state="acknowledged")  # fmt: skip

    phone = Conversation(9, "+33612345678", None, (mt(1, "A", "a1"), mt(2, "B", "b1"), mo(3, "B"), mo(4, "A")))
    other = Conversation(9, "+33600000001", None, (mt(5, "B", "b2"),))
    book = Book(9, (phone, other), Outcomes(None, {"+33600000001": Outcome.NONE}))
    assert book.message_ids() == ["a1", "b1", "b2"]
    mine = book.visible({"a1"})
    assert [c.number for c in mine.conversations] == ["+33612345678"]
    assert [m.text for m in mine.conversations[0].messages] == ["from A", "to A"]
    assert mine.outcomes.numbers == {}  # not even the numbers others chose outcomes for
    [summary] = mine.summaries()
    assert (summary.number, summary.messages, summary.last_text) == ("+33612345678", 2, "to A")
    assert book.visible(set()).conversations == ()
    assert Book.from_json(book.to_json()) == book
