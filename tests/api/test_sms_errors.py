"""Every applicable code of the document's error table, reached through the real ASGI app."""

from __future__ import annotations

import hashlib
import logging

import httpx
import pytest

from octogate.store import queries
from octogate.store.store import Store
from support import Customer, code, make_customer, xml

FR_TEXT = "Hello STOP au XXXXX"
FR = "+33601020304"


def sms(customer: Customer, **fields: object) -> dict[str, str]:
    base: dict[str, object] = {
        "sms_text": FR_TEXT,
        "sms_recipients": FR,
        "sms_type": "FR",
        "sms_sender": "Shop",
    }
    base.update(fields)
    return customer.params(**base)


async def test_no_parameter_at_all_is_100(api: httpx.AsyncClient) -> None:
    assert code(await api.get("/api/sms")) == "100"
    assert code(await api.post("/api/sms")) == "100"


async def test_missing_login_is_108_and_missing_key_is_109(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    assert code(await api.post("/api/sms", data=sms(customer, user_login=None))) == "108"
    assert code(await api.post("/api/sms", data=sms(customer, api_key=None))) == "109"
    # Clients always send empty fields: an empty value is an absent field.
    assert code(await api.post("/api/sms", data=sms(customer, api_key=""))) == "109"


async def test_wrong_key_or_unknown_login_is_101(api: httpx.AsyncClient, customer: Customer) -> None:
    assert code(await api.post("/api/sms", data=sms(customer, api_key="not-the-key"))) == "101"
    assert code(await api.post("/api/sms", data=sms(customer, user_login="nobody@example.com"))) == "101"


async def test_account_states_113_114_and_pending_order_105(
    api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    store.run(queries.set_account_flags, customer.login, {"activated": False})
    assert code(await api.post("/api/sms", data=sms(customer))) == "113"
    store.run(queries.set_account_flags, customer.login, {"activated": True, "blacklisted": True})
    assert code(await api.post("/api/sms", data=sms(customer))) == "114"
    store.run(queries.set_account_flags, customer.login, {"blacklisted": False})
    assert code(await api.post("/api/sms", data=sms(customer))) == "000"


async def test_not_enough_credit_is_104_or_105_with_an_order_pending(
    api: httpx.AsyncClient, store: Store
) -> None:
    poor = make_customer(store, credit="0.05")
    assert code(await api.post("/api/sms", data=sms(poor))) == "104"
    store.run(queries.set_account_flags, poor.login, {"pending_order": True})
    assert code(await api.post("/api/sms", data=sms(poor))) == "105"
    assert store.run(queries.account, poor.login).balance == 50_000  # nothing was debited


async def test_paused_service_is_116(api: httpx.AsyncClient, store: Store, customer: Customer) -> None:
    store.run(queries.set_paused, True)
    assert code(await api.post("/api/sms", data=sms(customer))) == "116"
    assert code(await api.post("/api/balance", data=customer.params())) == "116"
    store.run(queries.set_paused, False)
    assert code(await api.post("/api/sms", data=sms(customer))) == "000"


async def test_missing_fields_107_110_112(api: httpx.AsyncClient, customer: Customer) -> None:
    assert code(await api.post("/api/sms", data=sms(customer, sms_text=None))) == "107"
    assert code(await api.post("/api/sms", data=sms(customer, sms_recipients=None))) == "110"
    assert code(await api.post("/api/sms", data=sms(customer, sms_type=None))) == "112"
    assert code(await api.post("/api/sms", data=sms(customer, sms_type="PREMIUM"))) == "112"


async def test_empty_recipient_list_is_103(api: httpx.AsyncClient, customer: Customer) -> None:
    assert code(await api.post("/api/sms", data=sms(customer, sms_recipients=" , ,"))) == "103"


@pytest.mark.parametrize("sender", [None, "ab", "TwelveChars1", "Shop!", "Café", "   "])
async def test_bad_or_missing_sender_is_106(
    api: httpx.AsyncClient, customer: Customer, sender: str | None
) -> None:
    assert code(await api.post("/api/sms", data=sms(customer, sms_sender=sender))) == "106"


async def test_sender_rules_accept_what_the_rulings_allow(api: httpx.AsyncClient, customer: Customer) -> None:
    for sender in ("Abc", "My Shop", "shop-24.fr", "ElevenChars"):
        assert code(await api.post("/api/sms", data=sms(customer, sms_sender=sender))) == "000", sender
    low_cost = sms(customer, sms_type="XXX", sms_sender=None, sms_text="Promo no PUB=STOP")
    assert code(await api.post("/api/sms", data=low_cost)) == "000"
    msisdn = sms(customer, sms_sender="+33612345678", msisdn_sender="1")
    assert code(await api.post("/api/sms", data=msisdn)) == "000"
    too_long = sms(customer, sms_sender="+3361234567890123", msisdn_sender="1")
    assert code(await api.post("/api/sms", data=too_long)) == "106"


async def test_text_too_long_is_102_and_low_cost_over_160_is_119(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    long_text = "a" * 440 + " STOP au XXXXX"  # 454 characters: allowed
    assert code(await api.post("/api/sms", data=sms(customer, sms_text=long_text))) == "000"
    assert (
        code(await api.post("/api/sms", data=sms(customer, sms_text="a" * 446 + " STOP au XXXXX"))) == "102"
    )
    # Octopush counts € as two characters: 230 € is 460 counted characters.
    assert code(await api.post("/api/sms", data=sms(customer, sms_text="€" * 230 + "STOP au XXXXX"))) == "102"
    low_cost = "x" * 150 + " no PUB=STOP"
    assert code(await api.post("/api/sms", data=sms(customer, sms_type="XXX", sms_text=low_cost))) == "119"


async def test_mail_merge_mismatch_or_long_value_is_115(api: httpx.AsyncClient, customer: Customer) -> None:
    two = "+33601020304,+33601020305"
    assert code(await api.post("/api/sms", data=sms(customer, sms_recipients=two, sms_fields_1="a"))) == "115"
    long_value = "x" * 31
    fields = sms(customer, sms_recipients=two, recipients_first_names=f"Ann,{long_value}")
    assert code(await api.post("/api/sms", data=fields)) == "115"


async def test_malformed_recipients_117_and_unknown_country_150(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    assert code(await api.post("/api/sms", data=sms(customer, sms_recipients="hello"))) == "117"
    assert code(await api.post("/api/sms", data=sms(customer, sms_recipients="+999123456789"))) == "150"


async def test_country_not_covered_151_and_low_cost_not_offered_152(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    north_korea = "+8501921234567"  # a real country, left out of the shipped price table on purpose
    assert code(await api.post("/api/sms", data=sms(customer, sms_recipients=north_korea))) == "151"
    low_cost_usa = sms(customer, sms_type="XXX", sms_recipients="+12025550143", sms_text="Hi no PUB=STOP")
    assert code(await api.post("/api/sms", data=low_cost_usa)) == "152"


async def test_stop_mention_121_and_no_pub_mention_122(api: httpx.AsyncClient, customer: Customer) -> None:
    assert code(await api.post("/api/sms", data=sms(customer, sms_text="Promo -20%"))) == "121"
    assert code(await api.post("/api/sms", data=sms(customer, sms_text="Promo stop au xxxxx"))) == "121"
    transactional = sms(customer, sms_text="Your code is 1234", transactional="1")
    assert code(await api.post("/api/sms", data=transactional)) == "000"
    abroad = sms(customer, sms_text="Promo -20%", sms_recipients="+4915123456789")
    assert code(await api.post("/api/sms", data=abroad)) == "000"
    low_cost = sms(customer, sms_type="XXX", sms_text="Promo -20%")
    assert code(await api.post("/api/sms", data=low_cost)) == "122"
    for mention in ("no PUB=STOP", "no PUB rep STOP"):
        accepted = sms(customer, sms_type="XXX", sms_text=f"Promo {mention}")
        assert code(await api.post("/api/sms", data=accepted)) == "000", mention


async def test_request_sha1_missing_123_and_mismatch_124(api: httpx.AsyncClient, customer: Customer) -> None:
    fields = sms(customer, request_keys="TRYS")
    assert code(await api.post("/api/sms", data=fields)) == "123"
    fields["request_sha1"] = "0" * 40
    assert code(await api.post("/api/sms", data=fields)) == "124"
    joined = fields["sms_text"] + fields["sms_recipients"] + fields["sms_type"] + fields["sms_sender"]
    fields["request_sha1"] = hashlib.sha1(joined.encode()).hexdigest()
    assert code(await api.post("/api/sms", data=fields)) == "000"
    fields["request_keys"] = "TRYSZ"  # Z is no key of the table
    assert code(await api.post("/api/sms", data=fields)) == "124"


async def test_request_sha1_with_d_accepts_clients_that_hash_nothing_for_it(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    fields = sms(customer, sms_mode="2", sending_date="1900000000", request_keys="TD")
    fields["request_sha1"] = hashlib.sha1(fields["sms_text"].encode()).hexdigest()  # D mapped to nothing
    assert code(await api.post("/api/sms", data=fields)) == "000"
    fields["request_sha1"] = hashlib.sha1((fields["sms_text"] + "1900000000").encode()).hexdigest()
    fields["request_id"] = "second"
    assert code(await api.post("/api/sms", data=fields)) == "000"


async def test_reused_request_id_is_120_and_sends_nothing(
    api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    first = xml(await api.post("/api/sms", data=sms(customer, request_id="order-42")))
    assert first.findtext("error_code") == "000"
    balance = store.run(queries.account, customer.login).balance
    assert code(await api.post("/api/sms", data=sms(customer, request_id="order-42"))) == "120"
    assert store.run(queries.account, customer.login).balance == balance
    account_id = store.run(queries.account, customer.login).id
    assert store.run(queries.count_campaigns, account_id) == 1


async def test_deferred_mode_without_a_date_is_100(api: httpx.AsyncClient, customer: Customer) -> None:
    assert code(await api.post("/api/sms", data=sms(customer, sms_mode="2"))) == "100"
    assert (
        code(await api.post("/api/sms", data=sms(customer, sms_mode="2", sending_date="tomorrow"))) == "100"
    )
    assert code(await api.post("/api/sms", data=sms(customer, sms_mode="3"))) == "100"


async def test_an_unexpected_fault_is_125_logged_with_no_stack_trace_in_the_answer(
    api: httpx.AsyncClient,
    customer: Customer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(params: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("octogate.service.parse_sms_request", explode)
    with caplog.at_level(logging.ERROR):
        response = await api.post("/api/sms", data=sms(customer))
    assert code(response) == "125"
    assert b"Traceback" not in response.content and b"boom" not in response.content
    assert any("reference" in record.getMessage() for record in caplog.records)


async def test_balance_and_credit_share_the_credential_errors(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    for path in ("/api/balance", "/api/credit"):
        assert code(await api.post(path)) == "100"
        assert code(await api.post(path, data=customer.params(user_login=None))) == "108"
        assert code(await api.post(path, data=customer.params(api_key=None))) == "109"
        assert code(await api.post(path, data=customer.params(api_key="wrong"))) == "101"


async def test_a_nul_character_is_dropped_not_a_store_failure(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    response = await api.post("/api/sms", data=sms(customer, sms_text="Hel\x00lo STOP au XXXXX"))
    assert code(response) == "000"
    assert code(await api.post("/api/sms", data=sms(customer, sms_text="\x00"))) == "107"


async def test_dates_no_calendar_can_hold_are_100_not_a_fault(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    huge_year = {"sms_y": "99999999999999999999", "sms_m": "1", "sms_d": "1", "sms_h": "1", "sms_i": "1"}
    dates = [{"sending_date": "inf"}, {"sending_date": "1e400"}, {"sending_time": "0001-01-01 00:00"}]
    for date in [*dates, {"sending_time": "9999-12-31 23:59"}, huge_year]:
        assert code(await api.post("/api/sms", data=sms(customer, sms_mode="2", **date))) == "100", date


async def test_a_non_hex_signature_is_124(api: httpx.AsyncClient, customer: Customer) -> None:
    assert (
        code(await api.post("/api/sms", data=sms(customer, request_keys="T", request_sha1="é" * 40))) == "124"
    )


async def test_a_recipient_with_control_characters_leaves_the_answer_well_formed(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    root = xml(
        await api.post("/api/sms", data=sms(customer, sms_recipients="+33601020399,\x0bx" + "y" * 200))
    )
    assert root.findtext("error_code") == "000"
    assert root.findtext("failures/failure/error_code") == "117"
    assert len(root.findtext("failures/failure/recipient") or "") <= 64


async def test_windows_1252_bodies_of_old_php_clients(api: httpx.AsyncClient, customer: Customer) -> None:
    body = sms(customer, sms_text="x")
    del body["sms_text"]
    raw = (
        "&".join(f"{k}={v}" for k, v in body.items()).replace("@", "%40") + "&sms_text=%80+%92+STOP+au+XXXXX"
    )
    response = await api.post(
        "/api/sms", content=raw.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert code(response) == "000"
