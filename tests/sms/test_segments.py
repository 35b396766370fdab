"""Wire segmentation: part budgets, escape and surrogate pairs never cut, concatenation UDH."""

from __future__ import annotations

import random

import pytest

from octogate.sms.gsm import decode_gsm, decode_ucs2, gsm_septets, is_gsm
from octogate.sms.segments import (
    ConcatInfo,
    choose_alphabet,
    encode_part,
    parse_udh,
    split_text,
    ucs2_units,
    udh_concat,
)

EMOJI = "😀"
NON_GSM = "ç"  # 'Ç' is in GSM 03.38, the lowercase 'ç' is not


def test_non_gsm_char_used_in_these_tests_really_is_not_gsm() -> None:
    assert not is_gsm(NON_GSM)
    assert is_gsm("Ç")
    assert is_gsm("é")


def test_choose_alphabet() -> None:
    assert choose_alphabet("Hello €") == "gsm"
    assert choose_alphabet("Hello ê") == "ucs2"
    assert choose_alphabet(EMOJI) == "ucs2"


@pytest.mark.parametrize(
    ("text", "alphabet", "lengths"),
    [
        ("a" * 160, "gsm", [160]),
        ("a" * 161, "gsm", [153, 8]),
        ("a" * 306, "gsm", [153, 153]),
        ("€" * 80, "gsm", [80]),  # 160 septets: still one SMS
        ("€" * 80 + "a", "gsm", [76, 5]),
        (NON_GSM * 70, "ucs2", [70]),
        (NON_GSM * 71, "ucs2", [67, 4]),
        (EMOJI * 35, "ucs2", [35]),  # 70 units
    ],
)
def test_split_lengths(text: str, alphabet: str, lengths: list[int]) -> None:
    got_alphabet, parts = split_text(text)
    assert got_alphabet == alphabet
    assert [len(p) for p in parts] == lengths


def test_escape_pair_is_not_cut_at_part_boundary() -> None:
    # 152 + 77*2 = 306 septets = exactly 2 x 153, yet the first '€' would straddle the boundary.
    alphabet, parts = split_text("a" * 152 + "€" * 77)
    assert alphabet == "gsm"
    assert len(parts) == 3
    assert parts[0] == "a" * 152
    assert [gsm_septets(p) for p in parts] == [152, 152, 2]


def test_surrogate_pair_is_not_cut_at_part_boundary() -> None:
    # 66 + 34*2 = 134 units = exactly 2 x 67, yet the first emoji would straddle the boundary.
    alphabet, parts = split_text("a" * 66 + EMOJI * 34)
    assert alphabet == "ucs2"
    assert len(parts) == 3
    assert parts[0] == "a" * 66
    assert [ucs2_units(p) for p in parts] == [66, 66, 2]


def test_36_emoji_make_two_parts() -> None:
    alphabet, parts = split_text(EMOJI * 36)
    assert alphabet == "ucs2"
    assert parts == [EMOJI * 33, EMOJI * 3]


@pytest.mark.parametrize(
    ("udh_length", "gsm_budget", "ucs2_budget"),
    [(6, 153, 67), (7, 152, 66), (0, 160, 70)],
)
def test_budgets_follow_udh_length(udh_length: int, gsm_budget: int, ucs2_budget: int) -> None:
    _, parts = split_text("a" * 400, udh_length=udh_length)
    assert len(parts[0]) == gsm_budget
    _, parts = split_text(NON_GSM * 200, udh_length=udh_length)
    assert len(parts[0]) == ucs2_budget


def test_udh_too_long_is_refused() -> None:
    with pytest.raises(ValueError):
        split_text("a" * 200, udh_length=139)
    with pytest.raises(ValueError):
        split_text("a" * 200, udh_length=-1)


def _random_text(rng: random.Random, pool: str, length: int) -> str:
    return "".join(rng.choice(pool) for _ in range(length))


@pytest.mark.parametrize("udh_length", [0, 6, 7])
def test_random_texts_split_within_budget_and_rejoin(udh_length: int) -> None:
    rng = random.Random(udh_length)
    gsm_pool = "abcXYZ 019.,\n@$é€[]{}~^|\\"
    ucs2_pool = gsm_pool + "çêœ" + EMOJI + "🇫🇷Ж"
    gsm_budget = 160 - (udh_length * 8 + 6) // 7
    ucs2_budget = (140 - udh_length) // 2
    for _ in range(300):
        pool = rng.choice([gsm_pool, ucs2_pool])
        text = _random_text(rng, pool, rng.randrange(0, 500))
        alphabet, parts = split_text(text, udh_length=udh_length)
        assert "".join(parts) == text
        if alphabet == "gsm":
            measure, single, budget = gsm_septets, 160, gsm_budget
        else:
            measure, single, budget = ucs2_units, 70, ucs2_budget
        if len(parts) == 1:
            assert measure(text) <= single
            continue
        assert measure(text) > single
        for i, part in enumerate(parts):
            assert 0 < measure(part) <= budget
            if i < len(parts) - 1:  # greedy: the next character would not have fitted
                assert measure(part + parts[i + 1][0]) > budget
            encoded = encode_part(alphabet, part)
            decoded = decode_gsm(encoded) if alphabet == "gsm" else decode_ucs2(encoded)
            assert decoded == part  # a cut pair would not survive the round trip


def test_encode_part() -> None:
    assert encode_part("gsm", "a€") == b"\x61\x1b\x65"
    assert encode_part("ucs2", "aê") == b"\x00\x61\x00\xea"


def test_udh_concat_8bit() -> None:
    assert udh_concat(0xAB, 3, 2) == bytes.fromhex("050003ab0302")


def test_udh_concat_16bit() -> None:
    assert udh_concat(0x1234, 3, 1, sixteen_bit=True) == bytes.fromhex("0608041234" "0301")


@pytest.mark.parametrize(
    ("ref", "total", "seq", "sixteen_bit"),
    [(256, 2, 1, False), (-1, 2, 1, False), (0x10000, 2, 1, True), (1, 0, 1, False), (1, 256, 1, False),
     (1, 2, 0, False), (1, 2, 3, False)],
)
def test_udh_concat_rejects_out_of_range(ref: int, total: int, seq: int, sixteen_bit: bool) -> None:
    with pytest.raises(ValueError):
        udh_concat(ref, total, seq, sixteen_bit=sixteen_bit)


def test_parse_udh_round_trips_8bit() -> None:
    payload = encode_part("gsm", "hello")
    assert parse_udh(udh_concat(42, 3, 2) + payload) == (ConcatInfo(ref=42, total=3, seq=2), payload)


def test_parse_udh_round_trips_16bit() -> None:
    payload = encode_part("ucs2", "ê" + EMOJI)
    info, rest = parse_udh(udh_concat(0xBEEF, 5, 5, sixteen_bit=True) + payload)
    assert info == ConcatInfo(ref=0xBEEF, total=5, seq=5, sixteen_bit=True)
    assert rest == payload


def test_parse_udh_skips_other_elements() -> None:
    # Port addressing (IEI 0x05, 4 octets) before the concatenation element.
    data = bytes.fromhex("0b" "0504" "0b8423f0" "0003" "070201") + b"body"
    assert parse_udh(data) == (ConcatInfo(ref=7, total=2, seq=1), b"body")


def test_parse_udh_without_concatenation() -> None:
    assert parse_udh(bytes.fromhex("06" "0504" "0b8423f0") + b"body") == (None, b"body")


def test_parse_udh_ignores_invalid_sequence_number() -> None:
    assert parse_udh(bytes.fromhex("050003070200") + b"x") == (None, b"x")
    assert parse_udh(bytes.fromhex("050003070203") + b"x") == (None, b"x")


def test_parse_udh_last_concatenation_element_wins() -> None:
    data = bytes.fromhex("0a" "0003010201" "0003090302") + b"x"
    assert parse_udh(data) == (ConcatInfo(ref=9, total=3, seq=2), b"x")


def test_parse_udh_truncated() -> None:
    assert parse_udh(b"") == (None, b"")
    assert parse_udh(bytes.fromhex("0500030102")) == (None, b"")
    # Element length running past the header: ignored, payload still after the header.
    assert parse_udh(bytes.fromhex("030005ff") + b"x") == (None, b"x")
