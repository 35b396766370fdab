"""Which tables and indexes a running SQLite gateway's commits write, page by page, read from its WAL.

Every commit appends the pages it changed to the -wal file (a 24-byte frame header, then the page), and the
WAL starts again from its beginning after each checkpoint. This copies the live -wal file every --every
seconds for --seconds, keeps each transaction once (by the WAL's salt and the commit's position), and names
each page by the b-tree it belongs to (SQLite's `dbstat` table, on a copy of the database taken at the end).
Transactions that write `campaigns` or `ledger` are the API's; the others are the delivery process's.

    .venv/bin/python bench/pipeline.py --runs 1 &          # a gateway under load (its folder is printed)
    .venv/bin/python bench/wal_pages.py /tmp/octogate-pipeline-*/bench.db --seconds 6

Prints transactions, pages per transaction, and pages per table or index on each side.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sqlite3
import struct
import tempfile
import time
from pathlib import Path

WAL_HEADER = struct.Struct(">IIIIIIII")  # magic, version, page size, checkpoint, salt 1, salt 2, checksums
FRAME_HEADER = struct.Struct(">IIII")  # page number, database size after a commit (0 otherwise), salt 1, salt 2
API_TABLES = {"campaigns", "ledger"}


def transactions(wal: bytes) -> dict[tuple[int, int, int], list[int]]:
    """(salt 1, salt 2, commit index) -> the page numbers that commit wrote."""
    found: dict[tuple[int, int, int], list[int]] = {}
    if len(wal) < WAL_HEADER.size:
        return found
    _, _, page_size, _, salt1, salt2, _, _ = WAL_HEADER.unpack_from(wal)
    offset, pages, commits = WAL_HEADER.size, [], 0
    while offset + 24 + page_size <= len(wal):
        page, commit, frame_salt1, frame_salt2 = FRAME_HEADER.unpack_from(wal, offset)
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break  # frames of a WAL generation before the last restart
        pages.append(page)
        if commit:
            found[(salt1, salt2, commits)] = pages
            pages, commits = [], commits + 1
        offset += 24 + page_size
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--every", type=float, default=0.1)
    args = parser.parse_args()
    wal_path = Path(f"{args.database}-wal")
    seen: dict[tuple[int, int, int], list[int]] = {}
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        seen.update(transactions(wal_path.read_bytes()))
        time.sleep(args.every)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "copy.db"
        shutil.copyfile(args.database, copy)
        shutil.copyfile(wal_path, f"{copy}-wal")
        with sqlite3.connect(copy) as conn:
            names = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    sides: dict[str, collections.Counter[str]] = {"delivery": collections.Counter(), "API": collections.Counter()}
    counts = collections.Counter[str]()
    for pages in seen.values():
        tables = {names.get(page, "?") for page in pages}
        side = "API" if tables & API_TABLES else "delivery"
        counts[side] += 1
        sides[side].update(names.get(page, "? (a page new since)") for page in pages)
    for side, pages in sides.items():
        total = sum(pages.values())
        print(f"{side}: {counts[side]} transactions, {total / max(1, counts[side]):.1f} pages each")
        for name, n in pages.most_common():
            print(f"  {n:6d}  {100 * n / max(1, total):5.1f} %  {name}")


if __name__ == "__main__":
    main()
