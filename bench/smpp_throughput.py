"""SMPP submit_sm throughput: SmppClient against SmscSimulator over loopback.

Prints submit_sm/s (median of 3 runs) for window 10 and 100, with 0 ms and 20 ms simulated SMSC
latency, next to the theoretical ceiling window / latency. The simulator runs in-process (one core
for both ends) and, with --subprocess, in a child process (its own core, as in production).

    .venv/bin/python bench/smpp_throughput.py [--subprocess] [--runs 3] [--profile out.prof]

Benchmarks print; they assert nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from octogate.smpp.client import ConnectorConfig, SmppClient
from octogate.smpp.simulator import SimulatorConfig, SmscSimulator

ACCOUNT = ("bench", "benchpw")


@asynccontextmanager
async def simulator_in_process(latency_ms: float) -> AsyncIterator[int]:
    sim = SmscSimulator(SimulatorConfig(accounts=dict([ACCOUNT]), latency_ms=latency_ms))
    port = await sim.start()
    try:
        yield port
    finally:
        await sim.stop()


@asynccontextmanager
async def simulator_subprocess(latency_ms: float) -> AsyncIterator[int]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "octogate.smpp.simulator", "--listen", "127.0.0.1:0",
        "--account", f"{ACCOUNT[0]}:{ACCOUNT[1]}", "--latency-ms", str(latency_ms),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        port = int(line.split(" on ")[1].split()[0].rsplit(":", 1)[1])
        yield port
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def one_run(port: int, window: int, count: int) -> float:
    """submit_sm per second for ``count`` single-part messages."""
    client = SmppClient(ConnectorConfig(
        name="bench", host="127.0.0.1", port=port, system_id=ACCOUNT[0], password=ACCOUNT[1],
        bind_mode="transmitter", window=window, reconnect_min=0.05, reconnect_max=0.5,
        enquire_link_interval=60))
    await client.start()
    await client.wait_connected(10)
    remaining = iter(range(count))

    async def worker() -> None:
        for i in remaining:
            outcome = await client.submit_text("Bench", None, None, f"336{i:08d}", "benchmark message",
                                               registered_delivery=False)
            if not outcome.ok:
                raise RuntimeError(f"submit refused: {outcome.status}")

    workers = max(window + window // 2, 2)  # enough callers to keep the window full
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    await client.stop()
    return count / elapsed


async def measure(window: int, latency_ms: float, mode: str, runs: int) -> list[float]:
    ceiling = window / (latency_ms / 1000) if latency_ms else float("inf")
    # about two seconds of traffic per run, bounded for the no-latency case
    count = 20_000 if not latency_ms else int(min(ceiling * 2, 20_000))
    context = simulator_subprocess if mode == "subprocess" else simulator_in_process
    rates = []
    async with context(latency_ms) as port:
        await one_run(port, window, min(count, 500))  # warm-up
        for _ in range(runs):
            rates.append(await one_run(port, window, count))
    return rates


async def main_async(args: argparse.Namespace) -> None:
    modes = ["in-process"] + (["subprocess"] if args.subprocess else [])
    print(f"{'simulator':<11} {'window':>6} {'latency':>8} {'median/s':>10} {'ceiling/s':>10} {'of ceiling':>10}"
          f"   runs/s")
    for mode in modes:
        for latency_ms in (0.0, 20.0):
            for window in (10, 100):
                rates = await measure(window, latency_ms, mode, args.runs)
                median = statistics.median(rates)
                ceiling = window / (latency_ms / 1000) if latency_ms else None
                share = f"{median / ceiling:10.0%}" if ceiling else f"{'-':>10}"
                ceiling_text = f"{ceiling:10.0f}" if ceiling else f"{'-':>10}"
                print(f"{mode:<11} {window:>6} {latency_ms:>6.0f}ms {median:>10.0f} {ceiling_text} {share}"
                      f"   {', '.join(f'{r:.0f}' for r in rates)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subprocess", action="store_true", help="also measure with the simulator in a child")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the whole run to FILE")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            asyncio.run(main_async(args))
        finally:
            profiler.disable()
            profiler.dump_stats(args.profile)
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
