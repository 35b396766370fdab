"""An answer's head and body leave the server in one send, in order, and nothing written is lost."""

from __future__ import annotations

import asyncio
from typing import Any

from octogate.http.protocol import CoalescedWrites


class Transport:
    def __init__(self) -> None:
        self.sends: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sends.append(data)

    def writelines(self, data: list[bytes]) -> None:
        self.sends.append(b"".join(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1234) if name == "peername" else None


async def test_a_head_and_its_body_written_in_one_turn_leave_as_one_send() -> None:
    transport = Transport()
    writes = CoalescedWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    writes.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
    writes.write(b"hello")
    assert transport.sends == []
    await asyncio.sleep(0)  # the end of the event loop turn
    assert transport.sends == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"]
    assert writes.get_extra_info("peername") == ("127.0.0.1", 1234)


async def test_a_head_alone_still_leaves_and_a_close_sends_what_was_written_first() -> None:
    transport = Transport()
    writes = CoalescedWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    writes.write(b"HTTP/1.1 204 No Content\r\n\r\n")  # a HEAD answer: no body follows
    await asyncio.sleep(0)
    assert transport.sends == [b"HTTP/1.1 204 No Content\r\n\r\n"]
    writes.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
    writes.write(b"bye")
    writes.close()
    assert transport.sends[1:] == [b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nbye"]
    assert transport.closed and writes.is_closing()
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert len(transport.sends) == 2
