"""What a successful `/api/sms` answers and stores: the document's XML, field by field."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from octogate.config import Settings
from octogate.octopush.campaign import Rules
from octogate.server import build_app
from octogate.store import queries
from octogate.store.store import Store
from support import Clock, Customer, code, make_customer, xml

FR_TEXT = "Hello STOP au XXXXX"


def sms(customer: Customer, **fields: object) -> dict[str, str]:
    base: dict[str, object] = {
        "sms_text": FR_TEXT,
        "sms_recipients": "+33601020304",
        "sms_type": "FR",
        "sms_sender": "Shop",
    }
    base.update(fields)
    return customer.params(**base)


def campaign_id(ticket: str) -> int:
    from octogate.store.tickets import campaign_id_for

    found = campaign_id_for(ticket)
    assert found is not None
    return found


async def test_the_answer_has_the_documents_elements_in_order(
    api: httpx.AsyncClient, store: Store, customer: Customer, clock: Clock
) -> None:
    root = xml(await api.post("/api/sms", data=sms(customer)))
    assert root.tag == "octopush"
    assert [child.tag for child in root] == [
        "error_code", "cost", "balance", "ticket", "sending_date", "number_of_sendings", "currency_code",
        "success", "failures",
    ]  # fmt: skip
    assert root.findtext("error_code") == "000"
    assert root.findtext("cost") == "0.065"
    assert root.findtext("balance") == "99.935"
    ticket = root.findtext("ticket") or ""
    assert ticket.startswith("api") and ticket[3:].isdigit()
    assert root.findtext("sending_date") == str(int(clock.now))
    assert root.findtext("number_of_sendings") == "1"
    assert root.findtext("currency_code") == "€"
    [success] = root.findall("success/success")
    assert [child.tag for child in success] == ["recipient", "country_code", "cost"]
    assert success.findtext("recipient") == "+33601020304"
    assert success.findtext("country_code") == "FR"
    assert success.findtext("cost") == "0.0650"
    failures = root.find("failures")
    assert failures is not None and len(failures) == 0
    assert store.run(queries.account, customer.login).balance == 99_935_000


async def test_the_campaign_is_stored_as_queued_messages(
    api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    recipients = "+33601020304,0033601020305,33601020306, 33601020307,+33601020304"
    root = xml(await api.post("/api/sms", data=sms(customer, sms_recipients=recipients)))
    assert root.findtext("number_of_sendings") == "4"  # the duplicate is sent (and billed) once
    stored = store.run(queries.campaign_messages, campaign_id(root.findtext("ticket") or ""))
    assert [row[0] for row in stored] == ["+33601020304", "+33601020305", "+33601020306", "+33601020307"]
    assert {row[4] for row in stored} == {"queued"}


async def test_partial_failures_are_listed_and_not_billed(api: httpx.AsyncClient, customer: Customer) -> None:
    recipients = "+33601020304,hello,+999123456789,+8501921234567,+4915123456789"
    root = xml(await api.post("/api/sms", data=sms(customer, sms_recipients=recipients)))
    assert root.findtext("error_code") == "000"
    assert [s.findtext("recipient") for s in root.findall("success/success")] == [
        "+33601020304",
        "+4915123456789",
    ]
    assert [s.findtext("country_code") for s in root.findall("success/success")] == ["FR", "DE"]
    failures = [(f.findtext("recipient"), f.findtext("error_code")) for f in root.findall("failures/failure")]
    assert failures == [("hello", "117"), ("+999123456789", "150"), ("+8501921234567", "151")]
    costs = [s.findtext("cost") for s in root.findall("success/success")]
    total = sum(float(c or 0) for c in costs)
    assert float(root.findtext("cost") or 0) == pytest.approx(total)


async def test_numbers_on_the_stop_list_are_not_sent_nor_billed(
    api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    account = store.run(queries.account, customer.login)
    store.run(queries.add_stop, account.id, "+33601020305", "STOP", 0)
    root = xml(await api.post("/api/sms", data=sms(customer, sms_recipients="+33601020304,+33601020305")))
    assert [s.findtext("recipient") for s in root.findall("success/success")] == ["+33601020304"]
    assert [
        (f.findtext("recipient"), f.findtext("error_code")) for f in root.findall("failures/failure")
    ] == [("+33601020305", "114")]
    assert root.findtext("number_of_sendings") == "1"
    only_stopped = sms(customer, sms_recipients="+33601020305", request_id="again")
    assert code(await api.post("/api/sms", data=only_stopped)) == "114"


async def test_mail_merge_replaces_placeholders_and_prices_each_recipient(
    api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    long_name = "B" * 30
    fields = sms(
        customer,
        sms_recipients="+33601020304,+33601020305",
        sms_text="Hi {prenom} {nom} ({ch1}) " + "x" * 100 + " STOP au XXXXX",
        recipients_first_names=f"Ann,{long_name}",
        recipients_last_names="Lee,Kim",
        sms_fields_1="gold,silver",
    )
    root = xml(await api.post("/api/sms", data=fields))
    # "Hi Ann Lee (gold) " + 100 + mention = 132 characters: 1 SMS; the second recipient's is 161: 2 SMS.
    assert [s.findtext("cost") for s in root.findall("success/success")] == ["0.0650", "0.1300"]
    assert root.findtext("number_of_sendings") == "3"
    assert root.findtext("cost") == "0.195"
    with store.connect() as conn:
        texts = [row[0] for row in conn.fetchall("SELECT text FROM messages ORDER BY id")]
    assert texts[0] is not None and texts[0].startswith("Hi Ann Lee (gold) xxx")
    assert texts[1] is not None and texts[1].startswith(f"Hi {long_name} Kim (silver) ")


async def test_a_merged_text_over_459_characters_is_102(api: httpx.AsyncClient, customer: Customer) -> None:
    fields = sms(customer, sms_text="{ch1}" + "a" * 420 + " STOP au XXXXX", sms_fields_1="y" * 30)
    assert code(await api.post("/api/sms", data=fields)) == "102"


@pytest.mark.parametrize(
    ("text", "sms_count"),
    [
        ("a" * 147, 1),
        ("a" * 148, 2),
        ("€" * 73, 1),
        ("€" * 74, 2),
        ("é" * 147, 1),
        ("ê" * 57, 1),
        ("ê" * 58, 2),
    ],
)
async def test_number_of_sendings_follows_the_documents_count(
    api: httpx.AsyncClient, customer: Customer, text: str, sms_count: int
) -> None:
    root = xml(await api.post("/api/sms", data=sms(customer, sms_text=text + "STOP au XXXXX")))
    assert root.findtext("number_of_sendings") == str(sms_count)


async def test_simulation_stores_and_debits_nothing(
    api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    root = xml(await api.post("/api/sms", data=sms(customer, request_mode="simu", request_id="sim-1")))
    assert root.findtext("ticket") == "XXXSIMULATIONXXX"
    assert root.findtext("cost") == "0.065"
    assert root.findtext("balance") == "100.00"
    account = store.run(queries.account, customer.login)
    assert account.balance == 100_000_000
    assert store.run(queries.count_campaigns, account.id) == 0
    # request_id is not consumed by a simulation: the real send with the same id goes through.
    assert code(await api.post("/api/sms", data=sms(customer, request_id="sim-1"))) == "000"
    # and a simulation still reports a reused id and a lack of credit.
    assert (
        code(await api.post("/api/sms", data=sms(customer, request_mode="simu", request_id="sim-1"))) == "120"
    )


async def test_deferred_sending_dates(api: httpx.AsyncClient, customer: Customer, clock: Clock) -> None:
    later = int(clock.now) + 86_400
    root = xml(await api.post("/api/sms", data=sms(customer, sms_mode="2", sending_date=str(later))))
    assert root.findtext("sending_date") == str(later)
    past = xml(await api.post("/api/sms", data=sms(customer, sms_mode="2", sending_date="1000000000")))
    assert past.findtext("sending_date") == str(int(clock.now))
    # The old split fields and sending_time are Paris wall time: 2026-11-25 15:30 Paris is 14:30 UTC.
    expected = str(int(datetime(2026, 11, 25, 14, 30, tzinfo=UTC).timestamp()))
    split = sms(customer, sms_mode="2", sms_y="2026", sms_m="11", sms_d="25", sms_h="15", sms_i="30")
    assert xml(await api.post("/api/sms", data=split)).findtext("sending_date") == expected
    spelled = sms(customer, sms_mode="2", sending_time="2026-11-25 15:30:00")
    assert xml(await api.post("/api/sms", data=spelled)).findtext("sending_date") == expected
    # With sms_mode=1 (the default), dates are ignored: the octopush client always sends sms_y/m/d/h/i.
    instant = sms(customer, sms_y="2030", sms_m="1", sms_d="1", sms_h="1", sms_i="1")
    assert xml(await api.post("/api/sms", data=instant)).findtext("sending_date") == str(int(clock.now))


async def test_marketing_to_france_waits_for_allowed_hours(
    api: httpx.AsyncClient, customer: Customer, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 28, 20, 30, tzinfo=UTC).timestamp()  # Saturday 21:30 in Paris
    monday_8h = str(int(datetime(2026, 11, 30, 7, 0, tzinfo=UTC).timestamp()))
    assert xml(await api.post("/api/sms", data=sms(customer))).findtext("sending_date") == monday_8h
    transactional = sms(customer, transactional="1", sms_text="Code 1234")
    assert xml(await api.post("/api/sms", data=transactional)).findtext("sending_date") == str(int(clock.now))
    abroad = sms(customer, sms_recipients="+4915123456789", sms_text="Promo")
    assert xml(await api.post("/api/sms", data=abroad)).findtext("sending_date") == str(int(clock.now))


async def test_get_query_string_and_unencoded_plus(api: httpx.AsyncClient, customer: Customer) -> None:
    query = "&".join(
        f"{k}={v}" for k, v in sms(customer, sms_text="Hi+STOP+au+XXXXX").items() if k != "sms_recipients"
    )
    root = xml(await api.get(f"/api/sms/?{query}&sms_recipients=+33601020304"))
    assert root.findtext("error_code") == "000"
    assert root.findtext("success/success/recipient") == "+33601020304"


async def test_body_wins_over_query_string_and_multipart_works(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    body = sms(customer)
    response = await api.post("/api/sms?sms_type=XXX&sms_sender=", data=body)
    assert code(response) == "000"  # the body's FR wins over the query's XXX
    multipart = await api.post("/api/sms", data=body, files={"unused": ("a.txt", b"x")})
    assert code(multipart) == "000"


async def test_json_variant_answers_the_same_content(api: httpx.AsyncClient, customer: Customer) -> None:
    response = await api.post("/api/sms/json", data=sms(customer, sms_recipients="+33601020304,bad"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    document = json.loads(response.content)
    assert document["error_code"] == "000"
    assert document["success"] == [{"recipient": "+33601020304", "country_code": "FR", "cost": "0.0650"}]
    assert document["failures"] == [{"recipient": "bad", "error_code": "117"}]
    error = await api.post("/api/sms/json", data=sms(customer, api_key="wrong"))
    assert json.loads(error.content) == {"error_code": "101"}


async def test_the_later_successs_wrapper_is_an_option(
    store: Store, customer: Customer, clock: Clock
) -> None:
    app = build_app(store, Settings(successes_wrapper="successs", rules=Rules()))
    app.gateway.clock = clock
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        root = xml(await client.post("/api/sms", data=sms(customer)))
    assert root.find("successs/success/recipient") is not None
    assert root.find("success") is None


async def test_unknown_paths_and_methods(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/nothing")).status_code == 404
    assert (await api.put("/api/sms")).status_code == 405


async def test_balance_in_sms_equivalents_and_credit_in_euros(
    api: httpx.AsyncClient, customer: Customer
) -> None:
    root = xml(await api.post("/api/balance", data=customer.params()))
    assert [(b.get("type"), b.text) for b in root.findall("balance")] == [
        ("FR", "1538.46"),
        ("XXX", "2222.22"),
    ]
    credit = xml(await api.get("/api/credit/", params=customer.params()))
    assert credit.findtext("credit") == "100.00"
    as_json = json.loads((await api.post("/api/balance/json", data=customer.params())).content)
    assert as_json["balance"] == {"FR": "1538.46", "XXX": "2222.22"}


async def test_one_request_id_sent_20_times_at_once_gives_one_ticket(
    api: httpx.AsyncClient, store: Store, customer: Customer
) -> None:
    fields = sms(customer, request_id="concurrent-1")
    answers = await asyncio.gather(*(api.post("/api/sms", data=fields) for _ in range(20)))
    codes = sorted(code(answer) for answer in answers)
    assert codes == ["000"] + ["120"] * 19
    account = store.run(queries.account, customer.login)
    assert store.run(queries.count_campaigns, account.id) == 1
    assert account.balance == 100_000_000 - 65_000


async def test_50_concurrent_sends_against_credit_for_10_give_exactly_10_tickets(
    store: Store, settings: Settings, clock: Clock
) -> None:
    """Two app instances on one database, as two processes would be: the debit is atomic across them."""
    customer = make_customer(store, credit="0.65")  # exactly ten SMS to France
    second_store = Store(store.url)
    try:
        apps = [build_app(store, settings), build_app(second_store, settings)]
        clients = []
        for app in apps:
            app.gateway.clock = clock
            clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"))
        answers = await asyncio.gather(
            *(clients[i % 2].post("/api/sms", data=sms(customer, request_id=f"r{i}")) for i in range(50))
        )
        for client in clients:
            await client.aclose()
    finally:
        second_store.close()
    codes = [code(answer) for answer in answers]
    assert codes.count("000") == 10 and codes.count("104") == 40
    tickets = {xml(a).findtext("ticket") for a in answers if code(a) == "000"}
    assert len(tickets) == 10
    account = store.run(queries.account, customer.login)
    assert account.balance == 0
    assert store.run(queries.count_campaigns, account.id) == 10
    statement = store.run(queries.ledger, account.id, 100)
    assert all(balance_after >= 0 for _, balance_after, *_ in statement)


async def test_a_10000_recipient_campaign_is_accepted_whole(api: httpx.AsyncClient, store: Store) -> None:
    customer = make_customer(store, credit="1000")
    numbers = [f"+336{n:08d}" for n in range(10_000)]
    root = xml(await api.post("/api/sms", data=sms(customer, sms_recipients=",".join(numbers))))
    assert root.findtext("number_of_sendings") == "10000"
    assert len(root.findall("success/success")) == 10_000
    assert root.findtext("cost") == "650.00"
    assert root.findtext("balance") == "350.00"
    messages = store.run(queries.campaign_messages, campaign_id(root.findtext("ticket") or ""))
    assert len(messages) == 10_000
