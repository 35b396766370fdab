"""Text -> short_message parts (and back), for both the client (submit_sm) and the simulator (MO).

Sans-I/O. Splitting itself is ``octogate.sms.segments`` (it never cuts a GSM escape pair or a UTF-16
surrogate pair); this module chooses the SMPP data_coding, wraps parts in a concatenation UDH or SAR
TLVs (or sends the whole text in message_payload), and reads incoming parts back to text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from octogate.sms.gsm import decode_short_message
from octogate.sms.segments import ConcatInfo, encode_part, parse_udh, split_text, udh_concat

from .constants import DataCoding, EsmClass, Tag
from .pdu import Pdu, Tlv

Concatenation = Literal["udh8", "udh16", "sar", "payload"]
CONCATENATION_METHODS: tuple[str, ...] = ("udh8", "udh16", "sar", "payload")
#: One SMS carries 140 octets of user data.
_OCTETS = 140


@dataclass(frozen=True, slots=True)
class EncodedPart:
    """What goes into one submit_sm / deliver_sm besides the addresses."""

    short_message: bytes
    esm_class: int = 0
    tlvs: tuple[Tlv, ...] = ()


@dataclass(frozen=True, slots=True)
class EncodedText:
    """Immutable: one text's encoding may be shared by the messages that send it (`dispatch.wire`)."""

    alphabet: Literal["gsm", "ucs2", "latin1", "ascii"]
    data_coding: int
    parts: tuple[EncodedPart, ...] = ()


def _octet_split(text: str, udh_length: int) -> list[str]:
    """8-bit alphabets (IA5, Latin-1): one octet per character, no pair to protect."""
    if len(text) <= _OCTETS:
        return [text]
    budget = _OCTETS - udh_length
    return [text[i:i + budget] for i in range(0, len(text), budget)]


def encode_text(text: str, *, ref: int, concatenation: Concatenation = "udh8",
                gsm_data_coding: int = DataCoding.SMSC_DEFAULT) -> EncodedText:
    """Encode ``text`` into the parts to send.

    GSM-alphabet texts use ``gsm_data_coding``: 0 (SMSC default alphabet, unpacked septets), 1 (IA5)
    or 3 (Latin-1; then also any Latin-1 text); a text the chosen 8-bit alphabet cannot carry falls
    back to UCS-2 (8), as do non-GSM texts with data_coding 0.
    ``ref`` is the concatenation reference of this message (8-bit for udh8, 16-bit for udh16/sar).
    """
    if concatenation not in CONCATENATION_METHODS:
        raise ValueError(f"unknown concatenation method {concatenation!r}")
    udh_length = {"udh8": 6, "udh16": 7, "sar": 0, "payload": 0}[concatenation]
    alphabet, chunks = split_text(text, udh_length=udh_length)
    encoded: list[bytes]
    # An 8-bit alphabet carries 140 characters a part: worth it for any text it can represent (for
    # Latin-1 that includes non-GSM letters such as û, which would otherwise force UCS-2's 70).
    if gsm_data_coding in (DataCoding.IA5, DataCoding.LATIN1) and (
            alphabet == "gsm" or gsm_data_coding == DataCoding.LATIN1):
        codec = "ascii" if gsm_data_coding == DataCoding.IA5 else "latin-1"
        try:
            text.encode(codec)
        except UnicodeEncodeError:
            alphabet, chunks = "ucs2", split_text_ucs2(text, udh_length)
        else:
            chunks = _octet_split(text, udh_length)
            label: Literal["latin1", "ascii"] = "ascii" if codec == "ascii" else "latin1"
            return _wrap(label, gsm_data_coding, [c.encode(codec) for c in chunks], text.encode(codec),
                         ref, concatenation)
    data_coding = DataCoding.UCS2 if alphabet == "ucs2" else DataCoding.SMSC_DEFAULT
    encoded = [encode_part(alphabet, c) for c in chunks]
    whole = encode_part(alphabet, text) if concatenation == "payload" and len(chunks) > 1 else b""
    return _wrap(alphabet, data_coding, encoded, whole, ref, concatenation)


def split_text_ucs2(text: str, udh_length: int) -> list[str]:
    """UCS-2 chunks for a GSM-alphabet text that the configured 8-bit alphabet cannot carry.

    Every GSM character is in the Basic Multilingual Plane, so one character is one UTF-16 unit and
    plain slicing cannot cut a surrogate pair.
    """
    if len(text) <= _OCTETS // 2:
        return [text]
    budget = (_OCTETS - udh_length) // 2
    return [text[i:i + budget] for i in range(0, len(text), budget)]


def _wrap(alphabet: Literal["gsm", "ucs2", "latin1", "ascii"], data_coding: int, encoded: list[bytes],
          whole: bytes, ref: int, concatenation: Concatenation) -> EncodedText:
    total = len(encoded)
    if total == 1:
        return EncodedText(alphabet, data_coding, (EncodedPart(encoded[0]),))
    if concatenation == "payload":
        return EncodedText(alphabet, data_coding, (EncodedPart(b"", 0, (Tlv(Tag.MESSAGE_PAYLOAD, whole),)),))
    if total > 255:
        raise ValueError(f"text needs {total} parts, at most 255 can be concatenated")
    parts: list[EncodedPart] = []
    for seq, chunk in enumerate(encoded, start=1):
        if concatenation == "sar":
            tlvs = (Tlv(Tag.SAR_MSG_REF_NUM, (ref & 0xFFFF).to_bytes(2, "big")),
                    Tlv(Tag.SAR_TOTAL_SEGMENTS, bytes([total])), Tlv(Tag.SAR_SEGMENT_SEQNUM, bytes([seq])))
            parts.append(EncodedPart(chunk, 0, tlvs))
        else:
            sixteen = concatenation == "udh16"
            udh = udh_concat(ref & (0xFFFF if sixteen else 0xFF), total, seq, sixteen_bit=sixteen)
            parts.append(EncodedPart(udh + chunk, EsmClass.UDHI))
    return EncodedText(alphabet, data_coding, tuple(parts))


@dataclass(slots=True)
class DecodedPart:
    """An incoming short message part: user data without UDH, its text, concatenation info."""

    payload: bytes
    text: str
    concat: ConcatInfo | None


def decode_part(pdu: Pdu, short_message: bytes, esm_class: int, data_coding: int) -> DecodedPart:
    """Read a submit_sm/deliver_sm/data_sm's text: strips the UDH (esm_class UDHI), falls back to
    message_payload when short_message is empty, and reports UDH or SAR concatenation."""
    data = short_message or (pdu.message_payload or b"")
    concat: ConcatInfo | None = None
    if esm_class & EsmClass.UDHI and data:
        concat, data = parse_udh(data)
    if concat is None:
        ref, total, seq = pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum
        if ref is not None and total and seq and 1 <= seq <= total:
            concat = ConcatInfo(ref=ref, total=total, seq=seq, sixteen_bit=True)
    return DecodedPart(data, decode_short_message(data, data_coding), concat)
