"""Recipient numbers: the spellings Octopush callers send, normalised to E.164 with ``phonenumbers``.

Callers write ``+33601020304``, ``0033601020304`` or ``33601020304``, and a query string with an
unencoded ``+`` turns it into a space (``" 33601020304"``).  All of them are international: the API has
no notion of a "home" country, so digits without ``+``/``00`` are read as starting with a calling code.

The gateway prices and routes by *calling code*, not by the region ``phonenumbers`` resolves a number
to: ``+44 7911 123456`` is a Guernsey number for ``phonenumbers`` but is billed as the ``44`` entry of
the price table and shown as ``GB``; every ``+1`` number is ``US``.  ``Recipient.country`` is therefore
the main region of the calling code (``phonenumbers.region_code_for_country_code``).

Validation is deliberately "possible", not "valid": a number of a plausible length for its country is
accepted even if its range is not in the (ageing) metadata; the SMSC has the last word.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

#: ``NumberError.code`` values (the Octopush error table).
MALFORMED = 117
UNKNOWN_COUNTRY = 150

# Separators tolerated inside a number; anything else that is not an ASCII digit (letters, '#', '*',
# ';', a '+' in the middle, non-ASCII digits...) makes the entry malformed.  Letters are refused here on
# purpose: phonenumbers would read "+1 800 FLOWERS" as a vanity number and send to it.
_SEPARATORS = re.compile(r"[\s.\-()]+")
_SHAPE = re.compile(r"(\+|00)?([0-9]+)")
# Longer than any E.164 number plus generous formatting: refused before any parsing work.
_MAX_RAW = 64
# phonenumbers' marker for the non-geographic codes (800 freephone, 870 Inmarsat, 882/883 networks...).
_NON_GEOGRAPHIC = "001"
_UNKNOWN_REGION = "ZZ"
# French numbers are most of the traffic: their 9-digit national form is always a possible number, so
# they skip phonenumbers' parse (10x faster; tests check both paths agree).
_FRENCH = re.compile(r"33[1-9][0-9]{8}")


@dataclass(frozen=True, slots=True)
class Recipient:
    """A normalised recipient: what is stored, priced, routed and echoed back in ``<recipient>``."""

    e164: str  # "+33601020304"
    calling_code: int  # 33
    country: str  # ISO 3166 alpha-2 of the calling code's main region, for display and STOP/hours rules


class NumberError(ValueError):
    """A recipient that cannot be used; ``code`` is the Octopush error to report for it."""

    def __init__(self, code: int, raw: str, reason: str) -> None:
        super().__init__(f"{reason}: {raw[:40]!r}")  # bounded: the entry may be megabytes of junk
        self.code = code
        self.raw = raw


def normalise(raw: str) -> Recipient:
    """Normalise one recipient as written by a caller into a ``Recipient``.

    Accepted: ``+33601020304``, ``0033601020304``, ``33601020304``, with leading/trailing whitespace and
    inner spaces, dots, dashes and parentheses (``+33 (0)6 01-02.03.04``).  Input without ``+``/``00`` is
    read as international digits, so a French national number such as ``0601020304`` has no valid calling
    code and is refused with 150, not guessed to be French: Octopush callers must send international
    numbers, and guessing a country would send (and bill) to the wrong one.

    Raises ``NumberError`` with ``code`` 117 for malformed input (letters or other symbols, no digits, a
    length impossible for the country) and 150 for an unknown calling code, including the non-geographic
    ones (800, 870, 882...), which have no country to price or apply rules for.
    """
    if len(raw) > _MAX_RAW:
        raise NumberError(MALFORMED, raw, "too long to be a phone number")
    shape = _SHAPE.fullmatch(_SEPARATORS.sub("", raw))
    if shape is None:
        raise NumberError(MALFORMED, raw, "not a phone number")
    digits = shape[2]
    if _FRENCH.fullmatch(digits):
        return Recipient(e164="+" + digits, calling_code=33, country="FR")
    return _parsed(raw, digits)


def _parsed(raw: str, digits: str) -> Recipient:
    """The general path: phonenumbers' parse and length rules, for every country."""
    try:
        number = phonenumbers.parse("+" + digits)
    except NumberParseException as error:
        if error.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            raise NumberError(UNKNOWN_COUNTRY, raw, "unknown country calling code") from None
        raise NumberError(MALFORMED, raw, "not a phone number") from None
    calling_code = number.country_code or 0  # parsed from "+...": always set
    country = _country(calling_code)
    if country is None:
        raise NumberError(UNKNOWN_COUNTRY, raw, "calling code of no country")
    # IS_POSSIBLE_LOCAL_ONLY (a number without its area code) cannot be dialled from abroad: refused too.
    if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
        raise NumberError(MALFORMED, raw, "impossible length for its country")
    national = phonenumbers.national_significant_number(number)
    return Recipient(e164=f"+{calling_code}{national}", calling_code=calling_code, country=country)


@cache
def _country(calling_code: int) -> str | None:
    """The main region of a calling code (``GB`` for 44, ``US`` for 1), or None if it has no country."""
    region = phonenumbers.region_code_for_country_code(calling_code)
    if region in (_NON_GEOGRAPHIC, _UNKNOWN_REGION):
        return None
    return region


def warm() -> None:
    """Load every region's metadata and compile its patterns now, at start-up.

    phonenumbers loads metadata and compiles regular expressions lazily, per region: without this the
    first campaign to each country pays for it inside a request.
    """
    phonenumbers.PhoneMetadata.load_all()
    for calling_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        _country(calling_code)
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[calling_code]:
            example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
            if example is None:
                continue
            # Only warming: an odd example number must not stop the server from starting.
            with contextlib.suppress(NumberError):
                normalise(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
