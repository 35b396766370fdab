"""Receipts into store state, inside the caller's transaction (a group-commit savepoint): receipt → part state →
message final status → the one receipt push it owes. The rules are the pure functions of `ids` and `statuses`;
the store calls only run SQL. The push is written in the same transaction as the state change, so it exists if
and only if the change does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from octogate.incoming import ids, payloads, statuses
from octogate.incoming.model import ReceiptUpdate
from octogate.smpp.constants import MessageIds
from octogate.statuses import DeliveryStatus, MessageStatus, PushKind
from octogate.store import incoming as sql
from octogate.store.callbacks import enqueue_push, enqueue_pushes
from octogate.store.db import Connection
from octogate.store.tickets import ticket_for

EARLY_PAGES = 20  # at most EARLY_PAGES * EARLY_BATCH early receipts looked at again per call
EARLY_HORIZON = 48 * 3600  # early receipts older than this stay in their table for the operator, unscanned
EARLY_BATCH = 500
EXPIRY_BATCH = 500  # messages given up per transaction


class Applied(StrEnum):
    """What became of one receipt."""

    APPLIED = "applied"  # its part took its final state
    EARLY = "early"  # no part yet: kept until one is recorded
    DUPLICATE = "duplicate"  # its part was final already
    INTERMEDIATE = "intermediate"  # nothing final to record


def apply_receipts(conn: Connection, updates: Sequence[ReceiptUpdate]) -> list[Applied]:
    """Receipts that arrived together, applied in one transaction by a few set-based statements sent in three
    round trips (whatever their number): the same outcome, receipt by receipt in their order, as applying them
    one after the other."""
    keys = [ids.receipt_key(u.carrier_id, u.message_ids) if statuses.is_final(u.stat) else "" for u in updates]
    wanted: dict[str, set[str]] = {}
    declared: set[str] = set()  # connectors whose keys are final: one probe each, never a re-spelling
    for update, key in zip(updates, keys, strict=True):
        if statuses.is_final(update.stat):
            wanted.setdefault(update.connector, set()).add(key)
            if not ids.respelled(update.message_ids):
                declared.add(update.connector)
    plan = plan_receipts(updates, keys, _find_parts(conn, wanted, locked=False, declared=declared))
    if plan.early and conn.dialect == "postgresql":
        # Some receipts found no part: one may be being recorded by another connection right now. Looked up
        # again under the receipts lock, which that recording holds (shared) until it commits: its parts are
        # seen now, or it sees these receipts' early rows (kept before this transaction lets the lock go).
        plan = plan_receipts(updates, keys, _find_parts(conn, wanted, locked=True, declared=declared))
    for index in plan.early:
        _keep_early(conn, keys[index], updates[index])
    if not plan.apply:
        return plan.outcomes
    message_ids = sorted({part.message_id for _, part in plan.apply})
    with conn.batch():
        heads_later = sql.lock_heads(conn, message_ids)
        taken_later = sql.set_parts(conn, [
            (part.message_id, part.seq, updates[i].stat, updates[i].done_at, updates[i].error, updates[i].received_at)
            for i, part in plan.apply
        ])  # fmt: skip
    heads, taken = {h.id: h for h in heads_later()}, taken_later()
    parts = _parts_now(conn, heads, taken, plan.apply, updates)
    outcomes = list(plan.outcomes)
    touched: dict[int, int] = {}  # message id -> when its latest receipt here was received
    for index, part in plan.apply:
        if (part.message_id, part.seq) in taken:
            touched[part.message_id] = max(touched.get(part.message_id, 0), updates[index].received_at)
        else:
            outcomes[index] = Applied.DUPLICATE  # another process's receipt for it committed first
    complete_messages(conn, [heads[m] for m in sorted(touched) if m in heads], touched, parts)
    return outcomes


def _parts_now(
    conn: Connection, heads: Mapping[int, sql.MessageHead], taken: Collection[tuple[int, int]],
    applied: Sequence[tuple[int, sql.KeyMatch]], updates: Sequence[ReceiptUpdate],
) -> list[sql.PartOf]:
    """The parts of the messages these receipts touched, as they stand now. A message of one part whose receipt
    took its part is that receipt's part: not read back (most messages are one part; the read cost ~2 µs a
    message). The others' parts are read: on PostgreSQL one round trip more, only for a batch holding one."""
    known = [
        sql.PartOf(part.message_id, part.seq, updates[index].stat, updates[index].received_at)
        for index, part in applied
        if (head := heads.get(part.message_id)) is not None and head.parts == 1 and (part.message_id, part.seq) in taken
    ]
    longer = sorted(m for m, head in heads.items() if head.parts != 1)
    return (known + sql.parts_of(conn, longer)()) if longer else known


def _find_parts(
    conn: Connection, wanted: Mapping[str, set[str]], *, locked: bool, declared: Collection[str] = ()
) -> dict[tuple[str, str], list[sql.KeyMatch]]:
    """The parts each (connector, receipt key) names: those stored under any spelling of the key
    (`ids.part_keys`), marked `same_base` when through its own. `locked`: under the receipts lock first.
    `declared`: connectors whose SMSC's bases are known, their keys already in the parts' base
    (`ids.receipt_key`): found by the key alone.

    The key itself is probed first, for the whole batch in one round trip; its other spellings only for the
    keys of "auto" connectors that found nothing (a second round trip, rare): a match through the key's own
    spelling always wins (`ids.best_match`), so what a re-spelling would find beside it is never used."""
    candidates: dict[tuple[str, str], list[sql.KeyMatch]] = {}
    probed = {c: sorted(key for key in keys if key) for c, keys in wanted.items()}
    probed = {c: keys for c, keys in probed.items() if keys}
    if not probed:
        return candidates
    with conn.batch():
        if locked:
            sql.lock_receipts(conn)
        found = {c: sql.parts_by_keys(conn, c, keys) for c, keys in probed.items()}
    others: dict[str, dict[str, list[ids.PartKey]]] = {}  # connector -> key found nothing -> its re-spellings
    for connector, rows in found.items():
        for match in rows():
            candidates.setdefault((connector, match.carrier_key), []).append(match)
        if connector in declared:
            continue
        for key in probed[connector]:
            if (connector, key) not in candidates:
                spellings = [k for k in ids.part_keys(key) if not k.same_base]
                if spellings:
                    others.setdefault(connector, {})[key] = spellings
    if not others:
        return candidates
    with conn.batch():
        again = {
            c: sql.parts_by_keys(conn, c, sorted({k.key for ks in by_key.values() for k in ks}))
            for c, by_key in others.items()
        }
    for connector, rows in again.items():
        stored: dict[str, list[sql.KeyMatch]] = {}
        for match in rows():
            stored.setdefault(match.carrier_key, []).append(match)
        for key, keys in others[connector].items():
            named = [
                sql.KeyMatch(key, m.message_id, m.seq, m.status, False) for k in keys for m in stored.get(k.key, ())
            ]
            if named:
                candidates[(connector, key)] = named
    return candidates


def parts_named(conn: Connection, connector: str, key: str, style: MessageIds = "auto") -> list[sql.KeyMatch]:
    """The parts one receipt key (`ids.receipt_key` under `style`) names on a connector (`_find_parts` for
    one)."""
    declared = () if ids.respelled(style) else (connector,)
    return _find_parts(conn, {connector: {key}}, locked=False, declared=declared).get((connector, key), [])


@dataclass(frozen=True, slots=True)
class ReceiptPlan:
    """What each receipt of a batch does: its outcome if decided without writing, the parts to take a final
    state (receipt index, part), the receipts kept as early."""

    outcomes: list[Applied]
    apply: list[tuple[int, sql.KeyMatch]]
    early: list[int]


def plan_receipts(
    updates: Sequence[ReceiptUpdate], keys: Sequence[str], candidates: Mapping[tuple[str, str], Sequence[sql.KeyMatch]]
) -> ReceiptPlan:
    """The pure rule for a batch: each receipt names the part `ids.best_match` picks among those its key finds,
    seeing the parts taken by the receipts before it in the batch as final (two receipts for one part: the first
    applies, the second is a duplicate; two parts sharing an id: each receipt takes a pending one)."""
    outcomes: list[Applied] = []
    apply: list[tuple[int, sql.KeyMatch]] = []
    early: list[int] = []
    final: dict[tuple[int, int], str] = {}  # parts taken earlier in this batch
    for index, (update, key) in enumerate(zip(updates, keys, strict=True)):
        if not statuses.is_final(update.stat):
            outcomes.append(Applied.INTERMEDIATE)
            continue
        found = [
            c if (taken := final.get((c.message_id, c.seq))) is None else replace(c, status=taken)
            for c in candidates.get((update.connector, key), ())
        ]  # replace() costs ~3 µs: only for the rare part taken earlier in the batch
        match = ids.best_match(found, MessageStatus.SUBMITTED)
        if match is None:
            outcomes.append(Applied.EARLY)
            early.append(index)
        elif match.status != MessageStatus.SUBMITTED:
            # Read in the other base, the id names a part already final: most likely it is the id of a part not
            # recorded yet (an all-digit id is ambiguous). Kept as early: its own part takes it when recorded,
            # and the later look (`retry_early`) drops it if no such part appears.
            outcomes.append(Applied.DUPLICATE if match.same_base else Applied.EARLY)
            if not match.same_base:
                early.append(index)
        else:
            outcomes.append(Applied.APPLIED)
            apply.append((index, match))
            final[(match.message_id, match.seq)] = update.stat
    return ReceiptPlan(outcomes, apply, early)


def apply_receipt(conn: Connection, update: ReceiptUpdate) -> Applied:
    [outcome] = apply_receipts(conn, [update])
    return outcome


def complete_messages(
    conn: Connection, heads: Sequence[sql.MessageHead], received: Mapping[int, int], parts: Sequence[sql.PartOf]
) -> int:
    """`complete_message` for several messages whose parts just took a final state (`heads` read under their
    row locks, `received`: message id -> when the latest of those receipts came, `parts`: their parts now),
    set-based: the final ones updated and their pushes written in one round trip. Returns how many became
    final."""
    by_message: dict[int, list[statuses.PartReceipt]] = {}
    for p in parts:
        by_message.setdefault(p.message_id, []).append(statuses.PartReceipt(p.status, p.received_at))
    finals = {}
    for head in heads:
        if head.status != MessageStatus.SUBMITTED:
            continue
        final = statuses.final_state(by_message.get(head.id, []), head.parts, received[head.id])
        if final is not None:
            finals[head.id] = (head, final)
    if not finals:
        return 0
    with conn.batch():
        done = sql.finish_messages(
            conn, [(m, f.status, f.receipt_status, f.delivered_at) for m, (_, f) in sorted(finals.items())]
        )
        # Written with the update, not after reading it back: the heads were read under their row locks (the
        # single writer on SQLite), so every message still submitted then takes its final state now.
        enqueue_pushes(conn, PushKind.RECEIPT, [
            (head.account_id, payloads.receipt_fields(ticket_for(head.campaign_id), head.recipient,
                                                      final.receipt_status, final.delivered_at))
            for _, (head, final) in sorted(finals.items())
        ], max(received.values(), default=0), [head.rest for _, (head, _) in sorted(finals.items())])  # fmt: skip
    if done() != set(finals):  # never: the locks above; rolled back rather than a push owed wrongly
        raise RuntimeError("a message locked for its receipt changed meanwhile")
    return len(finals)


def _keep_early(conn: Connection, key: str, update: ReceiptUpdate) -> None:
    sql.keep_early(conn, update.connector, key, update.stat, update.error, update.done_at, update.received_at)


def complete_message(conn: Connection, message_id: int, now: int) -> bool:
    """When every part of a submitted message has its final state: the message's, and ONE receipt push, dated
    when the gateway received the last final receipt."""
    head = sql.message_head(conn, message_id)
    if head is None or head.status != MessageStatus.SUBMITTED:
        return False
    parts = [statuses.PartReceipt(p.status, p.received_at) for p in sql.part_states(conn, message_id)]
    final = statuses.final_state(parts, head.parts, now)
    if final is None:
        return False
    if not sql.finish_message(conn, message_id, final.status, final.receipt_status, final.delivered_at):
        return False
    fields = payloads.receipt_fields(ticket_for(head.campaign_id), head.recipient, final.receipt_status,
                                     final.delivered_at)  # fmt: skip
    enqueue_push(conn, head.account_id, PushKind.RECEIPT, fields, now)
    return True


def apply_early(conn: Connection, message_id: int, connector: str, parts: Sequence[tuple[int, str]]) -> int:
    """Receipts that arrived before these just-recorded parts (seq, carrier id): applied now, then deleted.

    Early receipts are kept under their key (`ids.receipt_key`), looked up here by the part's: under a
    declared `message_ids` that is every receipt of the part; under "auto" only those that wrote the id in the
    part's own base (an all-digit id read in the other base could be another part's), the others are matched
    by `retry_early`.
    """
    applied = 0
    for seq, carrier_id in parts:
        key = ids.canonical(carrier_id)
        early = sql.early_by_key(conn, connector, key) if key else []
        if not early:
            continue
        first = early[0]
        sql.set_part(conn, message_id, seq, first.stat, first.done_at or first.received_at, first.error,
                     first.received_at)  # fmt: skip
        sql.delete_early(conn, [e.id for e in early])
        applied += 1
    return applied


def retry_early(
    conn: Connection, now: int, older_than: int, message_ids: Mapping[str, MessageIds] | None = None
) -> int:
    """Early receipts still waiting after `older_than` seconds: looked up again (their part may have been
    recorded by another process while the receipt was stored), each as its connector's `message_ids` says
    (absent: "auto"). Returns how many found their part.

    Pages through by id, so receipts that never find a part (another system on the same SMSC account) cannot
    hide the ones that will; those older than EARLY_HORIZON stay in the table for the operator, unscanned."""
    found = 0
    after = 0
    sql.lock_receipts(conn)
    for _ in range(EARLY_PAGES):
        page = sql.early_page(conn, after, now - EARLY_HORIZON + 1, now - older_than, EARLY_BATCH)
        for early in page:
            after = early.id
            style = (message_ids or {}).get(early.connector, "auto")
            named = parts_named(conn, early.connector, early.carrier_id, style)
            match = ids.best_match(named, MessageStatus.SUBMITTED)
            if match is None:
                continue
            sql.lock_message(conn, match.message_id)
            if match.status == MessageStatus.SUBMITTED and sql.set_part(
                conn, match.message_id, match.seq, early.stat, early.done_at or early.received_at, early.error,
                early.received_at,
            ):  # fmt: skip
                complete_message(conn, match.message_id, now)
            sql.delete_early(conn, [early.id])
            found += 1
        if len(page) < EARLY_BATCH:
            break
    return found


def expire_overdue(conn: Connection, now: int, validity: int, limit: int = EXPIRY_BATCH) -> int:
    """Messages whose final receipt has not come within their validity (seconds after their submission):
    final UNKNOWN_DELIVERY, each with its receipt push, in this transaction. At most `limit`; returns how many.

    Their parts keep waiting: a receipt arriving later still records its part's state for the operator, and
    owes no second push (the message is final already)."""
    given_up = sql.give_up_submitted(conn, now - validity, MessageStatus.UNDELIVERED,
                                     DeliveryStatus.UNKNOWN_DELIVERY, now, limit)  # fmt: skip
    for message in given_up:
        fields = payloads.receipt_fields(ticket_for(message.campaign_id), message.recipient,
                                         DeliveryStatus.UNKNOWN_DELIVERY, now)  # fmt: skip
        enqueue_push(conn, message.account_id, PushKind.RECEIPT, fields, now)
    return len(given_up)
