"""The CPU CPython needs for one message's wire work alone, with none of the gateway's logic and no database.

Issue 10's title asks for a third of Kannel's CPU per message. This bench measures what that leaves: the three
exchanges every single-recipient message costs a gateway, each written as barely as asyncio allows (raw
protocols on uvloop, httptools' parser, PDUs packed and parsed with `struct`), each timed alone in this process
(its user + system CPU, from getrusage) while its peer runs in another process:

- http-in: one keep-alive HTTP/1.1 POST of an Octopush form read and answered with a fixed XML answer, driven
  by wrk at concurrency 50 (the pipeline bench's load; wrk's own CPU is not counted);
- smpp: one submit_sm written and its submit_sm_resp read, then one deliver_sm (the receipt) read and its
  deliver_sm_resp written, 64 in flight (the pipeline bench's window);
- http-out: one keep-alive POST of a receipt's form body and its answer read, 16 connections.

It prints µs of CPU per exchange (median of the runs) and their sum: the floor of any CPython gateway's CPU
per message on this machine, before it parses a parameter, prices, stores or decides anything.

    .venv/bin/python bench/python_floor.py [--messages 50000] [--runs 3]     (apt-get install wrk)

Benchmarks print; they assert nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import struct
import subprocess
import tempfile
from collections.abc import Callable, Coroutine
from typing import Any

import httptools
import uvloop

from cpu_accounting import own_cpu_seconds
from end_to_end import free_port

HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence_number
SUBMIT_SM, SUBMIT_SM_RESP, DELIVER_SM, DELIVER_SM_RESP = 0x00000004, 0x80000004, 0x00000005, 0x80000005
FORM = (
    "login=bench&api_key=0123456789abcdef&sms_text=Bonjour+le+monde&sms_recipients=%2B33601020304"
    "&sms_type=XXX&sms_sender=Bench&request_mode=real"
)
ANSWER = (
    b'<?xml version="1.0" encoding="UTF-8"?><octopush><error_code>000</error_code><cost>0.065</cost>'
    b"<balance>1000.000</balance><ticket>sms_00000000000001</ticket><sending_date>1764840000</sending_date>"
    b"<number_of_sendings>1</number_of_sendings><currency_code>EUR</currency_code>"
    b"<successs><success><recipient>+33601020304</recipient><country_code>FR</country_code><cost>0.065</cost>"
    b"<sms_needed>1</sms_needed></success></successs><failures></failures></octopush>"
)
HTTP_ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/xml; charset=utf-8\r\ncontent-length: "
    + str(len(ANSWER)).encode()
    + b"\r\n\r\n"
    + ANSWER
)
RECEIPT = (
    b"message_id=sms_00000000000001&number=%2B33601020304&status=DELIVERED&delivery_date=2026-12-04+10%3A00%3A05"
)


def in_child(main: Callable[[int], Coroutine[Any, Any, None]], port: int) -> multiprocessing.Process:
    """A peer in its own process (its CPU is not this process's), serving `port` until killed."""
    process = multiprocessing.get_context("spawn").Process(target=_peer_main, args=(main, port), daemon=True)
    process.start()
    return process


def _peer_main(main: Callable[[int], Coroutine[Any, Any, None]], port: int) -> None:
    uvloop.run(main(port))


async def wait_listening(port: int) -> None:
    for _ in range(500):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listens on {port}")


# --- http-in: the measured side is the server; wrk drives it ---------------------------------------------------


class HttpResponder(asyncio.Protocol):
    """Answers every HTTP request it reads with the same bytes, and counts them."""

    def __init__(self, answer: bytes, served: list[int]) -> None:
        self.answer, self.served = answer, served
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        assert self.transport is not None
        self.transport.write(self.answer)
        self.served[0] += 1


async def http_in(messages: int) -> float | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    served = [0]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpResponder(HTTP_ANSWER, served), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            f'wrk.method = "POST"\nwrk.body = "{FORM}"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        )
    try:
        # wrk runs for a time, not a count: measure what it served within it
        seconds = max(2, messages // 10_000)
        start, served[0] = own_cpu_seconds(), 0
        driver = await asyncio.create_subprocess_exec(
            wrk, "-t1", "-c50", f"-d{seconds}s", "-s", script.name, f"http://127.0.0.1:{port}/api/sms",
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        await driver.wait()
        used = own_cpu_seconds() - start
    finally:
        os.unlink(script.name)
        server.close()
    return used / served[0] * 1e6


# --- smpp: the measured side is the client; a minimal SMSC answers ------------------------------------------------


def pdu(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, sequence) + body


def submit_body(text: bytes) -> bytes:
    # service_type, source ton/npi/addr, dest ton/npi/addr, esm_class, protocol_id, priority, schedule, validity,
    # registered_delivery, replace, data_coding, default msg id, sm_length, short_message
    return (
        b"\x00\x05\x00Bench\x00\x01\x01+33601020304\x00\x00\x00\x00\x00000002000000000R\x00\x01\x00\x00\x00"
        + bytes([len(text)])
        + text
    )


class Frames:
    """SMPP frames out of a byte stream."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= 16:
            length, command_id, _, sequence = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < length:
                break
            frames.append((command_id, sequence, bytes(self.buffer[16:length])))
            del self.buffer[:length]
        return frames


class Smsc(asyncio.Protocol):
    """Answers each submit_sm at once, then sends its receipt as a deliver_sm."""

    def __init__(self) -> None:
        self.frames = Frames()
        self.transport: asyncio.Transport | None = None
        self.next_id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        out = []
        for command_id, sequence, _ in self.frames.feed(data):
            if command_id == SUBMIT_SM:
                self.next_id += 1
                carrier = format(self.next_id, "x").encode()
                receipt = (
                    b"id:" + carrier + b" sub:001 dlvrd:001 submit date:2612041000 done date:2612041000 "
                    b"stat:DELIVRD err:000 text:Bonjour le monde"
                )
                out.append(pdu(SUBMIT_SM_RESP, sequence, carrier + b"\x00"))
                out.append(pdu(DELIVER_SM, self.next_id, submit_body(receipt)))
        if out:
            self.transport.write(b"".join(out))


async def smsc_main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Smsc, "127.0.0.1", port)
    await server.serve_forever()


class SmppClient(asyncio.Protocol):
    def __init__(self, messages: int, window: int, done: asyncio.Future[None]) -> None:
        self.messages, self.window, self.done = messages, window, done
        self.frames = Frames()
        self.transport: asyncio.Transport | None = None
        self.sent = self.answered = self.receipts = 0
        self.body = submit_body("Bonjour le monde".encode("ascii"))
        self.carrier_ids: dict[int, str] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send(self.window)

    def _send(self, count: int) -> None:
        assert self.transport is not None
        count = min(count, self.messages - self.sent)
        if count > 0:
            first = self.sent + 1
            self.sent += count
            self.transport.write(b"".join(pdu(SUBMIT_SM, s, self.body) for s in range(first, first + count)))

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        answers = []
        freed = 0
        for command_id, sequence, body in self.frames.feed(data):
            if command_id == SUBMIT_SM_RESP:
                self.carrier_ids[sequence] = body[:-1].decode("ascii")  # what a gateway records
                self.answered += 1
                freed += 1
            elif command_id == DELIVER_SM:
                text = body[body.index(b"id:") :].decode("ascii")
                fields = dict(f.split(":", 1) for f in text.split(" text:", 1)[0].replace("done date", "done_date")
                              .replace("submit date", "submit_date").split())  # fmt: skip
                self.carrier_ids.pop(int(fields["id"], 16), None)
                answers.append(pdu(DELIVER_SM_RESP, sequence, b"\x00"))
                self.receipts += 1
        if answers:
            self.transport.write(b"".join(answers))
        self._send(freed)
        if self.receipts >= self.messages and not self.done.done():
            self.done.set_result(None)


async def smpp(messages: int, port: int) -> float:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    start = own_cpu_seconds()
    transport, _ = await loop.create_connection(lambda: SmppClient(messages, 64, done), "127.0.0.1", port)
    await done
    used = own_cpu_seconds() - start
    transport.close()
    return used / messages * 1e6


# --- http-out: the measured side is the client; a minimal receiver answers --------------------------------------


async def receiver_main(port: int) -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nOK"
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpResponder(answer, [0]), "127.0.0.1", port)
    await server.serve_forever()


class Pusher(asyncio.Protocol):
    """POSTs one receipt at a time on its connection; counts the answers (status line and headers parsed)."""

    def __init__(self, shared: dict[str, Any], request: bytes) -> None:
        self.shared, self.request = shared, request
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        if self.shared["left"] > 0:
            self.shared["left"] -= 1
            self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = dict(line.split(":", 1) for line in lines[1:])
        self.buffer = self.buffer[int(headers.get("content-length", "0")) :]
        self.shared["answered"] += 1
        self.shared["ok"] += 200 <= status < 300
        if self.shared["answered"] >= self.shared["total"]:
            done = self.shared["done"]
            if not done.done():
                done.set_result(None)
        self._next()


async def http_out(messages: int, port: int) -> float:
    loop = asyncio.get_running_loop()
    shared: dict[str, Any] = {"left": messages, "answered": 0, "ok": 0, "total": messages,
                              "done": loop.create_future()}  # fmt: skip
    request = (
        f"POST /receipts HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: octogate\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(RECEIPT)}\r\n\r\n"
    ).encode("latin-1") + RECEIPT
    start = own_cpu_seconds()
    transports = [
        (await loop.create_connection(lambda: Pusher(shared, request), "127.0.0.1", port))[0] for _ in range(16)
    ]
    await shared["done"]
    used = own_cpu_seconds() - start
    for transport in transports:
        transport.close()
    return used / messages * 1e6


async def run(args: argparse.Namespace) -> None:
    smsc_port, receiver_port = free_port(), free_port()
    peers = [in_child(smsc_main, smsc_port), in_child(receiver_main, receiver_port)]
    try:
        await wait_listening(smsc_port)
        await wait_listening(receiver_port)
        results: dict[str, list[float]] = {"http-in": [], "smpp": [], "http-out": []}
        for run_number in range(1, args.runs + 1):
            found = {
                "http-in": await http_in(args.messages),
                "smpp": await smpp(args.messages, smsc_port),
                "http-out": await http_out(args.messages, receiver_port),
            }
            line = ", ".join(f"{name} {'-' if v is None else f'{v:.1f}'} µs" for name, v in found.items())
            print(f"  run {run_number}: {line}", flush=True)
            for name, value in found.items():
                if value is not None:
                    results[name].append(value)
    finally:
        for peer in peers:
            peer.kill()
    medians = {name: statistics.median(values) for name, values in results.items() if values}
    print(f"CPython's floor of CPU per message, medians of {args.runs} runs of {args.messages:,} exchanges:")
    for name, value in medians.items():
        print(f"  {name:9} {value:6.1f} µs")
    print(f"  {'sum':9} {sum(medians.values()):6.1f} µs (a third of Kannel's CPU per message is the issue's target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
