"""A live gateway for benches that kill it: `octogate serve` in its own process group (SIGKILL takes its
background process too), on a fresh SQLite file or PostgreSQL schema, and an SMSC simulator in a separate
process that writes every submit_sm it accepts and every answer it sends to a file, so that the bench can count
what was submitted twice and when each submit was answered, whatever happened to the gateway.

    python bench/live_gateway.py smsc --listen 127.0.0.1:2775 --record submits.log --latency-ms 20

The record file has one line per event, `S <destination> <epoch s>` when a submit_sm is accepted and
`A <destination> <epoch s>` when its submit_sm_resp is written.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octogate.smpp.simulator import SimulatorConfig, SmscSimulator

SIM_ACCOUNT = ("bench", "pw")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the simulator's process ---------------------------------------------------------------------------------


class RecordingSimulator(SmscSimulator):
    """The simulator, writing each accepted submit and each answer (with the time) to a file."""

    def __init__(self, config: SimulatorConfig, record: Path) -> None:
        super().__init__(config)
        self._out = record.open("a", buffering=1 << 16)

    def _on_submit(self, conn: Any, pdu: Any) -> None:
        before = len(self.parts)
        super()._on_submit(conn, pdu)
        if len(self.parts) > before:
            now = time.time()
            self._out.write(f"S {pdu.destination_addr} {now:.6f}\n")
            if self.config.latency_ms <= 0:  # answered at once, in the same write as the loop's others
                self._out.write(f"A {pdu.destination_addr} {now:.6f}\n")

    def _answer_late(self, conn: Any, pdu: Any, message_id: str) -> None:
        super()._answer_late(conn, pdu, message_id)
        if not conn.done.is_set():
            self._out.write(f"A {pdu.destination_addr} {time.time():.6f}\n")

    def flush(self) -> None:
        self._out.flush()


async def run_simulator(args: argparse.Namespace) -> None:
    host, port = args.listen.rsplit(":", 1)
    config = SimulatorConfig(
        host=host, port=int(port), accounts={SIM_ACCOUNT[0]: SIM_ACCOUNT[1]}, latency_ms=args.latency_ms,
        receipt_delay_ms=args.receipt_delay_ms, seed=1,
    )  # fmt: skip
    sim = RecordingSimulator(config, Path(args.record))
    await sim.start()
    print("simulator ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.01)
        sim.flush()  # every 10 ms: the bench reads the file while the gateway runs
    await sim.stop()
    sim.flush()


# --- the bench's side ----------------------------------------------------------------------------------------


@dataclass
class Simulator:
    process: subprocess.Popen[str]
    port: int
    record: Path

    @classmethod
    def start(cls, folder: Path, latency_ms: float, receipt_delay_ms: float) -> Simulator:
        port = free_port()
        record = folder / "submits.log"
        process = subprocess.Popen(
            [sys.executable, __file__, "smsc", "--listen", f"127.0.0.1:{port}", "--record", str(record),
             "--latency-ms", str(latency_ms), "--receipt-delay-ms", str(receipt_delay_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        if "simulator ready" not in process.stdout.readline():
            process.kill()
            raise SystemExit("the simulator did not start")
        return cls(process, port, record)

    def events(self) -> list[tuple[str, str, float]]:
        """(S or A, destination, epoch s) recorded so far (a line being written is left for later)."""
        found = []
        for line in self.record.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                found.append((parts[0], parts[1], float(parts[2])))
        return found

    def submits(self) -> int:
        return sum(1 for kind, _, _ in self.events() if kind == "S")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def write_config(folder: Path, smsc_port: int, window: int, lease_seconds: int) -> Path:
    path = folder / "octogate.toml"
    path.write_text(
        f"""
[[connectors]]
name = "smsc"
host = "127.0.0.1"
port = {smsc_port}
system_id = "{SIM_ACCOUNT[0]}"
password = "{SIM_ACCOUNT[1]}"
window = {window}

[dispatch]
lease_seconds = {lease_seconds}

[callbacks]
allow_targets = ["127.0.0.0/8"]  # the push receiver is on loopback (private targets are forbidden by default)
""",
        encoding="utf-8",
    )
    return path


@dataclass
class Gateway:
    """`octogate serve` in its own session: `kill()` is a SIGKILL to it and its background process at once."""

    process: subprocess.Popen[str]
    base_url: str
    log: Path

    @classmethod
    def start(cls, folder: Path, config: Path, database_url: str, demo_key: str, name: str) -> Gateway:
        port = free_port()
        log = folder / f"{name}.log"
        env = {**os.environ, "OCTOGATE_HTTP": f"127.0.0.1:{port}", "OCTOGATE_DATABASE_URL": database_url,
               "OCTOGATE_DEMO_KEY": demo_key, "OCTOGATE_SMTP": "off", "OCTOGATE_CONFIG": str(config)}  # fmt: skip
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "octogate.cli", "serve"],
                stdout=out, stderr=subprocess.STDOUT, text=True, env=env, cwd=folder, start_new_session=True,
            )  # fmt: skip
        gateway = cls(process, f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + 60
        while "Octopush API on" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                gateway.kill()
                raise SystemExit(f"octogate serve did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        return gateway

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    smsc = sub.add_parser("smsc", help="run the recording simulator")
    smsc.add_argument("--listen", required=True)
    smsc.add_argument("--record", required=True)
    smsc.add_argument("--latency-ms", type=float, default=20.0)
    smsc.add_argument("--receipt-delay-ms", type=float, default=200.0)
    args = parser.parse_args()
    asyncio.run(run_simulator(args))


if __name__ == "__main__":
    main()
