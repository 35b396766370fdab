"""The price table between its two forms: `PriceTable` (pure, Decimal) and the `prices` table's rows (micro-units)."""

from __future__ import annotations

from decimal import Decimal

from octogate.sms.money import from_micro, to_micro
from octogate.sms.prices import CountryPrices, PriceTable
from octogate.sms.types import SMS_TYPES
from octogate.store.records import PriceRow

PRICE_DECIMALS = Decimal("0.0001")  # prices carry four decimals (the CSV refuses more)


def column(sms_type: str) -> str:
    """The `prices` column of an SMS type: its name in lower case (fr, xxx, www)."""
    return sms_type.lower()


def rows_from_price_table(table: PriceTable) -> list[PriceRow]:
    def micro(country: CountryPrices, sms_type: str) -> int | None:
        price = country.prices.get(sms_type)
        return None if price is None else to_micro(price)

    return [
        PriceRow(c.calling_code, c.country, c.name, **{column(t): micro(c, t) for t in SMS_TYPES}) for c in table
    ]


def price_table_from_rows(rows: list[PriceRow]) -> PriceTable:
    return PriceTable(
        CountryPrices(
            calling_code=row.calling_code,
            country=row.country,
            name=row.name,
            prices={
                sms_type: from_micro(micro).quantize(PRICE_DECIMALS)
                for sms_type in SMS_TYPES
                if (micro := getattr(row, column(sms_type))) is not None
            },
        )
        for row in rows
    )
