"""SMPP 3.4 session state machine, h11-style: no sockets, no clock, no asyncio.

Written by hand on purpose (see ``pdu.py``). The caller moves bytes: every ``send``/``respond``/``bind``
call returns the octets to write, and ``receive_data(octets)`` returns the events they produced. The same
class serves both ends: ``Role.ESME`` for the gateway's client, ``Role.SMSC`` for the simulator.

What the session does itself, so that neither end can forget it:

* assigns sequence numbers (1..0x7FFFFFFF, wrapping) and matches responses to the requests it sent,
  keeping count of what is outstanding per command so the caller can enforce a send window;
* answers enquire_link and unbind, answers requests that are illegal in the current bind state with
  ESME_RINVBNDSTS / ESME_RALYBND, unknown commands with generic_nack ESME_RINVCMDID, and malformed PDUs
  with generic_nack carrying the decode error's status; those answers come back as ``SendData`` events;
* refuses to *send* what the state forbids (``SessionStateError``), e.g. submit_sm before bind_resp.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .constants import RESPONSE_BIT, CommandId, CommandStatus
from .pdu import (
    DEFAULT_MAX_PDU_LENGTH,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    EnquireLink,
    GenericNack,
    Pdu,
    PduDecodeError,
    PduFramingError,
    PduReader,
    SmppError,
    Unbind,
    UnknownPdu,
    _BindBase,
    encode,
    make_response,
)

MAX_SEQUENCE = 0x7FFFFFFF


class Role(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; C-level hash keeps the hot path cheap

    ESME = "esme"
    SMSC = "smsc"


class BindMode(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; C-level hash keeps the hot path cheap

    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"


class SessionState(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; C-level hash keeps the hot path cheap

    OPEN = "open"
    #: ESME side: bind sent, bind_resp not yet received.
    BINDING = "binding"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    #: unbind sent, unbind_resp not yet received.
    UNBINDING = "unbinding"
    UNBOUND = "unbound"
    CLOSED = "closed"


class SessionStateError(SmppError):
    """The caller tried to send something the current state or role forbids."""


BIND_CLASSES: dict[BindMode, type[_BindBase]] = {
    BindMode.TRANSMITTER: BindTransmitter,
    BindMode.RECEIVER: BindReceiver,
    BindMode.TRANSCEIVER: BindTransceiver,
}
_BIND_STATE: dict[int, SessionState] = {
    CommandId.BIND_TRANSMITTER: SessionState.BOUND_TX,
    CommandId.BIND_RECEIVER: SessionState.BOUND_RX,
    CommandId.BIND_TRANSCEIVER: SessionState.BOUND_TRX,
}
_BIND_IDS = frozenset(_BIND_STATE)
_BOUND = frozenset({SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX})
_CAN_TRANSMIT = frozenset({SessionState.BOUND_TX, SessionState.BOUND_TRX})
_CAN_RECEIVE = frozenset({SessionState.BOUND_RX, SessionState.BOUND_TRX})
_LINK_STATES = frozenset({SessionState.OPEN, SessionState.BINDING, SessionState.UNBINDING} | _BOUND)

# Which requests each role may send, and in which states (ESME "transmit" = submit; SMSC "transmit" =
# deliver to an ESME bound as receiver/transceiver).
_MAY_SEND: dict[Role, dict[int, frozenset[SessionState]]] = {
    Role.ESME: {
        CommandId.BIND_TRANSMITTER: frozenset({SessionState.OPEN}),
        CommandId.BIND_RECEIVER: frozenset({SessionState.OPEN}),
        CommandId.BIND_TRANSCEIVER: frozenset({SessionState.OPEN}),
        CommandId.SUBMIT_SM: _CAN_TRANSMIT,
        CommandId.DATA_SM: _CAN_TRANSMIT,
        CommandId.ENQUIRE_LINK: _LINK_STATES,
        CommandId.UNBIND: _BOUND,
    },
    Role.SMSC: {
        CommandId.OUTBIND: frozenset({SessionState.OPEN}),
        CommandId.DELIVER_SM: _CAN_RECEIVE,
        CommandId.DATA_SM: _CAN_RECEIVE,
        CommandId.ALERT_NOTIFICATION: _CAN_RECEIVE,
        CommandId.ENQUIRE_LINK: _LINK_STATES,
        CommandId.UNBIND: _BOUND,
    },
}
# Requests a role may receive and hand to its caller, and in which states; anything else is refused.
_MAY_RECEIVE: dict[Role, dict[int, frozenset[SessionState]]] = {
    Role.ESME: {
        CommandId.DELIVER_SM: _CAN_RECEIVE | {SessionState.UNBINDING},
        CommandId.DATA_SM: _CAN_RECEIVE | {SessionState.UNBINDING},
        CommandId.ALERT_NOTIFICATION: _CAN_RECEIVE | {SessionState.UNBINDING},
        CommandId.OUTBIND: frozenset({SessionState.OPEN}),
    },
    Role.SMSC: {
        CommandId.BIND_TRANSMITTER: frozenset({SessionState.OPEN}),
        CommandId.BIND_RECEIVER: frozenset({SessionState.OPEN}),
        CommandId.BIND_TRANSCEIVER: frozenset({SessionState.OPEN}),
        CommandId.SUBMIT_SM: _CAN_TRANSMIT | {SessionState.UNBINDING},
        CommandId.DATA_SM: _CAN_TRANSMIT | {SessionState.UNBINDING},
    },
}
# Requests that never get a response.
_NO_RESPONSE = frozenset({CommandId.OUTBIND, CommandId.ALERT_NOTIFICATION})


# --- events ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class Event:
    """Base class of what ``receive_data`` returns."""


@dataclass(slots=True)
class RequestReceived(Event):
    """A request the caller must handle; answer it with ``Session.respond`` (except outbind and
    alert_notification, which take no response)."""

    pdu: Pdu


@dataclass(slots=True)
class ResponseReceived(Event):
    """A response (or generic_nack) to a request this session sent; ``request`` is None when it
    matches nothing outstanding (a late or bogus response)."""

    pdu: Pdu
    request: Pdu | None


@dataclass(slots=True)
class SendData(Event):
    """Octets the session produced by itself (enquire_link_resp, unbind_resp, error answers): write them."""

    data: bytes
    pdu: Pdu


@dataclass(slots=True)
class PeerUnbound(Event):
    """The peer sent unbind; the session already answered it. Close the connection after writing."""


@dataclass(slots=True)
class InvalidPdu(Event):
    """The peer sent a malformed PDU; it was answered with generic_nack when it was a request."""

    error: PduDecodeError


@dataclass(slots=True)
class ConnectionBroken(Event):
    """The byte stream cannot be framed any more (command_length out of bounds): close the connection."""

    error: PduFramingError


@dataclass(slots=True)
class Session:
    """One SMPP connection's protocol state, for either end."""

    role: Role
    max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH
    state: SessionState = SessionState.OPEN
    #: system_id of the bound ESME (SMSC side: set when the bind is accepted; ESME side: ours).
    system_id: str = ""
    _reader: PduReader = field(init=False)
    _next_seq: int = field(default=1, init=False)
    _outstanding: dict[int, Pdu] = field(default_factory=dict, init=False)
    _counts: Counter[int] = field(default_factory=Counter, init=False)
    #: sequence numbers of requests we received and have not answered yet, with their command_id
    _unanswered: dict[int, int] = field(default_factory=dict, init=False)
    _pending_bind: Pdu | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._reader = PduReader(self.max_pdu_length)

    # --- introspection --------------------------------------------------------------------------
    @property
    def is_bound(self) -> bool:
        return self.state in _BOUND

    @property
    def can_transmit(self) -> bool:
        """ESME: may submit_sm. SMSC: the ESME is bound as transmitter/transceiver."""
        return self.state in _CAN_TRANSMIT

    @property
    def can_receive(self) -> bool:
        """ESME: bound to receive deliver_sm. SMSC: may send deliver_sm."""
        return self.state in _CAN_RECEIVE

    def outstanding(self, command_id: int | None = None) -> int:
        """Requests sent and not answered yet, all of them or of one command (e.g. SUBMIT_SM)."""
        return len(self._outstanding) if command_id is None else self._counts[command_id]

    def outstanding_requests(self) -> list[Pdu]:
        return list(self._outstanding.values())

    # --- sending ----------------------------------------------------------------------------------
    def _allocate_sequence(self) -> int:
        seq = self._next_seq
        while seq in self._outstanding:  # only after 2**31 requests with one stuck: skip it
            seq = seq % MAX_SEQUENCE + 1
        self._next_seq = seq % MAX_SEQUENCE + 1
        return seq

    def send(self, pdu: Pdu) -> bytes:
        """Validate ``pdu`` against the state, assign its sequence_number if it is a request (0 means
        "assign one"), record it, and return its octets."""
        if self.state is SessionState.CLOSED:
            raise SessionStateError(f"cannot send {pdu.name}: connection closed")
        if pdu.command_id & RESPONSE_BIT:
            return self._send_response(pdu)
        command_id = pdu.command_id
        allowed = _MAY_SEND[self.role].get(command_id)
        if allowed is None:
            raise SessionStateError(f"a {self.role.value} does not send {pdu.name}")
        if self.state not in allowed:
            raise SessionStateError(f"cannot send {pdu.name} in state {self.state.value}")
        if pdu.sequence_number == 0:
            pdu.sequence_number = self._allocate_sequence()
        data = encode(pdu)
        if command_id not in _NO_RESPONSE:
            self._outstanding[pdu.sequence_number] = pdu
            self._counts[command_id] += 1
        if command_id in _BIND_IDS:
            self.state = SessionState.BINDING
            self.system_id = getattr(pdu, "system_id", "")
        elif command_id == CommandId.UNBIND:
            self.state = SessionState.UNBINDING
        return data

    def bind(self, mode: BindMode, system_id: str, password: str, **fields: Any) -> bytes:
        """ESME: the bind_transmitter/receiver/transceiver octets."""
        return self.send(BIND_CLASSES[mode](system_id=system_id, password=password, **fields))

    def unbind(self) -> bytes:
        return self.send(Unbind())

    def enquire_link(self) -> bytes:
        return self.send(EnquireLink())

    def respond(self, request: Pdu, status: int = CommandStatus.ESME_ROK, **fields: Any) -> bytes:
        """The octets answering ``request`` (a RequestReceived's pdu) with ``status``."""
        return self.send(make_response(request, status, **fields))

    def _send_response(self, pdu: Pdu) -> bytes:
        seq = pdu.sequence_number
        command_id = pdu.command_id
        request_id = self._unanswered.pop(seq, None)
        if request_id is None and command_id != CommandId.GENERIC_NACK:
            raise SessionStateError(f"{pdu.name} answers no pending request (sequence {seq})")
        if request_id in _BIND_IDS and self.role is Role.SMSC:
            pending = self._pending_bind
            self._pending_bind = None
            if pdu.command_status == CommandStatus.ESME_ROK and command_id == (request_id | RESPONSE_BIT):
                self.state = _BIND_STATE[request_id]
                self.system_id = getattr(pending, "system_id", "")
        return encode(pdu)

    # --- receiving ---------------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> list[Event]:
        """Feed received octets; returns the resulting events in order. Empty ``data`` means EOF."""
        if not data:
            self.state = SessionState.CLOSED
            return []
        if self.state is SessionState.CLOSED:
            return []
        reader = self._reader
        reader.feed(data)
        events: list[Event] = []
        while True:
            try:
                pdu = reader.next_pdu()
            except PduFramingError as exc:
                nack = GenericNack(sequence_number=exc.sequence_number, command_status=exc.status)
                events.append(SendData(encode(nack), nack))
                events.append(ConnectionBroken(exc))
                self.state = SessionState.CLOSED
                return events
            except PduDecodeError as exc:
                self._on_invalid(exc, events)
                continue
            if pdu is None:
                return events
            if pdu.command_id & RESPONSE_BIT:
                self._on_response(pdu, events)
            else:
                self._on_request(pdu, events)

    def _on_invalid(self, exc: PduDecodeError, events: list[Event]) -> None:
        events.append(InvalidPdu(exc))
        if exc.command_id & RESPONSE_BIT:
            # A response we cannot read still settles its request: report it as a generic_nack.
            nack = GenericNack(sequence_number=exc.sequence_number, command_status=exc.status)
            self._on_response(nack, events)
        else:
            nack = GenericNack(sequence_number=exc.sequence_number, command_status=exc.status)
            events.append(SendData(encode(nack), nack))

    def _on_response(self, pdu: Pdu, events: list[Event]) -> None:
        request = self._outstanding.pop(pdu.sequence_number, None)
        if request is not None:
            request_id = request.command_id
            self._counts[request_id] -= 1
            if request_id in _BIND_IDS and self.state is SessionState.BINDING:
                ok = pdu.command_status == CommandStatus.ESME_ROK and pdu.command_id != CommandId.GENERIC_NACK
                self.state = _BIND_STATE[request_id] if ok else SessionState.OPEN
            elif request_id == CommandId.UNBIND and self.state is SessionState.UNBINDING:
                self.state = SessionState.UNBOUND
        events.append(ResponseReceived(pdu, request))

    def _auto_reply(self, request: Pdu, status: int, events: list[Event]) -> None:
        reply = make_response(request, status)
        events.append(SendData(encode(reply), reply))

    def _on_request(self, pdu: Pdu, events: list[Event]) -> None:
        command_id = pdu.command_id
        if command_id == CommandId.ENQUIRE_LINK:
            self._auto_reply(pdu, CommandStatus.ESME_ROK, events)
            return
        if command_id == CommandId.UNBIND:
            if self.state in _BOUND or self.state is SessionState.UNBINDING:
                self._auto_reply(pdu, CommandStatus.ESME_ROK, events)
                self.state = SessionState.UNBOUND
                events.append(PeerUnbound())
            else:
                self._auto_reply(pdu, CommandStatus.ESME_RINVBNDSTS, events)
            return
        if isinstance(pdu, UnknownPdu):
            self._auto_reply(pdu, CommandStatus.ESME_RINVCMDID, events)
            return
        allowed = _MAY_RECEIVE[self.role].get(command_id)
        if allowed is None:
            self._auto_reply(pdu, CommandStatus.ESME_RINVCMDID, events)
            return
        if self.state not in allowed:
            if command_id in _NO_RESPONSE:
                return  # nothing to answer; an outbind/alert out of state is simply ignored
            status = (CommandStatus.ESME_RALYBND if command_id in _BIND_IDS and self.state in _BOUND
                      else CommandStatus.ESME_RINVBNDSTS)
            self._auto_reply(pdu, status, events)
            return
        if command_id not in _NO_RESPONSE:
            self._unanswered[pdu.sequence_number] = command_id
        if command_id in _BIND_IDS:
            if self._pending_bind is not None:
                self._auto_reply(pdu, CommandStatus.ESME_RALYBND, events)
                self._unanswered.pop(pdu.sequence_number, None)
                return
            self._pending_bind = pdu
        events.append(RequestReceived(pdu))

    # --- teardown -------------------------------------------------------------------------------
    def connection_lost(self) -> list[Pdu]:
        """Mark the session closed; returns the requests that will never be answered."""
        self.state = SessionState.CLOSED
        lost = list(self._outstanding.values())
        self._outstanding.clear()
        self._counts.clear()
        self._unanswered.clear()
        return lost
