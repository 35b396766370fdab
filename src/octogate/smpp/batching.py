"""Coalescing the PDUs written during one event-loop iteration into one socket write.

Shared by the ESME client's connection and the simulator's: one syscall per batch instead of one per PDU, and
an early flush every 64 PDUs (a window) so the peer is kept busy rather than answered a burst at a time:
every 8 PDUs, the writes cost 5 % of the background process (py-spy, docs/performance.md).
"""

from __future__ import annotations

import asyncio

FLUSH_EVERY = 64


class BatchedWrites:
    """Mixin for a connection with `writer: asyncio.StreamWriter` and `out: list[bytes]` attributes."""

    __slots__ = ()
    writer: asyncio.StreamWriter
    out: list[bytes]

    def write(self, data: bytes) -> None:
        out = self.out
        if not out:
            asyncio.get_running_loop().call_soon(self.flush)
        out.append(data)
        if len(out) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        data, self.out = self.out, []  # type: ignore[misc]  # the slot is the connection class's
        if data and self.writable() and not self.writer.is_closing():
            self.writer.write(b"".join(data))

    def writable(self) -> bool:
        """Whether the connection still takes writes (the writer's own state is checked too)."""
        return True
