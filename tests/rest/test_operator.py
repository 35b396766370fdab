"""The operator's side of the REST API, through `octogate` as a shell runs it and the real ASGI app (SQLite and
PostgreSQL): the REST push URLs in `account urls`, and `status` showing the ticket the customer was given."""

from __future__ import annotations

import httpx
import pytest

from octogate.store import health
from octogate.store.store import Store
from octogate.store.tickets import campaign_id_for, ticket_for
from support import Customer, run_cli, send

from .conftest import FR, post

PARAMETERS = "/v1/public/user/campaign-parameters"
EDIT = "/v1/public/user/campaign-parameters/edit"
KINDS = ("receipt", "stop", "reply", "rest-receipt", "rest-stop", "rest-reply")


def urls(capsys: pytest.CaptureFixture[str], database_url: str, login: str, *options: str) -> dict[str, str]:
    """`octogate account urls LOGIN OPTIONS`: what it prints, kind -> URL ('-' for none)."""
    status, out, err = run_cli(capsys, "account", "urls", login, *options, "--database-url", database_url)
    assert status == 0, err
    shown = dict(line.removeprefix(f"{login.lower()}: ").split(maxsplit=1) for line in out.splitlines())
    assert tuple(shown) == KINDS  # all six, always, in this order
    return shown


async def callbacks(api: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, str | None]:
    return (await api.get(PARAMETERS, headers=auth)).json()["callbacks"]


async def test_account_urls_sets_shows_and_clears_the_rest_urls(
    capsys: pytest.CaptureFixture[str], api: httpx.AsyncClient, database_url: str, customer: Customer,
    auth: dict[str, str],
) -> None:  # fmt: skip
    shown = urls(capsys, database_url, customer.login.upper(), "--rest-receipt", " https://shop.test/r ",
                 "--rest-stop", "https://shop.test/s", "--receipt", "https://shop.test/form")  # fmt: skip
    assert shown == {"receipt": "https://shop.test/form", "stop": "-", "reply": "-",
                     "rest-receipt": "https://shop.test/r", "rest-stop": "https://shop.test/s", "rest-reply": "-"}
    # what the customer's REST client reads back is what the operator set, and the other way round
    found = await callbacks(api, auth)
    assert found["callback_url_for_deliveries"] == found["callback_url_for_sms_deliveries"] == "https://shop.test/r"
    assert found["callback_url_for_blacklisted_numbers"] == "https://shop.test/s"
    assert found["callback_url_for_inbounds"] is None
    edited = await api.patch(EDIT, headers=auth, json={"callbacks": {"callback_url_for_inbounds": "https://shop.test/i"}})
    assert edited.status_code == 200
    assert urls(capsys, database_url, customer.login)["rest-reply"] == "https://shop.test/i"

    # one URL for the three REST kinds; the 1.6.1 ones stay
    shown = urls(capsys, database_url, customer.login, "--rest-all", "https://shop.test/all")
    assert [shown[kind] for kind in KINDS] == ["https://shop.test/form", "-", "-", *["https://shop.test/all"] * 3]
    # clearing one, then the three REST ones (a REST client cannot: PATCH with "" or null leaves a URL as it is)
    assert urls(capsys, database_url, customer.login, "--clear", "rest-stop")["rest-stop"] == "-"
    shown = urls(capsys, database_url, customer.login, "--clear", "rest-all")
    assert [shown[kind] for kind in KINDS] == ["https://shop.test/form", "-", "-", "-", "-", "-"]
    assert set((await callbacks(api, auth)).values()) == {None}
    assert urls(capsys, database_url, customer.login, "--clear", "all")["receipt"] == "-"


@pytest.mark.parametrize(
    ("options", "message"),
    [(("--rest-reply", "ftp://shop.test/i"), "http:// or https://"),
     (("--rest-receipt", "https://shop.test/a b"), "no spaces"),
     (("--rest-stop", "https://shop.test/" + "x" * 2000), "at most 2000 characters"),
     (("--rest-all", "https://shop.test/x", "--clear", "rest-reply"), "--clear rest-reply contradicts"),
     (("--clear", "rest-sms"), "invalid choice")],
)  # fmt: skip
async def test_bad_rest_urls_are_refused_in_one_line_and_change_nothing(
    capsys: pytest.CaptureFixture[str], api: httpx.AsyncClient, database_url: str, customer: Customer,
    auth: dict[str, str], options: tuple[str, ...], message: str,
) -> None:  # fmt: skip
    before = urls(capsys, database_url, customer.login, "--rest-all", "https://shop.test/kept")
    status, out, err = run_cli(capsys, "account", "urls", customer.login, *options, "--database-url", database_url)
    assert status != 0 and out == "" and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3  # argparse adds its usage lines
    assert urls(capsys, database_url, customer.login) == before
    assert (await callbacks(api, auth))["callback_url_for_inbounds"] == "https://shop.test/kept"


def test_the_status_names_the_rest_url_of_a_failing_rest_push(
    capsys: pytest.CaptureFixture[str], store: Store, database_url: str, customer: Customer
) -> None:
    urls(capsys, database_url, customer.login, "--receipt", "https://shop.test/form", "--rest-receipt",
         "https://shop.test/json")  # fmt: skip
    with store.connect() as conn:
        row = conn.fetchone("SELECT id FROM accounts WHERE login = ?", (customer.login,))
        assert row is not None
        assert health.push_url(conn, row[0], "rest_receipt") == "https://shop.test/json"
        assert health.push_url(conn, row[0], "receipt") == "https://shop.test/form"


async def test_status_shows_the_ticket_the_campaign_was_sent_with(
    capsys: pytest.CaptureFixture[str], api: httpx.AsyncClient, database_url: str, customer: Customer,
    auth: dict[str, str],
) -> None:  # fmt: skip
    sent = await post(api, auth)
    assert sent.status_code == 201
    rest_ticket = sent.json()["sms_ticket"]
    form_id = await send(api, customer, sms_recipients=FR, transactional="1")
    status, out, err = run_cli(capsys, "status", rest_ticket, "--database-url", database_url)
    assert status == 0, err
    assert out.splitlines()[0].startswith(f"campaign {rest_ticket}  account {customer.login}")
    # asked by the campaign's other form, it still says the one the customer knows
    rest_id = campaign_id_for(rest_ticket)
    assert rest_id is not None
    status, again, _ = run_cli(capsys, "status", ticket_for(rest_id), "--database-url", database_url)
    assert status == 0 and again == out
    status, out, _ = run_cli(capsys, "status", ticket_for(form_id), "--database-url", database_url)
    assert status == 0 and out.startswith(f"campaign {ticket_for(form_id)}  account ")
    status, _, err = run_cli(capsys, "status", "sms_ffffffffff", "--database-url", database_url)
    assert status == 1 and "no campaign with ticket 'sms_ffffffffff'" in err
