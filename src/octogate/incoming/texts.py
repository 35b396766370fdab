"""Incoming texts into store state, inside the caller's transaction: STOP versus reply, long texts joined from
their stored parts, and what a STOP does to the account's marketing still waiting to go out.

A STOP goes to the account that last sent the number a marketing message; any other text (or a STOP nobody sent
marketing to) is a reply to the campaign with replies the number last received, from any account. `sms_ticket`
of a reply push is the id of the message replied to (messages.id, in decimal).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from octogate.incoming import payloads
from octogate.incoming.keywords import is_stop
from octogate.incoming.model import IncomingPart, IncomingText
from octogate.octopush.errors import Code
from octogate.statuses import IncomingKind, PushKind
from octogate.store import delivery, queries
from octogate.store import incoming as sql
from octogate.store.callbacks import enqueue_push
from octogate.store.db import Connection
from octogate.store.delivery import ClaimedMessage
from octogate.store.incoming import FailedMessage, PartGroup, TextTarget
from octogate.store.queue import Want
from octogate.store.tickets import ticket_for

T = TypeVar("T")
#: why a queued marketing message was not sent (messages.error, shown by `octogate status`)
STOPPED_ERROR = f"{int(Code.BLACKLISTED)}: the number sent STOP after the campaign was accepted; not sent, refunded"


# --- pure rules ------------------------------------------------------------------------------------------------


def route_text(
    mo: IncomingText,
    stop: bool,
    last_marketing: Callable[[str], T | None],
    last_with_replies: Callable[[str], T | None],
) -> tuple[IncomingKind, T | None]:
    """What an incoming text is, and the message it answers (looked up only when needed)."""
    if not mo.complete:
        return IncomingKind.INCOMPLETE, None
    if mo.number is None:
        return IncomingKind.UNMATCHED, None
    if stop:
        found = last_marketing(mo.number)
        if found is not None:
            return IncomingKind.STOP, found
    found = last_with_replies(mo.number)
    if found is not None:
        return IncomingKind.REPLY, found
    return IncomingKind.UNMATCHED, None


def joined(parts: Sequence[tuple[int, str]], total: int) -> str | None:
    """A long text's parts (seq, text), joined in order once all `total` are there; None while some are missing."""
    if len({seq for seq, _ in parts}) < total:
        return None
    return "".join(text for _, text in sorted(parts))


def refunds(failed: Sequence[FailedMessage]) -> dict[int, int]:
    """What to give back per campaign for messages that were never sent."""
    owed: dict[int, int] = defaultdict(int)
    for message in failed:
        if message.cost:
            owed[message.campaign_id] += message.cost
    return dict(owed)


# --- transactions ------------------------------------------------------------------------------------------------


def take_text(conn: Connection, mo: IncomingText, stop: bool) -> IncomingKind:
    """Record an incoming text and act on it; returns its kind."""
    kind, target = route_text(
        mo, stop, lambda n: sql.last_marketing(conn, n), lambda n: sql.last_with_replies(conn, n)
    )
    sql.add_incoming(conn, mo.connector, mo.number or mo.source, mo.destination, mo.text, kind, target,
                     mo.received_at)  # fmt: skip
    if kind == IncomingKind.STOP:
        assert target is not None and mo.number is not None
        stop_number(conn, target.account_id, mo.number, mo.text[:160], mo.received_at)
        enqueue_push(conn, target.account_id, PushKind.STOP, payloads.stop_fields(mo.number, mo.text, mo.received_at),
                     mo.received_at, campaign_id=target.campaign_id)  # fmt: skip
    elif kind == IncomingKind.REPLY:
        assert target is not None and mo.number is not None
        _push_reply(conn, target, mo)
    return kind


def _push_reply(conn: Connection, target: TextTarget, mo: IncomingText) -> None:
    assert mo.number is not None
    fields = payloads.reply_fields(ticket_for(target.campaign_id), mo.number, mo.text, str(target.id), mo.received_at)
    enqueue_push(conn, target.account_id, PushKind.REPLY, fields, mo.received_at, campaign_id=target.campaign_id,
                 receiver=mo.destination)  # the REST reply's sim_card_number


@dataclass(frozen=True, slots=True)
class Stopped:
    added: bool  # False: the number was on the list already
    cancelled: int  # queued marketing messages failed (114) and refunded
    refunded: int  # EUR micro-units given back


def stop_number(conn: Connection, account_id: int, number: str, text: str | None, now: int) -> Stopped:
    """Put a number on an account's STOP list (an incoming STOP, or the operator), and, in the same transaction,
    fail the account's marketing messages to it still queued (deferred, or held for marketing hours) with code
    114 and refund them, one ledger row per campaign: numbers on the STOP list are neither sent nor billed.
    No receipt push for those: they were never sent. A message already claimed by a dispatcher at that very
    instant still goes (its claim committed first)."""
    added = queries.add_stop(conn, account_id, number, text, now)
    failed = sql.fail_queued_marketing(conn, account_id, number, STOPPED_ERROR, now)
    owed = refunds(failed)
    for campaign_id, amount in sorted(owed.items()):
        sql.refund(conn, account_id, amount, campaign_id, f"STOP from {number}: queued marketing not sent", now)
    return Stopped(added, len(failed), sum(owed.values()))


def take_part(conn: Connection, part: IncomingPart) -> IncomingKind | None:
    """Store a part; when it completes its text, take the text in the same transaction (returns its kind).

    None while parts are missing. A part delivered twice by the SMSC is stored once."""
    group = PartGroup(part.connector, part.source, part.destination, part.ref, part.total)
    sql.add_text_part(conn, group, part.seq, part.text, part.received_at)
    text = joined(sql.text_parts(conn, group), part.total)
    if text is None:
        return None
    sql.delete_text_parts(conn, group)
    mo = IncomingText(part.connector, part.source, part.number, part.destination, text, part.received_at)
    return take_text(conn, mo, is_stop(text))


def take_incomplete(conn: Connection, now: int, ttl: int, number_of: Callable[[str], str | None]) -> int:
    """Texts whose parts did not all arrive within `ttl` seconds: recorded as they are ('incomplete'), never
    dropped. Returns how many."""
    groups = sql.stale_groups(conn, now - ttl)
    for group in groups:
        text = "".join(t for _, t in sql.text_parts(conn, group))
        sql.delete_text_parts(conn, group)
        mo = IncomingText(group.connector, group.source, number_of(group.source), group.destination, text, now, False)
        take_text(conn, mo, False)
    return len(groups)


def claim_sendable(
    conn: Connection, owner: str, now: int, lease_until: int, want: Want, waiting: Sequence[int] | None = None
) -> list[ClaimedMessage]:
    """The dispatcher's claim, with the STOP list read at claim time: a marketing message (none of its parts sent
    yet) to a number on its account's STOP list is failed (114) and refunded in the claim's transaction instead
    of being handed out. This catches what `stop_number` could not: a message that was being sent when the STOP
    came and was queued again (throttled, released at a stop, lease taken over). `waiting`: the accounts with
    queued messages, when read already (`queue.keys_later`)."""
    claimed = delivery.claim_fair(conn, owner, now, lease_until, want, waiting)
    marketing: dict[int, list[ClaimedMessage]] = defaultdict(list)
    for message in claimed:
        if message.priority and not message.done_parts:
            marketing[message.account_id].append(message)
    dropped: set[int] = set()
    for account_id, messages in marketing.items():
        stopped = queries.stopped_numbers(conn, account_id, [m.recipient for m in messages])
        ids = [m.id for m in messages if m.recipient in stopped]
        if not ids:
            continue
        failed = delivery.fail_claimed(conn, owner, ids, STOPPED_ERROR, now)
        for campaign_id, amount in sorted(refunds(failed).items()):
            sql.refund(conn, account_id, amount, campaign_id, "on the STOP list at sending: not sent", now)
        dropped.update(ids)
    return [m for m in claimed if m.id not in dropped] if dropped else claimed
