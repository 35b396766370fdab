"""SMPP 3.4 numeric constants (command ids, command_status values, TLV tags, esm_class bits), and
`MessageIds`, the one constant set not from the specification: how an SMSC spells its message ids.

Values are copied from the SMPP v3.4 specification (issue 1.2), sections 5.1 and 5.3.
Written by hand on purpose: see :mod:`octogate.smpp.pdu` for why no third-party SMPP library is used.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

#: In which base the SMSC writes message ids (Kannel's `msg-id-type`): "auto" (unknown: ids compared by every
#: spelling), "same" (submit_sm_resp and receipts alike), or which side is hex, the other decimal
#: (`octogate.incoming.ids.receipt_key`). Here, not in the client, so that the pure modules using it
#: import no I/O.
MessageIds = Literal["auto", "same", "hex-in-response", "hex-in-receipt"]


class CommandId(IntEnum):
    """command_id values (SMPP 3.4 §5.1.2.1); responses have bit 31 set."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


RESPONSE_BIT = 0x80000000


class CommandStatus(IntEnum):
    """command_status values (SMPP 3.4 §5.1.3)."""

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVNUMDESTS = 0x00000033
    ESME_RINVDLNAME = 0x00000034
    ESME_RINVDESTFLAG = 0x00000040
    ESME_RINVSUBREP = 0x00000042
    ESME_RINVESMCLASS = 0x00000043
    ESME_RCNTSUBDL = 0x00000044
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RINVREPFLAG = 0x00000054
    ESME_RINVNUMMSGS = 0x00000055
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RINVDFTMSGID = 0x00000063
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RQUERYFAIL = 0x00000067
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF


_STATUS_TEXT: dict[int, str] = {
    0x00: "no error",
    0x01: "message length is invalid",
    0x02: "command length is invalid",
    0x03: "invalid command id",
    0x04: "incorrect bind status for given command",
    0x05: "ESME already in bound state",
    0x06: "invalid priority flag",
    0x07: "invalid registered delivery flag",
    0x08: "system error",
    0x0A: "invalid source address",
    0x0B: "invalid destination address",
    0x0C: "message id is invalid",
    0x0D: "bind failed",
    0x0E: "invalid password",
    0x0F: "invalid system id",
    0x11: "cancel_sm failed",
    0x13: "replace_sm failed",
    0x14: "message queue full",
    0x15: "invalid service type",
    0x43: "invalid esm_class",
    0x45: "submit_sm or submit_multi failed",
    0x48: "invalid source address TON",
    0x49: "invalid source address NPI",
    0x50: "invalid destination address TON",
    0x51: "invalid destination address NPI",
    0x53: "invalid system_type",
    0x58: "throttling error (ESME has exceeded allowed message limits)",
    0x61: "invalid scheduled delivery time",
    0x62: "invalid validity period",
    0x64: "ESME receiver temporary app error",
    0x65: "ESME receiver permanent app error",
    0x66: "ESME receiver reject message error",
    0xC0: "error in the optional part of the PDU body",
    0xC1: "optional parameter not allowed",
    0xC2: "invalid parameter length",
    0xC3: "expected optional parameter missing",
    0xC4: "invalid optional parameter value",
    0xFE: "delivery failure",
    0xFF: "unknown error",
}


def status_name(status: int) -> str:
    """``ESME_RINVPASWD`` for a known value, ``0x00000401`` for vendor-specific ones."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


def describe_status(status: int) -> str:
    """Human-readable status for logs: ``ESME_RINVPASWD (invalid password)``."""
    text = _STATUS_TEXT.get(status)
    if text is None and 0x400 <= status <= 0x4FF:
        text = "SMSC vendor-specific error"
    return f"{status_name(status)} ({text or 'reserved'})"


#: Statuses that mean "try the same submit again later": the SMSC is busy, or our side/its side
#: had a temporary fault. Everything else on a submit is treated as a permanent rejection.
TRANSIENT_SUBMIT_STATUSES: frozenset[int] = frozenset(
    {
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RSYSERR,
        CommandStatus.ESME_RX_T_APPN,
        CommandStatus.ESME_RINVBNDSTS,
    }
)

#: Statuses that ask the sender to slow down rather than merely retry.
THROTTLING_STATUSES: frozenset[int] = frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})


class Tag(IntEnum):
    """Optional parameter (TLV) tags (SMPP 3.4 §5.3.2)."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


#: Vendor-specific TLV tag range (SMPP 3.4 §5.3.2): kept opaque and re-encoded unchanged.
VENDOR_TAG_MIN = 0x1400
VENDOR_TAG_MAX = 0x3FFF


class MessageState(IntEnum):
    """message_state TLV values (SMPP 3.4 §5.2.28), as carried in delivery receipts."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


#: Receipt ``stat:`` words (SMPP 3.4 Appendix B) and their message_state.
RECEIPT_STAT_TO_STATE: dict[str, MessageState] = {
    "ENROUTE": MessageState.ENROUTE,
    "DELIVRD": MessageState.DELIVERED,
    "EXPIRED": MessageState.EXPIRED,
    "DELETED": MessageState.DELETED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "ACCEPTD": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "REJECTD": MessageState.REJECTED,
}
#: The same table read the other way: a message_state TLV's ``stat:`` word.
STATE_TO_RECEIPT_STAT: dict[int, str] = {state: stat for stat, state in RECEIPT_STAT_TO_STATE.items()}


class EsmClass:
    """esm_class bits (SMPP 3.4 §5.2.12) used by this gateway."""

    MESSAGING_MODE_MASK = 0x03
    DEFAULT_MODE = 0x00
    DATAGRAM_MODE = 0x01
    FORWARD_MODE = 0x02
    STORE_AND_FORWARD_MODE = 0x03
    MESSAGE_TYPE_MASK = 0x3C
    #: deliver_sm carries an SMSC delivery receipt.
    DELIVERY_RECEIPT = 0x04
    #: deliver_sm carries an intermediate delivery notification.
    INTERMEDIATE_NOTIFICATION = 0x20
    #: short_message starts with a User Data Header (used for concatenation).
    UDHI = 0x40
    REPLY_PATH = 0x80


class DataCoding:
    """data_coding values used by this gateway (SMPP 3.4 §5.2.19)."""

    SMSC_DEFAULT = 0x00
    IA5 = 0x01
    OCTET_UNSPECIFIED = 0x02
    LATIN1 = 0x03
    OCTET_UNSPECIFIED_2 = 0x04
    UCS2 = 0x08


class Ton:
    """type_of_number values (SMPP 3.4 §5.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi:
    """numbering_plan_indicator values (SMPP 3.4 §5.2.6)."""

    UNKNOWN = 0
    ISDN = 1
    DATA = 3
    TELEX = 4
    LAND_MOBILE = 6
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14
    WAP = 18


INTERFACE_VERSION_34 = 0x34
