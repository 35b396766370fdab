"""The protocol rules as pure functions: no server, no database."""

from __future__ import annotations

import hashlib
import random
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import pytest

from octogate.http.app import route
from octogate.octopush.answers import Failure, SmsAnswer, Success, sms_xml
from octogate.octopush.errors import ApiError, Code
from octogate.octopush.mailmerge import parse_mail_merge
from octogate.octopush.params import decode_pairs, params_from_pairs
from octogate.octopush.request import parse_sms_request
from octogate.octopush.signature import check_signature, request_sha1
from octogate.sms.money import format_money, to_micro
from octogate.store.tickets import campaign_id_for, ticket_for


def test_request_sha1_concatenates_raw_values_in_key_order() -> None:
    params = {"sms_text": "héllo", "sms_recipients": "+33601020304", "request_id": "abc"}
    assert request_sha1(params, "QRT") == hashlib.sha1("abc+33601020304héllo".encode()).hexdigest()
    assert request_sha1(params, "TS") == hashlib.sha1("héllo".encode()).hexdigest()  # absent S adds nothing


def test_signature_errors() -> None:
    with pytest.raises(ApiError) as missing:
        check_signature({"request_keys": "T", "sms_text": "x"})
    assert missing.value.code is Code.MISSING_SHA1
    good = hashlib.sha1(b"x").hexdigest()
    check_signature({"request_keys": "T", "sms_text": "x", "request_sha1": good.upper()})
    with pytest.raises(ApiError) as wrong:
        check_signature({"request_keys": "T", "sms_text": "y", "request_sha1": good})
    assert wrong.value.code is Code.SHA1_MISMATCH


def test_mail_merge_maps_first_names_to_prenom() -> None:
    merge = parse_mail_merge({"recipients_first_names": "Ann,Bob", "recipients_last_names": "Lee,Kim"}, 2)
    assert merge.apply("{prenom} {nom}", 1) == "Bob Kim"
    with pytest.raises(ApiError):
        parse_mail_merge({"sms_fields_1": "a,b,c"}, 2)


def test_parameters_decode_utf8_and_fall_back_to_latin1() -> None:
    assert decode_pairs(b"sms_text=%C3%A9t%C3%A9") == [("sms_text", "été")]
    assert decode_pairs(b"sms_text=%E9t%E9") == [("sms_text", "été")]
    assert decode_pairs("sms_text=été".encode()) == [("sms_text", "été")]
    assert params_from_pairs([("a", "1"), ("a", ""), ("b", "")]) == {"a": "1"}


def _parse_qsl_reference(raw: bytes) -> list[tuple[str, str]]:
    """What decode_pairs answered when it was written over `parse_qsl`: it must answer the same pairs."""
    pairs = []
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
        fields = []
        for text in (name, value):
            data = text.encode("latin-1")
            for encoding in ("utf-8", "cp1252", "latin-1"):
                try:
                    fields.append(data.decode(encoding))
                    break
                except UnicodeDecodeError:
                    continue
        pairs.append((fields[0], fields[1]))
    return pairs


def test_parameters_decode_as_parse_qsl_did() -> None:
    odd = [
        b"", b"&", b"&&a=1&&", b"a", b"a=", b"=b", b"=", b"a=b=c", b"a+b=c+d%2B%2b", b"%", b"%4", b"%zz=%4g",
        b"a=%E9%", b"a=%C3%A9%C3", b"a=\xe9%41\xff%", b"a=%81%8D%8F%90%9D", b"a=%00b", b"x=1;y=2", b"%26=%3D",
        b"a=%26b&c=%3d%3D", b"a=%2%26&%3=", b"a=b%26%E9",
        "sms_text=été&sms_recipients=%2B33601020304".encode(),
    ]
    rng = random.Random(7)
    alphabet = b"ab=&+%2BCcE9e0x36Dd\x00\x80\xc3\xa9\xff;"
    odd += [bytes(rng.choice(alphabet) for _ in range(rng.randrange(30))) for _ in range(5000)]
    for raw in odd:
        assert decode_pairs(raw) == _parse_qsl_reference(raw), raw


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/sms", ("sms", False)),
        ("/api/sms/", ("sms", False)),
        ("/api/sms/json", ("sms", True)),
        ("/api/balance/json/", ("balance", True)),
        ("http://www.octopush-dm.com/api/sms", ("sms", False)),
        ("/api/other", None),
        ("/api/sms/xml", None),
    ],
)
def test_routes(path: str, expected: tuple[str, bool] | None) -> None:
    assert route(path) == expected


def test_sms_type_and_flags_are_read_as_callers_send_them() -> None:
    request = parse_sms_request(
        {
            "sms_text": "x",
            "sms_recipients": "+33601020304, 0033601020305",
            "sms_type": "xxx",
            "with_replies": "1",
            "transactional": "true",
            "request_mode": "SIMU",
        }
    )
    assert request.sms_type.value == "XXX"
    assert request.recipients == ("+33601020304", "0033601020305")
    assert request.with_replies and request.transactional and request.simulation


def test_money_formats_as_the_document_shows_it() -> None:
    assert format_money(to_micro("0.105"), 2) == "0.105"
    assert format_money(to_micro("6.93"), 2) == "6.93"
    assert format_money(to_micro("0.105"), 4) == "0.1050"
    assert format_money(to_micro("12"), 2) == "12.00"
    assert format_money(123_456_789, 2) == "123.4567"  # cut, never rounded up
    with pytest.raises(ValueError):
        to_micro("0.0000001")


def test_xml_escapes_what_a_caller_sent() -> None:
    answer = SmsAnswer(
        cost=0,
        balance=0,
        ticket="api1",
        sending_date=0,
        number_of_sendings=0,
        currency="EUR",
        successes=[Success("+33601020304", "FR", 65_000)],
        failures=[Failure("<b>&", Code.MALFORMED_RECIPIENTS)],
    )
    root = ElementTree.fromstring(sms_xml(answer))
    assert root.findtext("failures/failure/recipient") == "<b>&"


def test_tickets_round_trip_and_reject_garbage() -> None:
    assert campaign_id_for(ticket_for(42)) == 42
    assert campaign_id_for("XXXSIMULATIONXXX") is None
    assert campaign_id_for("api12") is None
