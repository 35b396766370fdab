"""CPU seconds of octogate's processes and of the PostgreSQL backends serving them, read from /proc.

On a shared machine throughput moves with the neighbours' load; CPU seconds per request or per message do
not (much): they are what the benches compare. octogate's processes are the `serve` process and every
descendant (the background delivery process); its PostgreSQL backends are found by the `application_name` the
bench puts in the database URL (`pg_stat_activity.application_name`), so other clients of the same server
are not counted. A process that exits between two readings keeps its last reading; one born in between
counts from zero.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from urllib.parse import quote

CLK_TCK = os.sysconf("SC_CLK_TCK")


def stat_cpu_seconds(stat: str | Path) -> float | None:
    """User + system CPU from a /proc `stat` file (a process's, all its threads, or one thread's under
    `task/`), or None if it is gone."""
    try:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (all its threads), or None if it is gone."""
    return stat_cpu_seconds(f"/proc/{pid}/stat")


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """User + system CPU of each thread of a process, by name: "loop" for its main thread (the event loop),
    else the thread's own (`octogate.osnames`: octogate-writer, octogate-reads; others keep their process's),
    threads of one name summed. Empty if the process is gone."""
    found: dict[str, float] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            name = "loop" if task.name == str(pid) else (task / "comm").read_text().strip()
        except OSError:
            continue
        used = stat_cpu_seconds(task / "stat")
        if used is not None:
            found[name] = found.get(name, 0.0) + used
    return found


def own_cpu_seconds() -> float:
    """User + system CPU of this process, every thread, at getrusage's resolution (finer than /proc's ticks):
    for benches that time one side of an exchange in their own process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_tree(root: int) -> list[int]:
    """`root` and its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def with_application_name(url: str, name: str) -> str:
    """The PostgreSQL URL with `application_name` set, so the bench can find its server's backends."""
    return f"{url}{'&' if '?' in url else '?'}application_name={quote(name, safe='')}"


def postgres_backends(admin_url: str, application_name: str) -> list[int]:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchall()
    return [int(row[0]) for row in rows]


class CpuMeter:
    """CPU used since `start()` by octogate's processes and (optionally) its PostgreSQL backends."""

    def __init__(self, root_pid: int, admin_url: str | None = None, application_name: str | None = None):
        self.root_pid = root_pid
        self.admin_url = admin_url
        self.application_name = application_name
        self._octogate: dict[int, float] = {}
        self._postgres: dict[int, float] = {}

    def _read(self) -> tuple[dict[int, float], dict[int, float]]:
        octogate = {pid: s for pid in process_tree(self.root_pid) if (s := cpu_seconds(pid)) is not None}
        postgres: dict[int, float] = {}
        if self.admin_url and self.application_name:
            backends = postgres_backends(self.admin_url, self.application_name)
            postgres = {pid: s for pid in backends if (s := cpu_seconds(pid)) is not None}
        return octogate, postgres

    def start(self) -> None:
        self._octogate, self._postgres = self._read()

    def used(self) -> tuple[float, float]:
        """(octogate's processes, PostgreSQL backends) CPU seconds since start()."""
        octogate, postgres = self._read()
        return _delta(self._octogate, octogate), _delta(self._postgres, postgres)


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    pids = before.keys() | after.keys()
    return sum(after.get(pid, before.get(pid, 0.0)) - before.get(pid, 0.0) for pid in pids)
