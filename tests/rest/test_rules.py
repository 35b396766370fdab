"""The REST API's own rules, pure: no server, no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from octogate.octopush.answers import Failure
from octogate.octopush.campaign import CampaignBuilder, Rules
from octogate.octopush.errors import ApiError, Code
from octogate.octopush.rest import pushes
from octogate.octopush.rest.answers import RestSent, messages_bought, product_balance_body, sent_body
from octogate.octopush.rest.errors import RestError, error_body, status_for
from octogate.octopush.rest.parameters import CampaignParameters, parameters_body, parse_edit
from octogate.octopush.rest.send import MAX_TEXT, parse_send, parse_send_at, refuse_failures
from octogate.octopush.rest.wallet import country_codes, price_type, product_query
from octogate.paris import PARIS
from octogate.sms.prices import default_price_table
from octogate.sms.types import SmsType
from octogate.store.tickets import campaign_id_for, rest_ticket_for, ticket_for

NOW = int(datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp())  # a Tuesday, 10:00 in Paris


def refused(body: object) -> RestError:
    with pytest.raises(RestError) as caught:
        parse_send(body)
    return caught.value


def priced(body: dict[str, object], rules: Rules | None = None) -> list[tuple[str, str, int, int]]:
    request = parse_send(body).request
    builder = CampaignBuilder(request, default_price_table(), rules or Rules(), transliterate=False)
    builder.add_range(0, len(builder))
    campaign = builder.finish(set(), NOW)
    return [(m.recipient.e164, m.text, m.sms, m.cost) for m in campaign.messages]


def test_the_shapes_of_the_clients_are_read() -> None:
    # Activepieces: no type; Pipedream: no sender; the Java SDK: request_id "" and null options; extra keys.
    sms = parse_send(
        {"recipients": [{"phone_number": "+33601020304"}], "text": "Hi", "request_id": "", "send_at": None,
         "sender": "", "with_replies": None, "campaign_name": "x", "options": {"a": 1}}
    )  # fmt: skip
    request = sms.request
    assert request.sms_type is SmsType.PREMIUM and request.sender is None and not sms.sender_given
    assert request.request_id is None and request.deferred_until is None and not request.with_replies
    assert not request.transactional and request.append_mention  # wholesale by default
    assert parse_send(body_with(purpose="transactional")).request.transactional
    assert parse_send(body_with(purpose="alert")).request.transactional
    assert not parse_send(body_with(purpose="marketing")).request.transactional
    assert parse_send(body_with(type="sms_low_cost")).request.sms_type is SmsType.LOW_COST


def body_with(**fields: object) -> dict[str, object]:
    return {"recipients": [{"phone_number": "+33601020304"}], "text": "Hi", **fields}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-24T09:30:00+01:00", datetime(2026, 12, 24, 8, 30, tzinfo=UTC)),
        ("2026-12-24T08:30:00Z", datetime(2026, 12, 24, 8, 30, tzinfo=UTC)),
        ("2026-12-24T08:30:00.000Z", datetime(2026, 12, 24, 8, 30, tzinfo=UTC)),
        ("2026-12-24 09:30:00", datetime(2026, 12, 24, 9, 30, tzinfo=PARIS)),  # the SDK's: Paris wall time
        ("2026-07-01 09:30", datetime(2026, 7, 1, 9, 30, tzinfo=PARIS)),
        (1798101000, datetime.fromtimestamp(1798101000, UTC)),
        ("1798101000", datetime.fromtimestamp(1798101000, UTC)),
    ],
)
def test_send_at_spellings(raw: object, expected: datetime) -> None:
    assert parse_send_at(raw) == int(expected.timestamp())


@pytest.mark.parametrize("raw", ["tomorrow", "2026-13-01T00:00:00Z", True, [], {"at": 1}, 10**13])
def test_a_send_at_that_is_no_date_is_refused_by_name(raw: object) -> None:
    error = refused(body_with(send_at=raw))
    assert (error.status, error.code) == (422, Code.MISSING_PARAMETERS) and "send_at" in error.message


def test_booleans_are_cast_and_what_cannot_be_cast_is_named() -> None:
    for value in (True, 1, "1", "true", "TRUE", "yes", "on"):
        assert parse_send(body_with(with_replies=value, simulation_mode=value)).request.simulation
    for value in (False, 0, "0", "false", "no", None, ""):
        assert not parse_send(body_with(with_replies=value)).request.with_replies
    error = refused(body_with(with_replies="maybe"))
    assert error.code is Code.MISSING_PARAMETERS and error.message == "with_replies must be a boolean (true or false)."
    assert parse_send(body_with(auto_remove_blacklisted_numbers="1")).auto_remove_blacklisted


def test_numbers_become_strings_but_objects_are_refused() -> None:
    request = parse_send({"recipients": [{"phone_number": 33601020304}], "text": 1234, "request_id": 7}).request
    assert request.recipients == ("33601020304",) and request.text == "1234" and request.request_id == "7"
    assert refused(body_with(text={"a": 1})).message == "text must be a string."
    assert refused(body_with(text=True)).message == "text must be a string."
    assert refused(body_with(recipients=12)).message.startswith("recipients must be an array")


def test_recipients_bounds() -> None:
    assert refused({"text": "Hi"}).code is Code.MISSING_RECIPIENTS
    assert refused(body_with(recipients=None)).code is Code.MISSING_RECIPIENTS
    assert refused(body_with(recipients=[])).code is Code.NO_RECIPIENTS
    many = [{"phone_number": f"+336010{n:05d}"} for n in range(501)]
    error = refused(body_with(recipients=many))
    assert (error.status, error.code) == (422, Code.MISSING_PARAMETERS) and "500" in error.message
    assert len(parse_send(body_with(recipients=many[:500])).request.recipients) == 500
    assert refused(body_with(recipients=[{"first_name": "Ann"}])).message == "recipients[0].phone_number is missing."
    # a bare string, or one object without its array, is what a hurried client writes
    assert parse_send(body_with(recipients="+33601020304")).request.recipients == ("+33601020304",)
    assert parse_send(body_with(recipients={"phone_number": "+33601020304"})).request.recipients == ("+33601020304",)


def test_text_type_purpose_and_sender_are_checked() -> None:
    assert refused({"recipients": [{"phone_number": "+33601020304"}]}).code is Code.MISSING_TEXT
    assert refused(body_with(text="   ")).code is Code.MISSING_TEXT
    assert refused(body_with(type="sms_world")).code is Code.MISSING_TYPE
    assert refused(body_with(purpose="spam")).message.startswith("purpose must be")
    error = refused(body_with(sender="A"))
    assert (error.status, error.code) == (422, Code.BAD_SENDER)
    assert refused(body_with(request_id="x" * 256)).message.startswith("request_id is 255")
    assert refused([1, 2]).status == 400


def test_placeholders_are_filled_per_recipient_and_bounded() -> None:
    body = {
        "recipients": [
            {"phone_number": "+33601020304", "first_name": "Ann", "param1": "A1"},
            {"phone_number": "+33611223344", "last_name": "Lee", "param5": 5},
        ],
        "text": "{first_name} {last_name} {param1} {param5}",
        "purpose": "alert",
    }
    assert [text for _, text, _, _ in priced(body)] == ["Ann  A1 ", " Lee  5"]
    nobody = {"recipients": [{"phone_number": "+33601020304"}], "text": "Hi {first_name}!", "purpose": "alert"}
    assert priced(nobody)[0][1] == "Hi !"  # a placeholder without values is emptied, never sent as written
    body["recipients"][0]["param2"] = "x" * 51  # type: ignore[index]
    assert refused(body).code is Code.BAD_MAIL_MERGE


def test_the_stop_mention_is_appended_to_french_marketing_and_counted() -> None:
    body = {"recipients": [{"phone_number": "+33601020304"}, {"phone_number": "+34612345678"}], "text": "a" * 153}
    french, spanish = priced(body)
    assert french[1] == "a" * 153 + " STOP au XXXXX" and french[2] == 2  # the mention took it to two SMS
    assert spanish[1] == "a" * 153 and spanish[2] == 1
    assert french[3] == 2 * 65_000  # FR premium price, per SMS
    assert spanish[3] == 70_000  # sms_premium abroad is priced WWW
    already = priced({"recipients": [{"phone_number": "+33601020304"}], "text": "Sale! STOP au XXXXX"})
    assert already[0][1] == "Sale! STOP au XXXXX"
    alert = priced({"recipients": [{"phone_number": "+33601020304"}], "text": "Code 1", "purpose": "alert"})
    assert alert[0][1] == "Code 1"
    low_cost = priced({"recipients": [{"phone_number": "+33601020304"}], "text": "Sale", "type": "sms_low_cost"})
    assert low_cost[0][1] == "Sale no PUB=STOP"
    # the operator who switched the mention rule off gets nothing appended
    assert priced({"recipients": [{"phone_number": "+33601020304"}], "text": "Sale"}, Rules(stop_mention=False))[0][
        1
    ] == "Sale"


def test_texts_up_to_1224_characters() -> None:
    alert = {"recipients": [{"phone_number": "+34612345678"}], "purpose": "alert"}
    assert priced({**alert, "text": "a" * MAX_TEXT})[0][2] == 9  # billed as 1.6.1 bills: 137 characters per SMS
    with pytest.raises(ApiError) as caught:
        priced({**alert, "text": "a" * (MAX_TEXT + 1)})
    assert caught.value.code is Code.TEXT_TOO_LONG
    # the appended mention counts: 1224 characters of French marketing are too long with it
    with pytest.raises(ApiError):
        priced({"recipients": [{"phone_number": "+33601020304"}], "text": "a" * MAX_TEXT})


def test_which_failures_refuse_a_request() -> None:
    stopped = [Failure("+33601020304", Code.BLACKLISTED)]
    refuse_failures(stopped, auto_remove_blacklisted=True)
    with pytest.raises(RestError) as caught:
        refuse_failures(stopped, auto_remove_blacklisted=False)
    assert (caught.value.status, caught.value.code) == (422, Code.BLACKLISTED)
    with pytest.raises(RestError) as caught:
        refuse_failures([Failure("+33abc", Code.MALFORMED_RECIPIENTS)], auto_remove_blacklisted=True)
    assert (caught.value.status, caught.value.code) == (422, Code.MALFORMED_RECIPIENTS)
    assert caught.value.message.startswith("+33abc: Badly formatted phone number")


def test_error_statuses_and_body() -> None:
    assert [status_for(c) for c in (Code.BAD_CREDENTIALS, Code.MISSING_LOGIN, Code.MISSING_API_KEY)] == [401] * 3
    assert [status_for(c) for c in (Code.ACCOUNT_NOT_ACTIVATED, Code.BLACKLISTED)] == [403] * 2
    assert [status_for(c) for c in (Code.NOT_ENOUGH_CREDIT, Code.NOT_ENOUGH_CREDIT_ORDER_PENDING)] == [402] * 2
    assert status_for(Code.UNDEFINED_ERROR) == 500
    assert {status_for(c) for c in (Code.BAD_SENDER, Code.DUPLICATE_REQUEST_ID, Code.MALFORMED_RECIPIENTS)} == {422}
    assert json.loads(error_body(RestError(Code.NOT_ENOUGH_CREDIT))) == {
        "code": 104, "message": "Not enough credit.", "error_code": "104"
    }  # fmt: skip


def test_success_body_has_exactly_the_five_fields_with_their_types() -> None:
    document = json.loads(sent_body(RestSent("sms_174876e801", 2, 130_000, 2, 99_870_000)))
    assert document == {"sms_ticket": "sms_174876e801", "number_of_contacts": 2, "total_cost": 0.13,
                        "number_of_sms_needed": 2, "residual_credit": 99.87}  # fmt: skip
    assert [type(document[k]) for k in document] == [str, int, float, int, float]


def test_tickets_of_both_apis_lead_back_to_their_campaign() -> None:
    assert rest_ticket_for(1) == "sms_174876e801"
    assert all(campaign_id_for(t(n)) == n for n in (1, 42, 10**9) for t in (rest_ticket_for, ticket_for))
    assert campaign_id_for("sms_simulation") is None


def test_wallet_queries() -> None:
    assert product_query([]) is None
    asked = product_query([("product_name", "sms_low_cost"), ("country_code", "es"), ("with_details", "true")])
    assert asked is not None
    assert (asked.sms_type, asked.calling_code, asked.with_details) == (SmsType.LOW_COST, 34, True)
    with pytest.raises(RestError, match="go together"):
        product_query([("product_name", "sms_premium")])
    with pytest.raises(RestError) as caught:
        product_query([("product_name", "sms_premium"), ("country_code", "QQ")])
    assert caught.value.code is Code.UNKNOWN_COUNTRY
    assert country_codes([("country_codes[]", "FR"), ("country_codes[]", "es"), ("country_codes[1]", "ES")]) == [
        "FR", "ES"
    ]  # fmt: skip
    assert country_codes([("country_codes", "DE,IT")]) == ["DE", "IT"] and country_codes([]) == ["FR"]
    assert price_type(SmsType.PREMIUM, 33) is SmsType.PREMIUM and price_type(SmsType.PREMIUM, 44) is SmsType.WORLD
    assert messages_bought(1_000_000, None) == 0
    assert messages_bought(1_000_000, Decimal("0.065")) == 15
    assert json.loads(product_balance_body(15, "sms_premium", True))["wallet_packs"][0]["credit"] == 15


def test_campaign_parameters_both_spellings() -> None:
    assert parse_edit({"callbacks": {"callback_url_for_sms_deliveries": "https://a.test/r"}}) == {
        "rest_receipt_url": "https://a.test/r"
    }
    both = parse_edit(
        {"callbacks": {"callback_url_for_deliveries": "https://new.test", "callback_url_for_sms_deliveries": "https://old.test",
                       "callback_url_for_inbounds": "https://a.test/i", "callback_url_for_blacklisted_numbers": None,
                       "email_for_inbounds": "ops@example.com"},
         "campaign_parameters": {"sender_for_sms_premium": "MyShop"}}
    )  # fmt: skip
    assert both == {"rest_receipt_url": "https://new.test", "rest_reply_url": "https://a.test/i",
                    "inbound_email": "ops@example.com", "default_sender": "MyShop"}  # fmt: skip
    assert parse_edit({"sender_for_sms_premium": "Top"}) == {"default_sender": "Top"}  # top level too
    with pytest.raises(RestError) as caught:
        parse_edit({"campaign_parameters": {"sender_for_sms_premium": "x"}})
    assert caught.value.code is Code.BAD_SENDER
    with pytest.raises(RestError):
        parse_edit({"callbacks": "https://a.test"})
    document = json.loads(parameters_body(CampaignParameters(rest_receipt_url="https://a.test")))
    assert document["callbacks"]["callback_url_for_deliveries"] == "https://a.test"
    assert document["callbacks"]["callback_url_for_sms_deliveries"] == "https://a.test"


def test_push_bodies() -> None:
    receipt = pushes.receipt(
        {"message_id": "api1", "number": "+33601020304", "status": "INVALID_DESTINATION_ADDRESS",
         "delivery_date": "2026-11-24 10:00:05"}, "sms_174876e801",
    )  # fmt: skip
    assert receipt == {"channel": "sms", "message_id": "sms_174876e801", "number": "+33601020304",
                       "status": "BAD_DESTINATION", "delivery_date": "2026-11-24 10:00:05",
                       "meta_data": {}}  # fmt: skip
    reply = pushes.reply(
        {"message_id": "api1", "number": "+33601020304", "text": "Yes", "sms_ticket": "9",
         "answer_date": "2026-11-24 10:01:00"}, "sms_174876e801", "33700000001",
    )  # fmt: skip
    assert reply == {"message_id": "sms_174876e801", "number": "+33601020304", "text": "Yes",
                     "sim_card_number": "+33700000001", "reception_date": "2026-11-24 10:01:00"}  # fmt: skip
    assert pushes.sim_card_number("38100") == "38100"
    stop = pushes.stop({"number": "+33601020304", "text": "STOP", "stop_date": "2026-11-24 10:02:00"}, "sms_1")
    assert stop == {"message_id": "sms_1", "number": "+33601020304", "text": "STOP", "stop_date": "2026-11-24 10:02:00"}
