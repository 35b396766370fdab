"""Octopush billing count (not the wire segmentation)."""

from __future__ import annotations

import pytest

from octogate.sms.billing import BillingCount, billing_count, real_segments


@pytest.mark.parametrize(
    ("text", "characters", "sms"),
    [
        ("a" * 160, 160, 1),
        ("a" * 161, 161, 2),
        ("a" * 274, 274, 2),
        ("a" * 275, 275, 3),
        ("a" * 411, 411, 3),
        ("a" * 412, 412, 4),
        ("€" * 80, 160, 1),
        ("€" * 81, 162, 2),
        ("", 0, 1),
    ],
)
def test_gsm_counts(text: str, characters: int, sms: int) -> None:
    assert billing_count(text) == BillingCount(unicode=False, characters=characters, sms=sms)


@pytest.mark.parametrize("char", list("{}€[]~^|\\&$@"))
def test_octopush_double_characters_count_two(char: str) -> None:
    assert billing_count("a" + char).characters == 3
    assert billing_count(char * 80).sms == 1
    assert billing_count(char * 81).sms == 2


@pytest.mark.parametrize("char", list("£¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà "))
def test_other_gsm_characters_count_one(char: str) -> None:
    assert billing_count(char * 160) == BillingCount(unicode=False, characters=160, sms=1)


@pytest.mark.parametrize(
    ("text", "characters"),
    [("a\r\nb", 4), ("a\nb", 4), ("a\rb", 4), ("\n\r", 4), ("\r\r\n", 4), ("\r\n\r\n", 4), ("\r\n@", 4)],
)
def test_line_breaks_count_two(text: str, characters: int) -> None:
    assert billing_count(text).characters == characters


def test_line_breaks_tip_over_160() -> None:
    assert billing_count("a" * 158 + "\r\n").sms == 1
    assert billing_count("a" * 158 + "\n").sms == 1
    assert billing_count("a" * 159 + "\n").sms == 2
    assert billing_count("a" * 159 + "\r\n").sms == 2


def test_one_non_gsm_character_makes_the_text_unicode() -> None:
    result = billing_count("Votre fenêtre")
    assert result == BillingCount(unicode=True, characters=13, sms=1)


def test_diaeresis_is_in_octopush_list_but_not_gsm() -> None:
    assert billing_count("¨").unicode


@pytest.mark.parametrize(
    ("text", "characters", "sms"),
    [
        ("ê" * 70, 70, 1),
        ("ê" * 71, 71, 2),
        ("ê" * 140, 140, 2),
        ("ê" * 141, 141, 3),
        ("😀", 2, 1),  # an emoji is two UTF-16 code units
        ("😀" * 35, 70, 1),
        ("😀" * 36, 72, 2),
        ("ê€@\n" * 10, 40, 1),  # no GSM doubling in a Unicode text
    ],
)
def test_unicode_counts(text: str, characters: int, sms: int) -> None:
    assert billing_count(text) == BillingCount(unicode=True, characters=characters, sms=sms)


def test_billing_differs_from_wire_segments() -> None:
    assert billing_count("a" * 300).sms == 3  # ceil(300 / 137)
    assert real_segments("a" * 300) == 2  # 153 + 147
    assert billing_count("@" * 100).sms == 2  # 200 counted characters
    assert real_segments("@" * 100) == 1  # 100 septets


@pytest.mark.parametrize(
    ("text", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("a" * 152 + "€" * 77, 3), ("ê" * 70, 1), ("ê" * 71, 2), ("😀" * 36, 2)],
)
def test_real_segments(text: str, segments: int) -> None:
    assert real_segments(text) == segments
