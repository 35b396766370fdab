"""Receipts that arrive together are applied together (one transaction, a few set-based statements), on SQLite and
PostgreSQL: each still lands on the message it names, in the order it came, and each message owes its receipt
push exactly once."""

from __future__ import annotations

import asyncio

from octogate.incoming import apply
from octogate.incoming.apply import Applied, apply_receipts, plan_receipts
from octogate.incoming.handler import IncomingHandler
from octogate.incoming.model import ReceiptUpdate
from octogate.smpp.constants import MessageState
from octogate.store import delivery
from octogate.store.incoming import KeyMatch
from octogate.store.store import Store
from octogate.store.tickets import ticket_for
from support import Clock, Customer

from .conftest import account_id, pushes, receipt_event, set_urls
from .test_receipts import _submitted_message

NOW = 1_800_000_000


def receipt(carrier_id: str, stat: str = "DELIVRD", at: int = NOW) -> ReceiptUpdate:
    return ReceiptUpdate("sim", carrier_id, stat, None, at, at)


def pushed(store: Store, customer: Customer) -> dict[str, list[str]]:
    """Receipt push statuses per ticket, in the order they were owed."""
    found: dict[str, list[str]] = {}
    with store.connect() as conn:
        for _, fields in pushes(conn, account_id(store, customer), "receipt"):
            found.setdefault(fields["message_id"], []).append(fields["status"])
    return found


async def test_one_batch_of_receipts_gives_each_message_its_state_and_one_push(
    store: Store, customer: Customer
) -> None:
    store.run(set_urls, customer.login)
    single = _submitted_message(store, customer, ("a1",))
    long = _submitted_message(store, customer, ("b1", "b2"))
    twice = _submitted_message(store, customer, ("c1",))
    waiting = _submitted_message(store, customer, ("d1",))
    # two messages whose parts share one carrier id (an SMSC that numbered from 1 again): each receipt takes one
    older, newer = _submitted_message(store, customer, ("e1",)), _submitted_message(store, customer, ("e1",))
    batch = [receipt("a1"), receipt("b1", "UNDELIV"), receipt("B2"), receipt("c1"), receipt("c1", "UNDELIV"),
             receipt("zz9"), receipt("d1", "ENROUTE"), receipt("e1"), receipt("e1", "EXPIRED")]  # fmt: skip
    assert await store.write(apply_receipts, batch) == [
        Applied.APPLIED, Applied.APPLIED, Applied.APPLIED, Applied.APPLIED, Applied.DUPLICATE, Applied.EARLY,
        Applied.INTERMEDIATE, Applied.APPLIED, Applied.APPLIED,
    ]  # fmt: skip

    async def state(message: tuple[int, int]) -> tuple[str, str | None]:
        found = await store.read(delivery.message_state, message[1])
        return found.status, found.receipt_status

    assert await state(single) == ("delivered", "DELIVERED")
    assert await state(long) == ("undelivered", "NOT_DELIVERED")  # the first part not delivered decides
    assert await state(twice) == ("delivered", "DELIVERED")  # the first of its two receipts
    assert await state(waiting) == ("submitted", None)
    assert {await state(older), await state(newer)} == {("delivered", "DELIVERED"), ("undelivered", "NOT_DELIVERED")}
    assert pushed(store, customer) == {
        ticket_for(single[0]): ["DELIVERED"], ticket_for(long[0]): ["NOT_DELIVERED"],
        ticket_for(twice[0]): ["DELIVERED"], ticket_for(older[0]): [(await state(older))[1]],
        ticket_for(newer[0]): [(await state(newer))[1]],
    }  # fmt: skip
    with store.connect() as conn:
        assert conn.fetchall("SELECT carrier_id, stat FROM early_receipts") == [("zz9", "DELIVRD")]

    # The same receipts again (an SMSC delivering them a second time): nothing changes, no push is owed again.
    again = await store.write(apply_receipts, [receipt("a1"), receipt("b2"), receipt("c1"), receipt("e1")])
    assert again == [Applied.DUPLICATE] * 4
    assert sum(len(statuses) for statuses in pushed(store, customer).values()) == 5


async def test_receipts_delivered_together_are_written_together_each_on_its_message(
    store: Store, customer: Customer, clock: Clock
) -> None:
    """What the connector does: one on_deliver per deliver_sm, many at once; the handler groups them."""
    store.run(set_urls, customer.login)
    messages = {f"f{n:02d}": _submitted_message(store, customer, (f"f{n:02d}",)) for n in range(40)}
    handler = IncomingHandler(store, clock=clock)
    states = {carrier: MessageState.DELIVERED if n % 3 else MessageState.UNDELIVERABLE
              for n, carrier in enumerate(messages)}  # fmt: skip
    events = [receipt_event(receipted_message_id=carrier, message_state=state) for carrier, state in states.items()]
    outcomes = await asyncio.gather(*(handler.receipt(event) for event in events))
    assert outcomes == ["applied"] * len(events)
    assert handler.receipts.writes < len(events) // 4  # grouped: a few transactions, not one per receipt
    expected = {ticket_for(messages[c][0]): ["DELIVERED" if s == MessageState.DELIVERED else "NOT_DELIVERED"]
                for c, s in states.items()}  # fmt: skip
    assert pushed(store, customer) == expected
    # delivered again, together: all duplicates, and still one push per message
    assert await asyncio.gather(*(handler.receipt(event) for event in events)) == ["duplicate"] * len(events)
    assert pushed(store, customer) == expected


async def test_a_group_with_one_bad_receipt_fails_that_receipt_alone(
    store: Store, customer: Customer, clock: Clock, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A receipt that makes the batch fail (a bug) must not make the SMSC deliver the others again."""
    store.run(set_urls, customer.login)
    good = _submitted_message(store, customer, ("g1",))
    real = apply.apply_receipts

    def failing_on_bad(conn, updates):  # type: ignore[no-untyped-def]
        if any(u.carrier_id == "bad" for u in updates):
            raise ValueError("a bug")
        return real(conn, updates)

    handler = IncomingHandler(store, clock=clock)
    monkeypatch.setattr(handler.receipts, "op", failing_on_bad)
    events = [receipt_event(receipted_message_id=c, message_state=MessageState.DELIVERED) for c in ("g1", "bad")]
    results = await asyncio.gather(*(handler.receipt(event) for event in events), return_exceptions=True)
    assert results[0] == "applied" and isinstance(results[1], ValueError)
    assert pushed(store, customer) == {ticket_for(good[0]): ["DELIVERED"]}


def key(carrier: str, message: int, status: str = "submitted", same_base: bool = True) -> KeyMatch:
    return KeyMatch(carrier, message, 1, status, same_base)


def test_the_batch_rule_sees_the_parts_taken_by_the_receipts_before_it() -> None:
    updates = [receipt("1"), receipt("1"), receipt("1"), receipt("2"), receipt("3", "ACCEPTD")]
    keys = ["1", "1", "1", "2", ""]
    candidates = {
        ("sim", "1"): [key("1", 10), key("1", 11)],  # two pending parts share the id "1"
        ("sim", "2"): [key("2", 20, status="DELIVRD", same_base=False)],  # the other base names a final part
    }
    plan = plan_receipts(updates, keys, candidates)
    # the newest pending part first, then the other one, then nothing pending is left: a duplicate
    assert plan.outcomes == [Applied.APPLIED, Applied.APPLIED, Applied.DUPLICATE, Applied.EARLY, Applied.INTERMEDIATE]
    assert [(index, part.message_id) for index, part in plan.apply] == [(0, 11), (1, 10)]
    assert plan.early == [3]
