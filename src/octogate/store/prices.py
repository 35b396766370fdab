"""The price table between its two forms: `PriceTable` (pure, Decimal) and the `prices` table's rows (micro-units)."""

from __future__ import annotations

from decimal import Decimal

from octogate.sms.money import from_micro, to_micro
from octogate.sms.prices import SMS_TYPES, CountryPrices, PriceTable
from octogate.store.queries import PriceRow

PRICE_DECIMALS = Decimal("0.0001")  # prices carry four decimals (the CSV refuses more)


def rows_from_price_table(table: PriceTable) -> list[PriceRow]:
    def micro(country: CountryPrices, sms_type: str) -> int | None:
        price = country.prices.get(sms_type)
        return None if price is None else to_micro(price)

    return [
        (c.calling_code, c.country, c.name, micro(c, "FR"), micro(c, "XXX"), micro(c, "WWW")) for c in table
    ]


def price_table_from_rows(rows: list[PriceRow]) -> PriceTable:
    return PriceTable(
        CountryPrices(
            calling_code=calling_code,
            country=country,
            name=name,
            prices={
                sms_type: from_micro(micro).quantize(PRICE_DECIMALS)
                for sms_type, micro in zip(SMS_TYPES, (fr, xxx, www), strict=True)
                if micro is not None
            },
        )
        for calling_code, country, name, fr, xxx, www in rows
    )
