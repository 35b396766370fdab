"""Carrier message ids as SMSCs write them: the same id may come back in hex in one place and in decimal in
the other (submit_sm_resp vs receipt), upper- or lower-case, with or without leading zeros.

A part is recorded with the id exactly as its submit_sm_resp gave it; a receipt's id is looked up through the
candidate forms below. An all-digit id is ambiguous (decimal, or hex without letters): both readings are tried,
the id as written first, so an exact match wins when several parts could match.
"""

from __future__ import annotations

import string

HEX_DIGITS = frozenset(string.hexdigits)
#: widths SMSCs commonly zero-pad their ids to; the receipt's own width and one to three more zeros than the
#: bare form are tried too. A recorded id padded to another width is not found (its receipt is kept as early).
PAD_WIDTHS = (8, 10, 12, 16, 20, 32)
MAX_ID_LENGTH = 64


def canonical(raw: str) -> str:
    """Lower-case, without surrounding blanks or leading zeros ("0" stays "0")."""
    text = raw.strip().lower()[:MAX_ID_LENGTH]
    return text.lstrip("0") or ("0" if text else "")


def base_forms(raw: str) -> list[str]:
    """The canonical id, then its other readings: hex → decimal, decimal → hex (both for all-digit ids)."""
    first = canonical(raw)
    if not first:
        return []
    forms = [first]
    if all(c in HEX_DIGITS for c in first):
        value = int(first, 16)
        forms.append(str(value))  # it was hex: its decimal form
        if first.isdigit():
            forms.append(format(int(first), "x"))  # it was decimal: its hex form
    seen: dict[str, None] = dict.fromkeys(forms)
    return list(seen)


def lookup_candidates(raw: str) -> list[str]:
    """Every form a recorded id could have for this receipt id, most likely first."""
    text = raw.strip()[:MAX_ID_LENGTH]
    widths = (len(text), *PAD_WIDTHS)
    found: dict[str, None] = {}
    if text:
        found[text] = None
    for form in base_forms(text):
        for shown in (form, form.upper()):
            found[shown] = None
            for width in (*widths, len(shown) + 1, len(shown) + 2, len(shown) + 3):
                if width > len(shown):
                    found[shown.zfill(width)] = None
    return list(found)
