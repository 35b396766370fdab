"""PostgreSQL, several hosts: recordings of accepted parts share the receipts lock (one host's SMSC acceptances
never wait for another host's), and a receipt that finds no part while that part is being recorded by another
connection still takes it once that recording commits (not left early until the next look)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from octogate.incoming.apply import Applied, apply_receipts
from octogate.incoming.model import ReceiptUpdate
from octogate.incoming.submits import record_outcomes
from octogate.store import delivery
from octogate.store.delivery import AcceptedPart, Outcome
from octogate.store.store import Store
from support import make_customer, wait_until

from .test_receipts import _claimed_message

NOW = 1_800_000_000


def submitted(message_id: int, carrier_id: str) -> Outcome:
    return Outcome(message_id, "submitted", "sim", (AcceptedPart(1, carrier_id),), 1)


def in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    thread.start()
    return thread, result


def advisory_waiters(store: Store) -> int:
    with store.connect() as conn:
        row = conn.fetchone("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    return int(row[0]) if row else 0


def test_a_hosts_acceptances_do_not_wait_for_another_hosts_recording(pg_store: Store) -> None:
    customer = make_customer(pg_store)
    _, first = _claimed_message(pg_store, customer)
    _, second = _claimed_message(pg_store, customer)
    with pg_store.connect() as open_conn, open_conn.transaction():
        assert record_outcomes(open_conn, "me", [submitted(first, "aa1")], NOW) == []  # not committed yet
        thread, result = in_thread(
            lambda: pg_store.run(record_outcomes, "me", [submitted(second, "bb2")], NOW)
        )
        thread.join(10)
        assert not thread.is_alive(), "the second recording waited for the first one's commit"
        assert result == [[]]
    assert pg_store.run(delivery.message_state, second).status == "submitted"


def test_a_receipt_racing_its_parts_recording_takes_the_part_once_it_commits(pg_store: Store) -> None:
    customer = make_customer(pg_store)
    _, message = _claimed_message(pg_store, customer)
    receipt = ReceiptUpdate("sim", "cc3", "DELIVRD", None, NOW, NOW)
    with pg_store.connect() as open_conn, open_conn.transaction():
        assert (
            record_outcomes(open_conn, "me", [submitted(message, "cc3")], NOW) == []
        )  # part not visible yet
        thread, result = in_thread(lambda: pg_store.run(apply_receipts, [receipt]))
        wait_until(lambda: advisory_waiters(pg_store) > 0)  # found no part: waits for the recording to end
    thread.join(10)
    assert result == [[Applied.APPLIED]]
    state = pg_store.run(delivery.message_state, message)
    assert (state.status, state.receipt_status) == ("delivered", "DELIVERED")
