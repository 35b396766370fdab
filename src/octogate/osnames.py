"""Names the gateway's processes and threads carry in ps, top and /proc (Linux `comm`, 15 bytes at most), so an
operator (or a bench) can tell which one uses the CPU: `top -H` shows `octogate-writer` beside the event loops.
Elsewhere, or when /proc cannot be written, nothing changes."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path


def name_process(name: str) -> None:
    """The calling process's name (its main thread's)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(name[:15])


def name_thread(name: str) -> None:
    """The calling thread's own name."""
    with contextlib.suppress(OSError):
        Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text(name[:15])
