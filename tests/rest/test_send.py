"""`POST /v1/public/sms-campaign/send` through the real ASGI app, on SQLite and PostgreSQL: every field, every
ruled error, the request shapes of today's clients, and nothing changed by a refusal."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import httpx
import pytest

from octogate.http.app import OctopushApp
from octogate.octopush.rest.send import REQUEST_ID_TTL
from octogate.paris import PARIS
from octogate.store import queries
from octogate.store.store import Store
from octogate.store.tickets import campaign_id_for
from support import Clock, Customer, make_customer

from .conftest import ES, FR, FR2, SEND, balance, body, campaigns, headers, messages, post

FIVE = {"sms_ticket": str, "number_of_contacts": int, "total_cost": float, "number_of_sms_needed": int,
        "residual_credit": float}  # fmt: skip


def sent(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    document = response.json()
    assert {name: type(value) for name, value in document.items()} == FIVE
    assert document["sms_ticket"].startswith("sms_")
    return document


def refused(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    document = response.json()
    assert set(document) == {"code", "message", "error_code"}
    assert (document["code"], document["error_code"]) == (code, f"{code:03d}")
    assert document["message"] and "Traceback" not in document["message"]
    return document


async def test_a_campaign_is_accepted_with_the_five_fields_and_debited(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str], clock: Clock
) -> None:
    document = sent(await post(api, auth, recipients=[{"phone_number": FR}, {"phone_number": ES}]))
    assert document == {"sms_ticket": document["sms_ticket"], "number_of_contacts": 2, "total_cost": 0.135,
                        "number_of_sms_needed": 2, "residual_credit": 99.865}  # fmt: skip
    assert balance(store, customer) == 99_865_000
    [campaign] = campaigns(store, customer)
    assert campaign_id_for(document["sms_ticket"]) == campaign["id"]
    assert (campaign["source"], campaign["sms_type"], campaign["sender"], campaign["transactional"]) == (
        "rest", "FR", "MyShop", 1
    )  # fmt: skip
    assert [(m["recipient"], m["cost"], m["send_at"]) for m in messages(store, campaign["id"])] == [
        (FR, 65_000, int(clock.now)), (ES, 70_000, int(clock.now))
    ]  # fmt: skip


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param({"type": ...}, id="no type (Activepieces)"),
        pytest.param({"sender": ...}, id="no sender (Pipedream)"),
        pytest.param({"request_id": ""}, id="request_id empty (Java SDK)"),
        pytest.param({"send_at": "2026-11-24T09:00:00Z"}, id="send_at in UTC with Z"),
        pytest.param({"purpose": "transactional"}, id="purpose transactional"),
        pytest.param({"campaign_name": "x", "recipient_tracking": False, "list_name": None, "foo": {"bar": 1}},
                     id="extra keys"),
        pytest.param({"sender": None, "send_at": None, "with_replies": None, "simulation_mode": None,
                      "auto_optimize_text": None}, id="nulls"),
        pytest.param({"with_replies": "true", "simulation_mode": 0, "auto_optimize_text": "1"}, id="cast booleans"),
        pytest.param({"recipients": [{"phone_number": FR, "first_name": None, "param1": ""}]}, id="null params"),
    ],
)
async def test_the_request_shapes_of_todays_clients_are_accepted(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str], shape: dict[str, Any]
) -> None:
    sent(await post(api, auth, **shape))
    assert len(campaigns(store, customer)) == 1


async def test_the_sdk_bodies_as_they_are_written(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str]
) -> None:
    """The PHP SDK 2.x and the Java SDK, the WP SMS plugin and Uptime Kuma, each as its code builds the body."""
    bodies = [
        {"recipients": [{"phone_number": FR, "first_name": "Ann", "last_name": "Lee", "param1": "p"}],
         "text": "Hello {first_name}", "type": "sms_premium", "purpose": "alert", "sender": "MyShop",
         "with_replies": False, "simulation_mode": False, "auto_optimize_text": True},  # PHP SDK
        {"recipients": [{"phone_number": FR}], "text": "Alert", "type": "sms_low_cost", "purpose": "alert",
         "sender": "MyShop", "send_at": None, "request_id": "", "with_replies": False, "simulation_mode": False,
         "auto_optimize_text": True, "auto_remove_blacklisted_numbers": False},  # Java SDK
        {"text": "Order shipped", "recipients": [{"phone_number": FR2}], "type": "sms_premium",
         "purpose": "alert", "sender": "WPShop"},  # WP SMS
        {"recipients": [{"phone_number": FR}], "text": "Monitor down", "type": "sms_premium",
         "purpose": "alert", "sender": "Kuma"},  # Uptime Kuma
    ]  # fmt: skip
    for document in bodies:
        sent(await api.post(SEND, json=document, headers=auth))
    assert [c["sender"] for c in campaigns(store, customer)] == ["MyShop", "MyShop", "WPShop", "Kuma"]


async def test_no_sender_takes_the_accounts_default_sender(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str]
) -> None:
    sent(await post(api, auth, sender=...))
    edit = await api.patch("/v1/public/user/campaign-parameters/edit", headers=auth,
                           json={"campaign_parameters": {"sender_for_sms_premium": "Boutique"}})  # fmt: skip
    assert edit.status_code == 200
    sent(await post(api, auth, sender=...))
    sent(await post(api, auth, sender="Other"))
    assert [c["sender"] for c in campaigns(store, customer)] == [None, "Boutique", "Other"]


async def test_placeholders_marketing_mention_and_hours(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str], clock: Clock
) -> None:
    recipients = [{"phone_number": FR, "first_name": "Ann"}, {"phone_number": ES, "first_name": "Luz"}]
    document = sent(await post(api, auth, recipients=recipients, text="Hi {first_name}, -20% today", purpose=...))
    [campaign] = campaigns(store, customer)
    assert campaign["transactional"] == 0
    assert [m["text"] for m in messages(store, campaign["id"])] == [
        "Hi Ann, -20% today STOP au XXXXX", "Hi Luz, -20% today"
    ]  # fmt: skip
    assert document["total_cost"] == 0.135
    # marketing to France at night waits for the French marketing hours; an alert does not
    clock.now = clock.now + 12 * 3600  # 22:00 in Paris
    sent(await post(api, auth, text="Night sale", purpose="wholesale"))
    sent(await post(api, auth, text="Night alert", purpose="alert"))
    night, alert = campaigns(store, customer)[1:]
    assert night["send_at"] > clock.now and alert["send_at"] == clock.now


async def test_send_at_with_replies_and_low_cost(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str], clock: Clock
) -> None:
    sent(await post(api, auth, send_at="2026-12-24 09:30:00", with_replies=True))
    sent(await post(api, auth, type="sms_low_cost", text="x" * 160))
    refused(await post(api, auth, type="sms_low_cost", text="x" * 161), 422, 119)
    first, second = campaigns(store, customer)
    assert first["send_at"] == int(datetime(2026, 12, 24, 9, 30, tzinfo=PARIS).timestamp())
    assert first["with_replies"] == 1 and second["sms_type"] == "XXX"


async def test_simulation_mode_prices_everything_and_changes_nothing(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str]
) -> None:
    document = sent(await post(api, auth, simulation_mode=True, request_id="sim-1"))
    assert document["sms_ticket"] == "sms_simulation" and document["total_cost"] == 0.065
    assert document["residual_credit"] == 100.0
    assert campaigns(store, customer) == [] and balance(store, customer) == 100_000_000
    sent(await post(api, auth, request_id="sim-1"))  # the simulation did not use the request_id


async def test_request_ids_are_refused_within_24_hours_and_free_after(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str], clock: Clock
) -> None:
    sent(await post(api, auth, request_id="order-42"))
    refused(await post(api, auth, request_id="order-42"), 422, 120)
    refused(await post(api, auth, request_id="order-42", simulation_mode=True), 422, 120)
    clock.now += REQUEST_ID_TTL - 1
    refused(await post(api, auth, request_id="order-42"), 422, 120)
    clock.now += 1
    sent(await post(api, auth, request_id="order-42", simulation_mode=True))
    sent(await post(api, auth, request_id="order-42"))
    refused(await post(api, auth, request_id="order-42"), 422, 120)
    assert [c["request_id"] for c in campaigns(store, customer)] == [None, "order-42"]
    assert balance(store, customer) == 100_000_000 - 2 * 65_000


async def test_stop_listed_numbers_fail_the_request_unless_removed(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str]
) -> None:
    account = store.run(queries.account, customer.login)
    store.run(queries.add_stop, account.id, FR, "STOP", 1)
    two = [{"phone_number": FR}, {"phone_number": FR2}]
    error = refused(await post(api, auth, recipients=two), 422, 114)
    assert FR in error["message"] and "auto_remove_blacklisted_numbers" in error["message"]
    assert campaigns(store, customer) == []
    document = sent(await post(api, auth, recipients=two, auto_remove_blacklisted_numbers=True))
    assert document["number_of_contacts"] == 1
    assert [m["recipient"] for m in messages(store, campaigns(store, customer)[0]["id"])] == [FR2]
    refused(await post(api, auth, recipients=[{"phone_number": FR}], auto_remove_blacklisted_numbers=True), 422, 114)


async def test_one_bad_number_refuses_the_whole_request(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str]
) -> None:
    bad = [{"phone_number": FR}, {"phone_number": "+33 call me"}]
    assert "+33 call me" in refused(await post(api, auth, recipients=bad), 422, 117)["message"]
    refused(await post(api, auth, recipients=[{"phone_number": "0601020304"}]), 422, 150)
    refused(await post(api, auth, recipients=[{"phone_number": "+8501921234567"}]), 422, 151)
    assert campaigns(store, customer) == [] and balance(store, customer) == 100_000_000
    # the same number twice is sent (and billed) once
    assert sent(await post(api, auth, recipients=[{"phone_number": FR}, {"phone_number": "0033601020304"}]))[
        "number_of_contacts"
    ] == 1


async def test_credentials_and_account_states(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str]
) -> None:
    refused(await api.post(SEND, json=body()), 401, 108)
    refused(await api.post(SEND, json=body(), headers={"api-login": customer.login}), 401, 109)
    refused(await api.post(SEND, json=body(), headers={"api-login": customer.login, "api-key": ""}), 401, 109)
    refused(await api.post(SEND, json=body(), headers={**auth, "api-key": "wrong"}), 401, 101)
    refused(await api.post(SEND, json=body(), headers={**auth, "api-login": "nobody@example.com"}), 401, 101)
    upper = {"API-KEY": customer.api_key, "Api-Login": customer.login.upper()}  # case-insensitive names
    sent(await api.post(SEND, json=body(), headers=upper))
    store.run(queries.set_account_flags, customer.login, {"activated": False})
    refused(await post(api, auth), 403, 113)
    store.run(queries.set_account_flags, customer.login, {"activated": True, "blacklisted": True})
    refused(await post(api, auth), 403, 114)
    store.run(queries.set_account_flags, customer.login, {"blacklisted": False})
    store.run(queries.set_paused, True)
    refused(await post(api, auth), 503, 116)
    store.run(queries.set_paused, False)
    assert len(campaigns(store, customer)) == 1


async def test_not_enough_credit_is_402(api: httpx.AsyncClient, store: Store) -> None:
    poor = make_customer(store, credit="0.1")
    auth = headers(poor)
    refused(await post(api, auth, recipients=[{"phone_number": FR}, {"phone_number": FR2}]), 402, 104)
    store.run(queries.set_account_flags, poor.login, {"pending_order": True})
    refused(await post(api, auth, recipients=[{"phone_number": FR}, {"phone_number": FR2}]), 402, 105)
    refused(await post(api, auth, recipients=[{"phone_number": FR}, {"phone_number": FR2}], simulation_mode=True),
            402, 105)  # fmt: skip
    assert campaigns(store, poor) == [] and balance(store, poor) == 100_000


@pytest.mark.parametrize(
    ("content", "status", "code", "words"),
    [
        pytest.param(b"recipients=%2B33601020304&text=Hi", 400, 100, "not a JSON object", id="a form body"),
        pytest.param(b"", 400, 100, "not a JSON object", id="no body"),
        pytest.param(b'{"text": "Hi",', 400, 100, "not a JSON object", id="cut JSON"),
        pytest.param(b"[1, 2]", 400, 100, "not a JSON object", id="an array"),
        pytest.param(b'{"text": NaN}', 400, 100, "not a JSON object", id="NaN"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, 400, 100, "not a JSON object", id="deep nesting"),
        pytest.param(b"\xff\xfe{", 400, 100, "not a JSON object", id="not UTF-8"),
        pytest.param(json.dumps(body(text={"a": 1})).encode(), 422, 100, "text must be a string", id="wrong type"),
        pytest.param(json.dumps(body(recipients="")).encode(), 422, 110, "recipients", id="recipients empty"),
        pytest.param(json.dumps({k: None for k in body()}).encode(), 422, 110, "recipients", id="null everywhere"),
        pytest.param(json.dumps(body(recipients=[{"phone_number": f"+336010{n:05d}"} for n in range(501)])).encode(),
                     422, 100, "500", id="501 recipients"),
        pytest.param(json.dumps(body(text="a" * 1225)).encode(), 422, 102, "too long", id="1225 characters"),
        pytest.param(json.dumps(body(sender="AB")).encode(), 422, 106, "sender", id="bad sender"),
        pytest.param(json.dumps(body(type="sms_world")).encode(), 422, 112, "type", id="bad type"),
        pytest.param(json.dumps(body(purpose="spam")).encode(), 422, 100, "purpose", id="bad purpose"),
        pytest.param(json.dumps(body(send_at="soon")).encode(), 422, 100, "send_at", id="bad send_at"),
        pytest.param(json.dumps(body(with_replies=[1])).encode(), 422, 100, "with_replies", id="bad boolean"),
        pytest.param(b'{"recipients": [{"phone_number": "+33601020304"}], "text": "a\\ud800"}', 422, 100,
                     "not valid Unicode", id="lone surrogate"),
    ],
)
async def test_bad_requests_get_a_clear_answer_and_change_nothing(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str],
    content: bytes, status: int, code: int, words: str,
) -> None:  # fmt: skip
    error = refused(await api.post(SEND, content=content, headers={**auth, "content-type": "application/json"}),
                    status, code)  # fmt: skip
    assert words in error["message"]
    assert campaigns(store, customer) == [] and balance(store, customer) == 100_000_000


async def test_an_unexpected_fault_is_500_125_logged_without_a_trace_in_the_answer(
    api: httpx.AsyncClient, app: OctopushApp, auth: dict[str, str], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    async def broken(*args: object) -> object:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.gateway, "submit_rest", broken)
    with caplog.at_level(logging.ERROR):
        error = refused(await post(api, auth), 500, 125)
    assert "secret" not in error["message"] and "reference" in error["message"]
    assert "secret internals" in caplog.text


async def test_out_of_scope_paths_and_wrong_methods(api: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for path in ("/v1/public/contact/create", "/v1/public/contact-list/create", "/v1/public/sms-campaign-on-list/send",
                 "/v1/public/sms-campaign-on-tag/send", "/v1/public/voice-campaign/send", "/v1/public/hlr/check",
                 "/v1/public/sub-account/create", "/v1/public/multi-channel/send", "/v1/", "/v1"):  # fmt: skip
        for method in ("GET", "POST"):
            answer = await api.request(method, path, headers=auth)
            assert answer.status_code == 404
            assert answer.json() == {"code": 404, "message": "not supported by this gateway", "error_code": "404"}
    wrong = await api.get(SEND, headers=auth)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST" and wrong.json()["code"] == 100
    assert (await api.post(SEND + "/", json=body(), headers=auth)).status_code == 201  # a trailing slash
    assert (await api.post("/api/sms")).status_code == 200  # the 1.6.1 API is where it was
