"""GSM 03.38 (3GPP TS 23.038) default alphabet, 7-bit packing and SMPP text decoding.

Written by hand on purpose: the few Python packages that know this alphabet either pull in a whole
modem/SMPP stack or get the details wrong that matter to a gateway (extension characters costing two
septets, tolerant decoding of what SMSCs really send).  The alphabet is small, fixed data, so it lives
here as two literal tables that can be checked line by line against the standard.

Conventions used throughout the gateway:

* SMPP carries GSM text UNPACKED: one septet per octet, values 0x00-0x7F.  ``encode_gsm`` and
  ``decode_gsm`` work on that form; ``pack_septets``/``unpack_septets`` exist for the packed form
  (TPDU style) and for tests against the 3GPP vectors.
* An extension character is written as the escape septet 0x1B followed by its code, so it costs two
  septets on the wire.
"""

from __future__ import annotations

import re

# Main table, indexed by septet value.  0x1B is the escape to the extension table, never a character.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128, "the main table must have 128 entries"

ESCAPE = 0x1B

#: Extension table (reached through 0x1B): character -> septet code.  0x0A is the page break (form
#: feed); 0x0D (CR2) and 0x1B (SS2) are controls, not characters, and are deliberately absent.
EXTENSION: dict[str, int] = {
    "\x0c": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

#: Main table: character -> septet code (the escape code itself excluded).
BASIC: dict[str, int] = {ch: code for code, ch in enumerate(_BASIC) if code != ESCAPE}

#: Every character that can be sent in the GSM 7-bit alphabet.
GSM_CHARS: frozenset[str] = frozenset(BASIC) | frozenset(EXTENSION)
#: The characters that cost two septets.
EXTENSION_CHARS: frozenset[str] = frozenset(EXTENSION)

# str.translate tables, built once: the hot paths run once per recipient.
_ENCODE_TABLE: dict[int, str] = {ord(ch): chr(code) for ch, code in BASIC.items()}
_ENCODE_TABLE.update({ord(ch): chr(ESCAPE) + chr(code) for ch, code in EXTENSION.items()})
#: Matches one extension character; a regex scan stays in C even for non-ASCII text, where
#: str.translate falls off its fast path.
EXTENSION_RE: re.Pattern[str] = re.compile("[" + re.escape("".join(EXTENSION)) + "]")
_DECODE_BASIC: dict[int, str] = {code: ch for ch, code in BASIC.items()}
_DECODE_EXTENSION: dict[int, str] = {code: ch for ch, code in EXTENSION.items()}


def is_gsm(text: str) -> bool:
    """True when every character of ``text`` exists in the GSM 7-bit alphabet (main or extension)."""
    return GSM_CHARS.issuperset(text)


def gsm_septets(text: str) -> int:
    """Septets ``text`` takes on the wire; extension characters count 2 (escape + code).

    The caller is expected to have checked ``is_gsm``; non-GSM characters count 1 here.
    """
    return len(text) + len(EXTENSION_RE.findall(text))


def encode_gsm(text: str) -> bytes:
    """Encode ``text`` as unpacked septets (one per byte), as SMPP ``short_message`` carries them.

    Raises ValueError naming the first character that has no GSM 03.38 form, so the caller can fall
    back to UCS-2 or transliterate instead of silently sending a wrong character.
    """
    if not GSM_CHARS.issuperset(text):
        bad = next(ch for ch in text if ch not in GSM_CHARS)
        raise ValueError(f"character {bad!r} (U+{ord(bad):04X}) is not in the GSM 03.38 alphabet")
    return text.translate(_ENCODE_TABLE).encode("latin-1")


def decode_gsm(data: bytes) -> str:
    """Decode unpacked septets, tolerantly: incoming texts must never make the gateway fail.

    * An escape followed by a code with no extension character yields the main-table character for
      that code, as 3GPP 23.038 asks of a receiving entity; 0x1B 0x1B (reserved for another extension
      table) yields a space, as the standard also asks.
    * A trailing lone 0x1B is dropped.
    * Octets above 0x7F are not septets; some SMSCs send Latin-1 under data_coding 0, so those octets
      are read as Latin-1 rather than masked into unrelated characters.
    """
    if ESCAPE not in data:
        return data.decode("latin-1").translate(_DECODE_BASIC)
    out: list[str] = []
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == ESCAPE:
            if i + 1 >= n:
                break
            nxt = data[i + 1]
            if nxt in _DECODE_EXTENSION:
                out.append(_DECODE_EXTENSION[nxt])
            elif nxt == ESCAPE:
                out.append(" ")
            else:
                out.append(_DECODE_BASIC.get(nxt, chr(nxt)))
            i += 2
            continue
        out.append(_DECODE_BASIC.get(b, chr(b)))
        i += 1
    return "".join(out)


def pack_septets(data: bytes) -> bytes:
    """Pack unpacked septets into the 7-bit packed form (3GPP 23.038 section 6.1.2.1.1).

    Uses one big integer (septet i at bit 7*i, little-endian) instead of a bit-twiddling loop.
    Unused high bits of the last octet are zero.
    """
    if any(b > 0x7F for b in data):
        raise ValueError("septets must be in 0x00-0x7F")
    value = 0
    for i, b in enumerate(data):
        value |= b << (7 * i)
    return value.to_bytes((7 * len(data) + 7) // 8, "little")


def unpack_septets(data: bytes, count: int) -> bytes:
    """Unpack ``count`` septets from packed ``data``.

    The count must come from the sender (e.g. TP-UDL): the packed form cannot tell 7 septets plus
    zero padding from 8 septets whose last one is '@' (0x00).
    """
    if count < 0 or 7 * count > 8 * len(data):
        raise ValueError(f"{len(data)} packed octets cannot hold {count} septets")
    value = int.from_bytes(data, "little")
    return bytes((value >> (7 * i)) & 0x7F for i in range(count))


def encode_ucs2(text: str) -> bytes:
    """UTF-16-BE, as SMPP data_coding 8 expects; characters beyond the BMP become surrogate pairs."""
    return text.encode("utf-16-be")


def decode_ucs2(data: bytes) -> str:
    """Decode UTF-16-BE tolerantly: an odd trailing byte is dropped, bad units become U+FFFD."""
    if len(data) % 2:
        data = data[:-1]
    return data.decode("utf-16-be", errors="replace")


# SMPP 3.4 data_coding values 0-15 have their own meaning (section 5.2.19), which overrides the GSM
# DCS meaning of the same values.  Codecs are Python's; unknown ones fall back to Latin-1.
_SMPP_CODECS: dict[int, str] = {
    1: "ascii",  # IA5 (CCITT T.50) is ASCII for every practical purpose
    2: "latin-1",  # 8-bit binary: best effort
    3: "latin-1",
    4: "latin-1",  # 8-bit binary: best effort
    6: "iso8859_5",  # Cyrillic
    7: "iso8859_8",  # Latin/Hebrew
    10: "iso2022_jp",
    14: "euc_kr",  # KS C 5601
}


def _dcs_alphabet(dcs: int) -> str | None:
    """Alphabet named by a GSM 03.38 data coding scheme octet: "gsm", "8bit", "ucs2" or None."""
    group = dcs >> 4
    if group <= 0x7:  # 00xx / 01xx: general data coding (01xx: marked for automatic deletion)
        if dcs & 0x20:  # compressed text: we cannot decompress it
            return None
        return ("gsm", "8bit", "ucs2", "gsm")[(dcs >> 2) & 0x3]  # 11 is reserved: read as default
    if group in (0xC, 0xD):  # message waiting indication, discard/store: default alphabet
        return "gsm"
    if group == 0xE:  # message waiting indication, store: UCS-2
        return "ucs2"
    if group == 0xF:  # data coding / message class: bit 2 selects 8-bit data
        return "8bit" if dcs & 0x04 else "gsm"
    return None  # 1000-1011: reserved coding groups


def decode_short_message(data: bytes, data_coding: int) -> str:
    """Decode the ``short_message`` of an incoming SMPP PDU (MO or delivery receipt) to text.

    Never raises on bad input: an undecodable message is still worth storing and forwarding.
    """
    if data_coding == 0:
        return decode_gsm(data)
    if data_coding == 8:
        return decode_ucs2(data)
    codec = _SMPP_CODECS.get(data_coding)
    if codec is not None:
        return data.decode(codec, errors="replace")
    if data_coding >= 0x10:
        alphabet = _dcs_alphabet(data_coding)
        if alphabet == "gsm":
            return decode_gsm(data)
        if alphabet == "ucs2":
            return decode_ucs2(data)
    return data.decode("latin-1")
