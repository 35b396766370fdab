"""The price table: the shipped default, the operator's CSV, and what a lookup answers."""

from __future__ import annotations

from decimal import Decimal

import phonenumbers
import pytest

from octogate.sms.numbers import normalise
from octogate.sms.prices import CountryPrices, PriceTable, default_price_table

HEADER = "calling_code,country,name,FR,XXX,WWW\n"
EU = {
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
}  # fmt: skip


def test_default_table_prices_france() -> None:
    table = default_price_table()
    assert table.price(33, "FR") == Decimal("0.0650")
    assert table.price(33, "XXX") == Decimal("0.0450")
    assert table.price(33, "WWW") == Decimal("0.0650")
    assert table.lookup(33) == CountryPrices(
        33, "FR", "France", {"FR": Decimal("0.0650"), "XXX": Decimal("0.0450"), "WWW": Decimal("0.0650")}
    )


def test_default_table_covers_the_expected_countries() -> None:
    table = default_price_table()
    countries = {row.country for row in table}
    assert len(table) >= 60
    others = {"GB", "CH", "NO", "US", "MA", "DZ", "TN", "SN", "CI", "BR", "IN", "CN", "JP", "AU"}
    assert countries >= EU | others
    codes = {row.calling_code for row in table}
    assert codes >= {1, 7, 44, 262, 590, 594, 596, 269, 687, 689, 90, 27, 52}


def test_default_table_rows_name_the_main_region_of_their_code() -> None:
    """A country column that disagrees with the numbers' `country` would show one country and bill another."""
    for row in default_price_table():
        assert row.country == phonenumbers.region_code_for_country_code(row.calling_code), row


def test_default_table_prices_are_plausible() -> None:
    for row in default_price_table():
        assert set(row.prices) >= {"FR", "WWW"}, row
        for sms_type, price in row.prices.items():
            assert Decimal("0.03") <= price <= Decimal("0.12"), (row, sms_type)
            assert price.as_tuple().exponent == -4
        if "XXX" in row.prices:
            assert row.prices["XXX"] < row.prices["FR"], row
    low_cost = {row.country for row in default_price_table() if "XXX" in row.prices}
    assert "FR" in low_cost and 2 <= len(low_cost) <= 10


def test_low_cost_to_a_country_without_it_is_none() -> None:
    table = default_price_table()
    assert table.lookup(1) is not None
    assert table.price(1, "XXX") is None
    assert table.price(1, "FR") is not None


def test_a_real_country_is_left_out_on_purpose() -> None:
    """North Korea's numbers are valid (not 150) but not priced: the API answers 151 for them."""
    recipient = normalise("+850 191 234 5678")
    assert recipient.country == "KP"
    assert default_price_table().lookup(recipient.calling_code) is None
    assert default_price_table().price(recipient.calling_code, "WWW") is None


def test_guernsey_is_priced_as_the_44_entry() -> None:
    recipient = normalise("+44 7911 123456")
    assert default_price_table().price(recipient.calling_code, "FR") == default_price_table().price(44, "FR")
    assert default_price_table().price(recipient.calling_code, "FR") is not None


def test_unknown_type_is_none() -> None:
    assert default_price_table().price(33, "SMS") is None


def test_round_trip_to_csv_and_back() -> None:
    table = default_price_table()
    again = PriceTable.from_csv(table.to_csv())
    assert again == table
    assert list(again) == list(table)
    assert again.to_csv() == table.to_csv()


def test_names_with_commas_and_accents_survive_the_round_trip() -> None:
    text = HEADER + '590,GP,"Guadeloupe, Saint Martin",0.0850,,0.0850\n225,CI,Côte d\'Ivoire,0.09,,0.1\n'
    table = PriceTable.from_csv(text)
    assert table.lookup(590).name == "Guadeloupe, Saint Martin"
    assert PriceTable.from_csv(table.to_csv()) == table
    assert table.price(225, "WWW") == Decimal("0.1")


def test_columns_may_be_a_subset_in_any_order() -> None:
    table = PriceTable.from_csv("calling_code,country,name,WWW,FR\n33,FR,France,0.07,0.06\n")
    assert table.price(33, "FR") == Decimal("0.06")
    assert table.price(33, "WWW") == Decimal("0.07")
    assert table.price(33, "XXX") is None


def test_comments_blank_lines_bom_and_spaces_are_tolerated() -> None:
    text = "\ufeff# a comment, with commas\n\n" + HEADER + "\n33 , FR , France , 0.0650 ,, 0.0650\n"
    table = PriceTable.from_csv(text)
    assert len(table) == 1
    assert table.lookup(33) == CountryPrices(
        33, "FR", "France", {"FR": Decimal("0.065"), "WWW": Decimal("0.065")}
    )


def test_empty_price_cell_means_not_offered() -> None:
    table = PriceTable.from_csv(HEADER + "33,FR,France,,,\n")
    assert table.lookup(33) is not None
    assert table.price(33, "FR") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("calling_code,country,name,FR,SMS\n", r"line 1: unknown type column 'SMS'"),
        ("code,country,name,FR\n", r"line 1: the header must start with"),
        ("calling_code,country,name,FR,FR\n", r"line 1: a type column appears twice"),
        (
            HEADER + "33,FR,France,0.065,0.045,0.065\n34,ES,Spain,abc,,0.07\n",
            r"line 3: FR price 'abc' is not a number",
        ),
        (HEADER + "33,FR,France,0.065,,NaN\n", r"line 2: WWW price 'NaN' is not a number"),
        (HEADER + "33,FR,France,0.065,-0.01,0.065\n", r"line 2: XXX price '-0.01' is negative"),
        (HEADER + "33,FR,France,0.06501,,\n", r"line 2: FR price '0.06501' has more than 4 decimals"),
        (
            HEADER + "33,FR,France,0.065,,\n# comment\n33,FR,France bis,0.07,,\n",
            r"line 4: duplicate calling code 33",
        ),
        (HEADER + "33,FR,France,0.065,,\n34,ES,Spain,0.07\n", r"line 3: 4 cells, the header has 6"),
        (HEADER + "+33,FR,France,0.065,,\n", r"line 2: calling code '\+33' is not 1 to 3 digits"),
        (HEADER + "1234,FR,France,0.065,,\n", r"line 2: calling code '1234' is not 1 to 3 digits"),
        (HEADER + "33,France,France,0.065,,\n", r"line 2: country 'France' is not an ISO 3166 alpha-2 code"),
        (HEADER + "33,FR,,0.065,,\n", r"line 2: calling code 33 has no name"),
        ("", r"empty price table"),
    ],
)
def test_bad_rows_raise_with_their_line_number(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PriceTable.from_csv(text)


def test_table_built_from_rows_rejects_duplicates_and_bad_types() -> None:
    france = CountryPrices(33, "FR", "France", {"FR": Decimal("0.065")})
    assert PriceTable([france]).price(33, "FR") == Decimal("0.065")
    with pytest.raises(ValueError, match="duplicate calling code 33"):
        PriceTable([france, france])
    with pytest.raises(ValueError, match="unknown SMS type 'SMS'"):
        PriceTable([CountryPrices(33, "FR", "France", {"SMS": Decimal("0.065")})])
    with pytest.raises(ValueError, match="is not a price"):
        PriceTable([CountryPrices(33, "FR", "France", {"FR": Decimal("-1")})])


def test_table_is_immutable_even_through_the_rows_it_was_built_from() -> None:
    prices = {"FR": Decimal("0.065")}
    table = PriceTable([CountryPrices(33, "FR", "France", prices)])
    prices["FR"] = Decimal("0")
    assert table.price(33, "FR") == Decimal("0.065")
    row = table.lookup(33)
    assert row is not None
    with pytest.raises(TypeError):
        row.prices["FR"] = Decimal("0")  # type: ignore[index]
    with pytest.raises(AttributeError):
        table._rows = {}  # type: ignore[misc]


def test_default_table_is_parsed_once() -> None:
    assert default_price_table() is default_price_table()
