"""Wire segmentation of long SMS: alphabet choice, splitting, concatenation UDH.

Written by hand because the available Python SMS helpers split by character or by byte count and so
can cut a GSM escape pair (0x1B + code) or a UTF-16 surrogate pair in two, which the handset then
shows as garbage.  Here a part never ends inside either pair.

This is the WIRE count.  What a customer is billed follows Octopush's own rule and lives in
``octogate.sms.billing``; the two differ on purpose.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Literal

from octogate.sms.gsm import EXTENSION_RE, encode_gsm, encode_ucs2, gsm_septets, is_gsm

Alphabet = Literal["gsm", "ucs2"]

#: User data of one SMS: 140 octets, i.e. 160 septets or 70 UTF-16 code units.
MAX_OCTETS = 140
MAX_SEPTETS = 160
MAX_UCS2_UNITS = 70
#: Length of the concatenation UDH including its length octet: 8-bit and 16-bit reference.
UDH_LENGTH_8BIT = 6
UDH_LENGTH_16BIT = 7

# Characters beyond the BMP: one Python character, two UTF-16 code units (a surrogate pair).
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class ConcatInfo:
    """Concatenation information element of an incoming part (3GPP 23.040 9.2.3.24.1 / .8)."""

    ref: int
    total: int
    seq: int
    sixteen_bit: bool = False


def choose_alphabet(text: str) -> Alphabet:
    """GSM 7-bit when every character has a GSM 03.38 form, UCS-2 otherwise."""
    return "gsm" if is_gsm(text) else "ucs2"


def ucs2_units(text: str) -> int:
    """UTF-16 code units of ``text``: characters beyond the BMP (emoji) take two."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def gsm_part_budget(udh_length: int) -> int:
    """Septets left in one part once a UDH of ``udh_length`` octets is in front (with fill bits)."""
    return MAX_SEPTETS - (udh_length * 8 + 6) // 7


def ucs2_part_budget(udh_length: int) -> int:
    """UTF-16 code units left in one part once a UDH of ``udh_length`` octets is in front."""
    return (MAX_OCTETS - udh_length) // 2


def _split_weighted(text: str, budget: int, heavy: re.Pattern[str]) -> list[str]:
    """Greedy split where characters matched by ``heavy`` cost 2 units and all others 1.

    Cuts fall between Python characters, so a heavy character (escape pair, surrogate pair) is never
    split.  Each cut is found by bisection over the heavy positions rather than a per-character loop:
    this also serves real-segment billing, run for every recipient of a large request.
    """
    heavy_at = [m.start() for m in heavy.finditer(text)]
    parts: list[str] = []
    start, n = 0, len(text)
    while start < n:
        first_heavy = bisect_left(heavy_at, start)
        lo, hi = start + 1, min(n, start + budget)  # budget >= 2, so one character always fits
        while lo < hi:  # largest end with cost(start, end) <= budget
            mid = (lo + hi + 1) // 2
            if (mid - start) + (bisect_left(heavy_at, mid) - first_heavy) <= budget:
                lo = mid
            else:
                hi = mid - 1
        parts.append(text[start:lo])
        start = lo
    return parts


def split_text(text: str, *, udh_length: int = UDH_LENGTH_8BIT) -> tuple[Alphabet, list[str]]:
    """Split ``text`` into the chunks to send, one per SMS part.

    One part when it fits in a single SMS (160 septets / 70 UTF-16 units).  Otherwise every part
    leaves room for a UDH of ``udh_length`` octets: 6 for an 8-bit reference (153 septets / 67
    units), 7 for a 16-bit one (152 / 66), 0 when concatenation travels in SAR TLVs (160 / 70).
    Joining the chunks gives ``text`` back.
    """
    if udh_length < 0:
        raise ValueError("udh_length must not be negative")
    if choose_alphabet(text) == "gsm":
        septets = gsm_septets(text)
        if septets <= MAX_SEPTETS:
            return "gsm", [text]
        budget = gsm_part_budget(udh_length)
        if budget < 2:
            raise ValueError(f"a {udh_length}-octet UDH leaves no room for text")
        if septets == len(text):  # no extension character: plain slicing is exact
            return "gsm", [text[i : i + budget] for i in range(0, len(text), budget)]
        return "gsm", _split_weighted(text, budget, EXTENSION_RE)
    units = ucs2_units(text)
    if units <= MAX_UCS2_UNITS:
        return "ucs2", [text]
    budget = ucs2_part_budget(udh_length)
    if budget < 2:
        raise ValueError(f"a {udh_length}-octet UDH leaves no room for text")
    if units == len(text):  # no surrogate pair: plain slicing is exact
        return "ucs2", [text[i : i + budget] for i in range(0, len(text), budget)]
    return "ucs2", _split_weighted(text, budget, _ASTRAL_RE)


def encode_part(alphabet: Alphabet, chunk: str) -> bytes:
    """Bytes of one chunk for ``short_message``: unpacked GSM septets or UTF-16-BE."""
    return encode_gsm(chunk) if alphabet == "gsm" else encode_ucs2(chunk)


def udh_concat(ref: int, total: int, seq: int, *, sixteen_bit: bool = False) -> bytes:
    """Concatenation UDH (with its length octet) to put in front of part ``seq`` of ``total``.

    8-bit reference: 05 00 03 ref total seq.  16-bit reference: 06 08 04 ref_hi ref_lo total seq.
    """
    if not 1 <= total <= 255:
        raise ValueError(f"total must be in 1..255, got {total}")
    if not 1 <= seq <= total:
        raise ValueError(f"seq must be in 1..{total}, got {seq}")
    if sixteen_bit:
        if not 0 <= ref <= 0xFFFF:
            raise ValueError(f"16-bit reference out of range: {ref}")
        return bytes((0x06, 0x08, 0x04, ref >> 8, ref & 0xFF, total, seq))
    if not 0 <= ref <= 0xFF:
        raise ValueError(f"8-bit reference out of range: {ref}")
    return bytes((0x05, 0x00, 0x03, ref, total, seq))


def parse_udh(short_message: bytes) -> tuple[ConcatInfo | None, bytes]:
    """Split an incoming ``short_message`` sent with UDHI into (concatenation info, payload).

    The payload is what follows the UDH; with SMPP data_coding 0 it is unpacked septets, ready for
    ``decode_short_message``.  Following 3GPP 23.040, a concatenation element whose total or sequence
    number is invalid is ignored, and when several are present the last one wins.  A UDH longer than
    the message yields (None, b"").
    """
    if not short_message:
        return None, b""
    udhl = short_message[0]
    header = short_message[1 : 1 + udhl]
    payload = short_message[1 + udhl :]
    info: ConcatInfo | None = None
    i = 0
    while i + 2 <= len(header):
        iei, iel = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + iel]
        if len(value) < iel:
            break
        candidate: ConcatInfo | None = None
        if iei == 0x00 and iel == 3:
            candidate = ConcatInfo(ref=value[0], total=value[1], seq=value[2])
        elif iei == 0x08 and iel == 4:
            ref16 = (value[0] << 8) | value[1]
            candidate = ConcatInfo(ref=ref16, total=value[2], seq=value[3], sixteen_bit=True)
        if candidate is not None and 1 <= candidate.seq <= candidate.total:
            info = candidate
        i += 2 + iel
    return info, payload
