"""Bind slots shared by the hosts of a cluster: who holds which slot of which connector, under a lease.

Times are milliseconds of the database's clock (read once per round), so hosts whose clocks disagree still
agree on when a lease has run out. Every round runs in one transaction of the group-commit writer; rows are
touched in (connector, slot) order so that two hosts' rounds never deadlock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from octogate.store.db import Connection


@dataclass(frozen=True, slots=True)
class BindLease:
    connector: str
    slot: int
    owner: str
    expires_at: int  # milliseconds, database clock
    acquired_at: int


@dataclass(frozen=True, slots=True)
class _Slot:
    connector: str
    slot: int


def database_now_ms(conn: Connection) -> int:
    """The database's clock (the one every lease is measured by), in milliseconds since the epoch."""
    if conn.dialect == "postgresql":
        row = conn.fetchone("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)")
    else:
        row = conn.fetchone("SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)")
    assert row is not None
    return int(row[0])


def fair_share(binds: int, candidates: int) -> int:
    """Slots one host may hold: the connector's binds spread over the hosts that want them, rounded up."""
    return math.ceil(binds / max(candidates, 1))


def keep(conn: Connection, owner: str, binds: Mapping[str, int], lease_ms: int) -> dict[str, list[int]]:
    """One round of one host: say which connectors it wants binds of, renew its leases, give back what is no
    longer configured, take free or expired slots up to its fair share. Slots above the share are left out of
    the answer but stay leased to the host until it has closed their binds (`give_back`).

    Returns the slots the host holds after the round, per connector (every connector of `binds` appears)."""
    now = database_now_ms(conn)
    until = now + lease_ms
    conn.execute("DELETE FROM bind_candidates WHERE expires_at <= ?", (now,))
    for connector in sorted(binds):
        conn.execute(
            "INSERT INTO bind_candidates (connector, owner, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (connector, owner) DO UPDATE SET expires_at = excluded.expires_at",
            (connector, owner, until),
        )
    for (wanted_before,) in conn.fetchall("SELECT connector FROM bind_candidates WHERE owner = ?", (owner,)):
        if wanted_before not in binds:
            conn.execute("DELETE FROM bind_candidates WHERE connector = ? AND owner = ?", (wanted_before, owner))
    held: dict[str, list[int]] = {connector: [] for connector in binds}
    mine = conn.records(
        _Slot, "SELECT connector, slot FROM bind_leases WHERE owner = ? ORDER BY connector, slot", (owner,)
    )
    for lease in mine:
        if lease.connector in binds and lease.slot < binds[lease.connector]:
            held[lease.connector].append(lease.slot)
        else:
            _release_slot(conn, owner, lease.connector, lease.slot)
    conn.execute("UPDATE bind_leases SET expires_at = ? WHERE owner = ?", (until, owner))
    for connector in sorted(binds):
        row = conn.fetchone(
            "SELECT COUNT(*) FROM bind_candidates WHERE connector = ? AND expires_at > ?", (connector, now)
        )
        share = fair_share(binds[connector], int(row[0]) if row else 1)
        slots = held[connector]
        while len(slots) > share:
            # The highest goes (slot 0 stays put). Its lease stays this host's, renewed, until the host has
            # closed that bind and calls `give_back`: the SMSC never sees more than `binds` binds.
            slots.pop()
        for slot in range(binds[connector]):
            if len(slots) >= share:
                break
            if slot not in slots and _take_slot(conn, owner, connector, slot, now, until):
                slots.append(slot)
        slots.sort()
    return held


def _take_slot(conn: Connection, owner: str, connector: str, slot: int, now: int, until: int) -> bool:
    """The slot, if nobody holds it or its holder's lease has run out."""
    row = conn.fetchone(
        "INSERT INTO bind_leases (connector, slot, owner, expires_at, acquired_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (connector, slot) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at, "
        "acquired_at = excluded.acquired_at WHERE bind_leases.expires_at <= ? RETURNING slot",
        (connector, slot, owner, until, now, now),
    )
    return row is not None


def give_back(conn: Connection, owner: str, connector: str, slot: int) -> None:
    """A slot whose bind this host has closed: free for another host at once."""
    _release_slot(conn, owner, connector, slot)


def _release_slot(conn: Connection, owner: str, connector: str, slot: int) -> None:
    conn.execute(
        "DELETE FROM bind_leases WHERE connector = ? AND slot = ? AND owner = ?", (connector, slot, owner)
    )


def release(conn: Connection, owner: str) -> int:
    """A clean stop: every slot of this host is free at once for the others; returns how many it held."""
    freed = conn.execute("DELETE FROM bind_leases WHERE owner = ?", (owner,)).rowcount
    conn.execute("DELETE FROM bind_candidates WHERE owner = ?", (owner,))
    return int(freed)


def leases(conn: Connection) -> list[BindLease]:
    """Every lease, held or run out, for operators and tests."""
    return conn.records(
        BindLease,
        "SELECT connector, slot, owner, expires_at, acquired_at FROM bind_leases ORDER BY connector, slot",
    )


def owners(conn: Connection) -> list[str]:
    """Every host that holds a lease or wants binds (live or not)."""
    rows = conn.fetchall("SELECT owner FROM bind_leases UNION SELECT owner FROM bind_candidates")
    return sorted(str(row[0]) for row in rows)
