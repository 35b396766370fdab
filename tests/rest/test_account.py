"""The wallet and campaign-parameters endpoints, and one account shared by the REST and the 1.6.1 APIs (credit
and request_ids), through the real ASGI app on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from octogate.store import queries
from octogate.store.store import Store
from support import Clock, Customer, code, make_customer, xml

from .conftest import FR, balance, campaigns, headers, post

BALANCE = "/v1/public/wallet/check-balance"
CREDITS = "/v1/public/wallet/check-credits"
PARAMETERS = "/v1/public/user/campaign-parameters"
EDIT = "/v1/public/user/campaign-parameters/edit"


async def test_check_balance_in_euros_and_in_messages(
    api: httpx.AsyncClient, store: Store, auth: dict[str, str]
) -> None:
    assert (await api.get(BALANCE, headers=auth)).json() == {"amount": 100.0, "unit": "euros"}
    premium_fr = await api.get(BALANCE, headers=auth, params={"product_name": "sms_premium", "country_code": "FR"})
    assert premium_fr.json() == {"amount": 1538, "unit": "sms_premium"}  # 100 / 0.065
    low_es = await api.get(
        BALANCE, headers=auth, params={"product_name": "sms_low_cost", "country_code": "es", "with_details": "true"}
    )
    assert low_es.json() == {
        "amount": 1818, "unit": "sms_low_cost",  # 100 / 0.055
        "wallet_packs": [{"id": "balance", "wallet_pack_id": "balance", "credit": 1818, "expiration_date": None}],
    }  # fmt: skip
    premium_gb = await api.get(BALANCE, headers=auth, params={"product_name": "sms_premium", "country_code": "GB"})
    assert premium_gb.json()["amount"] == 2000  # priced WWW outside France: 100 / 0.05
    alone = await api.get(BALANCE, headers=auth, params={"product_name": "sms_premium"})
    assert alone.status_code == 422 and alone.json()["code"] == 100
    unknown = await api.get(BALANCE, headers=auth, params={"product_name": "sms_premium", "country_code": "QQ"})
    assert unknown.status_code == 422 and unknown.json()["code"] == 150
    bad = await api.get(BALANCE, headers=auth, params={"product_name": "voice", "country_code": "FR"})
    assert bad.status_code == 422 and bad.json()["code"] == 112
    assert (await api.get(BALANCE)).status_code == 401


async def test_check_credits_per_country(api: httpx.AsyncClient, auth: dict[str, str]) -> None:
    answer = await api.get(CREDITS + "?country_codes[]=FR&country_codes[]=ES&country_codes[]=ZZ", headers=auth)
    assert answer.status_code == 200
    assert answer.json() == {"FR": {"premium_sms": 1538, "low_cost_sms": 2222},
                             "ES": {"premium_sms": 1428, "low_cost_sms": 1818}}  # fmt: skip
    assert list((await api.get(CREDITS, headers=auth)).json()) == ["FR"]


async def test_campaign_parameters_are_set_and_read_back(
    api: httpx.AsyncClient, store: Store, customer: Customer, auth: dict[str, str]
) -> None:
    empty = (await api.get(PARAMETERS, headers=auth)).json()
    assert empty["callbacks"]["callback_url_for_deliveries"] is None
    assert empty["campaign_parameters"] == {"sender_for_sms_premium": None}
    edited = await api.patch(EDIT, headers=auth, json={
        "callbacks": {"callback_url_for_sms_deliveries": "https://shop.test/receipts",
                      "callback_url_for_inbounds": "https://shop.test/replies",
                      "callback_url_for_blacklisted_numbers": "https://shop.test/stops",
                      "email_for_inbounds": "ops@shop.test"},
        "campaign_parameters": {"sender_for_sms_premium": "MyShop"}, "unknown": 1,
    })  # fmt: skip
    assert edited.status_code == 200
    expected = {
        "callbacks": {"callback_url_for_deliveries": "https://shop.test/receipts",
                      "callback_url_for_sms_deliveries": "https://shop.test/receipts",
                      "callback_url_for_inbounds": "https://shop.test/replies",
                      "callback_url_for_blacklisted_numbers": "https://shop.test/stops",
                      "email_for_inbounds": "ops@shop.test"},
        "campaign_parameters": {"sender_for_sms_premium": "MyShop"},
    }  # fmt: skip
    assert edited.json() == expected and (await api.get(PARAMETERS, headers=auth)).json() == expected
    # the current spelling; null and "" leave a value as it is
    again = await api.patch(EDIT, headers=auth, json={"callbacks": {
        "callback_url_for_deliveries": "https://shop.test/v2", "callback_url_for_inbounds": None,
        "callback_url_for_blacklisted_numbers": ""}})  # fmt: skip
    assert again.json()["callbacks"]["callback_url_for_deliveries"] == "https://shop.test/v2"
    assert again.json()["callbacks"]["callback_url_for_inbounds"] == "https://shop.test/replies"
    assert again.json()["callbacks"]["callback_url_for_blacklisted_numbers"] == "https://shop.test/stops"
    # the 1.6.1 URLs are separate
    assert store.run(queries.account, customer.login).receipt_url is None


async def test_bad_campaign_parameters_change_nothing(api: httpx.AsyncClient, auth: dict[str, str]) -> None:
    before = (await api.get(PARAMETERS, headers=auth)).json()
    for document, status, error in [
        ({"callbacks": {"callback_url_for_deliveries": "ftp://shop.test"}}, 422, 100),
        ({"callbacks": {"callback_url_for_inbounds": "not a url"}}, 422, 100),
        ({"callbacks": {"email_for_inbounds": "nobody"}}, 422, 100),
        ({"campaign_parameters": {"sender_for_sms_premium": "A"}}, 422, 106),
        ({"callbacks": ["https://shop.test"]}, 422, 100),
        ({"callbacks": {"callback_url_for_deliveries": "https://ok.test"},
          "campaign_parameters": {"sender_for_sms_premium": "!"}}, 422, 106),
    ]:
        answer = await api.patch(EDIT, headers=auth, json=document)
        assert (answer.status_code, answer.json()["code"]) == (status, error), document
    assert (await api.patch(EDIT, headers=auth, content=b"callbacks=x")).status_code == 400
    assert (await api.get(EDIT, headers=auth)).status_code == 405
    assert (await api.get(PARAMETERS, headers=auth)).json() == before


async def test_one_account_one_credit_and_one_set_of_request_ids_across_both_apis(
    api: httpx.AsyncClient, store: Store, clock: Clock
) -> None:
    customer = make_customer(store, credit="0.2")
    auth = headers(customer)

    def form(**fields: str) -> dict[str, str]:
        return customer.params(sms_type="FR", sms_sender="Shop", sms_text="Code 1", sms_recipients=FR,
                               transactional="1", **fields)  # fmt: skip

    # a request_id used by one API is refused by the other, both ways
    assert code(await api.post("/api/sms", data=form(request_id="a"))) == "000"
    refused = await post(api, auth, request_id="a")
    assert (refused.status_code, refused.json()["code"]) == (422, 120)
    assert (await post(api, auth, request_id="b")).status_code == 201
    assert code(await api.post("/api/sms", data=form(request_id="b"))) == "120"
    # one balance: 0.2 - 2 x 0.065 leaves 0.07, the REST answer says so, and 1.6.1 sees it
    assert balance(store, customer) == 70_000
    credit = xml(await api.post("/api/credit", data=customer.params()))
    assert credit.findtext("credit") == "0.07"
    assert (await api.get(BALANCE, headers=auth)).json()["amount"] == 0.07
    third = await post(api, auth)
    assert third.json()["residual_credit"] == 0.005
    assert code(await api.post("/api/sms", data=form())) == "104"
    poor = await post(api, auth)
    assert (poor.status_code, poor.json()["code"]) == (402, 104)
    # 24 h later the REST request_id is free again, for either API; the 1.6.1 one never is
    clock.now += 86_400
    store.run(queries.add_credit, customer.login, 1_000_000, "top-up", int(clock.now))
    assert code(await api.post("/api/sms", data=form(request_id="b"))) == "000"
    again = await post(api, auth, request_id="a")
    assert (again.status_code, again.json()["code"]) == (422, 120)
    assert [c["source"] for c in campaigns(store, customer)] == ["http", "rest", "rest", "http"]
