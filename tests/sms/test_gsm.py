"""GSM 03.38 alphabet, septet packing and incoming short_message decoding."""

from __future__ import annotations

import random

import pytest

from octogate.sms.gsm import (
    BASIC,
    EXTENSION,
    GSM_CHARS,
    decode_gsm,
    decode_short_message,
    decode_ucs2,
    encode_gsm,
    encode_ucs2,
    gsm_septets,
    is_gsm,
    pack_septets,
    unpack_septets,
)

# Written out from 3GPP TS 23.038 section 6.2.1.1 independently of the module's table.
EXPECTED_EXTENSION = {"\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
                      "]": 0x3E, "|": 0x40, "€": 0x65}


@pytest.mark.parametrize(
    ("char", "code"),
    [("@", 0x00), ("£", 0x01), ("$", 0x02), ("¥", 0x03), ("Ç", 0x09), ("\n", 0x0A), ("\r", 0x0D),
     ("Δ", 0x10), ("_", 0x11), ("É", 0x1F), (" ", 0x20), ("¤", 0x24), ("¡", 0x40), ("A", 0x41),
     ("Ä", 0x5B), ("§", 0x5F), ("¿", 0x60), ("a", 0x61), ("ü", 0x7E), ("à", 0x7F)],
)
def test_main_table_positions(char: str, code: int) -> None:
    assert encode_gsm(char) == bytes([code])


def test_alphabet_sizes() -> None:
    assert len(BASIC) == 127  # 128 codes minus the escape
    assert EXTENSION == EXPECTED_EXTENSION
    assert len(GSM_CHARS) == 137


@pytest.mark.parametrize(("char", "code"), sorted(EXPECTED_EXTENSION.items()))
def test_extension_char_costs_two_septets_and_is_escaped(char: str, code: int) -> None:
    assert gsm_septets(char) == 2
    assert gsm_septets("a" + char + "b") == 4
    assert encode_gsm(char) == bytes([0x1B, code])


def test_whole_alphabet_round_trips() -> None:
    text = "".join(sorted(GSM_CHARS))
    encoded = encode_gsm(text)
    assert len(encoded) == gsm_septets(text) == 127 + 2 * 10
    assert all(b <= 0x7F for b in encoded)
    assert decode_gsm(encoded) == text


@pytest.mark.parametrize("text", ["é", "Ç", "€", "hello [world]", "Größe: 5 Ä", ""])
def test_is_gsm_true(text: str) -> None:
    assert is_gsm(text)


@pytest.mark.parametrize("text", ["ç", "ê", "`", "\t", "😀", "Привет", "café ê"])
def test_is_gsm_false_and_encode_refuses(text: str) -> None:
    assert not is_gsm(text)
    with pytest.raises(ValueError, match="not in the GSM"):
        encode_gsm(text)


def test_decode_unknown_escape_gives_base_character() -> None:
    assert decode_gsm(b"\x1b\x41b") == "Ab"
    assert decode_gsm(b"\x1b\x65") == "€"


def test_decode_double_escape_is_a_space() -> None:
    assert decode_gsm(b"a\x1b\x1bb") == "a b"


def test_decode_drops_trailing_lone_escape() -> None:
    assert decode_gsm(b"ab\x1b") == "ab"
    assert decode_gsm(b"\x1b") == ""


def test_decode_reads_high_octets_as_latin1() -> None:
    assert decode_gsm(b"caf\xe9") == "café"
    assert decode_gsm(b"caf\xe9\x1b\x3c") == "café["


# 3GPP 23.038 / common reference vectors for 7-bit packing.
def test_pack_hello() -> None:
    assert pack_septets(encode_gsm("hello")) == bytes.fromhex("e8329bfd06")


def test_pack_hellohello() -> None:
    assert pack_septets(encode_gsm("hellohello")) == bytes.fromhex("E8329BFD4697D9EC37")


def test_unpack_hellohello() -> None:
    assert decode_gsm(unpack_septets(bytes.fromhex("E8329BFD4697D9EC37"), 10)) == "hellohello"


def test_pack_eight_septets_fill_seven_octets() -> None:
    assert len(pack_septets(b"\x7f" * 8)) == 7
    assert pack_septets(b"\x7f" * 8) == b"\xff" * 7


def test_pack_unpack_round_trip() -> None:
    rng = random.Random(2338)
    for length in range(40):
        septets = bytes(rng.randrange(128) for _ in range(length))
        packed = pack_septets(septets)
        assert len(packed) == (7 * length + 7) // 8
        assert unpack_septets(packed, length) == septets


def test_pack_rejects_octets() -> None:
    with pytest.raises(ValueError):
        pack_septets(b"\x80")


def test_unpack_rejects_impossible_count() -> None:
    with pytest.raises(ValueError):
        unpack_septets(b"\x00" * 7, 9)


def test_ucs2_emoji_is_a_surrogate_pair() -> None:
    assert encode_ucs2("😀") == b"\xd8\x3d\xde\x00"
    assert encode_ucs2("aê") == b"\x00a\x00\xea"
    assert decode_ucs2(b"\xd8\x3d\xde\x00") == "😀"


def test_decode_ucs2_is_tolerant() -> None:
    assert decode_ucs2(b"\x00a\x00") == "a"  # odd trailing byte dropped
    assert decode_ucs2(b"\xd8\x3d\x00a") == "\ufffda"  # lone high surrogate


@pytest.mark.parametrize(
    ("data", "data_coding", "expected"),
    [
        (encode_gsm("Prix: 5€ {ok}"), 0, "Prix: 5€ {ok}"),
        (b"plain ascii", 1, "plain ascii"),
        (b"caf\xe9", 3, "café"),
        (encode_ucs2("Привет 😀"), 8, "Привет 😀"),
        (b"caf\xe9", 2, "café"),
        (b"caf\xe9", 4, "café"),
        ("Привет".encode("iso8859_5"), 6, "Привет"),
        (encode_gsm("Ça va"), 0x11, "Ça va"),  # general group, GSM alphabet, class 1
        (b"caf\xe9", 0x15, "café"),  # general group, 8-bit
        (encode_ucs2("ê"), 0x18, "ê"),  # general group, UCS-2
        (encode_ucs2("ê"), 0x48, "ê"),  # automatic deletion group, UCS-2
        (encode_gsm("§"), 0xC0, "§"),  # message waiting, discard: GSM
        (encode_gsm("§"), 0xD8, "§"),  # message waiting, store: GSM
        (encode_ucs2("ê"), 0xE0, "ê"),  # message waiting, store: UCS-2
        (encode_gsm("@€"), 0xF0, "@€"),  # data coding/message class group, bit 2 clear: GSM
        (encode_gsm("@€"), 0xF1, "@€"),
        (b"\x00\xe9", 0xF4, "\x00é"),  # bit 2 set: 8-bit data
        (b"caf\xe9", 0x90, "café"),  # reserved group: Latin-1 fallback
        (b"caf\xe9", 0x30, "café"),  # compressed: cannot decompress, Latin-1 fallback
    ],
)
def test_decode_short_message(data: bytes, data_coding: int, expected: str) -> None:
    assert decode_short_message(data, data_coding) == expected


def test_decode_short_message_never_raises_on_garbage() -> None:
    garbage = bytes(range(256))
    for data_coding in range(256):
        assert isinstance(decode_short_message(garbage, data_coding), str)
