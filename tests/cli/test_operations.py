"""The operator's use cases, called as any edge would call them (no argparse): their rules and refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from octogate.config import Settings
from octogate.keys import api_key_matches
from octogate.operations import Operator, Refused
from octogate.server import prepare_store
from octogate.store.tickets import ticket_for


@pytest.fixture
def operator(database_url: str) -> Iterator[Operator]:
    store = prepare_store(Settings(database_url=database_url))
    try:
        yield Operator(store, clock=lambda: 1_790_000_000)
    finally:
        store.close()


def test_an_account_is_created_once_with_its_key_shown_once(operator: Operator) -> None:
    created = operator.create_account("  Shop@Example.COM ", "12.50")
    assert created.account.login == "shop@example.com" and created.account.balance == 12_500_000
    assert api_key_matches(created.api_key, created.account.api_key_hash)
    with pytest.raises(Refused, match="already exists"):
        operator.create_account("shop@example.com")
    new_key = operator.rotate_key("SHOP@example.com")
    stored = operator.accounts()[0]
    assert api_key_matches(new_key, stored.api_key_hash) and not api_key_matches(created.api_key, stored.api_key_hash)


@pytest.mark.parametrize(
    ("login", "credit", "message"),
    [("", "0", "a login is an e-mail address"), ("a b@example.com", "0", "without spaces"),
     ("x" * 255, "0", "a login"), ("a@example.com", "-1", "cannot be negative"),
     ("a@example.com", "1.2.3", "not an amount in EUR")],
)  # fmt: skip
def test_account_creation_refusals(operator: Operator, login: str, credit: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        operator.create_account(login, credit)
    assert operator.accounts() == []


def test_credit_never_takes_a_balance_below_zero(operator: Operator) -> None:
    operator.create_account("a@example.com", "1")
    assert operator.credit("A@example.com", "-0.25", note="goodwill") == 750_000
    with pytest.raises(Refused, match="below zero"):
        operator.credit("a@example.com", "-1")
    with pytest.raises(Refused, match=r"no account with login 'nobody@example\.com'"):
        operator.credit("Nobody@example.com", "5")


def test_a_credit_is_an_amount_the_balance_can_hold(operator: Operator) -> None:
    """Two credits of 9,000,000,000,000 EUR used to pass: SQLite kept the sum as a float and every listing of
    accounts then failed (PostgreSQL refused the second); `1e999` was a traceback, `1_000` a thousand euros."""
    operator.create_account("a@example.com", "1")
    for odd in ("1e999", "99999999999999999999", "1_000", "١٢", "nan", "9000000000000"):
        with pytest.raises(Refused, match=r"not an amount in EUR|at most"):
            operator.credit("a@example.com", odd)
    assert operator.credit("a@example.com", "999999999") == 1_000_000_000_000_000
    with pytest.raises(Refused, match="above 1000000000 EUR"):
        operator.credit("a@example.com", "0.000001")
    assert operator.credit("a@example.com", " -0.5 ") == 999_999_999_500_000
    assert [account.balance for account in operator.accounts()] == [999_999_999_500_000]
    with pytest.raises(Refused, match="at most"):
        operator.create_account("b@example.com", "2000000000")


def test_flags_push_urls_and_the_api_switch(operator: Operator) -> None:
    operator.create_account("a@example.com")
    with pytest.raises(Refused, match="nothing to set"):
        operator.set_flags("a@example.com", {})
    with pytest.raises(Refused, match="unknown account states: api_key_hash"):
        operator.set_flags("a@example.com", {"api_key_hash": True})
    assert operator.set_flags("a@example.com", {"blacklisted": True}).blacklisted is True
    urls = operator.set_push_urls("a@example.com", {"receipt": " https://hooks.example.com/r ", "stop": None})
    assert urls == {"receipt": "https://hooks.example.com/r", "stop": None, "reply": None,
                    "rest_receipt": None, "rest_stop": None, "rest_reply": None}  # fmt: skip
    with pytest.raises(Refused, match="http"):
        operator.set_push_urls("a@example.com", {"reply": "ftp://example.com/"})
    with pytest.raises(Refused, match="no push kind"):
        operator.set_push_urls("a@example.com", {"sms": "https://example.com/"})
    assert operator.push_urls("a@example.com") == urls
    operator.set_paused(True)
    operator.set_paused(False)


def test_stop_list_numbers_are_normalised(operator: Operator) -> None:
    operator.create_account("a@example.com")
    number, stopped = operator.add_stop("a@example.com", "0033 6 01 02 03 04")
    assert (number, stopped.added, stopped.cancelled) == ("+33601020304", True, 0)
    assert operator.add_stop("a@example.com", "+33601020304")[1].added is False
    [entry] = operator.stops("a@example.com")
    assert (entry.number, entry.text, entry.created_at) == ("+33601020304", "added by the operator", 1_790_000_000)
    with pytest.raises(Refused):
        operator.add_stop("a@example.com", "hello")
    with pytest.raises(Refused, match="no account"):
        operator.add_stop("nobody@example.com", "+33601020304")
    assert operator.remove_stop("a@example.com", "0033601020304") == ("+33601020304", True)
    assert operator.stops("a@example.com") == []


def test_what_came_back_and_the_price_table(operator: Operator) -> None:
    with pytest.raises(Refused, match="not a ticket"):
        operator.campaign("nope")
    with pytest.raises(Refused, match="no campaign"):
        operator.campaign(ticket_for(1))
    assert operator.pushes(False, None, 10) == [] and operator.inbox(10) == []
    with pytest.raises(Refused, match="push 42 is not failed"):
        operator.retry_pushes(42)
    assert operator.retry_pushes(None) == 0
    table = operator.prices()
    assert operator.load_prices(table.to_csv()) == len(table)
    with pytest.raises(Refused, match=r"^prices\.csv: "):
        operator.load_prices("calling_code,country,name,FR,XXX,WWW\n33,FR,France,cheap,,\n", source="prices.csv")


def test_new_keys_are_letters_and_digits_so_a_shell_or_the_cli_never_reads_one_as_an_option(
    operator: Operator,
) -> None:
    keys = {operator.create_account(f"k{n}@example.com").api_key for n in range(20)}
    keys |= {operator.rotate_key("k0@example.com") for _ in range(300)}
    assert len(keys) == 320
    assert all(len(key) == 32 and key.isascii() and key.isalnum() for key in keys)
