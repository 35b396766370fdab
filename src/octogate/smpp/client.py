"""asyncio SMPP 3.4 ESME client: bind, windowed and paced submit_sm, receipts/MO, reconnect.

Written by hand on purpose: the Python SMPP libraries measured for this project have no send window,
split long texts inside escape or surrogate pairs, or are abandoned. Protocol rules live in the
sans-I/O ``Session``; this module only adds sockets, timers and policy:

* never more than ``window`` submit_sm unanswered (an ``asyncio.Semaphore`` held until the response);
* a token bucket for ``max_per_second``, which also halves its rate on ESME_RTHROTTLED/ESME_RMSGQFUL
  and creeps back up while the SMSC stays happy (even when no rate is configured);
* transient failures (throttling, system errors, timeouts, a connection lost mid-flight) are retried
  part by part on the next bound connection; permanent statuses are returned, not raised; when no
  connection can be had in time, ``SmppRetriableError`` tells the dispatcher to requeue;
* deliver_sm/data_sm are acknowledged only once what the owner's ``on_deliver`` returned is done, and
  with ESME_RX_T_APPN when it raised, so the SMSC keeps and re-sends what the owner failed to store;
* reconnect with exponential backoff and jitter; a refused bind (wrong password...) is logged clearly
  and retried with the same backoff.

SMPP has no idempotency key: a part whose response was lost (timeout, connection dropped after the
SMSC read it) is sent again, which can duplicate it at the SMSC. The simulator's graceful stop never
causes that; a real network can.

Usage::

    async def on_deliver(event: DeliverEvent) -> None:
        if event.is_receipt:      # event.message_id, event.message_state, event.receipt().stat
            await store_receipt(event)
        else:                     # MO: event.text, event.source_addr, event.concat for long ones
            await store_mo(event)
        # returning acknowledges the deliver_sm; raising makes the SMSC deliver it again later

    client = SmppClient(ConnectorConfig(name="main", host=..., port=2775, system_id=..., password=...),
                        on_deliver)
    await client.start()
    outcome = await client.submit_text("Octopush", 5, 0, "33612345678", text, registered_delivery=True)
    # outcome.ok / outcome.message_ids / outcome.status; SmppRetriableError -> requeue
    await client.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, get_args

from octogate.backoff import doubling
from octogate.frozen import quick_init
from octogate.sms.segments import ConcatInfo
from octogate.tasks import FifoSemaphore

from .batching import BatchedWrites
from .constants import (
    THROTTLING_STATUSES,
    TRANSIENT_SUBMIT_STATUSES,
    CommandId,
    CommandStatus,
    DataCoding,
    EsmClass,
    MessageIds,
    Npi,
    Ton,
    describe_status,
)
from .pdu import DEFAULT_MAX_PDU_LENGTH, EnquireLink, Pdu, PduEncodeError, SmppError, SubmitSm, Tlv, Unbind
from .receipts import DeliveryReceipt, parse_receipt_text
from .session import (
    BIND_CLASSES,
    BindMode,
    ConnectionBroken,
    InvalidPdu,
    PeerUnbound,
    RequestReceived,
    ResponseReceived,
    Role,
    SendData,
    Session,
    SessionStateError,
)
from .text import CONCATENATION_METHODS, Concatenation, EncodedText, decode_part, encode_text

log = logging.getLogger(__name__)

BindModeName = Literal["transceiver", "transmitter", "receiver"]


def clip(value: object, limit: int = 120) -> str:
    """repr() of something that came from the peer, bounded so a hostile SMSC cannot flood the logs."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"...(+{len(text) - limit})"


@dataclass(slots=True)
class ConnectorConfig:
    """One SMSC account. Durations are in seconds."""

    name: str
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    bind_mode: BindModeName = "transceiver"
    #: Maximum unanswered submit_sm at any time.
    window: int = 10
    #: Token-bucket pacing of submit_sm; 0 = unlimited (still slowed down on ESME_RTHROTTLED).
    max_per_second: float = 0.0
    source_ton: int = Ton.ALPHANUMERIC
    source_npi: int = Npi.UNKNOWN
    dest_ton: int = Ton.INTERNATIONAL
    dest_npi: int = Npi.ISDN
    service_type: str = ""
    #: data_coding for GSM-alphabet texts: 0 (SMSC default alphabet), 1 (IA5) or 3 (Latin-1).
    gsm_data_coding: int = DataCoding.SMSC_DEFAULT
    concatenation: Concatenation = "udh8"
    enquire_link_interval: float = 30.0
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0
    response_timeout: float = 30.0
    connect_timeout: float = 10.0
    #: How long a submit waits for a bound connection before raising SmppRetriableError.
    connection_wait: float = 60.0
    #: Retries of one part after transient errors (system error, timeout, connection lost).
    submit_retries: int = 5
    #: Retries of one part answered ESME_RTHROTTLED / ESME_RMSGQFUL.
    throttle_retries: int = 100
    #: on_deliver callbacks running at once before the client stops reading (TCP backpressure). The gateway
    #: stores the receipts read together in one write and acknowledges them once it is durable (20-150 ms
    #: under load): at 100 the reading stopped for most of each write and receipts fell behind an SMSC
    #: sending 1,000/s; 500 is one full group of `incoming.grouping`.
    max_pending_delivers: int = 500
    max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH
    #: Binds the whole cluster may open for this account (SMSCs cap them); each host runs the ones it leases.
    binds: int = 1
    #: In which base the SMSC writes message ids in submit_sm_resp and in receipts (`MessageIds`).
    message_ids: MessageIds = "auto"

    def __post_init__(self) -> None:
        if self.bind_mode not in ("transceiver", "transmitter", "receiver"):
            raise ValueError(f"bind_mode must be transceiver, transmitter or receiver: {self.bind_mode!r}")
        if self.concatenation not in CONCATENATION_METHODS:
            raise ValueError(f"concatenation must be one of {CONCATENATION_METHODS}: {self.concatenation!r}")
        if self.gsm_data_coding not in (DataCoding.SMSC_DEFAULT, DataCoding.IA5, DataCoding.LATIN1):
            raise ValueError("gsm_data_coding must be 0, 1 or 3")
        if self.window < 1 or self.max_pending_delivers < 1 or self.binds < 1:
            raise ValueError("window, max_pending_delivers and binds must be at least 1")
        if self.max_per_second < 0:
            raise ValueError("max_per_second must not be negative")
        if not 0 < self.reconnect_min <= self.reconnect_max:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        if self.message_ids not in get_args(MessageIds):
            raise ValueError(f"message_ids must be one of {get_args(MessageIds)}: {self.message_ids!r}")


class SmppRetriableError(SmppError):
    """The message was not (fully) submitted for a transient reason: requeue it and try later.

    ``parts`` holds what is known per part; parts with a message_id were accepted by the SMSC.
    """

    def __init__(self, message: str, parts: list[PartOutcome] | None = None) -> None:
        super().__init__(message)
        self.parts = parts or []


class ConnectionLostError(SmppError):
    """The connection closed while a request was waiting for its response."""


class ResponseTimeoutError(SmppError):
    """No response within response_timeout."""


@quick_init
@dataclass(frozen=True, slots=True)
class PartOutcome:
    """Result of one submit_sm: the SMSC message_id, or the command_status that refused it."""

    seq: int
    message_id: str | None
    status: int = CommandStatus.ESME_ROK

    @property
    def ok(self) -> bool:
        return self.status == CommandStatus.ESME_ROK


@quick_init
@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """Per-part results of ``submit_text``. Failed parts carry a permanent command_status."""

    parts: list[PartOutcome]
    data_coding: int
    alphabet: str

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parts)

    @property
    def permanent_failure(self) -> bool:
        return not self.ok

    @property
    def status(self) -> int:
        """First non-zero status, or ESME_ROK."""
        return next((p.status for p in self.parts if not p.ok), CommandStatus.ESME_ROK)

    @property
    def message_ids(self) -> list[str | None]:
        return [p.message_id for p in self.parts]


_UNPARSED = object()


@quick_init
@dataclass(frozen=True, slots=True)
class DeliverEvent:
    """An incoming deliver_sm or data_sm, handed to the owner's ``on_deliver`` callback."""

    connector: str
    command: Literal["deliver_sm", "data_sm"]
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    esm_class: int
    data_coding: int
    #: short_message exactly as received (UDH included); empty when the text is in message_payload.
    short_message: bytes
    #: user data without UDH (short_message or message_payload)
    payload: bytes
    text: str
    #: concatenation info from the UDH or SAR TLVs of a long MO part, else None.
    concat: ConcatInfo | None
    tlvs: tuple[Tlv, ...]
    receipted_message_id: str | None
    message_state: int | None
    network_error_code: tuple[int, int] | None
    #: the receipt text once parsed (`receipt()`): readers ask for the id, then for the rest
    _parsed: object = field(default=_UNPARSED, init=False, repr=False, compare=False)

    @property
    def is_receipt(self) -> bool:
        """SMSC delivery receipt (esm_class type 0x04) or intermediate notification (0x20)."""
        kind = self.esm_class & EsmClass.MESSAGE_TYPE_MASK
        return kind in (EsmClass.DELIVERY_RECEIPT, EsmClass.INTERMEDIATE_NOTIFICATION)

    def receipt(self) -> DeliveryReceipt | None:
        """The parsed receipt text (id, stat, err...) when this is a receipt; parsed once per event."""
        if self._parsed is not _UNPARSED:
            return self._parsed  # type: ignore[return-value]
        parsed: DeliveryReceipt | None = None
        if self.is_receipt:
            parsed = parse_receipt_text(self.text)
            if parsed is None and self.receipted_message_id:
                parsed = DeliveryReceipt(message_id=self.receipted_message_id)
        object.__setattr__(self, "_parsed", parsed)  # a cache, not a change: the event stays as received
        return parsed

    @property
    def message_id(self) -> str | None:
        """Carrier message id a receipt refers to: the TLV when present (exact), else the text's id."""
        if self.receipted_message_id:
            return self.receipted_message_id
        parsed = self.receipt()
        return parsed.message_id if parsed else None


#: A coroutine function, or a function returning a future (waited for by callback: no task per PDU).
OnDeliver = Callable[[DeliverEvent], Awaitable[object]]
#: Called with (connector, seconds, command_status or None when unanswered) per submit_sm: the operator's
#: metrics and throttling log lines (`octogate.observability`) hang here; None costs nothing.
SubmitObserver = Callable[[str, float, int | None], None]
submit_observer: SubmitObserver | None = None


@dataclass(slots=True)
class ClientStats:
    submitted: int = 0
    accepted: int = 0
    rejected: int = 0
    throttled: int = 0
    retried: int = 0
    timeouts: int = 0
    binds: int = 0
    bind_failures: int = 0
    delivers: int = 0
    deliver_failures: int = 0
    max_in_flight: int = 0


class Pacer:
    """Token bucket with AIMD: on throttling, fall to 90 % of what the SMSC accepted during the last
    second (at most once a second, however many responses say "throttled"); grow 25 % per calm second.

    Each caller reserves its slot (tokens may go negative) and sleeps until it, which paces callers
    in FIFO order without a polling loop.
    """

    def __init__(self, rate: float) -> None:
        self.configured = rate
        self.rate = rate if rate > 0 else math.inf
        self._tokens = self._burst()
        now = time.monotonic()
        self._last = now
        self._last_change = now - 1.0
        # successes per 100 ms slot over the last second
        self._hist = [0] * 10
        self._slot = int(now * 10)

    def _burst(self) -> float:
        return 1.0 if math.isinf(self.rate) else max(1.0, self.rate * 0.1)

    async def acquire(self) -> None:
        if math.isinf(self.rate):
            return
        now = time.monotonic()
        self._tokens = min(self._burst(), self._tokens + (now - self._last) * self.rate) - 1.0
        self._last = now
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)

    def _advance(self, now: float) -> None:
        slot = int(now * 10)
        if slot != self._slot:
            for i in range(1, min(10, slot - self._slot) + 1):
                self._hist[(self._slot + i) % 10] = 0
            self._slot = slot

    def accepted_last_second(self) -> int:
        self._advance(time.monotonic())
        return sum(self._hist)

    def throttled(self) -> None:
        """The SMSC said slow down."""
        now = time.monotonic()
        self._tokens = min(self._tokens, 0.0)
        if now - self._last_change < 1.0:
            return  # the other throttled answers of this burst say the same thing
        accepted = self.accepted_last_second()
        if accepted:
            target = accepted * 0.9
            self.rate = max(0.5, min(target, self.rate * 0.9 if not math.isinf(self.rate) else target))
        else:
            self.rate = 1.0 if math.isinf(self.rate) else max(0.5, self.rate * 0.5)
        self._last = now
        self._last_change = now

    def succeeded(self) -> None:
        now = time.monotonic()
        self._advance(now)
        self._hist[self._slot % 10] += 1
        if math.isinf(self.rate) or now - self._last_change < 1.0:
            return
        self._last_change = now
        target = self.rate * 1.25
        if self.configured > 0:
            self.rate = min(self.configured, target)
        else:
            self.rate = math.inf if target > 1e6 else target


@dataclass(slots=True, eq=False)
class _Connection(BatchedWrites):
    """One TCP connection and its Session; owned by the client's connection loop."""

    client: SmppClient
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    session: Session
    closed: asyncio.Future[None]
    pending: dict[int, tuple[asyncio.Future[Pdu], float]] = field(default_factory=dict)
    last_rx: float = field(default_factory=time.monotonic)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    #: PDUs written during this loop iteration, sent as one write (one syscall instead of one per PDU)
    out: list[bytes] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.closed.done() and self.session.can_transmit

    def request(self, pdu: Pdu, timeout: float) -> asyncio.Future[Pdu]:
        """Send a request; the future gets its response (or ConnectionLost/ResponseTimeout)."""
        if self.closed.done():
            raise ConnectionLostError("connection closed")
        data = self.session.send(pdu)
        fut: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self.pending[pdu.sequence_number] = (fut, time.monotonic() + timeout)
        self.write(data)
        return fut

    def writable(self) -> bool:
        return not self.closed.done()

    def close(self, reason: str) -> None:
        if self.closed.done():
            return
        self.flush()  # e.g. the unbind_resp answering the SMSC's unbind
        self.closed.set_result(None)
        if self.client._conn is self:
            self.client._bound.clear()
        for fut, _ in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionLostError(reason))
        self.pending.clear()
        self.session.connection_lost()
        self.client.last_error = reason  # why the bind went down, for its log line and the status
        with contextlib.suppress(Exception):
            self.writer.close()

    async def read_loop(self) -> None:
        reason = "closed by peer"
        try:
            while True:
                data = await self.reader.read(262144)
                if not data:
                    break
                self.last_rx = time.monotonic()
                client = self.client
                for event in self.session.receive_data(data):
                    if type(event) is RequestReceived and not client._deliver_room.is_set():
                        # Backpressure: as many on_deliver calls as allowed are running; stop reading
                        # (the SMSC's window fills up) until one returns.
                        await client._deliver_room.wait()
                    self._dispatch(event)
                if self.closed.done():
                    return
        except (ConnectionError, OSError) as exc:
            reason = f"connection error: {exc}"
        finally:
            self.close(reason)

    def _dispatch(self, event: object) -> None:
        if isinstance(event, ResponseReceived):
            entry = self.pending.pop(event.pdu.sequence_number, None)
            if entry is None:
                log.warning("%s: response %s to unknown sequence %d ignored", self.client.name,
                            event.pdu.name, event.pdu.sequence_number)
            elif not entry[0].done():
                entry[0].set_result(event.pdu)
        elif isinstance(event, RequestReceived):
            self.client._on_request(self, event.pdu)
        elif isinstance(event, SendData):
            self.write(event.data)
        elif isinstance(event, PeerUnbound):
            log.info("%s: SMSC sent unbind; closing and reconnecting", self.client.name)
            self.close("SMSC unbound")
        elif isinstance(event, InvalidPdu):
            log.warning("%s: malformed PDU from SMSC: %s", self.client.name, clip(str(event.error)))
        elif isinstance(event, ConnectionBroken):
            log.error("%s: cannot frame the SMSC's stream (%s); reconnecting", self.client.name,
                      clip(str(event.error)))
            self.close("framing error")

    async def keepalive_loop(self, interval: float, response_timeout: float) -> None:
        """Expire overdue requests and send enquire_link when the link has been quiet."""
        timeout = response_timeout
        tick = max(0.01, min(1.0, interval / 4, timeout / 4))
        probe: asyncio.Future[Pdu] | None = None
        while not self.closed.done():
            await asyncio.sleep(tick)
            now = time.monotonic()
            expired = [seq for seq, (_, deadline) in self.pending.items() if deadline <= now]
            if expired:
                for seq in expired:
                    fut, _ = self.pending.pop(seq)
                    if not fut.done():
                        fut.set_exception(ResponseTimeoutError(f"no response within {timeout:g}s"))
                log.warning("%s: %d request(s) unanswered after %gs; dropping the connection",
                            self.client.name, len(expired), timeout)
                self.close("response timeout")
                return
            if (probe is None or probe.done()) and now - self.last_rx >= interval:
                try:
                    probe = self.request(EnquireLink(), timeout)
                except (SmppError, SessionStateError):
                    return
                probe.add_done_callback(_consume_exception)


def _consume_exception(fut: asyncio.Future[Pdu]) -> None:
    if not fut.cancelled():
        fut.exception()


class SmppClient:
    """ESME client for one connector.

    ``start()`` returns at once and connects in the background; ``connected`` / ``wait_connected()``
    tell when a bind succeeded. ``submit_text()`` may be called at any time by many tasks at once: it
    waits for a connection (up to ``connection_wait``) and for room in the window.
    """

    def __init__(self, config: ConnectorConfig, on_deliver: OnDeliver | None = None, *,
                 on_connection_change: Callable[[bool], None] | None = None,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self.name = config.name
        self.on_deliver = on_deliver
        self.stats = ClientStats()
        #: Last connection or bind error, for health reporting (None once bound).
        self.last_error: str | None = None
        #: command_status of the last refused bind (e.g. ESME_RINVPASWD), None once bound.
        self.last_bind_status: int | None = None
        self._rng = rng or random.Random()  # jitter, not security
        self._conn: _Connection | None = None
        self._bound = asyncio.Event()
        self._stopping = False
        self._runner: asyncio.Task[None] | None = None
        self._window = FifoSemaphore(config.window)
        self._in_flight = 0
        self._drained = asyncio.Event()  # set while no submit_sm is in flight
        self._drained.set()
        self._pacer = Pacer(config.max_per_second)
        self._delivering: set[asyncio.Future[Any]] = set()  # what on_deliver returned, until done
        self._deliver_room = asyncio.Event()  # set while fewer than max_pending_delivers are being delivered
        self._deliver_room.set()
        self.on_connection_change = on_connection_change
        self._announced_up = False
        self._ref = itertools.count(self._rng.randrange(0, 0x10000))

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while bound (able to submit, or to receive for a receiver bind)."""
        conn = self._conn
        return conn is not None and not conn.closed.done() and conn.session.is_bound

    @property
    def current_rate(self) -> float:
        """submit_sm per second the pacer allows now (inf = unlimited); lowered by throttling."""
        return self._pacer.rate

    @property
    def in_flight(self) -> int:
        """submit_sm sent and not yet answered."""
        return self._in_flight

    async def wait_connected(self, within: float | None = None) -> None:
        """Wait until bound; raises TimeoutError after ``within`` seconds."""
        await asyncio.wait_for(self._bound.wait(), within)

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("client already started")
        self._stopping = False
        self._runner = asyncio.create_task(self._run(), name=f"smpp-client-{self.name}")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop submitting, let in-flight submits and deliver callbacks finish (up to ``grace``
        seconds), unbind, close."""
        self._stopping = True
        self._bound.set()  # wake submitters waiting for a connection: they see _stopping and give up
        deadline = time.monotonic() + grace
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), grace)
        if self._delivering:
            await asyncio.wait(list(self._delivering), timeout=max(0.01, deadline - time.monotonic()))
        timeout = max(0.05, deadline - time.monotonic())
        conn = self._conn
        if conn is not None and conn.session.is_bound and not conn.closed.done():
            try:
                fut = conn.request(Unbind(), timeout)
                await asyncio.wait_for(fut, timeout)
            except (SmppError, SessionStateError, TimeoutError) as exc:
                log.info("%s: unbind not acknowledged (%s)", self.name, exc)
        if conn is not None:
            conn.close("client stopped")
            for task in conn.tasks:
                task.cancel()
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        for pending in list(self._delivering):
            pending.cancel()
        self._bound.clear()
        self._notify_connection(False)

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            conn: _Connection | None = None
            try:
                conn = await self._connect_and_bind()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure to connect/bind is retried with backoff
                self.last_error = str(exc)
                if not isinstance(exc, _BindRefused):
                    log.warning("%s: cannot connect to %s:%d: %s", self.name, self.config.host,
                                self.config.port, clip(str(exc), 200))
            if conn is not None:
                attempt = 0
                self._conn = conn
                self._bound.set()
                self._notify_connection(True)
                await asyncio.shield(conn.closed)
                self._bound.clear()
                self._notify_connection(False)
                for task in conn.tasks:
                    task.cancel()
                if self._stopping:
                    return
                log.warning("%s: bind down (%s); reconnecting", self.name, clip(self.last_error or "", 200))
            delay = doubling(attempt, self.config.reconnect_min, self.config.reconnect_max)
            delay *= self._rng.uniform(0.5, 1.0)
            attempt = min(attempt + 1, 30)
            await asyncio.sleep(delay)

    def _notify_connection(self, up: bool) -> None:
        if up == self._announced_up:
            return
        self._announced_up = up
        if self.on_connection_change is None:
            return
        try:
            self.on_connection_change(up)
        except Exception:
            log.exception("%s: on_connection_change callback failed", self.name)

    async def _connect_and_bind(self) -> _Connection:
        cfg = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(cfg.host, cfg.port, limit=1 << 20), cfg.connect_timeout)
        loop = asyncio.get_running_loop()
        conn = _Connection(self, reader, writer, Session(Role.ESME, max_pdu_length=cfg.max_pdu_length),
                           loop.create_future())
        reader_task = asyncio.create_task(conn.read_loop(), name=f"smpp-read-{self.name}")
        conn.tasks.add(reader_task)
        try:
            bind = BIND_CLASSES[BindMode(cfg.bind_mode)](system_id=cfg.system_id, password=cfg.password,
                                       system_type=cfg.system_type)
            resp = await asyncio.wait_for(conn.request(bind, cfg.response_timeout), cfg.response_timeout)
        except BaseException:
            conn.close("bind failed")
            reader_task.cancel()
            raise
        if resp.command_status != CommandStatus.ESME_ROK or resp.command_id == CommandId.GENERIC_NACK:
            conn.close("bind refused")
            reader_task.cancel()
            self.stats.bind_failures += 1
            self.last_bind_status = resp.command_status
            hint = ""
            if resp.command_status in (CommandStatus.ESME_RINVPASWD, CommandStatus.ESME_RINVSYSID):
                hint = " - check system_id/password of this connector"
            log.error("%s: bind as %s refused by %s:%d for system_id %r: %s%s; retrying with backoff",
                      self.name, cfg.bind_mode, cfg.host, cfg.port, cfg.system_id,
                      describe_status(resp.command_status), hint)
            raise _BindRefused(describe_status(resp.command_status))
        self.stats.binds += 1
        self.last_error = None
        self.last_bind_status = None
        log.info("%s: bound as %s to %s:%d (SMSC system_id %s)", self.name, cfg.bind_mode, cfg.host, cfg.port,
                 clip(getattr(resp, "system_id", ""), 40))
        ka = asyncio.create_task(conn.keepalive_loop(cfg.enquire_link_interval, cfg.response_timeout),
                                 name=f"smpp-keepalive-{self.name}")
        conn.tasks.add(ka)
        return conn

    # --- submitting -----------------------------------------------------------------------------
    async def submit_text(self, source: str, source_ton: int | None, source_npi: int | None, destination: str,
                          text: str, *, registered_delivery: bool, dest_ton: int | None = None,
                          dest_npi: int | None = None, ref: int | None = None,
                          skip_parts: Collection[int] = (), validity_period: str = "",
                          encoded: EncodedText | None = None) -> SubmitOutcome:
        """Split ``text`` per the connector's concatenation method and submit every part.

        Returns per part the SMSC message_id or the permanent status that refused it. Raises
        SmppRetriableError when the message could not be submitted for a transient reason (no
        connection within ``connection_wait``, transient errors beyond ``submit_retries``, stopping);
        its ``parts`` tell which parts were accepted meanwhile.

        ``ref`` fixes the concatenation reference (default: a new one per call) and ``skip_parts``
        lists part numbers (1-based) not to send: together they let a caller resend only the parts
        missing after a transient failure, under the same reference, so the handset can still join
        them. The outcome then lists only the parts sent. ``validity_period`` goes as is into every
        part's submit_sm (SMPP 3.4 §7.1.1; empty: the SMSC's default). ``encoded`` is ``text`` already
        encoded by the caller with this connector's settings and ``ref`` (the dispatcher counts the parts
        first): the text is then not encoded a second time.
        """
        cfg = self.config
        if cfg.bind_mode == "receiver":
            raise SmppError(f"connector {self.name} is bound as receiver: it cannot submit")
        if ref is None:
            ref = next(self._ref)
        ref &= 0xFFFF
        if encoded is None:
            encoded = encode_text(text, ref=ref, concatenation=cfg.concatenation,
                                  gsm_data_coding=cfg.gsm_data_coding)
        pdus = [
            (seq, SubmitSm(service_type=cfg.service_type,
                     source_addr_ton=cfg.source_ton if source_ton is None else source_ton,
                     source_addr_npi=cfg.source_npi if source_npi is None else source_npi,
                     source_addr=source,
                     dest_addr_ton=cfg.dest_ton if dest_ton is None else dest_ton,
                     dest_addr_npi=cfg.dest_npi if dest_npi is None else dest_npi,
                     destination_addr=destination, esm_class=part.esm_class,
                     validity_period=validity_period,
                     registered_delivery=1 if registered_delivery else 0, data_coding=encoded.data_coding,
                     short_message=part.short_message, tlvs=list(part.tlvs)))
            for seq, part in enumerate(encoded.parts, 1)
            if seq not in skip_parts
        ]
        if len(pdus) == 1:
            results = [await self._submit_part(*pdus[0])]
        else:
            gathered = await asyncio.gather(*(self._submit_part(i, p) for i, p in pdus),
                                            return_exceptions=True)
            results = []
            error: BaseException | None = None
            for (i, _), r in zip(pdus, gathered, strict=True):
                if isinstance(r, BaseException):
                    error = error or r
                    results.append(PartOutcome(i, None, getattr(r, "status", CommandStatus.ESME_RSYSERR)))
                else:
                    results.append(r)
            if error is not None:
                if isinstance(error, SmppRetriableError):
                    raise SmppRetriableError(str(error), results) from error
                raise error
        return SubmitOutcome(results, encoded.data_coding, encoded.alphabet)

    async def _wait_bound(self, deadline: float) -> _Connection:
        while True:
            if self._stopping:
                raise SmppRetriableError(f"connector {self.name} is stopping")
            conn = self._conn
            if conn is not None and conn.usable:
                return conn
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                why = self.last_error or "not connected"
                raise SmppRetriableError(f"connector {self.name}: no bound connection within "
                                         f"{self.config.connection_wait:g}s ({why})")
            try:
                await asyncio.wait_for(self._bound.wait(), remaining)
            except TimeoutError:
                continue
            if self._conn is None or not self._conn.usable:
                await asyncio.sleep(0.001)  # event set by stop() or a receiver bind: re-check

    async def _submit_part(self, seq: int, pdu: SubmitSm) -> PartOutcome:
        cfg = self.config
        transient = 0
        throttled = 0
        deadline = time.monotonic() + cfg.connection_wait
        failure: Exception | None = None
        window = self._window
        while True:
            conn = self._conn
            if conn is None or not conn.usable or self._stopping:
                conn = await self._wait_bound(deadline)
            await window.acquire()
            try:
                if self._stopping:
                    raise SmppRetriableError(f"connector {self.name} is stopping")
                if self._pacer.rate != math.inf:
                    await self._pacer.acquire()
                if not conn.usable:
                    conn = self._conn if self._conn is not None and self._conn.usable else None
                    if conn is None:
                        continue
                pdu.sequence_number = 0  # a fresh sequence number on every (re)send
                self._in_flight += 1
                self._drained.clear()
                if self._in_flight > self.stats.max_in_flight:
                    self.stats.max_in_flight = self._in_flight
                self.stats.submitted += 1
                sent = time.monotonic()
                try:
                    resp = await conn.request(pdu, cfg.response_timeout)
                except PduEncodeError as exc:
                    # Our input cannot go on the wire (address too long, not Latin-1...): permanent.
                    self.stats.rejected += 1
                    log.info("%s: submit not sent: %s", self.name, exc)
                    return PartOutcome(seq, None, _encode_error_status(exc))
                except (ConnectionLostError, ResponseTimeoutError, SessionStateError) as exc:
                    resp = None
                    failure = exc
                finally:
                    self._in_flight -= 1
                    if not self._in_flight:
                        self._drained.set()
            finally:
                window.release()
            if submit_observer is not None:
                submit_observer(self.name, time.monotonic() - sent, None if resp is None else resp.command_status)
            if resp is None:
                transient += 1
                self.stats.retried += 1
                if isinstance(failure, ResponseTimeoutError):
                    self.stats.timeouts += 1
                if transient > cfg.submit_retries:
                    raise SmppRetriableError(f"{self.name}: part {seq} failed {transient} times: {failure}")
                deadline = time.monotonic() + cfg.connection_wait
                continue
            status = resp.command_status
            if status == CommandStatus.ESME_ROK:
                self.stats.accepted += 1
                self._pacer.succeeded()
                return PartOutcome(seq, getattr(resp, "message_id", "") or "")
            if status in THROTTLING_STATUSES:
                self.stats.throttled += 1
                self._pacer.throttled()
                throttled += 1
                if throttled > cfg.throttle_retries:
                    raise SmppRetriableError(f"{self.name}: part {seq} throttled {throttled} times")
                await asyncio.sleep(doubling(throttled, 0.02, 2.0) * self._rng.uniform(0.5, 1.0))
                continue
            if status in TRANSIENT_SUBMIT_STATUSES:
                transient += 1
                self.stats.retried += 1
                if transient > cfg.submit_retries:
                    raise SmppRetriableError(f"{self.name}: part {seq}: {describe_status(status)} "
                                             f"after {transient} tries")
                await asyncio.sleep(doubling(transient, 0.1, 5.0) * self._rng.uniform(0.5, 1.0))
                continue
            self.stats.rejected += 1
            log.info("%s: submit to %s refused: %s", self.name, clip(pdu.destination_addr, 30),
                     describe_status(status))
            return PartOutcome(seq, None, status)

    # --- receiving ------------------------------------------------------------------------------
    def _on_request(self, conn: _Connection, pdu: Pdu) -> None:
        if pdu.command_id in (CommandId.DELIVER_SM, CommandId.DATA_SM):
            self._receive(conn, pdu)
        elif pdu.command_id == CommandId.ALERT_NOTIFICATION:
            log.info("%s: alert_notification for %s", self.name, clip(getattr(pdu, "source_addr", ""), 30))
        else:
            log.info("%s: ignoring %s from SMSC", self.name, pdu.name)

    def _receive(self, conn: _Connection, pdu: Pdu) -> None:
        """Hand a deliver_sm to ``on_deliver`` and answer it once what that returned is done. A future (the
        store's, for a receipt) is waited for by callback, without a task per PDU; a coroutine runs as a task."""
        try:
            event = self._make_event(pdu)
            self.stats.delivers += 1
            if self.on_deliver is None:
                log.warning("%s: %s received but no on_deliver callback: asking the SMSC to retry later",
                            self.name, pdu.name)
                self._answer(conn, pdu, CommandStatus.ESME_RX_T_APPN)
                return
            waited = self.on_deliver(event)
        except Exception as error:
            self._answer(conn, pdu, self._deliver_failed(pdu, error))
            return
        pending = waited if isinstance(waited, asyncio.Future) else asyncio.ensure_future(waited)
        self._delivering.add(pending)
        if len(self._delivering) >= self.config.max_pending_delivers:
            self._deliver_room.clear()
        pending.add_done_callback(partial(self._delivered, conn, pdu))

    def _delivered(self, conn: _Connection, pdu: Pdu, pending: asyncio.Future[Any]) -> None:
        self._delivering.discard(pending)
        if len(self._delivering) < self.config.max_pending_delivers:
            self._deliver_room.set()
        if pending.cancelled():
            return  # stopping: unanswered, the SMSC delivers it again on the next bind
        error = pending.exception()
        self._answer(conn, pdu, CommandStatus.ESME_ROK if error is None else self._deliver_failed(pdu, error))

    def _deliver_failed(self, pdu: Pdu, error: BaseException) -> int:
        self.stats.deliver_failures += 1
        log.error("%s: on_deliver failed for %s seq %d; answering ESME_RX_T_APPN so the SMSC retries",
                  self.name, pdu.name, pdu.sequence_number, exc_info=error)
        return CommandStatus.ESME_RX_T_APPN

    def _answer(self, conn: _Connection, pdu: Pdu, status: int) -> None:
        if conn.closed.done():
            return  # unanswered: the SMSC will deliver it again on the next bind
        try:
            conn.write(conn.session.respond(pdu, status))
        except SessionStateError as exc:
            log.info("%s: cannot answer %s: %s", self.name, pdu.name, exc)

    def _make_event(self, pdu: Pdu) -> DeliverEvent:
        short_message: bytes = getattr(pdu, "short_message", b"")
        esm_class: int = getattr(pdu, "esm_class", 0)
        data_coding: int = getattr(pdu, "data_coding", 0)
        part = decode_part(pdu, short_message, esm_class, data_coding)
        return DeliverEvent(
            connector=self.name,
            command="deliver_sm" if pdu.command_id == CommandId.DELIVER_SM else "data_sm",
            source_addr=getattr(pdu, "source_addr", ""),
            source_addr_ton=getattr(pdu, "source_addr_ton", 0),
            source_addr_npi=getattr(pdu, "source_addr_npi", 0),
            destination_addr=getattr(pdu, "destination_addr", ""),
            dest_addr_ton=getattr(pdu, "dest_addr_ton", 0),
            dest_addr_npi=getattr(pdu, "dest_addr_npi", 0),
            esm_class=esm_class,
            data_coding=data_coding,
            short_message=short_message,
            payload=part.payload,
            text=part.text,
            concat=part.concat,
            tlvs=tuple(pdu.tlvs),
            receipted_message_id=pdu.receipted_message_id,
            message_state=pdu.message_state,
            network_error_code=pdu.network_error_code,
        )


def _encode_error_status(exc: PduEncodeError) -> int:
    """The command_status an SMSC would have answered for the field we could not encode."""
    text = str(exc)
    if text.startswith("source_addr"):
        return CommandStatus.ESME_RINVSRCADR
    if text.startswith("destination_addr"):
        return CommandStatus.ESME_RINVDSTADR
    if text.startswith("service_type"):
        return CommandStatus.ESME_RINVSERTYP
    return CommandStatus.ESME_RINVPARLEN


class _BindRefused(SmppError):
    """The SMSC answered the bind with an error status (already logged)."""
