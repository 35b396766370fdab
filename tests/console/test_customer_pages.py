"""What a customer sees and does in the console, on the real app and database."""

from __future__ import annotations

import re

import httpx
import pytest

from console_web import csrf_of, post_form, sign_in, web_customer
from octogate.operations import Operator
from octogate.portal import Portal
from octogate.store import queries
from octogate.store.callbacks import enqueue_push
from octogate.store.incoming import TextTarget, add_incoming
from octogate.store.store import Store
from octogate.store.tickets import ticket_for
from support import send

FORM = {"recipients": "+33612345678", "text": "Hello STOP au XXXXX", "sender": "MyShop", "sms_type": "FR"}


async def signed_in(store: Store, web: httpx.AsyncClient, credit: str = "100"):  # type: ignore[no-untyped-def]
    customer = web_customer(store, credit)
    await sign_in(web, customer.login)
    return customer


async def test_overview_shows_the_balance_and_empty_states(store: Store, web: httpx.AsyncClient) -> None:
    await signed_in(store, web, "42.5")
    page = await web.get("/console/home")
    assert "42.50 EUR" in page.text
    assert "No campaign yet" in page.text
    assert 'type="application/json" id="traffic-data"' in page.text  # the chart's data, for console.js
    assert "As a table" in page.text  # and the same without JavaScript


async def test_the_estimate_is_the_apis_simulation(store: Store, web: httpx.AsyncClient) -> None:
    await signed_in(store, web)
    page = await post_form(web, "/console/send", "/console/send", **FORM, action="estimate")
    assert page.status_code == 200
    assert re.search(r'id="estimate-sms">1<', page.text)
    assert re.search(r'id="estimate-cost">0\.0\d+ EUR<', page.text)
    assert "GSM 7-bit" in page.text
    assert "No campaign here" in (await web.get("/console/campaigns")).text  # nothing was sent
    two = {**FORM, "recipients": "+33612345678,+33612345679"}
    live = await post_form(web, "/console/send", "/console/send/estimate", **two)
    assert "<html" not in live.text and re.search(r'id="estimate-sms">2<', live.text)  # the htmx fragment


async def test_the_apis_errors_are_said_in_words(store: Store, web: httpx.AsyncClient) -> None:
    await signed_in(store, web)
    page = await post_form(web, "/console/send", "/console/send", **{**FORM, "text": "Hello"}, action="send")
    assert page.status_code == 422
    assert "must end with the mention" in page.text and "API code 121" in page.text
    poor = await post_form(
        web, "/console/send", "/console/send", **{**FORM, "recipients": "12"}, action="estimate"
    )
    assert (
        "not phone numbers" in poor.text or "No country" in poor.text or "None of the recipients" in poor.text
    )


async def test_send_then_the_campaign_page(store: Store, web: httpx.AsyncClient) -> None:
    await signed_in(store, web)
    form = await web.get("/console/send")
    request_id = re.search(r'name="request_id" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    data = {"csrf": csrf_of(form), **FORM, "request_id": request_id, "action": "send"}
    sent = await web.post("/console/send", data=data)
    assert sent.status_code == 303
    page = await web.get(sent.headers["location"])
    assert "Campaign accepted" in page.text and "+33612345678" in page.text
    assert 'hx-trigger="every 2s"' in page.text  # still pending: the page follows it by itself
    again = await web.post("/console/send", data=data)  # a double click: the same form again
    assert again.status_code == 422 and "sent already" in again.text
    listing = await web.get("/console/campaigns")
    assert listing.text.count("/console/campaigns/api") == 1


async def test_a_csv_with_mail_merge_columns(store: Store, web: httpx.AsyncClient) -> None:
    customer = await signed_in(store, web)
    token = csrf_of(await web.get("/console/send"))
    csv = "number;prenom;ch1\n+33612345678;Anna;A12\n+33612345679;Bob;B34\n"
    sent = await web.post(
        "/console/send",
        data={"csrf": token, **{**FORM, "recipients": ""}, "text": "Hi {prenom}, order {ch1} STOP au XXXXX",
              "request_id": "csv-1", "action": "send"},
        files={"csv": ("contacts.csv", csv.encode(), "text/csv")},
    )  # fmt: skip
    assert sent.status_code == 303
    account = store.run(queries.account, customer.login)
    with store.connect() as conn:
        texts = sorted(
            row[0] for row in conn.fetchall("SELECT text FROM messages WHERE account_id = ?", (account.id,))
        )
    assert texts == ["Hi Anna, order A12 STOP au XXXXX", "Hi Bob, order B34 STOP au XXXXX"]


async def test_campaigns_are_paged(store: Store, web: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    customer = await signed_in(store, web)
    ids = [await send(api, customer, sms_recipients="+33612345678") for _ in range(27)]
    first = await web.get("/console/campaigns")
    assert first.text.count("/console/campaigns/api") == 25
    assert ticket_for(ids[-1]) in first.text and ticket_for(ids[0]) not in first.text
    following = re.search(r'href="([^"]+)">Next page', first.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    second = await web.get(following)
    assert second.text.count("/console/campaigns/api") == 2
    assert ticket_for(ids[0]) in second.text and "Next page" not in second.text
    by_type = await web.get("/console/campaigns?type=XXX")
    assert "No campaign here" in by_type.text


async def test_a_rest_campaign_shows_the_ticket_its_sender_got(
    store: Store, web: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    customer = await signed_in(store, web)
    answer = await api.post(
        "/v1/public/sms-campaign/send",
        headers={"api-login": customer.login, "api-key": customer.api_key},
        json={"recipients": [{"phone_number": "+33612345678"}], "text": "Your code is 1234",
              "type": "sms_premium", "purpose": "alert", "sender": "MyShop"},
    )  # fmt: skip
    rest_ticket = answer.json()["sms_ticket"]
    api_ticket = ticket_for(await send(api, customer, sms_recipients="+33612345678"))
    listed = await web.get("/console/campaigns")
    assert f"/console/campaigns/{rest_ticket}" in listed.text and f"/console/campaigns/{api_ticket}" in listed.text
    page = await web.get(f"/console/campaigns/{rest_ticket}")
    assert page.status_code == 200 and f"<code>{rest_ticket}</code>" in page.text


async def test_recipients_filtered_by_status(
    store: Store, web: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    customer = await signed_in(store, web)
    campaign = await send(api, customer, sms_recipients="+33612345678,+33612345679")
    with store.connect() as conn:
        conn.execute("UPDATE messages SET status = 'delivered', done_at = 1 WHERE recipient = '+33612345679'")
    page = await web.get(f"/console/campaigns/{ticket_for(campaign)}?status=delivered")
    assert "+33612345679" in page.text and "+33612345678" not in page.text


async def test_replies_stops_and_the_stop_list(
    store: Store, web: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    customer = await signed_in(store, web)
    campaign = await send(api, customer, sms_recipients="+33612345678")
    account = store.run(queries.account, customer.login)
    with store.connect() as conn:
        message_id = conn.fetchone("SELECT id FROM messages WHERE campaign_id = ?", (campaign,))[0]  # type: ignore[index]
    target = TextTarget(message_id, campaign, account.id)
    store.run(
        add_incoming, "simulator", "+33612345678", "36179", "Yes please", "reply", target, 1_800_000_000
    )
    store.run(add_incoming, "simulator", "+33612345678", "36179", "STOP", "stop", target, 1_800_000_100)
    Operator(store).add_stop(customer.login, "+33612345678")
    replies = await web.get("/console/replies")
    assert "Yes please" in replies.text and "STOP" in replies.text
    only_stops = await web.get("/console/replies?kind=stop")
    assert "Yes please" not in only_stops.text
    stops = await web.get("/console/stops")
    assert "+33612345678" in stops.text
    removed = await post_form(web, "/console/stops", "/console/stops/remove", number="+33 6 12 34 56 78")
    assert removed.status_code == 303
    page = await web.get(removed.headers["location"])
    assert "removed from your STOP list" in page.text and "Your STOP list is empty" in page.text


async def test_push_urls_and_the_recent_pushes(store: Store, web: httpx.AsyncClient) -> None:
    customer = await signed_in(store, web)
    bad = await post_form(web, "/console/pushes", "/console/pushes/urls", receipt="ftp://example.com/x")
    assert "Push URLs saved" not in (await web.get(bad.headers["location"])).text
    # a URL over the limit is refused, not cut at it and saved as another URL
    long = await post_form(web, "/console/pushes", "/console/pushes/urls", receipt="https://example.com/" + "a" * 2500)
    refused = (await web.get(long.headers["location"])).text
    assert "at most 2000 characters" in refused and 'value="https://example.com/aaa' not in refused
    saved = await post_form(
        web, "/console/pushes", "/console/pushes/urls", receipt="https://example.com/receipts"
    )
    page = await web.get(saved.headers["location"])
    assert "Push URLs saved" in page.text and 'value="https://example.com/receipts"' in page.text
    account = store.run(queries.account, customer.login)
    push_id = store.run(enqueue_push, account.id, "receipt", {"status": "DELIVERED"}, 1_800_000_000)
    pushes = await web.get("/console/pushes")
    assert f"<td>{push_id}</td>" in pushes.text and "pending" in pushes.text
    attempts = await web.get(f"/console/pushes?attempts={push_id}")
    assert "No attempt yet" in attempts.text


async def test_the_rest_apis_push_urls_are_set_beside_the_161_ones(store: Store, web: httpx.AsyncClient) -> None:
    customer = await signed_in(store, web)
    saved = await post_form(
        web, "/console/pushes", "/console/pushes/urls",
        receipt="https://example.com/receipts", rest_receipt="https://example.com/rest/receipts",
        rest_reply="https://example.com/rest/replies",
    )  # fmt: skip
    page = await web.get(saved.headers["location"])
    assert 'name="rest_receipt" value="https://example.com/rest/receipts"' in page.text
    urls = Operator(store).push_urls(customer.login)
    assert urls["receipt"] == "https://example.com/receipts"
    assert urls["rest_receipt"] == "https://example.com/rest/receipts"
    assert urls["rest_reply"] == "https://example.com/rest/replies" and urls["rest_stop"] is None


async def test_key_rotation_shows_the_new_key_once(
    store: Store, web: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    customer = await signed_in(store, web)
    rotated = await post_form(web, "/console/key", "/console/key/rotate")
    assert rotated.status_code == 200
    new_key = re.search(r'id="new-key">([^<]+)<', rotated.text).group(1)  # type: ignore[union-attr]
    assert new_key not in (await web.get("/console/key")).text  # shown once
    old = await api.post("/api/balance", data=customer.params())
    assert b"<error_code>101</error_code>" in old.content
    new = await api.post("/api/balance", data={"user_login": customer.login, "api_key": new_key})
    assert b"<error_code>000</error_code>" in new.content


async def test_an_edited_page_cursor_shows_a_page_not_a_fault(store: Store, web: httpx.AsyncClient) -> None:
    """A hand-edited `?before=` (a digit that is not ASCII, a number past 64 bits) is a page, never a 500."""
    await signed_in(store, web)
    for query in ("before=%C2%B2", "before=99999999999999999999", "before=1%E2%82%81", "attempts=%C2%B2"):
        for path in ("/console/campaigns", "/console/replies", "/console/pushes"):
            page = await web.get(f"{path}?{query}")
            assert page.status_code == 200, (path, query)


async def test_a_fault_is_a_page_with_a_reference_the_log_has(
    store: Store, web: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As on the API: an unexpected fault is logged with a reference the customer can quote (it was a bare
    "Internal Server Error" and an unreferenced traceback)."""
    await signed_in(store, web)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(Portal, "campaigns", broken)
    page = await web.get("/console/campaigns")
    assert page.status_code == 500
    reference = re.search(r"reference ([0-9a-f]{8})", page.text)
    assert reference is not None and "secret detail" not in page.text and "Traceback" not in page.text
    assert any(reference.group(1) in record.getMessage() for record in caplog.records)
