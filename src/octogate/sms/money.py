"""Money as integer micro-units (1e-6 of the currency): exact sums, exact comparisons, no float drift.

Prices carry four decimals and SMS counts multiply them, so a micro-unit integer holds every amount exactly,
in SQLite's INTEGER and PostgreSQL's BIGINT alike.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MICRO = 1_000_000


def to_micro(amount: Decimal | str | int) -> int:
    """Exact conversion; more than six decimals is an error, not a silent rounding."""
    try:
        value = Decimal(amount) * MICRO
    except InvalidOperation:
        raise ValueError(f"not an amount: {str(amount)[:40]!r}") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"not an amount with at most 6 decimals: {str(amount)[:40]!r}")
    return int(value)


def from_micro(micro: int) -> Decimal:
    return Decimal(micro).scaleb(-6)


def format_money(micro: int, min_decimals: int, max_decimals: int = 4) -> str:
    """`0.105`, `6.93`, `0.1050`: at least `min_decimals`, trailing zeros beyond them dropped.

    Amounts are cut (not rounded) at `max_decimals`: an answer never shows more money than there is.
    Integer arithmetic: a 10,000-recipient answer formats 10,001 amounts.
    """
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(micro), MICRO)
    decimals = f"{fraction:06d}"[:max_decimals].rstrip("0").ljust(min_decimals, "0")
    return f"{sign}{whole}.{decimals}" if decimals else f"{sign}{whole}"
