"""Each SQL statement's CPU in a gateway under the whole path's load: which statements, how often, what they cost.

Runs `bench/pipeline.py --runs 1` (SQLite) with every `sqlite3` connection of the gateway's processes made
through a wrapper (a `sitecustomize` module on PYTHONPATH, this run only): each statement's execute and its
fetches are timed with `time.thread_time()`, the CPU of the calling thread (its waits for the GIL or a lock
are not counted, the system calls it makes are). At exit each process writes its totals; this prints, per
process, the statements by CPU: calls, µs a call, µs a message, and the statements per message. The wrapper
adds ~1 µs a statement; it is not in the figures pipeline.py prints for the run (those include it).

    .venv/bin/python bench/sql_cpu.py                         # 10,000 messages
    .venv/bin/python bench/sql_cpu.py --messages 20000 --top 30

Exit status: pipeline.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

WRAPPER = '''
import atexit, collections, json, os, sqlite3, threading, time
_out = os.environ["OCTOGATE_SQL_CPU"]
_stats = collections.defaultdict(lambda: [0, 0.0])
_cpu = time.thread_time


def _key(sql):
    return threading.current_thread().name[:24] + " | " + " ".join(sql.split())[:140]


class _Cursor(sqlite3.Cursor):
    _k = None

    def _timed(self, method, sql, arg):
        t = _cpu()
        try:
            return method(self, sql, arg)
        finally:
            self._k = k = _key(sql)
            s = _stats[k]
            s[0] += 1
            s[1] += _cpu() - t

    def _fetched(self, method):
        t = _cpu()
        try:
            return method(self)
        finally:
            _stats[self._k][1] += _cpu() - t

    def execute(self, sql, params=()):
        return self._timed(sqlite3.Cursor.execute, sql, params)

    def executemany(self, sql, rows):
        return self._timed(sqlite3.Cursor.executemany, sql, rows)

    def fetchall(self):
        return self._fetched(sqlite3.Cursor.fetchall)

    def fetchone(self):
        return self._fetched(sqlite3.Cursor.fetchone)


class _Connection(sqlite3.Connection):
    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def execute(self, sql, params=()):
        return self.cursor().execute(sql, params)

    def executemany(self, sql, rows):
        return self.cursor().executemany(sql, rows)


_connect = sqlite3.connect


def _connect_timed(*args, **kwargs):
    kwargs.setdefault("factory", _Connection)
    return _connect(*args, **kwargs)


sqlite3.connect = _connect_timed


@atexit.register
def _dump():
    if _stats:
        with open(os.path.join(_out, "sql-%d.json" % os.getpid()), "w") as f:
            json.dump(dict(_stats), f)
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=20, help="statements shown per process")
    args = parser.parse_args()
    bench = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="octogate-sql-cpu-") as folder:
        Path(folder, "sitecustomize.py").write_text(WRAPPER)
        env = {**os.environ, "OCTOGATE_SQL_CPU": folder,
               "PYTHONPATH": os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))}  # fmt: skip
        run = subprocess.run(
            [sys.executable, str(bench / "pipeline.py"), "--runs", "1", "--messages", str(args.messages)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        summary = [line for line in run.stdout.splitlines() if line.startswith("  accepted")]
        print(*summary[:1] or [run.stdout[-2000:], run.stderr[-2000:]], sep="\n")
        # pipeline.py names the gateway's processes in order: serve (the API) first, then its delivery process
        pids = re.findall(r"pid (\d+) [\d.]+", run.stdout)
        names = dict(zip(pids[:2], ("API process (serve)", "delivery process"), strict=False))
        for dump in sorted(Path(folder).glob("sql-*.json")):
            pid = dump.stem.split("-")[1]
            if pid not in names:
                continue  # the CLI that made the account, the SMSC simulator
            stats = json.loads(dump.read_text())
            total = sum(cpu for _, cpu in stats.values())
            calls = sum(count for count, _ in stats.values())
            print(f"\n{names[pid]} (pid {pid}): SQL {total * 1e6 / args.messages:.1f} µs a message, "
                  f"{calls / args.messages:.2f} statements a message")  # fmt: skip
            print(f"  {'µs/msg':>7} {'calls':>7} {'µs/call':>8}  thread | statement")
            for key, (count, cpu) in sorted(stats.items(), key=lambda item: -item[1][1])[: args.top]:
                print(f"  {cpu * 1e6 / args.messages:7.2f} {count:7d} {cpu * 1e6 / max(count, 1):8.1f}  {key[:150]}")
    return run.returncode


if __name__ == "__main__":
    raise SystemExit(main())
