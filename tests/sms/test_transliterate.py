"""Transliteration of non-GSM characters to their closest GSM 03.38 form."""

from __future__ import annotations

import pytest

from octogate.sms.billing import billing_count
from octogate.sms.gsm import GSM_CHARS, is_gsm
from octogate.sms.transliterate import TABLE, to_gsm


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("l’été", "l'été"),
        ("‘a’ ‚b‛", "'a' 'b'"),
        ("“a” „b‟", '"a" "b"'),
        ("« Bonjour »", '" Bonjour "'),
        ("a\u00a0b\u202fc\u2009d\u2003e\tf", "a b c d e f"),
        ("a – b — c", "a - b - c"),
        ("Attendez…", "Attendez..."),
        ("Âge, âme", "Age, ame"),
        ("À bientôt", "A bientot"),
        ("garçon", "garcon"),
        ("Ça", "Ça"),
        ("fenêtre, Noël", "fenetre, Noel"),
        ("île, maïs", "ile, mais"),
        ("Hôtel", "Hotel"),
        ("sûr, Août", "sur, Aout"),
        ("cœur, Œuvre", "coeur, OEuvre"),
        ("ÈÊËÎÏÔÛÙŸÿ", "EEEIIOUUYy"),
        ("José, São, Ñandú", "José, Sao, Ñandu"),
        ("Łódź", "Lodz"),
        ("ﬁn", "fin"),
        ("n° 12", "no 12"),
        ("e\u0301te\u0301", "été"),  # decomposed accents recomposed to the GSM letter
        ("cou\u00adcou", "coucou"),  # soft hyphen dropped
    ],
)
def test_to_gsm(text: str, expected: str) -> None:
    assert to_gsm(text) == expected


def test_french_text_becomes_gsm_and_cheaper() -> None:
    text = (
        "Votre rendez-vous chez l’opticien est confirmé : jeudi à 14 h — à bientôt ! « Merci » … "
        "Noël, maïs, cœur, garçon, fenêtre, sûr, île."
    )
    assert not is_gsm(text)
    converted = to_gsm(text)
    assert is_gsm(converted)
    assert billing_count(converted).sms < billing_count(text).sms


def test_gsm_characters_are_left_alone() -> None:
    text = "".join(sorted(GSM_CHARS))
    assert to_gsm(text) == text


@pytest.mark.parametrize("text", ["Привет", "😀", "中文", "¨", "ZWJ 👨\u200d👩\u200d👧"])
def test_characters_without_gsm_form_are_left_alone(text: str) -> None:
    assert to_gsm(text) == text


def test_mixed_text_keeps_what_has_no_gsm_form() -> None:
    assert to_gsm("Prêt 😀 «ok»") == 'Pret 😀 "ok"'


def test_table_only_maps_non_gsm_characters_to_gsm() -> None:
    for code, value in TABLE.items():
        assert chr(code) not in GSM_CHARS
        assert value is None or (value and is_gsm(value))
