"""The abuse cases of issue 11 against a real `octogate serve` with its default limits: what each costs the
gateway, and how long an honest request waits meanwhile.

    .venv/bin/python bench/http_abuse.py               # 3 runs; prints each run and the medians
    .venv/bin/python bench/http_abuse.py --header-mb 166 --slow 5000

* huge header: one client streams --header-mb MB of a single header line; printed: MB the client got to send
  before the gateway closed, the API process's CPU seconds and resident-memory growth meanwhile, and the
  slowest honest request (a new connection each) during the stream;
* slow connections: --slow connections each send half a request and stop (beyond the 1,000 cap); printed: the
  first honest request once they are all open (it waits behind the accept queue) and the median of 20 more;
* long URL: a 70 KiB query string; printed: the HTTP status and the Octopush code.

Benchmarks print; they assert nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HONEST = b"GET /api/balance HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def honest(port: int) -> float:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(HONEST)
        while sock.recv(65536):
            pass
    return time.perf_counter() - started


def start(folder: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "OCTOGATE_HTTP": f"127.0.0.1:{port}", "OCTOGATE_SMTP": "off",
           "OCTOGATE_DATABASE_URL": f"sqlite:///{folder}/abuse.db"}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "octogate.cli", "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            honest(port)
            return process, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("serve did not start")


def huge_header(pid: int, port: int, megabytes: int) -> tuple[float, float, float, float]:
    sent = 0
    cpu, rss = cpu_seconds(pid), rss_mb(pid)

    def stream() -> None:
        nonlocal sent
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(b"GET /api/sms HTTP/1.1\r\nX-Huge: ")
            chunk = b"a" * 65536
            try:
                while sent < megabytes * 1024 * 1024:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                return

    streamer = threading.Thread(target=stream)
    streamer.start()
    slowest = 0.0
    while streamer.is_alive():
        slowest = max(slowest, honest(port))
    streamer.join()
    return sent / 1024 / 1024, cpu_seconds(pid) - cpu, rss_mb(pid) - rss, slowest


def slow_connections(port: int, count: int) -> tuple[float, float]:
    """(the first honest request's time, the median of the next 20), once `count` slow connections are open."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(b"GET /api/balance HTTP/1.1\r\nHost: gw\r\n")
            sockets.append(sock)
        first = honest(port)
        return first, statistics.median(honest(port) for _ in range(20))
    finally:
        for sock in sockets:
            sock.close()


def long_url(port: int) -> str:
    request = b"GET /api/sms?user_login=a&api_key=b&sms_text=" + b"x" * 70_000 + b" HTTP/1.1\r\nHost: gw\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status = reply.split(b" ", 2)[1].decode()
    code = reply.split(b"<error_code>")[1][:3].decode() if b"<error_code>" in reply else "-"
    return f"HTTP {status}, code {code}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--header-mb", type=int, default=166)
    parser.add_argument("--slow", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            process, port = start(folder)
            try:
                sent, cpu, grown, slowest = huge_header(process.pid, port, args.header_mb)
                first, waiting = slow_connections(port, args.slow)
                url = long_url(port)
            finally:
                process.terminate()
                process.wait(30)
        results.append((sent, cpu, grown, slowest, first, waiting))
        print(f"run {run + 1}: huge header: {sent:.1f} MB sent before the close, API CPU {cpu:.2f} s, RSS "
              f"{grown:+.1f} MB, slowest honest request {slowest * 1000:.1f} ms; {args.slow} slow connections: "
              f"first honest request {first * 1000:.1f} ms, then {waiting * 1000:.1f} ms; 70 KiB URL: {url}",
              flush=True)  # fmt: skip
    medians = [statistics.median(values) for values in zip(*results, strict=True)]
    print(f"medians: header {medians[0]:.1f} MB sent, CPU {medians[1]:.2f} s, RSS {medians[2]:+.1f} MB, honest "
          f"{medians[3] * 1000:.1f} ms; slow connections: first honest {medians[4] * 1000:.1f} ms, "
          f"then {medians[5] * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
