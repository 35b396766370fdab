#!/usr/bin/env python
"""API throughput and 10k-campaign acceptance of `octogate serve`, measured from outside as a user would.

Starts `python -m octogate.cli serve` on a free 127.0.0.1 port with a fresh SQLite file in a temporary folder
(or, with --postgres, a fresh schema in the local PostgreSQL), creates an account with the CLI, then measures:

1. single-recipient `/api/sms` requests accepted per second at a fixed concurrency (every answer parsed and
   checked for error_code 000): a warm-up, then --runs runs of --requests requests; median and spread;
2. the time to accept one campaign of --recipients distinct French numbers, from the client: median of
   --campaign-runs runs (after one warm-up campaign);
3. durability: the server is killed with SIGKILL (a crash, no clean shutdown), then every ticket that was
   answered 000 must name a campaign present in the database.

Load generator: `wrk` with a Lua script if it is installed (`apt-get install -y wrk`), else a raw asyncio
keep-alive HTTP/1.1 client in a separate process. Client and server share the machine's cores: the CPU
seconds each used are printed, with the server's CPU per request (serve and its API worker processes,
`[http] workers`: a figure that does not depend on how much CPU the client took), the share of it on the
event loops (main threads), what other processes took (the database server, or anything else running: a
busy machine before the start is flagged), and what the server said at start; and the CPU per request of
every octogate process (serve, its API workers and its background delivery process) plus, with --postgres,
of the PostgreSQL backends serving them (bench/cpu_accounting.py): the figure to compare on a machine shared
with other work. `octogate serve` without a configuration also delivers to its
built-in SMSC simulator (in its background process), so the figures include that delivery work; --config FILE
starts it with your TOML instead (e.g. real connectors, or `[simulator]` `enabled = false`).

    .venv/bin/python bench/api_throughput.py                      # SQLite, 3 x 20,000 requests at c=64
    .venv/bin/python bench/api_throughput.py --postgres           # a fresh schema in local PostgreSQL
    .venv/bin/python bench/api_throughput.py --requests 5000 --runs 1 --campaign-runs 1   # quick look
    .venv/bin/python bench/api_throughput.py --py-spy /tmp/octogate-profile   # + py-spy raw profiles

Targets (the issue): >= 3,000 requests/s and <= 0.5 s for a 10,000-recipient campaign on 2 cores.
Exit status: 0 all answers 000 and everything acknowledged stored; 1 a check failed; 2 the server or the
account could not be set up; 130 interrupted. Only 127.0.0.1 is ever contacted; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import queue
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_accounting import CpuMeter, stat_cpu_seconds, with_application_name  # noqa: E402

APPLICATION_NAME = f"octogate-bench-{os.getpid()}"
HOST = "127.0.0.1"
LOGIN = "bench@octogate.local"
PRICE_FR = 0.065  # EUR per premium SMS to France in the shipped price table
TARGET_RPS = 3000.0
TARGET_CAMPAIGN_S = 0.5
TICKET_BASE = 100_000_000_000  # octogate.store.tickets: ticket "api" + (TICKET_BASE + campaign id)
ERROR_CODE = re.compile(rb"<error_code>(\d{3})</error_code>")
TICKET = re.compile(rb"<ticket>api(\d+)</ticket>")
SENDINGS = re.compile(rb"<number_of_sendings>(\d+)</number_of_sendings>")
CLK_TCK = os.sysconf("SC_CLK_TCK")
FIELDS = {"user_login": LOGIN, "sms_type": "FR", "sms_sender": "OctoBench", "transactional": "1"}

WRK_SCRIPT = r"""
-- octogate bench: POST one /api/sms per request; every answer parsed; a thread stops after `limit` answers.
-- wrk's main thread sleeps for the whole -d, so each thread times itself (CLOCK_MONOTONIC through the FFI)
-- and leaves a `.done` file when it stops: the Python side then ends wrk with SIGINT, which prints done().
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  limit = tonumber(args[1])
  prefix = args[2] .. "." .. id
  ok = 0
  bad = 0
  sample = ""
  finished = 0
  tickets = io.open(prefix, "w")
  started = now()
end

function response(status, headers, body)
  if finished > 0 then return end
  local code = string.match(body, "<error_code>(%d%d%d)</error_code>")
  if status == 200 and code == "000" then
    ok = ok + 1
    local ticket = string.match(body, "<ticket>api(%d+)</ticket>")
    if ticket then tickets:write(ticket, "\n") end
  else
    bad = bad + 1
    if sample == "" then sample = status .. " " .. string.sub(body, 1, 160) end
  end
  if ok + bad >= limit then
    finished = now()
    tickets:close()
    io.open(prefix .. ".done", "w"):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local tok, tbad, first, last, sample_out = 0, 0, math.huge, 0, ""
  for _, t in ipairs(threads) do
    tok = tok + t:get("ok")
    tbad = tbad + t:get("bad")
    first = math.min(first, t:get("started"))
    local finished = t:get("finished")
    last = math.max(last, finished > 0 and finished or now())
    if sample_out == "" then sample_out = t:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"ok": %d, "bad": %d, "duration_s": %.6f, "socket_errors": %d, "p50_ms": %.3f, ' ..
    '"p99_ms": %.3f, "max_ms": %.3f, "sample": "%s"}\n',
    tok, tbad, last - first, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    (string.gsub(sample_out, '[%c"\\]', " "))))
end
"""


class SetupError(Exception):
    """The server or the account could not be set up: exit 2."""


# --- measurements --------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    ok: int
    bad: int
    duration_s: float
    socket_errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    sample: str
    client_cpu_s: float = 0.0
    machine_cpu_s: float = 0.0  # every process, while the load generator ran
    wall_s: float = 0.0  # the load generator's whole life, start-up and report included
    server_cpu_s: float = 0.0
    octogate_cpu_s: float = 0.0  # every octogate process (serve and its background delivery process)
    postgres_cpu_s: float = 0.0  # the PostgreSQL backends of those processes (--postgres)
    api_postgres_cpu_s: float = 0.0  # of which the backends serving the API processes (--postgres)
    loop_cpu_s: float = 0.0  # the server's main thread: the event loop (HTTP, parsing, pricing, SQLite reads)
    hit_time_limit: bool = False
    tickets: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.duration_s if self.duration_s > 0 else 0.0


def process_cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User + system CPU of a process (all its threads), or of one of its threads, from /proc (0 if gone)."""
    return stat_cpu_seconds(f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat") or 0.0


def machine_busy_seconds() -> float:
    """CPU seconds spent by every process of the machine (all cores), from /proc/stat."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK  # all but idle and iowait (guest is in user)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def spread(values: list[float], form: str) -> str:
    if len(values) < 2:
        return "one run, no spread"
    low, high, mid = min(values), max(values), statistics.median(values)
    return f"min {low:{form}} max {high:{form}}, spread {(high - low) / mid * 100 if mid else 0:.1f}% of the median"


# --- the server -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """`python -m octogate.cli serve` as a subprocess; stdout read by a thread so the pipe never fills."""

    def __init__(self, workdir: Path, database_url: str, port: int, config: str | None = None) -> None:
        self.port = port
        self.database_url = database_url
        self.log_path = workdir / "server.log"
        self.env = dict(os.environ)
        self.env.update(
            OCTOGATE_HTTP=f"{HOST}:{port}",
            OCTOGATE_SMTP="off",
            OCTOGATE_ADMIN="off",
            OCTOGATE_DATABASE_URL=database_url,
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        )
        self.env.pop("OCTOGATE_CONFIG", None)
        if config:  # a TOML file of the user's, e.g. `[simulator] enabled = false` or real connectors
            self.env["OCTOGATE_CONFIG"] = str(Path(config).resolve())
        self.workdir = workdir
        self.process: subprocess.Popen[str] | None = None
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.banner: list[str] = []  # what the server said while starting (where it delivers, …)

    def start(self, timeout: float) -> None:
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "octogate.cli", "serve", "--no-demo"],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line is None:
                break
            self.banner.append(line.rstrip())
            if "Octopush API on" in line:
                self._wait_for_port(deadline)
                return
        code = self.process.poll()
        self.stop()
        reason = f"exited with status {code}" if code is not None else f"did not start within {timeout:.0f} s"
        raise SetupError(f"the server {reason}\n{self.log_tail()}")

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_port(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=1):
                return
            time.sleep(0.05)
        raise SetupError(f"the server announced itself but port {self.port} does not answer")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def api_pids(self) -> list[int]:
        """The processes answering the API: serve and its API workers (`[http] workers`, named octogate-api-N);
        not the background delivery process."""
        pids = [self.pid]
        with contextlib.suppress(OSError):
            for child in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split():
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{child}/comm").read_text().startswith("octogate-api-"):
                        pids.append(int(child))
        return pids

    def cpu_seconds(self, pids: list[int]) -> float:
        return sum(process_cpu_seconds(pid) for pid in pids)

    def loop_cpu_seconds(self, pids: list[int]) -> float:
        """The main threads' CPU: the event loops; the rest is the writer threads (and readers on PostgreSQL)."""
        return sum(process_cpu_seconds(pid, pid) for pid in pids)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def crash(self) -> None:
        """SIGKILL: no shutdown, no final flush: what was acknowledged must already be on disk."""
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no server log)"
        return "server log:\n  " + "\n  ".join(text) if text else "(empty server log)"


def create_account(server: Server, credit_eur: int) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "octogate.cli", "account", "create", LOGIN, "--credit", str(credit_eur),
         "--database-url", server.database_url],
        cwd=server.workdir, env=server.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    match = re.search(r"^api_key=(\S+)$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or match is None:
        raise SetupError(f"`octogate account create` failed ({result.returncode}): {result.stderr[-500:]}")
    return match.group(1)


# --- PostgreSQL -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh schema for this run (dropped at the end); yields the URL that selects it."""
    import psycopg

    schema = f"bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(base_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error as error:
        raise SetupError(f"cannot create a schema in {base_url}: {str(error)[:300]}") from None
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
    finally:
        with psycopg.connect(base_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def stored_campaigns(database_url: str) -> dict[int, int]:
    """campaign id -> its number of messages, read straight from the database."""
    sql = (
        "SELECT c.id, (SELECT COUNT(*) FROM messages m WHERE m.campaign_id = c.id) FROM campaigns c "
        "JOIN accounts a ON a.id = c.account_id WHERE a.login = ?"
    )
    if database_url.startswith("sqlite:"):
        conn = sqlite3.connect(database_url[len("sqlite:///") :], timeout=30)
        try:
            return {int(i): int(n) for i, n in conn.execute(sql, (LOGIN,))}
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(database_url, connect_timeout=10) as conn:
        return {int(i): int(n) for i, n in conn.execute(sql.replace("?", "%s"), (LOGIN,))}


# --- load generators --------------------------------------------------------------------------------------------


def run_wrk(url: str, body: str, args: argparse.Namespace, limit: int, workdir: Path, tag: str) -> LoadResult:
    script = workdir / "octogate.lua"
    script.write_text(WRK_SCRIPT)
    tickets = workdir / f"tickets-{tag}"
    threads = max(1, min(args.threads, args.concurrency))
    per_thread = -(-limit // threads)
    command = [
        "wrk", "-t", str(threads), "-c", str(args.concurrency), "-d", f"{args.time_limit}s",
        "--timeout", "10s", "-s", str(script), url, "--", str(per_thread), str(tickets),
    ]  # fmt: skip
    env = dict(os.environ, BENCH_BODY=body)
    output = workdir / f"wrk-{tag}.out"
    with output.open("w+") as out:
        wrk = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + args.time_limit + 5
            while wrk.poll() is None and time.monotonic() < deadline:
                if len(list(workdir.glob(f"tickets-{tag}.*.done"))) >= threads:
                    wrk.send_signal(signal.SIGINT)  # every thread is done: wrk reports at once
                    break
                time.sleep(0.01)
            wrk.wait(timeout=30)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait()
        out.seek(0)
        text = out.read()
    line = next((x for x in text.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({wrk.returncode}): {text[-800:]}")
    load = LoadResult(**json.loads(line.removeprefix("BENCH_RESULT ")))
    for path in workdir.glob(f"tickets-{tag}.*"):
        if path.suffix != ".done":
            load.tickets.extend(int(x) - TICKET_BASE for x in path.read_text().split())
        path.unlink()
    load.hit_time_limit = load.ok + load.bad < limit
    return load


def run_python_client(url: str, body: str, args: argparse.Namespace, limit: int) -> LoadResult:
    """The asyncio client below, in its own process (so that it has its own interpreter and core share)."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--_client", url, "--concurrency", str(args.concurrency),
        "--requests", str(limit), "--time-limit", str(args.time_limit),
    ]  # fmt: skip
    env = dict(os.environ, BENCH_BODY=body)
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=args.time_limit + 60, check=False
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"the Python client failed ({result.returncode}): {result.stderr[-800:]}")
    data = json.loads(line.removeprefix("BENCH_RESULT "))
    tickets = data.pop("tickets")
    load = LoadResult(**data)
    load.tickets = [t - TICKET_BASE for t in tickets]
    load.hit_time_limit = load.ok + load.bad < limit
    return load


async def _client_main(
    url: str, body: bytes, concurrency: int, limit: int, time_limit: float
) -> dict[str, Any]:
    """Keep-alive HTTP/1.1 connections, each sending its next request when the previous answer is read."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    request = (
        f"POST /{path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    state = {"sent": 0, "ok": 0, "bad": 0, "errors": 0, "sample": ""}
    latencies: list[float] = []
    tickets: list[int] = []
    deadline = time.monotonic() + time_limit

    async def connection() -> None:
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            state["errors"] += 1
            return
        try:
            while state["sent"] < limit and time.monotonic() < deadline:
                state["sent"] += 1
                started = time.perf_counter()
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                length = 0
                for header in head.split(b"\r\n"):
                    if header[:15].lower() == b"content-length:":
                        length = int(header[15:])
                answer = await asyncio.wait_for(reader.readexactly(length), 10)
                latencies.append(time.perf_counter() - started)
                code = ERROR_CODE.search(answer)
                if head.startswith(b"HTTP/1.1 200") and code is not None and code.group(1) == b"000":
                    state["ok"] += 1
                    ticket = TICKET.search(answer)
                    if ticket:
                        tickets.append(int(ticket.group(1)))
                else:
                    state["bad"] += 1
                    state["sample"] = state["sample"] or (head[:12] + answer[:160]).decode(errors="replace")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            state["errors"] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    duration = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1e3 if latencies else 0.0

    return {
        "ok": state["ok"], "bad": state["bad"], "duration_s": duration, "socket_errors": state["errors"],
        "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": latencies[-1] * 1e3 if latencies else 0.0,
        "sample": state["sample"], "tickets": tickets,
    }  # fmt: skip


def client_process(args: argparse.Namespace) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    body = os.environ["BENCH_BODY"].encode()
    result = asyncio.run(_client_main(args._client, body, args.concurrency, args.requests, args.time_limit))
    # The line holds every ticket (> 64 KB): on a pipe left non-blocking it was cut at the pipe's size under load.
    os.set_blocking(sys.stdout.fileno(), True)
    print("BENCH_RESULT " + json.dumps(result), flush=True)


# --- the 10k campaign -------------------------------------------------------------------------------------------


@dataclass
class CampaignResult:
    seconds: float
    code: str
    sendings: int
    successes: int
    campaign_id: int | None
    answer_bytes: int


def campaign_body(api_key: str, recipients: int, first: int) -> bytes:
    numbers = ",".join(f"+336{first + i:08d}" for i in range(recipients))
    fields = dict(FIELDS, api_key=api_key, sms_text="Bench campaign: your parcel arrives today")
    return urlencode(dict(fields, sms_recipients=numbers)).encode()


def post_campaign(port: int, body: bytes, timeout: float) -> CampaignResult:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        started = time.perf_counter()
        conn.request(
            "POST", "/api/sms", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        response = conn.getresponse()
        answer = response.read()
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    code = ERROR_CODE.search(answer)
    ticket = TICKET.search(answer)
    sendings = SENDINGS.search(answer)
    return CampaignResult(
        seconds=seconds,
        code=code.group(1).decode() if code and response.status == 200 else f"HTTP {response.status}",
        sendings=int(sendings.group(1)) if sendings else 0,
        successes=answer.count(b"<success><recipient>"),
        campaign_id=int(ticket.group(1)) - TICKET_BASE if ticket else None,
        answer_bytes=len(answer),
    )


def socket_ports(pid: int) -> set[int]:
    """Local TCP ports of the sockets process `pid` holds (its database connections among them)."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def api_backends(admin_url: str, pids: list[int]) -> list[int]:
    """The PostgreSQL backends serving processes `pids` (the API processes, not the background process), by
    the client port of each of the bench's backends."""
    import psycopg

    ports = set().union(*(socket_ports(pid) for pid in pids))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT pid, client_port FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,)
        ).fetchall()
    return [int(backend) for backend, port in rows if port in ports]


# --- profiling (optional) ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def py_spy(prefix: str | None, pid: int, phase: str) -> Iterator[None]:
    """`py-spy record --format raw` on the server for the duration of a phase (if --py-spy was given)."""
    if not prefix:
        yield
        return
    executable = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    output = f"{prefix}-{phase}.txt"
    profiler = subprocess.Popen(
        [executable, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--threads", "--rate", "200",
         "--output", output],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.0)  # attached before the load starts
    try:
        yield
    finally:
        profiler.send_signal(signal.SIGINT)
        try:
            _, errors = profiler.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            profiler.kill()
            errors = "timed out"
        print(
            f"  py-spy profile of the server ({phase}): {output}"
            + ("" if Path(output).exists() else f" NOT written: {(errors or '')[-300:]}")
        )


# --- the benchmark ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per measured run (20,000)")
    parser.add_argument("--concurrency", type=int, default=64, help="open keep-alive connections (64)")
    parser.add_argument("--runs", type=int, default=3, help="measured throughput runs (3)")
    parser.add_argument("--warmup", type=int, default=3_000, help="warm-up requests before the runs (3,000)")
    parser.add_argument(
        "--recipients", type=int, default=10_000, help="recipients of the big campaign (10,000)"
    )
    parser.add_argument("--campaign-runs", type=int, default=5, help="measured big campaigns (5)")
    parser.add_argument(
        "--postgres", action="store_true", help="a fresh schema in local PostgreSQL, not SQLite"
    )
    parser.add_argument(
        "--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test", help="where --postgres goes"
    )
    parser.add_argument(
        "--config", help="a TOML configuration for the server (default: none, as `octogate serve` starts)"
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator (auto: wrk if found)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (1: the client's CPU share small)"
    )
    parser.add_argument("--time-limit", type=int, default=120, help="seconds at most per load run (120)")
    parser.add_argument("--py-spy", metavar="PREFIX", help="record server profiles to PREFIX-<phase>.txt")
    parser.add_argument("--_client", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if (
        min(args.requests, args.concurrency, args.runs, args.recipients, args.campaign_runs, args.time_limit)
        < 1
    ):
        parser.error("counts and limits must be positive")
    if args.warmup < 0 or args.recipients > 99_999_999:
        parser.error("--warmup >= 0 and --recipients < 100,000,000")
    return args


def single_body(api_key: str) -> str:
    return urlencode(
        dict(FIELDS, api_key=api_key, sms_text="Your octogate code is 123456", sms_recipients="+33601020304")
    )


def benchmark(args: argparse.Namespace, workdir: Path, database_url: str) -> int:
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    elif client == "wrk" and not shutil.which("wrk"):
        raise SetupError("--client wrk: wrk is not installed (apt-get install -y wrk)")
    database = "PostgreSQL (fresh schema)" if args.postgres else "SQLite WAL synchronous=FULL (fresh file)"
    print("octogate API benchmark")
    print(
        f"  options: --requests {args.requests} --concurrency {args.concurrency} --runs {args.runs} "
        f"--warmup {args.warmup} --recipients {args.recipients} --campaign-runs {args.campaign_runs} "
        f"--client {client}{' --threads ' + str(args.threads) if client == 'wrk' else ''} "
        f"--time-limit {args.time_limit}{' --postgres' if args.postgres else ''}"
        f"{' --config ' + args.config if args.config else ''}"
    )
    print(
        f"  machine: {os.cpu_count()} cores, Python {platform.python_version()}; database: {database}; "
        f"load generator: {'wrk + Lua' if client == 'wrk' else 'asyncio keep-alive client (separate process)'}"
        ", sharing the cores with the server"
    )

    before, started = machine_busy_seconds(), time.monotonic()
    time.sleep(1.0)
    idle_load = (machine_busy_seconds() - before) / (time.monotonic() - started) / (os.cpu_count() or 1)
    print(f"  machine busy before the start: {idle_load * 100:.0f}% of {os.cpu_count()} cores", end="")
    print(
        " -- WARNING: other processes are using the CPU, the figures will be low" if idle_load > 0.15 else ""
    )

    port = free_port()
    server = Server(workdir, database_url, port, args.config)
    started = time.monotonic()
    try:
        server.start(timeout=90)
        print(f"  server: pid {server.pid} on http://{HOST}:{port}, up in {time.monotonic() - started:.1f} s")
        for line in server.banner:
            if line.startswith("octogate:") and "Octopush API on" not in line:
                print(f"  server says: {line}")
        singles = args.warmup + args.runs * args.requests
        need = (singles + (args.campaign_runs + 1) * args.recipients) * PRICE_FR
        api_key = create_account(server, max(1_000_000, int(need * 2)))
        return measure(args, server, client, api_key, workdir)
    finally:
        server.stop()


def measure(args: argparse.Namespace, server: Server, client: str, api_key: str, workdir: Path) -> int:
    url = f"http://{HOST}:{server.port}/api/sms"
    body = single_body(api_key)
    failures: list[str] = []
    acknowledged: set[int] = set()

    meter = CpuMeter(server.pid, args.postgres_url if args.postgres else None, APPLICATION_NAME)

    def load(limit: int, tag: str) -> LoadResult:
        meter.start()
        api = server.api_pids()
        backends = api_backends(args.postgres_url, api) if args.postgres else []
        backends_before = {pid: process_cpu_seconds(pid) for pid in backends}
        cpu_before, client_before = server.cpu_seconds(api), children_cpu_seconds()
        loop_before = server.loop_cpu_seconds(api)
        machine_before, wall_before = machine_busy_seconds(), time.monotonic()
        if client == "wrk":
            result = run_wrk(url, body, args, limit, workdir, tag)
        else:
            result = run_python_client(url, body, args, limit)
        result.server_cpu_s = server.cpu_seconds(api) - cpu_before
        result.loop_cpu_s = server.loop_cpu_seconds(api) - loop_before
        result.client_cpu_s = children_cpu_seconds() - client_before
        result.machine_cpu_s = machine_busy_seconds() - machine_before
        result.wall_s = time.monotonic() - wall_before
        result.octogate_cpu_s, result.postgres_cpu_s = meter.used()
        result.api_postgres_cpu_s = sum(process_cpu_seconds(pid) - cpu for pid, cpu in backends_before.items())
        acknowledged.update(result.tickets)
        if result.bad or result.socket_errors:
            failures.append(f"{tag}: {result.bad} answers not 000, {result.socket_errors} socket errors "
                            f"(first: {result.sample[:160]!r})")  # fmt: skip
        if result.hit_time_limit:
            failures.append(f"{tag}: stopped by the {args.time_limit} s time limit")
        return result

    print(f"\n1. single-recipient /api/sms, concurrency {args.concurrency}")
    if args.warmup:
        warm = load(args.warmup, "warmup")
        print(f"  warm-up: {warm.ok:,} answers 000 in {warm.duration_s:.2f} s ({warm.rate:,.0f}/s)")
    results: list[LoadResult] = []
    with py_spy(args.py_spy, server.pid, "single"):
        for run in range(1, args.runs + 1):
            r = load(args.requests, f"run{run}")
            results.append(r)
            per_request = r.server_cpu_s / max(1, r.ok + r.bad) * 1e6
            others = max(0.0, r.machine_cpu_s - r.server_cpu_s - r.client_cpu_s)  # the database server, …
            print(
                f"  run {run}: {r.ok:,} x 000 (+{r.bad} other) in {r.duration_s:.2f} s = {r.rate:,.0f} req/s; "
                f"latency p50 {r.p50_ms:.1f} ms p99 {r.p99_ms:.1f} ms max {r.max_ms:.0f} ms; "
                f"CPU server {r.server_cpu_s:.2f} s ({r.server_cpu_s / r.duration_s * 100:.0f}% of a core, "
                f"event loop {r.loop_cpu_s / r.duration_s * 100:.0f}% + other threads "
                f"{(r.server_cpu_s - r.loop_cpu_s) / r.duration_s * 100:.0f}%, "
                f"{per_request:.0f} us/request), client {r.client_cpu_s:.2f} s "
                f"({r.client_cpu_s / r.duration_s * 100:.0f}%), others {others:.2f} s; machine busy "
                f"{r.machine_cpu_s / r.wall_s / (os.cpu_count() or 1) * 100:.0f}% of {os.cpu_count()} cores"
            )
            print(
                f"    CPU per request: octogate processes {r.octogate_cpu_s / max(1, r.ok + r.bad) * 1e6:.0f} us"
                + (f" + PostgreSQL backends {r.postgres_cpu_s / max(1, r.ok + r.bad) * 1e6:.0f} us (of which "
                   f"the API processes' {r.api_postgres_cpu_s / max(1, r.ok + r.bad) * 1e6:.0f} us)"
                   if args.postgres else "")
            )  # fmt: skip
    rates = [r.rate for r in results]
    rps = statistics.median(rates)
    cpu_per_request = statistics.median(r.server_cpu_s / max(1, r.ok + r.bad) * 1e6 for r in results)

    octogate_us = statistics.median(r.octogate_cpu_s / max(1, r.ok + r.bad) * 1e6 for r in results)
    postgres_us = statistics.median(r.postgres_cpu_s / max(1, r.ok + r.bad) * 1e6 for r in results)
    api_postgres_us = statistics.median(r.api_postgres_cpu_s / max(1, r.ok + r.bad) * 1e6 for r in results)

    print(
        f"\n2. one {args.recipients:,}-recipient campaign (transactional, distinct +336 numbers), client-timed"
    )
    campaigns: list[CampaignResult] = []
    cpu: list[float] = []
    with py_spy(args.py_spy, server.pid, "campaign"):
        for run in range(args.campaign_runs + 1):
            payload = campaign_body(api_key, args.recipients, run * args.recipients)
            api = server.api_pids()
            before = server.cpu_seconds(api)
            result = post_campaign(server.port, payload, timeout=max(60.0, args.recipients / 100))
            used = server.cpu_seconds(api) - before
            label = "warm-up" if run == 0 else f"run {run}"
            print(
                f"  {label}: {result.seconds:.3f} s, error_code {result.code}, {result.sendings:,} sendings, "
                f"{result.successes:,} <success>, answer {result.answer_bytes / 1e6:.2f} MB, "
                f"server CPU {used:.3f} s (body {len(payload) / 1e3:.0f} kB)"
            )
            if result.code == "000" and result.campaign_id is not None:
                acknowledged.add(result.campaign_id)
            if result.code != "000" or result.successes != args.recipients:
                failures.append(f"campaign {label}: error_code {result.code}, {result.successes} successes")
            if run:
                campaigns.append(result)
                cpu.append(used)
    campaign_s = statistics.median(c.seconds for c in campaigns)

    print("\n3. durability: server killed with SIGKILL, then every ticket answered 000 looked up")
    server.crash()
    stored = stored_campaigns(server.database_url)
    missing = acknowledged - stored.keys()
    big = [c.campaign_id for c in campaigns if c.campaign_id is not None]
    short = [i for i in big if stored.get(i, 0) != args.recipients]
    print(
        f"  acknowledged (000 with a ticket): {len(acknowledged):,}; campaigns in the database: {len(stored):,} "
        f"(the excess {max(0, len(stored) - len(acknowledged)):,} were in flight when a load run stopped)"
    )
    print(
        f"  acknowledged but missing: {len(missing):,}; big campaigns without all their messages: {len(short)}"
    )
    if missing or short:
        failures.append(f"durability: {len(missing)} acknowledged campaigns missing, {len(short)} incomplete")

    print("\nsummary")
    print(
        f"  single-recipient: median {rps:,.0f} req/s over {len(rates)} run(s) [{spread(rates, ',.0f')}] "
        f"-> target >= {TARGET_RPS:,.0f}: {'MET' if rps >= TARGET_RPS else 'MISSED'}"
    )
    print(
        f"    server CPU per request: median {cpu_per_request:.0f} us "
        f"(all threads; ~{1e6 / cpu_per_request:,.0f} req/s per core of server CPU)"
        f"; load generator {client}, CPU {sum(r.client_cpu_s for r in results):.1f} s "
        f"vs server {sum(r.server_cpu_s for r in results):.1f} s over the runs"
    )
    print(
        f"    CPU per request, median: octogate processes {octogate_us:.0f} us"
        + (f" + PostgreSQL backends {postgres_us:.0f} us = {octogate_us + postgres_us:.0f} us; the API processes "
           f"{cpu_per_request:.0f} us + its backends {api_postgres_us:.0f} us"
           if args.postgres else "")
    )  # fmt: skip
    print(
        f"  {args.recipients:,}-recipient campaign: median {campaign_s:.3f} s over {len(campaigns)} run(s) "
        f"[{spread([c.seconds for c in campaigns], '.3f')}], server CPU median {statistics.median(cpu):.3f} s "
        f"-> target <= {TARGET_CAMPAIGN_S} s: {'MET' if campaign_s <= TARGET_CAMPAIGN_S else 'MISSED'}"
    )
    print(f"  durability: {'every acknowledged campaign stored' if not missing and not short else 'FAILED'}")
    for failure in failures:
        print(f"  FAILED CHECK: {failure}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args._client:
        client_process(args)
        return 0

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    workdir = Path(tempfile.mkdtemp(prefix="octogate-bench-"))
    try:
        if args.postgres:
            with postgres_schema(args.postgres_url) as url:
                return benchmark(args, workdir, with_application_name(url, APPLICATION_NAME))
        return benchmark(args, workdir, f"sqlite:///{workdir / 'octogate.db'}")
    except SetupError as error:
        print(f"bench: setup failed: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted, cleaning up", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
