"""CPU of the pushes' HTTP client alone: `PushClient.post` to a keep-alive receiver in another process.

The whole push path (`bench/callbacks_throughput.py`) is mostly the store; this isolates the client, the part
a protocol or parser change moves. --concurrency tasks POST a receipt-sized form body over kept connections;
the figure is this process's CPU (user + system) per POST, median of --runs runs after a warm-up run.

    .venv/bin/python bench/push_client.py [--posts 20000] [--concurrency 32] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import sys
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callbacks_throughput import serve_forever
from octogate.callbacks.http1 import PushClient

BODY = b"message_id=1&number=%2B33600000000&status=DELIVERED&delivery_date=2026-12-04+10%3A00%3A00"


async def one_run(port: int, posts: int, concurrency: int) -> float:
    """µs of this process's CPU per POST, after a warm-up run of as many POSTs."""
    client = PushClient(connect_timeout=2, total_timeout=10, keep_per_host=concurrency)
    url = f"http://127.0.0.1:{port}/receipt"

    async def poster(count: int) -> None:
        for _ in range(count):
            await client.post(url, BODY, "application/x-www-form-urlencoded", 65536, {"X-Signature": "t=1,v1=ab"})

    each = posts // concurrency
    await asyncio.gather(*(poster(each) for _ in range(concurrency)))
    started = time.process_time()
    await asyncio.gather(*(poster(each) for _ in range(concurrency)))
    spent = time.process_time() - started
    await client.close()
    return spent / (each * concurrency) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    # callbacks_throughput's receiver, in a process of its own (its CPU is not counted)
    process = multiprocessing.get_context("fork").Process(target=serve_forever, args=(sock,), daemon=True)
    process.start()
    try:
        port = sock.getsockname()[1]
        figures = [uvloop.run(one_run(port, args.posts, args.concurrency)) for _ in range(args.runs)]
    finally:
        process.kill()
    each = ", ".join(f"{figure:.1f}" for figure in figures)
    print(f"push client: {each} µs of CPU per POST; median {statistics.median(figures):.1f} µs "
          f"({args.posts:,} POSTs at {args.concurrency} at once)")  # fmt: skip


if __name__ == "__main__":
    main()
