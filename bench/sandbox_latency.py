#!/usr/bin/env python
"""How soon the SMS sandbox shows a message: `octogate serve` on its embedded simulator (a fresh SQLite file in
a temporary folder, free ports), one message at a time through /api/sms, and the time from the API's answer to
the message's appearance in the simulator's control interface, watched with its long poll (what the console's
page does). Prints the median, 95th percentile and worst of --messages messages. The issue's bound: 1 s.

    .venv/bin/python bench/sandbox_latency.py                 # 50 messages
    .venv/bin/python bench/sandbox_latency.py --messages 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from octogate.sandbox.client import SandboxClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(base: str, control: str, login: str, key: str, count: int) -> list[float]:
    delays = []
    async with httpx.AsyncClient(base_url=base) as http, SandboxClient(f"http://{control}") as sandbox:
        for n in range(count):
            number = f"+336{n:08d}"
            version = (await sandbox.conversations(limit=1)).version
            answer = await http.post("/api/sms", data={
                "user_login": login, "api_key": key, "sms_type": "FR", "sms_sender": "Bench", "transactional": "1",
                "sms_recipients": number, "sms_text": f"Message {n}",
            })  # fmt: skip
            answered = time.monotonic()
            assert "<error_code>000</error_code>" in answer.text, answer.text
            while True:
                listing = await sandbox.conversations(since=version, wait=5, limit=5)
                if any(c.number == number for c in listing.conversations):
                    break
                version = listing.version
            delays.append(time.monotonic() - answered)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        http, control = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        env = {**os.environ, "OCTOGATE_HTTP": http, "OCTOGATE_SMTP": "off", "OCTOGATE_SIMULATOR_CONTROL": control,
               "OCTOGATE_DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.db'}"}  # fmt: skip
        server = subprocess.Popen([sys.executable, "-m", "octogate.cli", "serve"], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            assert server.stdout is not None
            said = ""
            while "delivering over SMPP" not in said:
                line = server.stdout.readline()
                if not line:
                    raise SystemExit(f"serve did not start:\n{said}")
                said += line
            login = re.search(r"user_login=(\S+)", said)
            key = re.search(r"api_key=(\S+)", said)
            assert login and key, said
            delays = asyncio.run(measure(f"http://{http}", control, login.group(1), key.group(1), args.messages))
        finally:
            server.terminate()
            server.wait(timeout=60)
    delays.sort()
    p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))]
    median = statistics.median(delays)
    print(f"{len(delays)} messages, API answer -> shown in the sandbox: median {median * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, worst {delays[-1] * 1000:.0f} ms (bound: 1000 ms)")


if __name__ == "__main__":
    main()
