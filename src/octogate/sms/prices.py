"""The price table: EUR per SMS, per destination calling code and per Octopush SMS type.

Prices are keyed by *calling code*, the way recipients are normalised (``octogate.sms.numbers``): every
``+44`` number costs the ``44`` row, Guernsey included; every ``+1`` number costs the ``1`` row.

The table travels as CSV because operators edit it in a spreadsheet: ``octogate prices --load`` reads
it, and the shipped default (``data/prices.csv``) seeds a new database.  Parsing is strict and names the
offending line, since a silently skipped row means a country that suddenly answers 151.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from types import MappingProxyType

from octogate.sms.types import SMS_TYPES

_FIXED_COLUMNS = ("calling_code", "country", "name")
_MAX_DECIMALS = 4  # prices are quoted, and per-recipient <cost> answered, with four decimals
_CALLING_CODE = re.compile(r"[1-9][0-9]{0,2}")
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True, slots=True)
class CountryPrices:
    """One row: a calling code, the country shown for it, and the price of each type offered there."""

    calling_code: int
    country: str  # ISO 3166 alpha-2 of the calling code's main region (GB for 44, US for 1)
    name: str
    prices: Mapping[str, Decimal]  # keys among "FR", "XXX", "WWW"; a missing key: type not offered


class PriceTable:
    """An immutable set of ``CountryPrices``, one per calling code.

    A calling code absent from the table is a country the gateway does not cover (answer 151); a row
    without the requested type is a type not offered there (152 for ``XXX``, 151 otherwise).
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: Iterable[CountryPrices] = ()) -> None:
        """Build from rows (as the store returns them); raises ``ValueError`` on a duplicate or bad row."""
        table: dict[int, CountryPrices] = {}
        for row in rows:
            _check_row(row)
            if row.calling_code in table:
                raise ValueError(f"duplicate calling code {row.calling_code}")
            # Copied into a read-only mapping: the caller's dict must not be able to change a price later.
            table[row.calling_code] = CountryPrices(
                row.calling_code, row.country, row.name, MappingProxyType(dict(row.prices))
            )
        self._rows: Mapping[int, CountryPrices] = MappingProxyType(dict(sorted(table.items())))

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "_rows"):
            raise AttributeError("PriceTable is immutable")
        object.__setattr__(self, name, value)

    @classmethod
    def from_csv(cls, text: str) -> PriceTable:
        """Parse the operator's CSV: ``calling_code,country,name`` then type columns among FR, XXX, WWW.

        Prices are EUR per SMS with at most four decimals; an empty cell means the type is not offered.
        Blank lines and lines starting with ``#`` are ignored.  Any bad row raises ``ValueError`` naming
        its line: unknown type column, non-numeric or negative price, duplicate calling code...

        The shipped table deliberately leaves some real countries out (North Korea, 850, among others), so
        a valid number there is "country found but not covered" (151) until the operator prices it.
        """
        header: list[str] | None = None
        rows: dict[int, CountryPrices] = {}
        for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cells = [cell.strip() for cell in next(csv.reader([line]))]
            if header is None:
                header = _check_header(cells, number)
                continue
            try:
                row = _parse_row(header, cells)
            except ValueError as error:
                raise ValueError(f"line {number}: {error}") from None
            if row.calling_code in rows:
                raise ValueError(f"line {number}: duplicate calling code {row.calling_code}")
            rows[row.calling_code] = row
        if header is None:
            raise ValueError("empty price table: a header line is required")
        return cls(rows.values())

    def to_csv(self) -> str:
        """The table as CSV, every type column present, sorted by calling code: ``from_csv`` reads it back."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*_FIXED_COLUMNS, *SMS_TYPES])
        for row in self:
            cells = [f"{row.prices[t]:f}" if t in row.prices else "" for t in SMS_TYPES]
            writer.writerow([row.calling_code, row.country, row.name, *cells])
        return out.getvalue()

    def lookup(self, calling_code: int) -> CountryPrices | None:
        """The row of a calling code, or None when the gateway does not cover it."""
        return self._rows.get(calling_code)

    def price(self, calling_code: int, sms_type: str) -> Decimal | None:
        """Price of one ``sms_type`` SMS to ``calling_code``; None if the country or type is not offered."""
        row = self._rows.get(calling_code)
        return None if row is None else row.prices.get(sms_type)

    def __iter__(self) -> Iterator[CountryPrices]:
        return iter(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PriceTable):
            return NotImplemented
        return self._rows == other._rows

    def __repr__(self) -> str:
        return f"<PriceTable: {len(self)} countries>"


@cache
def default_price_table() -> PriceTable:
    """The table shipped with the package (``octogate/sms/data/prices.csv``), parsed once."""
    text = resources.files("octogate.sms").joinpath("data/prices.csv").read_text(encoding="utf-8")
    return PriceTable.from_csv(text)


def _check_header(cells: list[str], number: int) -> list[str]:
    if tuple(cells[:3]) != _FIXED_COLUMNS:
        raise ValueError(f"line {number}: the header must start with {','.join(_FIXED_COLUMNS)}")
    types = cells[3:]
    for column in types:
        if column not in SMS_TYPES:
            expected = ", ".join(SMS_TYPES)
            raise ValueError(f"line {number}: unknown type column {column!r} (expected {expected})")
    if len(set(types)) != len(types):
        raise ValueError(f"line {number}: a type column appears twice")
    return cells


def _parse_row(header: list[str], cells: list[str]) -> CountryPrices:
    if len(cells) != len(header):
        raise ValueError(f"{len(cells)} cells, the header has {len(header)}")
    code, country, name, *price_cells = cells
    if not _CALLING_CODE.fullmatch(code):
        raise ValueError(f"calling code {code!r} is not 1 to 3 digits")
    prices = {
        sms_type: _parse_price(cell, sms_type)
        for sms_type, cell in zip(header[3:], price_cells, strict=True)
        if cell
    }
    row = CountryPrices(int(code), country, name, prices)
    _check_row(row)
    return row


def _parse_price(cell: str, sms_type: str) -> Decimal:
    try:
        price = Decimal(cell)
    except InvalidOperation:
        raise ValueError(f"{sms_type} price {cell!r} is not a number") from None
    if not price.is_finite():
        raise ValueError(f"{sms_type} price {cell!r} is not a number")
    if price < 0:
        raise ValueError(f"{sms_type} price {cell!r} is negative")
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_MAX_DECIMALS:
        raise ValueError(f"{sms_type} price {cell!r} has more than {_MAX_DECIMALS} decimals")
    return price


def _check_row(row: CountryPrices) -> None:
    """What both the CSV and the store's rows must satisfy."""
    if not 1 <= row.calling_code <= 999:
        raise ValueError(f"calling code {row.calling_code} is not 1 to 3 digits")
    if not _COUNTRY.fullmatch(row.country):
        raise ValueError(f"country {row.country!r} is not an ISO 3166 alpha-2 code")
    if not row.name:
        raise ValueError(f"calling code {row.calling_code} has no name")
    for sms_type, price in row.prices.items():
        if sms_type not in SMS_TYPES:
            raise ValueError(f"unknown SMS type {sms_type!r}")
        if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
            raise ValueError(f"{sms_type} price {price!r} is not a price")
