"""Recipient normalisation: the spellings Octopush callers send, the codes a bad entry answers."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from octogate.sms.numbers import NumberError, Recipient, normalise, warm

FRENCH_MOBILE = Recipient(e164="+33601020304", calling_code=33, country="FR")


@pytest.mark.parametrize(
    "raw",
    [
        "+33601020304",
        "0033601020304",
        "33601020304",
        " 33601020304",  # '+' sent unencoded in a query string arrives as a space
        "  33601020304 ",
        "+33 6 01 02 03 04",
        "+33.6.01.02.03.04",
        "+33-6-01-02-03-04",
        "+33 (0)6 01 02 03 04",
        "0033 6 01 02 03 04",
        "\t+33601020304\r\n",
    ],
)
def test_every_accepted_spelling_gives_the_same_e164(raw: str) -> None:
    assert normalise(raw) == FRENCH_MOBILE


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "+33abc",
        "+33 6 01 02 03 0A",
        "+1 800 FLOWERS",  # phonenumbers would read the letters as a vanity number
        "",
        "   ",
        "+",
        "00",
        "+33 6 01 02 03 04 ext. 12",
        "+33601020304#",
        "+33+601020304",
        "+3360102030",  # one digit short for France
        "+336010203041234",  # too long for France
        "+33" + "6" * 80,
    ],
)
def test_malformed_entries_answer_117(raw: str) -> None:
    with pytest.raises(NumberError) as caught:
        normalise(raw)
    assert caught.value.code == 117


@pytest.mark.parametrize(
    "raw",
    [
        "+999123456",
        "0601020304",  # a French *national* number: read as international digits, '0' is no calling code
        "+0601020304",
        "+80012345678",  # international freephone: a valid code, but of no country to price or rule on
        "+88212345678",
    ],
)
def test_unknown_calling_codes_answer_150(raw: str) -> None:
    with pytest.raises(NumberError) as caught:
        normalise(raw)
    assert caught.value.code == 150


def test_number_error_is_a_value_error_that_names_the_entry() -> None:
    with pytest.raises(ValueError, match="33abc"):
        normalise("+33abc")


@pytest.mark.parametrize(
    ("raw", "e164", "calling_code", "country"),
    [
        ("+44 7911 123456", "+447911123456", 44, "GB"),  # a Guernsey range for phonenumbers: priced as 44
        ("+44 7781 123456", "+447781123456", 44, "GB"),  # Guernsey
        ("+44 7700 900123", "+447700900123", 44, "GB"),
        ("+1 416 555 0123", "+14165550123", 1, "US"),  # Toronto: every +1 number is the code-1 entry
        ("+1 212 555 0123", "+12125550123", 1, "US"),
        ("+7 701 123 4567", "+77011234567", 7, "RU"),  # Kazakhstan shares +7
        ("+262 692 12 34 56", "+262692123456", 262, "RE"),
        ("+39 06 1234 5678", "+390612345678", 39, "IT"),  # Italian leading zero kept
        ("+49 151 12345678", "+4915112345678", 49, "DE"),
        ("+33 06 01 02 03 04", "+33601020304", 33, "FR"),  # national trunk '0' after the code dropped
    ],
)
def test_country_is_the_calling_codes_main_region(
    raw: str, e164: str, calling_code: int, country: str
) -> None:
    assert normalise(raw) == Recipient(e164=e164, calling_code=calling_code, country=country)


def _generated_numbers() -> list[str]:
    """A few hundred mobile numbers across every region phonenumbers knows, with random subscriber digits."""
    rnd = random.Random(20260324)
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        tail = "".join(rnd.choice("0123456789") for _ in range(2))
        numbers.append(e164[:-2] + tail)
    return numbers


GENERATED = _generated_numbers()


def test_generated_numbers_cover_many_countries() -> None:
    assert len(GENERATED) > 200
    assert len({phonenumbers.parse(n).country_code for n in GENERATED}) > 150


@pytest.mark.parametrize("e164", GENERATED)
def test_generated_numbers_agree_with_phonenumbers_in_every_spelling(e164: str) -> None:
    parsed = phonenumbers.parse(e164)
    if not phonenumbers.is_possible_number(parsed) or phonenumbers.region_code_for_number(parsed) is None:
        pytest.skip("random digits made an impossible number")
    expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    digits = expected[1:]
    spellings = [expected, "00" + digits, digits, " " + digits, phonenumbers.format_number(parsed, 1)]
    results = {normalise(spelling) for spelling in spellings}
    code = parsed.country_code
    assert results == {Recipient(expected, code, phonenumbers.region_code_for_country_code(code))}


def test_warm_loads_every_region_up_front() -> None:
    warm()
    assert all(loader is None for loader in phonenumbers.PhoneMetadata._region_available.values())
    assert normalise("+33601020304") == FRENCH_MOBILE


def test_the_french_fast_path_agrees_with_phonenumbers() -> None:
    from octogate.sms.numbers import _parsed

    rng = random.Random(33)
    for _ in range(2000):
        digits = "33" + str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(8))
        for spelling in (f"+{digits}", f"00{digits}", digits, f" {digits}"):
            assert normalise(spelling) == _parsed(spelling, digits)
