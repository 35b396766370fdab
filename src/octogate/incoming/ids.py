"""Carrier message ids as SMSCs write them: the same id may come back in hex in one place and in decimal in
the other (submit_sm_resp vs receipt), upper- or lower-case, with or without leading zeros.

Ids are compared by *keys*. A recorded part is stored under one key whatever its connector's setting: its id's
canonical form (lower case, no leading zeros), the id as submit_sm_resp spells it.

A connector that declares how its SMSC writes ids (`message_ids`, Kannel's `msg-id-type`) has its receipts'
ids re-spelled into the submit_sm_resp's base (`receipt_key`): one key, one indexed equality, no guessing. The
parts' keys do not depend on the setting, so switching it never strands a recorded part.

Under "auto" (the default: the SMSC's habits unknown) a receipt looks up every key its id can be read as
(`part_keys`): its canonical form, and its value re-spelled in the other base when it is all hex (its decimal)
or all decimal (its hex). The relation is symmetric (a receipt's re-spelling is a part's canonical key exactly
when the part's re-spelling is the receipt's), so this finds what storing every re-spelling with the part found,
with one row per part, against one to three index probes per receipt. An all-digit id is ambiguous (decimal, or
hex without letters): a match through the id's own spelling wins over one through a re-spelling (`best_match`),
which can name the wrong part when both exist; a declared style cannot.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import NamedTuple, Protocol, TypeVar

from octogate.smpp.constants import MessageIds

HEX_DIGITS = frozenset(string.hexdigits)
DECIMAL_DIGITS = frozenset(string.digits)
MAX_ID_LENGTH = 64


class PartKey(NamedTuple):
    key: str
    same_base: bool  # the id as written (True) or its value re-spelled in the other base (False)


def canonical(raw: str) -> str:
    """Lower-case, without surrounding blanks or leading zeros ("0" stays "0")."""
    text = raw.strip().lower()[:MAX_ID_LENGTH]
    return text.lstrip("0") or ("0" if text else "")


def receipt_key(raw: str, style: MessageIds = "auto") -> str:
    """The one key a receipt's id is looked up by: its canonical form, re-spelled into the base of the
    submit_sm_resp when the connector declares the two differ. An id not readable in the declared base is
    kept as written (then only an identical part id matches it)."""
    key = canonical(raw)
    if style == "hex-in-response" and key and DECIMAL_DIGITS.issuperset(key):
        return format(int(key), "x")
    if style == "hex-in-receipt" and key and HEX_DIGITS.issuperset(key):
        return str(int(key, 16))
    return key


def respelled(style: MessageIds) -> bool:
    """Whether a receipt that found nothing by its key is looked up again by its other spellings: only when
    the connector's bases are unknown ("auto")."""
    return style == "auto"


def part_keys(raw: str) -> list[PartKey]:
    """Every key an id can be read as: its own canonical form first, then its value in the other base (hex →
    decimal; and, for an all-digit id, decimal → hex too). Empty for an empty id. A receipt looks its parts up
    by all of them; a part is stored under the first (earlier versions stored all of them: the others are
    marked `same_base = 0` and no longer read)."""
    first = canonical(raw)
    if not first:
        return []
    keys = [PartKey(first, True)]  # once per receipt now: a list and tuples, ~7 µs against ~10 (dict, dataclasses)
    if HEX_DIGITS.issuperset(first):
        decimal = str(int(first, 16))  # it was hex: its decimal form
        if decimal != first:
            keys.append(PartKey(decimal, False))
        if first.isdigit():
            hexa = format(int(first), "x")  # it was decimal: its hex form
            if hexa not in (first, decimal):
                keys.append(PartKey(hexa, False))
    return keys


class Candidate(Protocol):
    """A recorded part one key names (the store's `PartMatch`)."""

    @property
    def message_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def same_base(self) -> bool: ...


C = TypeVar("C", bound=Candidate)


def best_match(candidates: Sequence[C], pending: str) -> C | None:
    """The part a receipt most likely names among those sharing its key: read in its own base first, then a
    part still waiting for its receipt (`pending` status), then the newest message."""
    if not candidates:
        return None
    return min(candidates, key=lambda c: (not c.same_base, c.status != pending, -c.message_id))
