"""Three `octogate serve` hosts on one PostgreSQL database behave as one gateway, even when one of them dies.

Everything is real: three serve processes (each with its background process) started at the same instant on an
empty schema, one SMSC (the simulator, in this test process, so that it can count every submit_sm it received),
and one customer endpoint counting every push. One host is SIGKILLed mid-run: the other two take over its bind
and its claims, the campaigns it took unanswered are sent again (their request_id keeps them from being stored
twice), every message reaches the SMSC, every receipt reaches the customer, and only what the dead host had not
made durable goes out twice: submits unanswered at the kill or read in its last 50 ms, and pushes it had POSTed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import psycopg

from live.conftest import connection_owner, free_port, process_group
from octogate.callbacks.worker import PushWorker
from octogate.smpp.simulator import ReceivedPart, SimulatorConfig, SmscSimulator

MESSAGES = 3000
PER_CAMPAIGN = 50
WINDOW = 10
BIND_LEASE = 3
CLAIM_LEASE = 10
LATENCY = 0.020  # the SMSC's answer time
PER_HOST = 16  # [callbacks] per_host: pushes in flight to the receiver from the whole cluster at most
# An SMSC acceptance is durable this long after the host read it (issue 9, item 6: the group commit's 50 ms).
DURABLE_WITHIN = 0.050
# A push's outcome is durable this long after its answer: the push worker gathers outcomes for `record_coalesce`
# (0.1 s), then one group commit, held to the same 50 ms. What the dead host was told within it is POSTed again
# (at least once, docs/cluster.md). Only those in flight at the kill (answered by the receiver after it) are
# bounded by `per_host`, the slots it held for the receiver; the answered ones are not: at ~1,000 pushes/s the
# dead host had 13, 23 and 76 pushes answered but not yet durable in three runs, answered at most 94 ms before.
PUSH_DURABLE_WITHIN = PushWorker.record_coalesce + DURABLE_WITHIN


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def wait_until(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class NotingSimulator(SmscSimulator):
    """The simulator, noting the connection (the ESME's port) each accepted submit_sm came on: which host sent it."""

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config)
        self.port_of: dict[int, int] = {}  # id(part) -> the sending host's port

    def _on_submit(self, conn, pdu) -> None:  # type: ignore[no-untyped-def]
        count = len(self.parts)
        super()._on_submit(conn, pdu)
        if len(self.parts) > count:
            self.port_of[id(self.parts[-1])] = conn.writer.get_extra_info("peername")[1]


class Smsc:
    """The simulator on an event loop of its own thread; its lists are read from the test thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        config = SimulatorConfig(
            accounts={"cluster": "pw"},
            latency_ms=LATENCY * 1000,
            receipt_delay_ms=300,
            seed=7,
        )
        self.sim = NotingSimulator(config)
        self.port = self._run(self.sim.start())

    def _run(self, coroutine):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def stop(self) -> None:
        self._run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass(frozen=True)
class Push:
    number: str
    arrived: float  # epoch seconds, when the receiver read the request
    answered: float  # just before the receiver wrote its 200: the host cannot have read it any earlier
    sender: int | None  # the pid of the gateway process that POSTed it


class PushReceiver:
    """The customer's endpoint: answers 200 and notes every push with its times and the process that sent it.

    Connections are kept alive (as the push client does), so the sender is looked up once per connection."""

    def __init__(self, senders: Callable[[], set[int]]) -> None:
        received: list[Push] = []
        self.received = received
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            sender: int | None = None

            def handle(self) -> None:
                with contextlib.suppress(ConnectionResetError):  # the dead host's connections
                    super().handle()

            def setup(self) -> None:
                super().setup()
                port = self.server.server_address[1]
                self.sender = connection_owner(self.client_address[1], port, senders())  # type: ignore[arg-type]

            def do_POST(self) -> None:
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                number = parse_qs(body.decode())["number"][0]
                # Read before the answer goes out, not after: this thread may wait for the GIL between the two
                # (the SMSC and every handler run in this process) while the host reads the answer and POSTs the
                # next push on the freed slot; a push answered before the kill then counted as one in flight at it
                # (17 for 16 slots, once in CI).
                answered = time.time()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with lock:
                    received.append(Push(number, arrived, answered, self.sender))

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/receipts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Host:
    name: str
    base_url: str
    process: subprocess.Popen[str]
    log: Path

    def kill(self) -> float:
        """SIGKILL to the host's processes; returns `time.time()` once sent: nothing of the host runs after it
        (a clock read before the call may be milliseconds earlier, when another thread holds the GIL between)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        killed = time.time()
        self.process.wait(10)
        return killed

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def write_config(path: Path, smsc_port: int) -> Path:
    path.write_text(
        f"""
[server]
demo = false

[[connectors]]
name = "smsc"
host = "127.0.0.1"
port = {smsc_port}
system_id = "cluster"
password = "pw"
window = {WINDOW}
binds = 3

[dispatch]
lease_seconds = {CLAIM_LEASE}
bind_lease_seconds = {BIND_LEASE}

[callbacks]
lease_seconds = {CLAIM_LEASE}
per_host = {PER_HOST}
allow_targets = ["127.0.0.0/8"]   # the receiver is on loopback; private targets are forbidden by default
""",
        encoding="utf-8",
    )
    return path


def start_hosts(tmp_path: Path, config: Path, database_url: str, count: int) -> list[Host]:
    hosts = []
    for i in range(count):
        port = free_port()
        log = tmp_path / f"host{i}.log"
        env = {**os.environ, "OCTOGATE_HTTP": f"127.0.0.1:{port}", "OCTOGATE_SMTP": "off", "OCTOGATE_ADMIN": "off",
               "OCTOGATE_DATABASE_URL": database_url, "OCTOGATE_CONFIG": str(config)}  # fmt: skip
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "octogate.cli", "serve"],
                stdout=out, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
            )  # fmt: skip
        hosts.append(Host(f"host{i}", f"http://127.0.0.1:{port}", process, log))
    return hosts


def answers(host: Host) -> bool:
    if host.process.poll() is not None:
        raise AssertionError(f"{host.name} exited:\n{host.log.read_text()[-2000:]}")
    try:
        return httpx.get(f"{host.base_url}/api/balance", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def cli(config: Path, database_url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "octogate.cli", "--config", str(config), *args, "--database-url", database_url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def send_campaign(hosts: list[Host], i: int, login: str, key: str, first: int) -> tuple[str, bool]:
    """POST campaign `i` to host i % 3; when that host gives no answer (it died), POST it again to a living one
    with the same request_id: a campaign the dead host committed answers 120 and is not stored twice.
    Returns the answer's error code ("000", or "120": stored by the dead host) and whether it was sent again."""
    recipients = ",".join(f"+3360{n:07d}" for n in range(first, first + PER_CAMPAIGN))
    data = {"user_login": login, "api_key": key, "sms_recipients": recipients, "sms_type": "FR",
            "sms_sender": "Cluster", "sms_text": f"Code {first}", "transactional": "1",
            "request_id": f"campaign{first}"}  # fmt: skip
    targets = [hosts[i % 3]] + [h for h in hosts if h is not hosts[i % 3]]
    for attempt, host in enumerate(targets):
        if attempt and host.process.poll() is not None:
            continue
        try:
            answer = httpx.post(f"{host.base_url}/api/sms", data=data, timeout=30)
        except httpx.TransportError:
            continue
        code = answer.text.split("<error_code>")[1].split("</error_code>")[0]
        assert code == "000" or (attempt and code == "120"), answer.text
        return code, attempt > 0
    raise AssertionError(f"campaign {first}: no host answered")


def rows(database_url: str, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(database_url, autocommit=True) as conn:  # the URL's options set the schema
        return conn.execute(sql).fetchall()


def held_by(database_url: str, pids: set[int]) -> Counter[str]:
    """Rows of each queue (and bind leases) held by the processes `pids` (owners are `hostname:pid:random`)."""
    held: Counter[str] = Counter()
    for table, owner in (("messages", "claimed_by"), ("callbacks", "claimed_by"), ("bind_leases", "owner")):
        for (name,) in rows(database_url, f"SELECT {owner} FROM {table} WHERE {owner} IS NOT NULL"):  # noqa: S608
            if int(name.rsplit(":", 2)[1]) in pids:
                held[table] += 1
    return held


def test_three_hosts_one_killed_mid_run(tmp_path: Path, postgres_url: str) -> None:
    smsc = Smsc()
    config = write_config(tmp_path / "octogate.toml", smsc.port)
    hosts = start_hosts(tmp_path, config, postgres_url, 3)
    receiver = PushReceiver(lambda: set().union(*(process_group(h.process.pid) for h in hosts)))
    numbers = {f"+3360{n:07d}" for n in range(MESSAGES)}
    try:
        wait_until(lambda: all(answers(h) for h in hosts), 60, "three hosts on one empty database")
        created = cli(config, postgres_url, "account", "create", "shop@example.com", "--credit", "10000")
        key = created.split("api_key=")[1].split()[0]
        cli(config, postgres_url, "account", "urls", "shop@example.com", "--all", receiver.url)
        wait_until(lambda: smsc.sim.binds >= 3, 30, "the cluster's three binds")

        dead = hosts[1]
        campaigns = list(enumerate(range(0, MESSAGES, PER_CAMPAIGN)))
        half, last = len(campaigns) // 2, len(campaigns) * 3 // 4
        with ThreadPoolExecutor(6) as pool:

            def send(batch: list[tuple[int, int]]) -> list[Future[tuple[str, bool]]]:
                return [pool.submit(send_campaign, hosts, i, "shop@example.com", key, f) for i, f in batch]

            futures = send(campaigns[:half])
            wait_until(lambda: len(smsc.sim.parts) >= MESSAGES // 3, 60, "a third of the messages submitted")
            # The third quarter is being POSTed when the host dies: some of its campaigns may die with it (stored
            # or not, unanswered; on a fast machine all may be answered first). The last quarter, POSTed after
            # the kill, finds it gone. Every campaign the dead host left unanswered is sent again to a living one.
            futures += send(campaigns[half:last])
            dead_pids = process_group(dead.process.pid)
            ports = set(smsc.sim.port_of.values())
            dead_ports = {port for port in ports if connection_owner(port, smsc.port, dead_pids)}
            held_at_kill = held_by(postgres_url, dead_pids)  # just before the kill: what is to be taken over
            killed_at = time.time()
            dead_at = dead.kill()  # killed_at <= dead_at: the dead host may run in between (this thread waits)
            futures += send(campaigns[last:])
            outcomes = Counter(future.result() for future in futures)
        assert held_at_kill["bind_leases"] and dead_ports, held_at_kill
        assert held_at_kill["messages"] > WINDOW, held_at_kill  # messages waiting behind a full window
        resent = outcomes[("000", True)] + outcomes[("120", True)]
        assert resent, outcomes  # at least the dead host's share of the last quarter went elsewhere

        # Every campaign stored once: 3,000 distinct messages, whichever host took each campaign.
        stored = rows(postgres_url, "SELECT COUNT(*), COUNT(DISTINCT recipient) FROM messages")
        assert stored == [(MESSAGES, MESSAGES)]
        assert {r[0] for r in rows(postgres_url, "SELECT recipient FROM messages")} == numbers

        def all_submitted() -> bool:
            return {"+" + p.destination_addr.lstrip("+") for p in list(smsc.sim.parts)} >= numbers

        wait_until(all_submitted, 120, "every message at the SMSC")
        wait_until(
            lambda: {p.number for p in list(receiver.received)} >= numbers, 120, "a push for every message"
        )
        wait_until(
            lambda: (
                dict(rows(postgres_url, "SELECT status, COUNT(*) FROM messages GROUP BY status"))
                == {"delivered": MESSAGES}
            ),
            30,
            "every message delivered",
        )

        # Submitted again: only what the dead host had not made durable (issue 9, item 6): submits unanswered at
        # the kill, or answered in its last 50 ms. The SMSC notes when it wrote each answer; the host reads it
        # later when its loop is busy (once 63 ms on this 2-core machine), so each message's allowance is that
        # delay, measured: with its window full and messages waiting, the host sends its next submit_sm on the
        # bind as soon as it reads an answer, so none from it after an answer until time t shows that it had not
        # read that answer before t. The SMSC (in this test's process) reads late too when busy: the first
        # submit_sm of the living hosts after the answer times that, and only the dead host's delay beyond it is
        # allowed (none when neither sent one before the kill).
        parts = list(smsc.sim.parts)
        submits: dict[str, list[ReceivedPart]] = {}
        for part in parts:
            submits.setdefault("+" + part.destination_addr.lstrip("+"), []).append(part)
        read_after = {
            dying: sorted(p.received_at for p in parts if (smsc.sim.port_of[id(p)] in dead_ports) is dying)
            for dying in (True, False)
        }
        again = {n: tries for n, tries in submits.items() if len(tries) > 1}
        answered_before_kill, allowances = [], []
        for number, (first, *later) in again.items():
            assert smsc.sim.port_of[id(first)] in dead_ports and len(later) == 1, (number, again[number])
            answered = first.answered_at
            if answered is None or answered > killed_at:
                continue  # unanswered at the kill
            dead_next, living_next = (
                min(next((t for t in read_after[dying] if t > answered), killed_at), killed_at)
                for dying in (True, False)
            )
            answered_before_kill.append(killed_at - answered)
            allowances.append(max(0.0, dead_next - living_next))
            assert killed_at - answered - allowances[-1] <= DURABLE_WITHIN, (
                number,
                killed_at - answered,
                allowances,
            )

        # Pushes: every receipt once, except pushes the dead host had POSTed but whose outcome it had not made
        # durable: a living host POSTs them again. The sender is the process holding the connection's client end;
        # a connection no living process holds (looked up after the kill) was the dead host's.
        received = sorted(receiver.received, key=lambda p: p.arrived)
        assert all(p.sender is not None or p.arrived > killed_at for p in received), "a push from nowhere"
        by_number: dict[str, list[Push]] = {}
        for push in received:
            by_number.setdefault(push.number, []).append(push)
        assert set(by_number) == numbers
        twice = {n: pushes for n, pushes in by_number.items() if len(pushes) > 1}
        living = set().union(*(process_group(h.process.pid) for h in hosts if h is not dead))
        for first_push, *later in twice.values():
            assert len(later) == 1, later
            assert first_push.sender in dead_pids | {None}, (first_push, dead_pids)  # sent before it died
            assert later[0].sender in living and later[0].arrived > killed_at, (later, living)
        pushed = sorted(killed_at - p[0].answered for p in twice.values())
        assert max(pushed, default=0) <= PUSH_DURABLE_WITHIN, [ms(t) for t in pushed]
        in_flight = [p[0].answered for p in twice.values() if p[0].answered > dead_at]  # POSTed, unanswered
        assert len(in_flight) <= PER_HOST, [ms(t) for t in pushed]
        groups = {h.name: process_group(h.process.pid) for h in hosts if h is not dead} | {
            dead.name: dead_pids
        }
        senders = Counter(
            next(name for name, pids in groups.items() if p.sender in pids | {None}) for p in received
        )
        outbox = rows(
            postgres_url, "SELECT COUNT(*), COUNT(DISTINCT payload) FROM callbacks WHERE kind = 'receipt'"
        )
        assert outbox == [(MESSAGES, MESSAGES)]  # exactly one receipt push owed per message

        # The dead host's claims and binds were taken over: nothing held by it, three binds up on the others.
        wait_until(lambda: smsc.sim.binds >= 4, 30, "the dead host's bind taken over")
        wait_until(lambda: len(rows(postgres_url, "SELECT * FROM bind_leases")) == 3, 30, "three bind leases")
        assert not held_by(postgres_url, dead_pids)
        slack = [b - lag for b, lag in zip(answered_before_kill, allowances, strict=True)]
        print(
            f"\nthree hosts: at the kill the dead host held {dict(held_at_kill)}; {resent} campaigns sent again "
            f"({outcomes[('120', True)]} already stored by the dead host)\n{len(again)} messages submitted twice, "
            f"{len(answered_before_kill)} answered before the kill: at most {ms(max(answered_before_kill, default=0))}"
            f" ms before, read lag {ms(max(allowances, default=0))} ms at most, so read at most "
            f"{ms(max(slack, default=0))} ms before\npushes by host {dict(senders)}, {len(twice)} of them "
            f"again by another, first answered {ms(min(pushed, default=0))} to {ms(max(pushed, default=0))} ms "
            "before the kill"
        )
    finally:
        for host in hosts:
            host.stop()
        receiver.stop()
        smsc.stop()
