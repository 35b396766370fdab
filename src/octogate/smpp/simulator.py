"""SMSC simulator: an SMPP 3.4 server for tests, benchmarks and local development.

Written by hand on purpose (see ``pdu.py``), on the same sans-I/O ``Session`` as the client, so the
two ends share one reading of the specification and the client's tests exercise real sockets.

What it does: binds with per-account credentials, answers submit_sm with unique message ids after a
configurable latency, throttles beyond a rate (ESME_RTHROTTLED), refuses configured destination
prefixes (ESME_RINVDSTADR), records every part and reassembles long messages, sends delivery receipts
(esm_class 0x04, Appendix B text, receipted_message_id and message_state TLVs) after a delay to a
receiver/transceiver bound with the same system_id (re-sending those answered with an error), and
injects MO messages. ``stop()`` is graceful: submits already read are answered, later ones are left
unread (so the client retries them), then the simulator unbinds.

The sandbox (``octogate.sandbox``) reads what each phone received from here: ``conversations`` keeps, per
phone number, the whole messages sent to it and the texts injected from it, with each part's receipt; the
receipt outcome of the next messages can be chosen, globally or per number (``set_outcome``); ``version``
grows at every change a phone would see. With ``SimulatorConfig.control`` set, ``start()`` also opens the
sandbox's HTTP control interface on that address (``octogate.sandbox.control``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import logging
import math
import random
import secrets
import signal
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from octogate.listen import BadListenAddress, listening, parse_listen
from octogate.sms.segments import encode_part, split_text, udh_concat

from .batching import BatchedWrites
from .constants import RECEIPT_STAT_TO_STATE, CommandId, CommandStatus, DataCoding, EsmClass, status_name
from .pdu import DEFAULT_MAX_PDU_LENGTH, DeliverSm, Pdu, SubmitSm, Tlv, Unbind
from .receipts import format_receipt_text
from .session import (
    ConnectionBroken,
    PeerUnbound,
    RequestReceived,
    ResponseReceived,
    Role,
    SendData,
    Session,
    SessionState,
    SessionStateError,
)
from .text import decode_part

if TYPE_CHECKING:
    from octogate.sandbox.control import ControlServer

log = logging.getLogger(__name__)


def _clip(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


#: ids stay below 2**63 (a signed 64-bit integer, if a store ever keeps them as numbers): 16 hex digits or at
#: most 19 decimal ones, well within SMPP's 65-octet message_id.
ID_LIMIT = 1 << 63
RANDOM_BASE_BITS = 62  # leaves 2**62 ids before the limit: a counter never reaches it


def id_base() -> int:
    """A random start for a simulator's id counter: two bases 2**62 apart on average, so two simulators (or
    two runs of one) would have to hand out about 2**30 ids each before a clash became plausible."""
    return secrets.randbits(RANDOM_BASE_BITS)


#: Receipt outcomes the sandbox can choose for the next messages: the stat each receipt carries (None: no
#: receipt is sent at all, as when a phone stays off and the SMSC never reports).
OUTCOMES: dict[str, str | None] = {"delivered": "DELIVRD", "undelivered": "UNDELIV", "rejected": "REJECTD",
                                   "none": None}
#: Entries (messages to a phone, texts from it) kept per phone number, and phone numbers kept: the oldest go
#: first, so a long-running sandbox stays within bounded memory.
CONVERSATION_LIMIT = 500
PHONES_LIMIT = 10_000


def phone_key(address: str) -> str:
    """One spelling per phone: "+33612345678", "0033612345678" and "33612345678" are the same number (an
    alphanumeric address is kept as written)."""
    key = "".join(address.split())
    if key.startswith("+"):
        key = key[1:]
    elif key.startswith("00") and key.isdigit():
        key = key[2:]
    return key


def format_message_id(number: int, style: str) -> str:
    """Hex ids are 16 digits, zero-padded (what many SMSCs show); decimal ones are unpadded."""
    return f"{number:016x}" if style == "hex" else str(number)


@dataclass(slots=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    #: 0 = an ephemeral port, reused by later start() calls of the same simulator.
    port: int = 0
    accounts: dict[str, str] = field(default_factory=lambda: {"octogate": "secret"})
    system_id: str = "OCTOSIM"
    #: Delay before each submit_sm_resp.
    latency_ms: float = 0.0
    #: submit_sm accepted per second and per system_id; beyond it ESME_RTHROTTLED. 0 = unlimited.
    max_per_second: float = 0.0
    receipt_delay_ms: float = 0.0
    #: Final status drawn for each receipt, with its weight.
    receipt_mix: dict[str, float] = field(default_factory=lambda: {"DELIVRD": 1.0})
    #: Destinations starting with one of these are refused with ESME_RINVDSTADR.
    invalid_prefixes: tuple[str, ...] = ()
    message_id_style: Literal["hex", "decimal"] = "hex"
    #: First message id's number; None: a random 62-bit number drawn at each start(), so ids are unique
    #: across restarts and across simulators (two hosts' embedded simulators must never hand out the same id,
    #: or a receipt is applied to the other host's message).
    message_id_base: int | None = None
    #: Delay before a receipt or MO answered with an error status is sent again.
    redelivery_delay_ms: float = 500.0
    seed: int | None = None
    max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH
    #: (host, port) of the sandbox's HTTP control interface; None: none. Port 0: an ephemeral one.
    control: tuple[str, int] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.receipt_mix) - set(RECEIPT_STAT_TO_STATE)
        if unknown:
            raise ValueError(f"unknown receipt stat(s): {sorted(unknown)}")
        if not self.receipt_mix or sum(self.receipt_mix.values()) <= 0:
            raise ValueError("receipt_mix needs a positive weight")
        if self.message_id_style not in ("hex", "decimal"):
            raise ValueError("message_id_style must be hex or decimal")
        if self.message_id_base is not None and not 0 <= self.message_id_base < ID_LIMIT:
            raise ValueError("message_id_base must be between 0 and 2**63")


@dataclass(slots=True)
class ReceivedPart:
    """One accepted submit_sm, as the simulator read it."""

    system_id: str
    message_id: str
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    text: str
    #: (ref, total, seq) when the part belongs to a concatenated message
    concat: tuple[int, int, int] | None
    tlvs: list[Tlv]
    received_at: float
    validity_period: str = ""  # as the ESME wrote it (SMPP 3.4 §7.1.1)
    #: stat of the receipt scheduled for this part; None: no receipt (not requested, or outcome "none")
    receipt_stat: str | None = None
    #: when the ESME acknowledged that receipt (epoch seconds); None while it has not
    receipt_at: float | None = None
    #: when its submit_sm_resp was written (epoch seconds; later than received_at by the latency, or more when
    #: the simulator's loop is busy); None while it is not answered
    answered_at: float | None = None


@dataclass(slots=True)
class ReceivedMessage:
    """A whole message: one part, or every part of a concatenated one (reassembled in order)."""

    system_id: str
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    data_coding: int
    text: str
    parts: list[ReceivedPart]
    #: sandbox order: unique and growing across the messages and injected texts of one simulator
    id: int = 0
    #: when its last part arrived (epoch seconds): when the phone shows it
    received_at: float = 0.0

    @property
    def message_ids(self) -> list[str]:
        return [p.message_id for p in self.parts]


@dataclass(slots=True)
class InjectedMo:
    """A text a phone sent (``inject_mo``), as the sandbox shows it in the phone's conversation."""

    id: int
    system_id: str
    source_addr: str
    destination_addr: str
    text: str
    data_coding: int
    parts: int
    sent_at: float
    #: "pending" until every part is answered, then "acknowledged" (all ESME_ROK), "refused" (an error
    #: status after the last attempt) or "withdrawn" (not answered in time: never delivered)
    state: str = "pending"
    statuses: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ReceiptRecord:
    """A delivery receipt the client acknowledged."""

    message_id: str
    stat: str
    destination_addr: str
    system_id: str


@dataclass(slots=True, eq=False)
class _Job:
    """A deliver_sm waiting to be (re)delivered: a receipt, or an MO part."""

    system_id: str
    pdu: DeliverSm
    stat: str = ""
    message_id: str = ""
    future: asyncio.Future[int] | None = None
    attempts: int = 0
    part: ReceivedPart | None = None  # the part a receipt reports on


@dataclass(slots=True, eq=False)
class _SimConnection(BatchedWrites):
    sim: SmscSimulator
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    session: Session
    peer: str
    closing: bool = False
    #: submit_sm read and not yet answered
    in_flight: int = 0
    #: sequence number -> job of deliver_sm sent and not yet answered
    deliveries: dict[int, _Job] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    #: set while no submit_sm awaits its (delayed) response
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    unbound: asyncio.Event = field(default_factory=asyncio.Event)
    #: PDUs written during this loop iteration, sent as one write
    out: list[bytes] = field(default_factory=list)


class _RateLimiter:
    """Token bucket per system_id, one second of burst: what an SMSC's TPS licence looks like."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        burst = max(1.0, self.rate)
        tokens = min(burst, self._tokens.get(key, burst) + (now - self._last.get(key, now)) * self.rate)
        self._last[key] = now
        if tokens >= 1.0:
            self._tokens[key] = tokens - 1.0
            return True
        self._tokens[key] = tokens
        return False


class SmscSimulator:
    """In-process SMSC. ``await start()`` returns the port; ``await stop()``; start again to restart.

    Records (kept across restarts): ``parts`` (every accepted submit_sm), ``messages`` (reassembled),
    ``rejected`` (refused submits with their status), ``receipts`` (acknowledged receipts),
    ``max_in_flight`` (most unanswered submits seen on one connection), ``throttled``, ``binds``,
    ``bind_failures``.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.port: int = self.config.port
        self.parts: list[ReceivedPart] = []
        self.messages: list[ReceivedMessage] = []
        self.rejected: list[tuple[str, int]] = []
        self.receipts: list[ReceiptRecord] = []
        self.max_in_flight = 0
        self.throttled = 0
        self.binds = 0
        self.bind_failures = 0
        self.submits_received = 0
        self._rng = random.Random(self.config.seed)  # simulated outcomes, not security
        self._ids = itertools.count(self._id_start())
        self._mo_ref = itertools.count(self._rng.randrange(256))
        self._server: asyncio.Server | None = None
        self._conns: set[_SimConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._limiter = _RateLimiter(self.config.max_per_second)
        self._assembly: dict[tuple[str, str, str, int, int], dict[int, ReceivedPart]] = {}
        self._due: dict[str, deque[_Job]] = defaultdict(deque)
        self._turns: dict[str, int] = defaultdict(int)
        self._timers: dict[asyncio.TimerHandle, _Job] = {}
        self._changed = asyncio.Event()
        self._watchers = 0
        self._stat_names = list(self.config.receipt_mix)
        self._stat_weights = [self.config.receipt_mix[s] for s in self._stat_names]
        # --- the sandbox's view ---
        #: phone number (``phone_key``) -> its messages and texts, oldest first
        self.conversations: dict[str, deque[ReceivedMessage | InjectedMo]] = {}
        #: outcome of the next receipts for every number (None: drawn from ``receipt_mix``)
        self.outcome: str | None = None
        #: per-number outcomes, over ``outcome``
        self.outcomes: dict[str, str] = {}
        #: grows at each change a phone or the sandbox would see (long polls wait for it to move)
        self.version = 0
        self._entry_ids = itertools.count(1)
        self._control: ControlServer | None = None
        #: "http://host:port" of the control interface while it listens
        self.control_url: str | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> int:
        if self._server is not None:
            raise RuntimeError("simulator already running")
        server = await asyncio.start_server(self._on_client, self.config.host, self.port, limit=1 << 20)
        self.port = listening(server)[1]
        self._server = server
        self._ids = itertools.count(self._id_start())  # a restart never reuses an id it gave before
        log.info("SMSC simulator listening on %s:%d", self.config.host, self.port)
        for job in list(self._timers.values()):  # receipts scheduled before a stop are due now
            self._enqueue(job)
        self._timers.clear()
        if self.config.control is not None:
            await self._start_control(*self.config.control)
        return self.port

    async def _start_control(self, host: str, port: int) -> None:
        """The sandbox's HTTP interface; an address in use costs a warning, never the simulator."""
        from octogate.sandbox.control import ControlServer  # aiohttp: only where a control interface is asked

        control = ControlServer(self)
        try:
            self.control_url = await control.start(host, port)
        except OSError as error:
            log.warning("simulator: no sandbox control interface on %s:%d: %s", host, port, error.strerror)
            return
        self._control = control
        log.info("SMSC simulator control interface on %s", self.control_url)

    async def stop(self, grace: float = 2.0) -> None:
        """Graceful: answer what was read, read no more submits, unbind every ESME, close."""
        server, self._server = self._server, None
        if server is None:
            return
        control, self._control = self._control, None
        if control is not None:
            await control.stop()
            self.control_url = None
        server.close()
        for handle in self._timers:
            handle.cancel()  # the jobs stay in _timers and are delivered after the next start()
        conns = list(self._conns)
        for conn in conns:
            conn.closing = True
        deadline = time.monotonic() + grace
        for conn in conns:
            await self._drain_and_unbind(conn, max(0.05, deadline - time.monotonic()))
        for conn in conns:
            conn.flush()
            conn.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), grace)
        self._notify()

    async def _drain_and_unbind(self, conn: _SimConnection, budget: float) -> None:
        end = time.monotonic() + budget
        if conn.in_flight and not conn.done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.idle.wait(), budget)
        if conn.session.is_bound and not conn.done.is_set():
            with contextlib.suppress(SessionStateError):
                conn.write(conn.session.send(Unbind()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.unbound.wait(), max(0.01, end - time.monotonic()))

    def set_account(self, system_id: str, password: str) -> None:
        self.config.accounts[system_id] = password

    # --- the sandbox ----------------------------------------------------------------------------------
    def set_outcome(self, outcome: str | None, number: str | None = None) -> None:
        """The receipts of the next messages (to ``number``, or to every number without an outcome of its
        own): one of ``OUTCOMES``; None goes back to the global outcome (for a number) or to ``receipt_mix``."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome is one of {', '.join(OUTCOMES)}")
        if number is None:
            self.outcome = outcome
        elif outcome is None:
            self.outcomes.pop(phone_key(number), None)
        else:
            self.outcomes[phone_key(number)] = outcome
        self._changed_for_sandbox()

    def outcome_for(self, number: str) -> str | None:
        return self.outcomes.get(phone_key(number), self.outcome)

    def receivers(self, system_id: str) -> int:
        """Binds that can take a deliver_sm for ``system_id`` now."""
        return len(self._receivers(system_id))

    def _remember(self, number: str, entry: ReceivedMessage | InjectedMo) -> None:
        key = phone_key(number)
        conversation = self.conversations.pop(key, None)  # re-inserted last: the dict is by last activity
        if conversation is None:
            conversation = deque(maxlen=CONVERSATION_LIMIT)
            while len(self.conversations) >= PHONES_LIMIT:
                del self.conversations[next(iter(self.conversations))]
        conversation.append(entry)
        self.conversations[key] = conversation
        self._changed_for_sandbox()

    def _changed_for_sandbox(self) -> None:
        self.version += 1
        self._notify()

    # --- waiting helpers for tests ----------------------------------------------------------------
    def _notify(self) -> None:
        if self._watchers:
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (re-checked on every recorded change); TimeoutError after
        ``within`` seconds."""
        self._watchers += 1
        try:
            async with asyncio.timeout(within):
                while not predicate():
                    await self._changed.wait()
        finally:
            self._watchers -= 1

    # --- connection handling ----------------------------------------------------------------------
    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        session = Session(Role.SMSC, max_pdu_length=self.config.max_pdu_length)
        conn = _SimConnection(self, reader, writer, session, peer)
        conn.idle.set()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._conns.add(conn)
        try:
            while True:
                data = await reader.read(262144)
                if not data:
                    break
                for event in conn.session.receive_data(data):
                    self._dispatch(conn, event)
                if session.state in (SessionState.UNBOUND, SessionState.CLOSED) and not conn.closing:
                    break
        except (ConnectionError, OSError) as exc:
            log.debug("simulator: connection %s error: %s", peer, exc)
        finally:
            conn.done.set()
            self._conns.discard(conn)
            if task is not None:
                self._tasks.discard(task)
            for job in conn.deliveries.values():  # unanswered deliveries go back in the queue
                self._enqueue(job)
            conn.deliveries.clear()
            conn.session.connection_lost()
            conn.flush()  # e.g. the unbind_resp answering the client's unbind
            writer.close()
            self._notify()

    def _dispatch(self, conn: _SimConnection, event: object) -> None:
        if isinstance(event, RequestReceived):
            pdu = event.pdu
            if conn.closing:
                return  # stopping: not read, not answered; the client will submit it again
            if pdu.command_id in (CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER,
                                  CommandId.BIND_TRANSCEIVER):
                self._on_bind(conn, pdu)
            elif isinstance(pdu, SubmitSm):
                self._on_submit(conn, pdu)
            else:
                conn.write(conn.session.respond(pdu, CommandStatus.ESME_RINVCMDID))
        elif isinstance(event, ResponseReceived):
            if event.pdu.command_id == CommandId.UNBIND_RESP:
                conn.unbound.set()
            job = conn.deliveries.pop(event.pdu.sequence_number, None)
            if job is not None:
                self._on_delivery_answer(job, event.pdu.command_status)
        elif isinstance(event, SendData):
            conn.write(event.data)
        elif isinstance(event, PeerUnbound):
            conn.unbound.set()
        elif isinstance(event, ConnectionBroken):
            conn.flush()
            conn.writer.close()

    def _on_bind(self, conn: _SimConnection, pdu: Pdu) -> None:
        system_id: str = getattr(pdu, "system_id", "")
        expected = self.config.accounts.get(system_id)
        if expected is None:
            status = CommandStatus.ESME_RINVSYSID
        elif expected != getattr(pdu, "password", None):
            status = CommandStatus.ESME_RINVPASWD
        else:
            status = CommandStatus.ESME_ROK
        if status != CommandStatus.ESME_ROK:
            self.bind_failures += 1
            log.info("simulator: bind refused for %s: %s", _clip(system_id, 20), status_name(status))
            conn.write(conn.session.respond(pdu, status))
        else:
            self.binds += 1
            conn.write(conn.session.respond(pdu, system_id=self.config.system_id))
            if conn.session.can_receive:
                self._pump(system_id)
        self._notify()

    def _id_start(self) -> int:
        if self.config.message_id_base is None:
            return id_base()
        return self.config.message_id_base + self.submits_received  # restarts go on where they stopped

    def _new_message_id(self) -> str:
        return format_message_id(next(self._ids) % ID_LIMIT, self.config.message_id_style)

    def _on_submit(self, conn: _SimConnection, pdu: SubmitSm) -> None:
        session = conn.session
        self.submits_received += 1
        system_id = session.system_id
        if not self._limiter.allow(system_id):
            self.throttled += 1
            conn.write(session.respond(pdu, CommandStatus.ESME_RTHROTTLED))
            return
        destination = pdu.destination_addr
        if any(destination.startswith(p) for p in self.config.invalid_prefixes):
            self.rejected.append((destination, CommandStatus.ESME_RINVDSTADR))
            conn.write(session.respond(pdu, CommandStatus.ESME_RINVDSTADR))
            self._notify()
            return
        message_id = self._new_message_id()
        decoded = decode_part(pdu, pdu.short_message, pdu.esm_class, pdu.data_coding)
        concat = (decoded.concat.ref, decoded.concat.total, decoded.concat.seq) if decoded.concat else None
        part = ReceivedPart(system_id, message_id, pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi,
                            destination, pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.esm_class, pdu.data_coding,
                            pdu.registered_delivery, pdu.short_message, decoded.text, concat, list(pdu.tlvs),
                            time.time(), pdu.validity_period)
        self.parts.append(part)
        if pdu.registered_delivery & 0x03:
            self._schedule_receipt(part)  # first: the phone's conversation shows the part with its receipt
        self._assemble(part)
        latency = self.config.latency_ms / 1000.0
        if latency <= 0:
            conn.write(session.respond(pdu, message_id=message_id))
            part.answered_at = time.time()
        else:
            conn.in_flight += 1
            conn.idle.clear()
            if conn.in_flight > self.max_in_flight:
                self.max_in_flight = conn.in_flight
            asyncio.get_running_loop().call_later(latency, self._answer_late, conn, pdu, part)
        self._notify()

    def _answer_late(self, conn: _SimConnection, pdu: SubmitSm, part: ReceivedPart) -> None:
        conn.in_flight -= 1
        if not conn.in_flight:
            conn.idle.set()
        if conn.done.is_set():
            return
        with contextlib.suppress(SessionStateError):
            conn.write(conn.session.respond(pdu, message_id=part.message_id))
            part.answered_at = time.time()

    def _assemble(self, part: ReceivedPart) -> None:
        if part.concat is None:
            self._complete([part])
            return
        ref, total, seq = part.concat
        key = (part.system_id, part.source_addr, part.destination_addr, ref, total)
        slots = self._assembly.setdefault(key, {})
        slots[seq] = part
        if len(slots) == total:
            del self._assembly[key]
            self._complete([slots[i] for i in sorted(slots)])

    def _complete(self, parts: list[ReceivedPart]) -> None:
        """A whole message reached the phone: recorded, and shown in the phone's conversation."""
        message = self._message(parts)
        message.id = next(self._entry_ids)
        message.received_at = max(p.received_at for p in parts)
        self.messages.append(message)
        self._remember(message.destination_addr, message)

    @staticmethod
    def _message(parts: list[ReceivedPart]) -> ReceivedMessage:
        first = parts[0]
        return ReceivedMessage(first.system_id, first.source_addr, first.source_addr_ton,
                               first.source_addr_npi, first.destination_addr, first.dest_addr_ton,
                               first.dest_addr_npi, first.data_coding, "".join(p.text for p in parts), parts)

    # --- receipts and MO --------------------------------------------------------------------------
    def _schedule_receipt(self, part: ReceivedPart) -> None:
        chosen = self.outcome_for(part.destination_addr)
        if chosen is None:
            stat = self._rng.choices(self._stat_names, self._stat_weights)[0]
        else:
            outcome_stat = OUTCOMES[chosen]
            if outcome_stat is None:
                return  # the sandbox asked for no receipt
            stat = outcome_stat
        if part.registered_delivery & 0x03 == 2 and stat == "DELIVRD":
            return  # receipt requested on failure only
        part.receipt_stat = stat
        submitted = datetime.fromtimestamp(part.received_at, UTC)
        done = datetime.now(UTC)
        err = 0 if stat == "DELIVRD" else 1
        safe = "".join(c if c.isascii() and (c.isalnum() or c in " .,:-") else "?" for c in part.text[:20])
        text = format_receipt_text(part.message_id, stat, submitted=submitted, done=done, err=err, text=safe)
        pdu = DeliverSm(source_addr_ton=part.dest_addr_ton, source_addr_npi=part.dest_addr_npi,
                        source_addr=part.destination_addr, dest_addr_ton=part.source_addr_ton,
                        dest_addr_npi=part.source_addr_npi, destination_addr=part.source_addr,
                        esm_class=EsmClass.DELIVERY_RECEIPT, data_coding=DataCoding.SMSC_DEFAULT,
                        short_message=text.encode("ascii"))
        pdu.receipted_message_id = part.message_id
        pdu.message_state = RECEIPT_STAT_TO_STATE[stat]
        job = _Job(part.system_id, pdu, stat=stat, message_id=part.message_id, part=part)
        self._later(self.config.receipt_delay_ms / 1000.0, job)

    def _later(self, delay: float, job: _Job) -> None:
        if delay <= 0 and self._server is not None:
            self._enqueue(job)
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.pop(handle, None)
            self._enqueue(job)

        handle = loop.call_later(max(0.0, delay), fire)
        self._timers[handle] = job

    def _enqueue(self, job: _Job) -> None:
        self._due[job.system_id].append(job)
        self._pump(job.system_id)

    def bound(self, system_id: str | None = None) -> int:
        """Binds open now (of one system_id, or all): what a real SMSC counts against an account's cap."""
        return sum(
            1 for c in self._conns
            if c.session.is_bound and not c.done.is_set() and (system_id is None or c.session.system_id == system_id)
        )  # fmt: skip

    def _receivers(self, system_id: str) -> list[_SimConnection]:
        return [c for c in self._conns
                if c.session.system_id == system_id and c.session.can_receive and not c.closing
                and not c.done.is_set()]

    def _pump(self, system_id: str) -> None:
        """Send due deliver_sm to the bound receivers of ``system_id``, round robin."""
        queue = self._due.get(system_id)
        if not queue or self._server is None:
            return
        receivers = self._receivers(system_id)
        if not receivers:
            return
        # Round robin across calls too (each receipt timer pumps one job): every bind gets its turn, as an
        # SMSC spreads an account's receipts over its binds.
        start = self._turns[system_id] % len(receivers)
        for conn in itertools.cycle(receivers[start:] + receivers[:start]):
            if not queue:
                break
            self._turns[system_id] += 1
            job = queue.popleft()
            job.attempts += 1
            job.pdu.sequence_number = 0
            try:
                conn.write(conn.session.send(job.pdu))
            except SessionStateError:
                queue.appendleft(job)
                break
            conn.deliveries[job.pdu.sequence_number] = job

    def _on_delivery_answer(self, job: _Job, status: int) -> None:
        if job.future is not None:
            if status == CommandStatus.ESME_ROK or job.attempts >= 3:
                if not job.future.done():
                    job.future.set_result(status)
                return
        elif status == CommandStatus.ESME_ROK:
            self.receipts.append(ReceiptRecord(job.message_id, job.stat, job.pdu.source_addr, job.system_id))
            if job.part is not None:
                job.part.receipt_at = time.time()
                self._changed_for_sandbox()
            else:
                self._notify()
            return
        log.info("simulator: deliver_sm answered %s; delivering again later", status_name(status))
        self._later(self.config.redelivery_delay_ms / 1000.0, job)

    async def inject_mo(self, source: str, destination: str, text: str, *, system_id: str | None = None,
                        within: float = 10.0) -> list[int]:
        """Send an incoming message to a bound receiver (split with an 8-bit UDH when long).

        Returns the deliver_sm_resp status of each part (a part answered with an error is delivered
        again, up to 3 attempts). ``system_id`` defaults to the only account.
        """
        sent = await self.phone_sends(source, destination, text, system_id=system_id, within=within)
        return sent.statuses

    async def phone_sends(self, source: str, destination: str, text: str, *, system_id: str | None = None,
                          within: float = 10.0) -> InjectedMo:
        """``inject_mo``, returning the text as the phone's conversation records it (its state says how the
        ESME answered). TimeoutError when it was not all answered within ``within`` seconds: then withdrawn."""
        if system_id is None:
            if len(self.config.accounts) != 1:
                raise ValueError("several accounts: say which system_id receives the MO")
            system_id = next(iter(self.config.accounts))
        alphabet, chunks = split_text(text)
        data_coding = DataCoding.UCS2 if alphabet == "ucs2" else DataCoding.SMSC_DEFAULT
        if len(chunks) > 255:
            raise ValueError("text too long: at most 255 parts")
        ref = next(self._mo_ref) & 0xFF
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[int]] = []
        jobs: list[_Job] = []
        for seq, chunk in enumerate(chunks, start=1):
            body = encode_part(alphabet, chunk)
            esm_class = 0
            if len(chunks) > 1:
                body = udh_concat(ref, len(chunks), seq) + body
                esm_class = EsmClass.UDHI
            pdu = DeliverSm(source_addr_ton=1, source_addr_npi=1, source_addr=source, dest_addr_ton=0,
                            dest_addr_npi=0, destination_addr=destination, esm_class=esm_class,
                            data_coding=data_coding, short_message=body)
            fut: asyncio.Future[int] = loop.create_future()
            futures.append(fut)
            jobs.append(_Job(system_id, pdu, future=fut))
        record = InjectedMo(next(self._entry_ids), system_id, source, destination, text, data_coding, len(chunks),
                            time.time())
        self._remember(source, record)
        for job in jobs:
            self._enqueue(job)
        try:
            async with asyncio.timeout(within):
                record.statuses = list(await asyncio.gather(*futures))
        except BaseException:
            record.state = "withdrawn"
            self._changed_for_sandbox()
            # Not delivered in time: withdraw what is still queued, so it cannot arrive later.
            queue = self._due.get(system_id)
            if queue:
                self._due[system_id] = deque(j for j in queue if j not in jobs)
            for handle, job in list(self._timers.items()):
                if job in jobs:
                    handle.cancel()
                    del self._timers[handle]
            raise
        ok = all(status == CommandStatus.ESME_ROK for status in record.statuses)
        record.state = "acknowledged" if ok else "refused"
        self._changed_for_sandbox()
        return record

    def clear_conversations(self) -> None:
        """The sandbox starts over: conversations and chosen outcomes forgotten (the test records stay)."""
        self.conversations.clear()
        self.outcome = None
        self.outcomes.clear()
        self._changed_for_sandbox()

    def last_sent_to(self, number: str) -> ReceivedMessage | None:
        """The latest whole message to a phone: whom it replies to, and on which account."""
        for item in reversed(self.conversations.get(phone_key(number), ())):
            if isinstance(item, ReceivedMessage):
                return item
        return None


# --- command line -----------------------------------------------------------------------------------

def _parse_listen(value: str) -> tuple[str, int]:
    try:
        return parse_listen(value)
    except BadListenAddress as error:
        raise argparse.ArgumentTypeError(f"{error}: expected HOST:PORT, e.g. 127.0.0.1:2775") from None


def _parse_account(value: str) -> tuple[str, str]:
    system_id, sep, password = value.partition(":")
    if not sep or not system_id:
        raise argparse.ArgumentTypeError("expected SYSTEM_ID:PASSWORD")
    return system_id, password


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="octogate smsc-sim", description="Run the SMPP 3.4 SMSC simulator.")
    parser.add_argument("--listen", type=_parse_listen, default=("127.0.0.1", 2775), metavar="HOST:PORT",
                        help="address to listen on (default 127.0.0.1:2775)")
    parser.add_argument("--account", type=_parse_account, action="append", default=[], metavar="ID:PASSWORD",
                        help="accepted system_id and password (repeatable; default octogate:secret)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each submit_sm_resp")
    parser.add_argument("--tps", type=float, default=0.0, help="submit_sm per second before ESME_RTHROTTLED")
    parser.add_argument("--receipt-delay-ms", type=float, default=1000.0, help="delay before each receipt")
    parser.add_argument("--fail-rate", type=float, default=0.0,
                        help="share of receipts with stat UNDELIV (0-1)")
    parser.add_argument("--invalid-prefix", action="append", default=[], metavar="PREFIX",
                        help="destinations refused with ESME_RINVDSTADR (repeatable)")
    parser.add_argument("--message-id-style", choices=("hex", "decimal"), default="hex")
    parser.add_argument("--seed", type=int, default=None, help="seed of the receipt outcomes")
    parser.add_argument("--control", type=_parse_listen, default=None, metavar="HOST:PORT",
                        help="serve the sandbox's HTTP control interface there (e.g. 127.0.0.1:2776; default: none)")
    return parser


def config_from_args(argv: Sequence[str] | None) -> SimulatorConfig:
    args = build_parser().parse_args(argv)
    if not 0.0 <= args.fail_rate <= 1.0 or math.isnan(args.fail_rate):
        raise SystemExit("--fail-rate must be between 0 and 1")
    mix = {"DELIVRD": 1.0 - args.fail_rate, "UNDELIV": args.fail_rate}
    return SimulatorConfig(host=args.listen[0], port=args.listen[1],
                           accounts=dict(args.account) or {"octogate": "secret"}, latency_ms=args.latency_ms,
                           max_per_second=args.tps, receipt_delay_ms=args.receipt_delay_ms,
                           receipt_mix={k: v for k, v in mix.items() if v > 0},
                           invalid_prefixes=tuple(args.invalid_prefix),
                           message_id_style=args.message_id_style, seed=args.seed, control=args.control)


async def serve(config: SimulatorConfig, *, ready: Callable[[int], None] | None = None,
                started: Callable[[SmscSimulator], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM (or cancellation), then stop gracefully. ``ready`` gets the SMPP port,
    ``started`` the running simulator (its control interface's address, for one)."""
    sim = SmscSimulator(config)
    port = await sim.start()
    if ready is not None:
        ready(port)
    if started is not None:
        started(sim)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``octogate smsc-sim``."""
    return serve_simulator(config_from_args(argv))


def short_collections() -> None:
    """For a process of its own (`octogate smsc-sim`): the simulator keeps every part, message and receipt it
    saw (tests and the sandbox read them), and CPython's full collections walk that growing history again and
    again. At 1,100 submits/s they stopped it for 130-370 ms within 20,000 messages (measured in
    bench/pipeline.py): no submit_sm_resp left meanwhile, the client's window stayed full, and that was the
    longest interval without submits of the gateway. What survives an older-generation collection is frozen
    (never walked again), so every collection walks only the few thousand objects allocated since the last:
    a few ms. The cost: cyclic garbage that survived two collections is kept, as the history is."""

    def freeze(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] >= 1:
            gc.freeze()

    gc.freeze()
    gc.callbacks.append(freeze)


def serve_simulator(config: SimulatorConfig) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    short_collections()

    def started(sim: SmscSimulator) -> None:
        print(f"SMSC simulator listening on {config.host}:{sim.port} "
              f"(accounts: {', '.join(sorted(config.accounts))})", flush=True)
        if sim.control_url is not None:
            print(f"sandbox control interface on {sim.control_url}", flush=True)

    asyncio.run(serve(config, started=started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
