"""Request building: the form is the document's fields as strings, and request_sha1 covers exactly them."""

from __future__ import annotations

import hashlib
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

import pytest

from octogate.client import Sms, SmsOptions, SmsType
from octogate.client.core import Endpoint
from octogate.client.fields import OPTION_NAMES
from octogate.octopush.signature import check_signature

EVERY_FIELD = Sms(
    ["+33601020304", "0033611111111"],
    "Bonjour {prenom} {nom} {ch1}{ch2}{ch3} € ✓ STOP au XXXXX",
    sms_type=SmsType.WORLD,
    sender="My Shop",
    sending_date=datetime(2026, 12, 24, 9, 30, tzinfo=timezone(timedelta(hours=1))),
    first_names=["Ann", "Zoé"],
    last_names=["Lee", "Ray"],
    fields_1=["1", "2"],
    fields_2=["a b", "c&d"],
    fields_3=["p=q", "r+s"],
    simulation=True,
    request_id="id-42",
    with_replies=True,
    transactional=True,
    msisdn_sender=True,
    request_keys="TRMYSDabcdeWNQ",
)


def sent_form(sms: Sms) -> dict[str, str]:
    """The form as the server decodes it from the bytes the client puts on the wire."""
    call = Endpoint("shop@example.com", "secret-key").sms(sms)
    return dict(parse_qsl(call.body().decode("utf-8"), keep_blank_values=True))


def test_every_field_is_written_with_the_documents_name_and_value() -> None:
    form = sent_form(EVERY_FIELD)
    assert len(form.pop("request_sha1")) == 40
    assert form == {
        "user_login": "shop@example.com",
        "api_key": "secret-key",
        "sms_recipients": "+33601020304,0033611111111",
        "sms_text": "Bonjour {prenom} {nom} {ch1}{ch2}{ch3} € ✓ STOP au XXXXX",
        "sms_type": "WWW",
        "sms_sender": "My Shop",
        "sms_mode": "2",
        "sending_date": str(int(datetime(2026, 12, 24, 8, 30, tzinfo=UTC).timestamp())),
        "recipients_first_names": "Ann,Zoé",
        "recipients_last_names": "Lee,Ray",
        "sms_fields_1": "1,2",
        "sms_fields_2": "a b,c&d",
        "sms_fields_3": "p=q,r+s",
        "request_mode": "simu",
        "request_id": "id-42",
        "with_replies": "1",
        "transactional": "1",
        "msisdn_sender": "1",
        "request_keys": "TRMYSDabcdeWNQ",
    }


def test_the_sha1_is_the_values_as_sent_concatenated_in_key_order() -> None:
    form = sent_form(EVERY_FIELD)
    names = [
        "sms_text", "sms_recipients", "sms_mode", "sms_type", "sms_sender", "sending_date",
        "recipients_first_names", "recipients_last_names", "sms_fields_1", "sms_fields_2", "sms_fields_3",
        "with_replies", "transactional", "request_id",
    ]  # fmt: skip
    joined = "".join(form[name] for name in names)
    assert form["request_sha1"] == hashlib.sha1(joined.encode("utf-8")).hexdigest()
    check_signature(form)  # and the server's own check accepts it


def test_the_key_order_is_the_callers() -> None:
    form = sent_form(Sms(["+33601020304"], "Hi", sender="Shop", request_keys="SRT"))
    assert form["request_sha1"] == hashlib.sha1(b"Shop+33601020304Hi").hexdigest()


def test_a_minimal_campaign_sends_no_optional_field() -> None:
    assert sent_form(Sms(["+447911123456"], "Hi")) == {
        "user_login": "shop@example.com",
        "api_key": "secret-key",
        "sms_recipients": "+447911123456",
        "sms_text": "Hi",
        "sms_type": "FR",
        "sms_mode": "1",
    }


def test_what_cannot_be_written_on_the_wire_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="comma"):
        Sms(["+33601020304"], "Hi {ch1}", fields_1=["a,b"])
    with pytest.raises(ValueError, match="comma"):
        Sms(["+33601020304,+33601020305"], "Hi")
    with pytest.raises(ValueError, match="timezone-aware"):
        Sms(["+33601020304"], "Hi", sending_date=datetime(2026, 12, 24, 9, 30))
    with pytest.raises(TypeError, match="list of numbers"):
        Sms("+33601020304", "Hi")
    with pytest.raises(TypeError, match="one value per recipient"):
        Sms(["+33601020304"], "Hi", first_names="Ann")


def test_send_options_name_every_sms_field_after_recipients_and_text() -> None:
    assert tuple(SmsOptions.__annotations__) == OPTION_NAMES
    assert [field.name for field in fields(Sms)][:2] == ["recipients", "text"]


def test_the_key_stays_out_of_reprs() -> None:
    assert "secret-key" not in repr(Endpoint("a@b.c", "secret-key"))
