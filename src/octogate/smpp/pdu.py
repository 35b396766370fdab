"""Sans-I/O SMPP 3.4 PDU codec: typed PDU dataclasses, ``encode(pdu)``, ``decode(frame)``, ``PduReader``.

Written by hand on purpose: the Python SMPP libraries measured for this project have no send window,
split long texts inside GSM escape or UTF-16 surrogate pairs, or are abandoned. This module only turns
bytes into PDUs and back; it does no I/O and keeps no connection state (see ``session.py``).

Layout rules followed (SMPP 3.4 §3 and §4):

* header = command_length, command_id, command_status, sequence_number (4 big-endian octets each);
* C-octet strings are NUL-terminated and their maximum sizes *include* the NUL (system_id 16,
  password 9, source_addr 21, ...); the encoder refuses longer values, the decoder is lenient because
  real SMSCs overrun them;
* short_message is preceded by its one-octet sm_length (0..254: longer texts go in message_payload);
* whatever follows the mandatory fields is a sequence of TLVs (tag, length, value). Every TLV is kept
  in wire order as ``(tag, bytes)``, unknown and vendor (0x1400-0x3FFF) ones included, so re-encoding
  is byte-identical;
* bind_*_resp and submit_sm_resp carry no body when command_status is non-zero (§4.1.2, §4.4.2); the
  decoder also accepts the body that some SMSCs send anyway.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from .constants import RESPONSE_BIT, CommandId, CommandStatus, Tag

HEADER = struct.Struct(">IIII")
HEADER_LENGTH = 16
#: Big enough for a 64 KiB message_payload plus the mandatory fields.
DEFAULT_MAX_PDU_LENGTH = 70_000

_U16 = struct.Struct(">H")
_TLV_HEAD = struct.Struct(">HH")


class SmppError(Exception):
    """Base class for SMPP protocol errors raised by this package."""


class PduEncodeError(SmppError, ValueError):
    """A PDU cannot be represented on the wire (a field too long or out of range)."""


class PduDecodeError(SmppError):
    """A received PDU is malformed.

    ``status`` is the command_status to answer with (in a generic_nack or the matching response), and
    ``command_id``/``sequence_number`` come from the header when it could be read, so the receiver can
    still answer the peer's request.
    """

    def __init__(self, message: str, *, status: int = CommandStatus.ESME_RSYSERR, command_id: int = 0,
                 sequence_number: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.command_id = command_id
        self.sequence_number = sequence_number


class PduFramingError(PduDecodeError):
    """The byte stream cannot be framed any more (command_length out of bounds): close the connection."""


class Tlv(NamedTuple):
    """One optional parameter exactly as received: tag and raw value octets."""

    tag: int
    value: bytes


# --------------------------------------------------------------------------------------------------
# Field kinds for the declarative layouts.
_C = 0  # C-octet string, size = max length including the NUL
_U8 = 1  # one-octet integer
_SM = 2  # sm_length + short_message

_Layout = tuple[tuple[str, int, int], ...]


def _cstr(value: str, size: int, name: str) -> bytes:
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raise PduEncodeError(f"{name} has characters outside Latin-1") from None
    if len(raw) >= size:
        raise PduEncodeError(f"{name} is {len(raw)} octets, at most {size - 1} allowed")
    if b"\0" in raw:
        raise PduEncodeError(f"{name} contains a NUL octet")
    return raw + b"\0"


# --------------------------------------------------------------------------------------------------
# TLV typed accessors, generated so that every PDU class offers the same properties.


def _int_tlv(tag: int, size: int, doc: str) -> property:
    def getter(self: Pdu) -> int | None:
        raw = self.get_tlv(tag)
        return None if raw is None or not raw else int.from_bytes(raw, "big")

    def setter(self: Pdu, value: int | None) -> None:
        self.set_tlv(tag, None if value is None else int(value).to_bytes(size, "big"))

    return property(getter, setter, doc=doc)


def _cstr_tlv(tag: int, doc: str) -> property:
    def getter(self: Pdu) -> str | None:
        raw = self.get_tlv(tag)
        if raw is None:
            return None
        end = raw.find(b"\0")
        return (raw if end < 0 else raw[:end]).decode("latin-1")

    def setter(self: Pdu, value: str | None) -> None:
        self.set_tlv(tag, None if value is None else value.encode("latin-1") + b"\0")

    return property(getter, setter, doc=doc)


def _bytes_tlv(tag: int, doc: str) -> property:
    def getter(self: Pdu) -> bytes | None:
        return self.get_tlv(tag)

    def setter(self: Pdu, value: bytes | None) -> None:
        self.set_tlv(tag, None if value is None else bytes(value))

    return property(getter, setter, doc=doc)


@dataclass(slots=True, kw_only=True)
class Pdu:
    """Common header fields and TLV list of every PDU."""

    command_id: ClassVar[int] = 0
    _layout: ClassVar[_Layout] = ()
    #: bind_*_resp and submit_sm_resp: no body is sent when command_status != 0.
    _no_body_on_error: ClassVar[bool] = False

    sequence_number: int = 0
    command_status: int = CommandStatus.ESME_ROK
    tlvs: list[Tlv] = field(default_factory=list)

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)

    @property
    def name(self) -> str:
        try:
            return CommandId(self.command_id).name.lower()
        except ValueError:
            return f"command_0x{self.command_id:08x}"

    # -- TLV helpers -----------------------------------------------------------------------------
    def get_tlv(self, tag: int) -> bytes | None:
        """Value of the first TLV with ``tag``, or None."""
        for t, v in self.tlvs:
            if t == tag:
                return v
        return None

    def set_tlv(self, tag: int, value: bytes | None) -> None:
        """Replace (in place, keeping order) or append the TLV; ``None`` removes it."""
        for i, (t, _) in enumerate(self.tlvs):
            if t == tag:
                if value is None:
                    del self.tlvs[i]
                else:
                    self.tlvs[i] = Tlv(tag, value)
                return
        if value is not None:
            self.tlvs.append(Tlv(tag, value))

    receipted_message_id = _cstr_tlv(Tag.RECEIPTED_MESSAGE_ID, "SMSC message id a receipt refers to")
    message_state = _int_tlv(Tag.MESSAGE_STATE, 1, "final message state carried by a receipt")
    sar_msg_ref_num = _int_tlv(Tag.SAR_MSG_REF_NUM, 2, "SAR concatenation reference")
    sar_total_segments = _int_tlv(Tag.SAR_TOTAL_SEGMENTS, 1, "SAR total number of segments")
    sar_segment_seqnum = _int_tlv(Tag.SAR_SEGMENT_SEQNUM, 1, "SAR segment number (1-based)")
    message_payload = _bytes_tlv(Tag.MESSAGE_PAYLOAD, "message text when it exceeds short_message")
    source_port = _int_tlv(Tag.SOURCE_PORT, 2, "application source port")
    destination_port = _int_tlv(Tag.DESTINATION_PORT, 2, "application destination port")
    user_message_reference = _int_tlv(Tag.USER_MESSAGE_REFERENCE, 2, "ESME-assigned message reference")
    sc_interface_version = _int_tlv(Tag.SC_INTERFACE_VERSION, 1, "SMPP version supported by the SMSC")
    additional_status_info_text = _cstr_tlv(Tag.ADDITIONAL_STATUS_INFO_TEXT, "free-text error detail")

    @property
    def network_error_code(self) -> tuple[int, int] | None:
        """(network_type, error_code) of the network_error_code TLV (3 octets), or None."""
        raw = self.get_tlv(Tag.NETWORK_ERROR_CODE)
        if raw is None or len(raw) != 3:
            return None
        return raw[0], int.from_bytes(raw[1:3], "big")

    @network_error_code.setter
    def network_error_code(self, value: tuple[int, int] | None) -> None:
        self.set_tlv(Tag.NETWORK_ERROR_CODE,
                     None if value is None else bytes([value[0]]) + value[1].to_bytes(2, "big"))

    # -- codec -------------------------------------------------------------------------------------
    def encode_body(self) -> bytes:
        """Mandatory fields then TLVs (no header)."""
        if self._no_body_on_error and self.command_status != CommandStatus.ESME_ROK:
            return b""
        out = bytearray()
        for name, kind, size in self._layout:
            value = getattr(self, name)
            if kind == _C:
                out += _cstr(value, size, name)
            elif kind == _U8:
                if not 0 <= value <= 0xFF:
                    raise PduEncodeError(f"{name}={value} does not fit in one octet")
                out.append(value)
            else:
                if len(value) > 254:
                    raise PduEncodeError(
                        f"short_message is {len(value)} octets, at most 254 (use message_payload)")
                out.append(len(value))
                out += value
        for tag, value in self.tlvs:
            if len(value) > 0xFFFF:
                raise PduEncodeError(f"TLV 0x{tag:04x} value is {len(value)} octets, at most 65535")
            out += _TLV_HEAD.pack(tag, len(value))
            out += value
        return bytes(out)

    @classmethod
    def decode_body(cls, body: bytes, sequence_number: int, command_status: int) -> Pdu:
        """Build the PDU from its body; raises PduDecodeError when the body is truncated."""
        kwargs: dict[str, Any] = {}
        pos = 0
        n = len(body)
        if n == 0 and (cls.command_id & RESPONSE_BIT):
            # Error responses legitimately come without a body; keep the field defaults.
            return cls(sequence_number=sequence_number, command_status=command_status)
        for name, kind, _size in cls._layout:
            if kind == _C:
                end = body.find(b"\0", pos)
                if end < 0:
                    raise PduDecodeError(f"{name}: missing NUL terminator",
                                         status=CommandStatus.ESME_RINVCMDLEN, command_id=cls.command_id,
                                         sequence_number=sequence_number)
                kwargs[name] = body[pos:end].decode("latin-1")
                pos = end + 1
            elif kind == _U8:
                if pos >= n:
                    raise PduDecodeError(f"{name}: body truncated", status=CommandStatus.ESME_RINVCMDLEN,
                                         command_id=cls.command_id, sequence_number=sequence_number)
                kwargs[name] = body[pos]
                pos += 1
            else:
                if pos >= n:
                    raise PduDecodeError("sm_length: body truncated", status=CommandStatus.ESME_RINVCMDLEN,
                                         command_id=cls.command_id, sequence_number=sequence_number)
                length = body[pos]
                pos += 1
                if pos + length > n:
                    raise PduDecodeError(f"short_message: sm_length {length} exceeds the body",
                                         status=CommandStatus.ESME_RINVMSGLEN, command_id=cls.command_id,
                                         sequence_number=sequence_number)
                kwargs[name] = body[pos:pos + length]
                pos += length
        tlvs = _decode_tlvs(body, pos, cls.command_id, sequence_number) if pos < n else []
        return cls(sequence_number=sequence_number, command_status=command_status, tlvs=tlvs, **kwargs)


def _decode_tlvs(body: bytes, pos: int, command_id: int, sequence_number: int) -> list[Tlv]:
    tlvs: list[Tlv] = []
    n = len(body)
    while pos < n:
        if pos + 4 > n:
            raise PduDecodeError(f"{n - pos} trailing octets cannot hold a TLV header",
                                 status=CommandStatus.ESME_RINVOPTPARSTREAM, command_id=command_id,
                                 sequence_number=sequence_number)
        tag, length = _TLV_HEAD.unpack_from(body, pos)
        pos += 4
        if pos + length > n:
            raise PduDecodeError(f"TLV 0x{tag:04x} length {length} exceeds the body",
                                 status=CommandStatus.ESME_RINVOPTPARSTREAM, command_id=command_id,
                                 sequence_number=sequence_number)
        tlvs.append(Tlv(tag, body[pos:pos + length]))
        pos += length
    return tlvs


# --------------------------------------------------------------------------------------------------
# Concrete PDUs (SMPP 3.4 §4).

_BIND_LAYOUT: _Layout = (
    ("system_id", _C, 16), ("password", _C, 9), ("system_type", _C, 13), ("interface_version", _U8, 1),
    ("addr_ton", _U8, 1), ("addr_npi", _U8, 1), ("address_range", _C, 41),
)
_BIND_RESP_LAYOUT: _Layout = (("system_id", _C, 16),)
_SM_LAYOUT: _Layout = (
    ("service_type", _C, 6), ("source_addr_ton", _U8, 1), ("source_addr_npi", _U8, 1),
    ("source_addr", _C, 21), ("dest_addr_ton", _U8, 1), ("dest_addr_npi", _U8, 1),
    ("destination_addr", _C, 21), ("esm_class", _U8, 1),
    ("protocol_id", _U8, 1), ("priority_flag", _U8, 1), ("schedule_delivery_time", _C, 17),
    ("validity_period", _C, 17), ("registered_delivery", _U8, 1), ("replace_if_present_flag", _U8, 1),
    ("data_coding", _U8, 1), ("sm_default_msg_id", _U8, 1), ("short_message", _SM, 254),
)
_MESSAGE_ID_LAYOUT: _Layout = (("message_id", _C, 65),)


@dataclass(slots=True, kw_only=True)
class _BindBase(Pdu):
    _layout: ClassVar[_Layout] = _BIND_LAYOUT
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


@dataclass(slots=True, kw_only=True)
class BindTransmitter(_BindBase):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER.value


@dataclass(slots=True, kw_only=True)
class BindReceiver(_BindBase):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER.value


@dataclass(slots=True, kw_only=True)
class BindTransceiver(_BindBase):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER.value


@dataclass(slots=True, kw_only=True)
class _BindRespBase(Pdu):
    _layout: ClassVar[_Layout] = _BIND_RESP_LAYOUT
    _no_body_on_error: ClassVar[bool] = True
    system_id: str = ""


@dataclass(slots=True, kw_only=True)
class BindTransmitterResp(_BindRespBase):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER_RESP.value


@dataclass(slots=True, kw_only=True)
class BindReceiverResp(_BindRespBase):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER_RESP.value


@dataclass(slots=True, kw_only=True)
class BindTransceiverResp(_BindRespBase):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER_RESP.value


@dataclass(slots=True, kw_only=True)
class Outbind(Pdu):
    command_id: ClassVar[int] = CommandId.OUTBIND.value
    _layout: ClassVar[_Layout] = (("system_id", _C, 16), ("password", _C, 9))
    system_id: str = ""
    password: str = ""


@dataclass(slots=True, kw_only=True)
class Unbind(Pdu):
    command_id: ClassVar[int] = CommandId.UNBIND.value


@dataclass(slots=True, kw_only=True)
class UnbindResp(Pdu):
    command_id: ClassVar[int] = CommandId.UNBIND_RESP.value


@dataclass(slots=True, kw_only=True)
class EnquireLink(Pdu):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK.value


@dataclass(slots=True, kw_only=True)
class EnquireLinkResp(Pdu):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK_RESP.value


@dataclass(slots=True, kw_only=True)
class GenericNack(Pdu):
    command_id: ClassVar[int] = CommandId.GENERIC_NACK.value


@dataclass(slots=True, kw_only=True)
class _ShortMessageBase(Pdu):
    """submit_sm and deliver_sm share one layout (SMPP 3.4 §4.4.1 and §4.6.1)."""

    _layout: ClassVar[_Layout] = _SM_LAYOUT
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""

    def encode_body(self) -> bytes:
        # Hot path (every submit and every receipt): the same layout as _SM_LAYOUT, hand-unrolled.
        sm = self.short_message
        if len(sm) > 254:
            raise PduEncodeError(f"short_message is {len(sm)} octets, at most 254 (use message_payload)")
        try:
            head = _SM_HEAD.pack(self.source_addr_ton, self.source_addr_npi)
            mid = _SM_MID.pack(self.dest_addr_ton, self.dest_addr_npi)
            flags = _SM_FLAGS.pack(self.esm_class, self.protocol_id, self.priority_flag)
            tail = _SM_TAIL.pack(self.registered_delivery, self.replace_if_present_flag, self.data_coding,
                                 self.sm_default_msg_id, len(sm))
        except struct.error as exc:
            raise PduEncodeError(f"{self.name}: integer field out of range: {exc}") from None
        parts = [
            _cstr(self.service_type, 6, "service_type"), head, _cstr(self.source_addr, 21, "source_addr"),
            mid, _cstr(self.destination_addr, 21, "destination_addr"), flags,
            _cstr(self.schedule_delivery_time, 17, "schedule_delivery_time"),
            _cstr(self.validity_period, 17, "validity_period"), tail, sm,
        ]
        for tag, value in self.tlvs:
            if len(value) > 0xFFFF:
                raise PduEncodeError(f"TLV 0x{tag:04x} value is {len(value)} octets, at most 65535")
            parts.append(_TLV_HEAD.pack(tag, len(value)))
            parts.append(value)
        return b"".join(parts)

    @classmethod
    def decode_body(cls, body: bytes, sequence_number: int, command_status: int) -> Pdu:
        # Hot path, hand-unrolled; any irregularity falls back to the generic decoder, which raises
        # the precise PduDecodeError.
        try:
            find = body.index
            end = find(0)
            service_type = body[:end].decode("latin-1")
            pos = end + 3
            source_ton, source_npi = body[end + 1], body[end + 2]
            end = find(0, pos)
            source_addr = body[pos:end].decode("latin-1")
            pos = end + 3
            dest_ton, dest_npi = body[end + 1], body[end + 2]
            end = find(0, pos)
            destination_addr = body[pos:end].decode("latin-1")
            esm_class, protocol_id, priority_flag = body[end + 1], body[end + 2], body[end + 3]
            pos = end + 4
            end = find(0, pos)
            schedule = body[pos:end].decode("latin-1")
            pos = end + 1
            end = find(0, pos)
            validity = body[pos:end].decode("latin-1")
            registered, replace, data_coding, default_id, sm_length = body[end + 1:end + 6]
            pos = end + 6
            if pos + sm_length > len(body):
                raise ValueError("sm_length beyond the body")
        except (ValueError, IndexError):
            return Pdu.decode_body.__func__(cls, body, sequence_number, command_status)  # type: ignore[attr-defined]
        short_message = body[pos:pos + sm_length]
        pos += sm_length
        tlvs = _decode_tlvs(body, pos, cls.command_id, sequence_number) if pos < len(body) else []
        return cls(sequence_number=sequence_number, command_status=command_status, tlvs=tlvs,
                   service_type=service_type, source_addr_ton=source_ton, source_addr_npi=source_npi,
                   source_addr=source_addr, dest_addr_ton=dest_ton, dest_addr_npi=dest_npi,
                   destination_addr=destination_addr, esm_class=esm_class, protocol_id=protocol_id,
                   priority_flag=priority_flag, schedule_delivery_time=schedule, validity_period=validity,
                   registered_delivery=registered, replace_if_present_flag=replace, data_coding=data_coding,
                   sm_default_msg_id=default_id, short_message=short_message)


_SM_HEAD = struct.Struct(">BB")
_SM_MID = struct.Struct(">BB")
_SM_FLAGS = struct.Struct(">BBB")
_SM_TAIL = struct.Struct(">BBBBB")


@dataclass(slots=True, kw_only=True)
class SubmitSm(_ShortMessageBase):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM.value


@dataclass(slots=True, kw_only=True)
class DeliverSm(_ShortMessageBase):
    command_id: ClassVar[int] = CommandId.DELIVER_SM.value


@dataclass(slots=True, kw_only=True)
class SubmitSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP.value
    _layout: ClassVar[_Layout] = _MESSAGE_ID_LAYOUT
    _no_body_on_error: ClassVar[bool] = True
    message_id: str = ""


@dataclass(slots=True, kw_only=True)
class DeliverSmResp(Pdu):
    """message_id is unused and always NULL (§4.6.2)."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP.value
    _layout: ClassVar[_Layout] = _MESSAGE_ID_LAYOUT
    message_id: str = ""


@dataclass(slots=True, kw_only=True)
class DataSm(Pdu):
    """data_sm (§4.7.1): no short_message; the text travels in message_payload."""

    command_id: ClassVar[int] = CommandId.DATA_SM.value
    _layout: ClassVar[_Layout] = (
        ("service_type", _C, 6), ("source_addr_ton", _U8, 1), ("source_addr_npi", _U8, 1),
        ("source_addr", _C, 65), ("dest_addr_ton", _U8, 1), ("dest_addr_npi", _U8, 1),
        ("destination_addr", _C, 65), ("esm_class", _U8, 1), ("registered_delivery", _U8, 1),
        ("data_coding", _U8, 1),
    )
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0


@dataclass(slots=True, kw_only=True)
class DataSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.DATA_SM_RESP.value
    _layout: ClassVar[_Layout] = _MESSAGE_ID_LAYOUT
    message_id: str = ""


@dataclass(slots=True, kw_only=True)
class AlertNotification(Pdu):
    command_id: ClassVar[int] = CommandId.ALERT_NOTIFICATION.value
    _layout: ClassVar[_Layout] = (
        ("source_addr_ton", _U8, 1), ("source_addr_npi", _U8, 1), ("source_addr", _C, 65),
        ("esme_addr_ton", _U8, 1), ("esme_addr_npi", _U8, 1), ("esme_addr", _C, 65),
    )
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""


@dataclass(slots=True, kw_only=True)
class UnknownPdu(Pdu):
    """A command this codec has no layout for (query_sm, submit_multi, vendor commands...).

    The body is kept raw, so the receiver can answer generic_nack ESME_RINVCMDID or the matching
    response, and re-encoding gives the same bytes.
    """

    raw_command_id: int = 0
    body: bytes = b""

    @property
    def command_id(self) -> int:  # type: ignore[override]  # shadows the other PDUs' class-level constant
        return self.raw_command_id

    def encode_body(self) -> bytes:
        return self.body


PDU_CLASSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter, BindTransmitterResp, BindReceiver, BindReceiverResp, BindTransceiver,
        BindTransceiverResp, Outbind, Unbind, UnbindResp, EnquireLink, EnquireLinkResp, GenericNack,
        SubmitSm, SubmitSmResp, DeliverSm, DeliverSmResp, DataSm, DataSmResp, AlertNotification,
    )
}

#: request command_id -> response class
RESPONSE_CLASSES: dict[int, type[Pdu]] = {
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
    CommandId.UNBIND: UnbindResp,
    CommandId.ENQUIRE_LINK: EnquireLinkResp,
    CommandId.SUBMIT_SM: SubmitSmResp,
    CommandId.DELIVER_SM: DeliverSmResp,
    CommandId.DATA_SM: DataSmResp,
}


def command_id_of(pdu: Pdu) -> int:
    """Wire command_id (``pdu.command_id`` also works for UnknownPdu)."""
    return pdu.command_id


def make_response(request: Pdu, status: int = CommandStatus.ESME_ROK, **fields: Any) -> Pdu:
    """The response PDU matching ``request`` (same sequence_number); generic_nack for unknown commands."""
    cls = RESPONSE_CLASSES.get(request.command_id, GenericNack)
    if cls is GenericNack and status == CommandStatus.ESME_ROK:
        status = CommandStatus.ESME_RINVCMDID
    return cls(sequence_number=request.sequence_number, command_status=status, **fields)


def encode(pdu: Pdu) -> bytes:
    """The complete wire form of ``pdu`` (header + body)."""
    body = pdu.encode_body()
    seq = pdu.sequence_number
    if not 0 <= seq <= 0xFFFFFFFF:
        raise PduEncodeError(f"sequence_number {seq} out of range")
    return HEADER.pack(HEADER_LENGTH + len(body), pdu.command_id, pdu.command_status, seq) + body


def decode(frame: bytes) -> Pdu:
    """Decode one complete PDU (header included); the frame length must equal command_length."""
    if len(frame) < HEADER_LENGTH:
        raise PduFramingError(f"PDU of {len(frame)} octets is shorter than the 16-octet header",
                              status=CommandStatus.ESME_RINVCMDLEN)
    length, command_id, status, seq = HEADER.unpack_from(frame)
    if length != len(frame):
        raise PduFramingError(f"command_length {length} does not match the {len(frame)} octets given",
                              status=CommandStatus.ESME_RINVCMDLEN, command_id=command_id,
                              sequence_number=seq)
    body = frame[HEADER_LENGTH:]
    cls = PDU_CLASSES.get(command_id)
    if cls is None:
        return UnknownPdu(sequence_number=seq, command_status=status, raw_command_id=command_id,
                          body=bytes(body))
    return cls.decode_body(body, seq, status)


class PduReader:
    """Incremental framer: ``feed()`` arbitrary chunks, then ``next_pdu()`` (or iterate) until None.

    A malformed body raises PduDecodeError *after* its frame was consumed, so the caller can answer it
    and keep reading. A command_length below 16 or above ``max_pdu_length`` raises PduFramingError and
    leaves the reader unusable: the stream can no longer be framed and the connection must be closed.
    """

    __slots__ = ("_buf", "_failed", "max_pdu_length")

    def __init__(self, max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH) -> None:
        if max_pdu_length < HEADER_LENGTH:
            raise ValueError("max_pdu_length must be at least 16")
        self.max_pdu_length = max_pdu_length
        self._buf = bytearray()
        self._failed: PduFramingError | None = None

    @property
    def buffered(self) -> int:
        """Octets received but not yet returned as a PDU."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        if self._failed is not None:
            raise self._failed
        self._buf += data

    def next_pdu(self) -> Pdu | None:
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        if len(buf) < HEADER_LENGTH:
            return None
        length = int.from_bytes(buf[0:4], "big")
        if length < HEADER_LENGTH or length > self.max_pdu_length:
            command_id, _status, seq = struct.unpack_from(">III", buf, 4)
            self._failed = PduFramingError(
                f"command_length {length} outside the accepted 16..{self.max_pdu_length}",
                status=CommandStatus.ESME_RINVCMDLEN, command_id=command_id, sequence_number=seq)
            raise self._failed
        if len(buf) < length:
            return None
        frame = bytes(buf[:length])
        del buf[:length]
        return decode(frame)

    def __iter__(self) -> Iterator[Pdu]:
        while (pdu := self.next_pdu()) is not None:
            yield pdu
