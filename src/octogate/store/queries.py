"""Every SQL statement of octogate's accounts, campaigns and prices, written once for SQLite and PostgreSQL.

Functions take a `Connection` and run inside the caller's transaction: the group-commit writer, a CLI
command or a test decides where a transaction starts and ends. All statements are parameterised.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from octogate.store import queue
from octogate.store.db import Connection, IntegrityError, Row, pipelined_when
from octogate.store.records import (
    ACCOUNT_COLUMNS,
    FLAG_COLUMNS,
    AcceptedCampaign,
    Account,
    DuplicateRequest,
    GatewayState,
    InsufficientCredit,
    LedgerEntry,
    NewCampaign,
    PriceRow,
    StoredMessage,
    UnknownAccount,
    account_from_row,
    account_record,
    gateway_state_record,
)
from octogate.store.tickets import ticket_for

LOOKUP_CHUNK = 500
MESSAGE_COLUMNS = (
    "campaign_id", "account_id", "recipient", "country", "calling_code", "text", "sms", "cost", "priority", "send_at"
)  # fmt: skip


GATEWAY_AND_ACCOUNT = (
    "SELECT g.paused, g.prices_version, a.id, a.login, a.api_key_hash, a.balance, a.currency, a.activated, "
    "a.blacklisted, a.pending_order, a.transliterate, a.receipt_url, a.stop_url, a.reply_url, "
    "EXISTS (SELECT 1 FROM stops s WHERE s.account_id = a.id) "
    "FROM gateway_state g LEFT JOIN accounts a ON a.login = ? WHERE g.id = 1"
)


# --- gateway state -------------------------------------------------------------------------------------------


def _always(*args: object) -> bool:
    return True


@pipelined_when(_always)
def gateway_and_account(conn: Connection, login: str) -> tuple[GatewayState, Account | None, bool]:
    """One read per API call: the operator's switches, the caller's account (None if no such login), and
    whether that account has a STOP list at all (most have none: their campaigns skip that lookup). One
    statement, so PostgreSQL reads of many calls are pipelined together (Store.read)."""

    def finish(row: Row | None) -> tuple[GatewayState, Account | None, bool]:
        assert row is not None, "gateway_state has its one row from the first migration"
        state = GatewayState(paused=bool(row[0]), prices_version=row[1])
        if row[2] is None:
            return state, None, False
        return state, account_from_row(row[2:14]), bool(row[14])

    return conn.deferred(GATEWAY_AND_ACCOUNT, (login,), finish)


def gateway_state(conn: Connection) -> GatewayState:
    state = conn.record(gateway_state_record, "SELECT paused, prices_version FROM gateway_state WHERE id = 1")
    assert state is not None, "gateway_state has its one row from the first migration"
    return state


def set_paused(conn: Connection, paused: bool) -> None:
    conn.execute("UPDATE gateway_state SET paused = ? WHERE id = 1", (int(paused),))


# --- accounts --------------------------------------------------------------------------------------------------


def create_account(conn: Connection, login: str, api_key_hash: str, credit: int, now: int) -> Account:
    try:
        row = conn.fetchone(
            "INSERT INTO accounts (login, api_key_hash, balance, created_at) VALUES (?, ?, 0, ?) RETURNING id",
            (login, api_key_hash, now),
        )
    except IntegrityError:
        raise DuplicateRequest(f"an account with login {login!r} already exists") from None
    assert row is not None
    if credit:
        add_credit(conn, login, credit, "initial credit", now)
    return account(conn, login)


def account(conn: Connection, login: str) -> Account:
    found = conn.record(account_record, f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login = ?", (login,))  # noqa: S608
    if found is None:
        raise UnknownAccount(login)
    return found


def accounts(conn: Connection) -> list[Account]:
    return conn.records(account_record, f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY login")  # noqa: S608


def add_credit(conn: Connection, login: str, amount: int, note: str, now: int) -> int:
    """Credit (or, negative, debit) an account by hand; never below zero. Returns the new balance."""
    credited = conn.record(
        _Credited,
        "UPDATE accounts SET balance = balance + ? WHERE login = ? AND balance + ? >= 0 RETURNING id, balance",
        (amount, login, amount),
    )
    if credited is None:
        account(conn, login)  # raises UnknownAccount if that is the reason
        raise InsufficientCredit(order_pending=False)
    conn.execute(
        "INSERT INTO ledger (account_id, amount, balance_after, reason, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (credited.id, amount, credited.balance, "credit", note, now),
    )
    return int(credited.balance)


@dataclass(frozen=True, slots=True)
class _Credited:
    id: int
    balance: int


ACCOUNT_FLAGS = frozenset(FLAG_COLUMNS)


def set_account_flags(conn: Connection, login: str, flags: dict[str, bool]) -> Account:
    unknown = set(flags) - ACCOUNT_FLAGS
    if unknown:
        raise ValueError(f"unknown account flags: {sorted(unknown)}")
    for name, value in flags.items():
        conn.execute(f"UPDATE accounts SET {name} = ? WHERE login = ?", (int(value), login))  # noqa: S608
    return account(conn, login)


def set_api_key_hash(conn: Connection, login: str, api_key_hash: str) -> None:
    if (
        conn.execute("UPDATE accounts SET api_key_hash = ? WHERE login = ?", (api_key_hash, login)).rowcount
        != 1
    ):
        raise UnknownAccount(login)


def ledger(conn: Connection, account_id: int, limit: int = 50) -> list[LedgerEntry]:
    """An account's latest movements, newest first."""
    return conn.records(
        LedgerEntry,
        "SELECT amount, balance_after, reason, campaign_id, note, created_at FROM ledger "
        "WHERE account_id = ? ORDER BY id DESC LIMIT ?",
        (account_id, limit),
    )


# --- STOP list ------------------------------------------------------------------------------------------------


def stopped_numbers(conn: Connection, account_id: int, numbers: Sequence[str]) -> set[str]:
    """Which of `numbers` are on the account's STOP list (looked up by chunks: bounded statements)."""
    if not conn.fetchone("SELECT 1 FROM stops WHERE account_id = ? LIMIT 1", (account_id,)):
        return set()
    found: set[str] = set()
    for start in range(0, len(numbers), LOOKUP_CHUNK):
        chunk = numbers[start : start + LOOKUP_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = conn.fetchall(
            f"SELECT number FROM stops WHERE account_id = ? AND number IN ({marks})",  # noqa: S608
            (account_id, *chunk),
        )
        found.update(row[0] for row in rows)
    return found


def add_stop(conn: Connection, account_id: int, number: str, text: str | None, now: int) -> bool:
    """Put a number on the STOP list; False if it was there already."""
    cursor = conn.execute(
        "INSERT INTO stops (account_id, number, text, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (account_id, number, text, now),
    )
    return bool(cursor.rowcount)


# --- campaigns -------------------------------------------------------------------------------------------------


def request_id_used(conn: Connection, account_id: int, request_id: str) -> bool:
    row = conn.fetchone(
        "SELECT 1 FROM campaigns WHERE account_id = ? AND request_id = ?", (account_id, request_id)
    )
    return row is not None


#: Campaigns up to this many messages go to PostgreSQL as one statement (below); bigger ones use COPY.
ONE_STATEMENT_MESSAGES = 200

# The whole of a campaign in one statement, for PostgreSQL: one round trip, no savepoint needed, since a
# refusal writes nothing. The duplicate check comes first (120 before 104); the debit carries the credit check;
# the campaign row, its ledger row and its messages are written only if the debit was. A request_id taken by a
# concurrent transaction (not visible yet) raises a unique violation instead: see insert_campaign.
# PostgreSQL-only, so psycopg's named placeholders (each value sent once); the messages go as one JSON array
# of [recipient, country, calling_code, text, sms, cost] (cheaper to send than six arrays), unpacked in order.
# The dispatchers' wake-up (NOTIFY, delivered at commit) is part of the statement, only for a stored campaign:
# a `SELECT pg_notify` of its own was a second statement per request for the backend. `notified` must be
# read in the final SELECT: a CTE nothing refers to is not run.
INSERT_CAMPAIGN_AT_ONCE = (
    "WITH dup AS (SELECT EXISTS (SELECT 1 FROM campaigns WHERE account_id = %(account)s::bigint "
    "AND request_id = %(request_id)s::text) AS found), "
    "debit AS (UPDATE accounts SET balance = balance - %(cost)s::bigint "
    "WHERE id = %(account)s::bigint AND balance >= %(cost)s::bigint AND NOT (SELECT found FROM dup) "
    "RETURNING balance), "
    "campaign AS (INSERT INTO campaigns (account_id, request_id, source, sms_type, sender, sender_is_msisdn, "
    "text, transactional, with_replies, recipients, sms, cost, send_at, created_at) "
    "SELECT %(account)s::bigint, %(request_id)s::text, %(source)s::text, %(sms_type)s::text, "
    "%(sender)s::text, %(sender_is_msisdn)s::integer, %(text)s::text, %(transactional)s::integer, "
    "%(with_replies)s::integer, %(recipients)s::integer, %(sms)s::integer, %(cost)s::bigint, "
    "%(send_at)s::bigint, %(now)s::bigint FROM debit RETURNING id), "
    "ledger_row AS (INSERT INTO ledger (account_id, amount, balance_after, reason, campaign_id, created_at) "
    "SELECT %(account)s::bigint, -%(cost)s::bigint, debit.balance, 'campaign', campaign.id, %(now)s::bigint "
    "FROM debit, campaign), "
    "queued AS (INSERT INTO messages (campaign_id, account_id, recipient, country, calling_code, text, sms, "
    "cost, priority, send_at) "
    "SELECT campaign.id, %(account)s::bigint, m.value->>0, m.value->>1, (m.value->>2)::integer, m.value->>3, "
    "(m.value->>4)::integer, (m.value->>5)::bigint, %(priority)s::integer, %(send_at)s::bigint "
    "FROM campaign, json_array_elements(%(messages)s::json) WITH ORDINALITY AS m(value, n) ORDER BY m.n), "
    "notified AS (SELECT pg_notify(%(channel)s::text, '') FROM campaign) "
    "SELECT (SELECT id FROM campaign) AS campaign_id, (SELECT balance FROM debit) AS balance, "
    "(SELECT found FROM dup) AS duplicate, "
    "CASE WHEN (SELECT id FROM campaign) IS NULL "  # a refusal only: another walk of the account's versions
    "THEN (SELECT pending_order FROM accounts WHERE id = %(account)s::bigint) END AS pending_order, "
    "(SELECT count(*) FROM notified) AS notified"
)


def _at_once(campaign: NewCampaign, now: int) -> bool:
    return len(campaign.messages) <= ONE_STATEMENT_MESSAGES


@pipelined_when(_at_once)
def insert_campaign(conn: Connection, campaign: NewCampaign, now: int) -> AcceptedCampaign:
    """Store a campaign whole and debit it, or raise and leave nothing (run inside a savepoint).

    The campaign row goes first so that a reused request_id (120) is reported before a lack of credit (104).
    On PostgreSQL a small campaign is one statement (`INSERT_CAMPAIGN_AT_ONCE`), which the group-commit
    writer may pipeline with others; inside its pipeline the result is a `Deferred`.
    """
    if conn.dialect == "postgresql" and _at_once(campaign, now):
        return _insert_campaign_at_once(conn, campaign, now)  # it notifies the dispatchers itself
    try:
        [campaign_id] = _insert_campaign_rows(conn, [(campaign, now)])
    except IntegrityError:
        raise DuplicateRequest(campaign.request_id) from None
    debited = conn.fetchone(
        "UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ? RETURNING balance",
        (campaign.cost, campaign.account_id, campaign.cost),
    )
    if debited is None:
        pending = conn.fetchone("SELECT pending_order FROM accounts WHERE id = ?", (campaign.account_id,))
        raise InsufficientCredit(order_pending=bool(pending and pending[0]))
    balance = int(debited[0])
    _insert_debited_rows(conn, [(campaign, campaign_id, balance, now)])
    queue.notify(conn, queue.MESSAGES)  # every host's dispatcher claims it once this commits
    return AcceptedCampaign(campaign_id=campaign_id, ticket=ticket_for(campaign_id), balance=balance)


CAMPAIGN_COLUMNS = (
    "account_id, request_id, source, sms_type, sender, sender_is_msisdn, text, transactional, with_replies, "
    "recipients, sms, cost, send_at, created_at"
)
CAMPAIGN_MARKS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
LEDGER_COLUMNS = ("account_id", "amount", "balance_after", "reason", "campaign_id", "created_at")
CAMPAIGN_ROWS_PER_STATEMENT = 500  # 14 parameters a row: well under SQLite's 32,766


def _campaign_values(campaign: NewCampaign, now: int) -> tuple[object, ...]:
    return (
        campaign.account_id, campaign.request_id, campaign.source, campaign.sms_type, campaign.sender,
        int(campaign.sender_is_msisdn), campaign.text, int(campaign.transactional),
        int(campaign.with_replies), len(campaign.messages), campaign.sms, campaign.cost,
        campaign.send_at, now,
    )  # fmt: skip


def _insert_campaign_rows(conn: Connection, campaigns: Sequence[tuple[NewCampaign, int]]) -> list[int]:
    """The campaigns' rows by one statement per CAMPAIGN_ROWS_PER_STATEMENT (SQLite's groups; one row for a
    single campaign, and for PostgreSQL's campaigns too big for one statement); their ids in the campaigns'
    order. SQLite emits RETURNING rows in no promised order, but a statement's new rows get increasing ids
    (AUTOINCREMENT, rows inserted in VALUES order): sorted, they are the campaigns' ids in order."""
    ids: list[int] = []
    for start in range(0, len(campaigns), CAMPAIGN_ROWS_PER_STATEMENT):
        chunk = campaigns[start : start + CAMPAIGN_ROWS_PER_STATEMENT]
        marks = ", ".join([CAMPAIGN_MARKS] * len(chunk))
        values = [value for campaign, now in chunk for value in _campaign_values(campaign, now)]
        rows = conn.fetchall(
            f"INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) VALUES {marks} RETURNING id", values  # noqa: S608
        )
        assert len(rows) == len(chunk)
        ids.extend(sorted(int(row[0]) for row in rows))
    return ids


def _insert_debited_rows(conn: Connection, debited: Sequence[tuple[NewCampaign, int, int, int]]) -> None:
    """Debited campaigns' (campaign, id, balance after its debit, now) ledger rows by one statement, and their
    messages, queued in the campaigns' order, by another."""
    ledger = [(c.account_id, -c.cost, after, "campaign", campaign_id, now) for c, campaign_id, after, now in debited]
    conn.bulk_insert("ledger", LEDGER_COLUMNS, ledger)
    conn.bulk_insert(
        "messages",
        MESSAGE_COLUMNS,
        (
            (campaign_id, campaign.account_id, m.recipient, m.country, m.calling_code, m.text, m.sms, m.cost,
             0 if campaign.transactional else 1, campaign.send_at)
            for campaign, campaign_id, _, _ in debited
            for m in campaign.messages
        ),
    )  # fmt: skip


def _insert_campaign_at_once(conn: Connection, campaign: NewCampaign, now: int) -> AcceptedCampaign:
    params = {
        "account": campaign.account_id, "request_id": campaign.request_id, "cost": campaign.cost,
        "source": campaign.source, "sms_type": campaign.sms_type, "sender": campaign.sender,
        "sender_is_msisdn": int(campaign.sender_is_msisdn), "text": campaign.text,
        "transactional": int(campaign.transactional), "with_replies": int(campaign.with_replies),
        "recipients": len(campaign.messages), "sms": campaign.sms, "send_at": campaign.send_at, "now": now,
        "priority": 0 if campaign.transactional else 1, "channel": queue.channel(conn, queue.MESSAGES),
        "messages": json.dumps(
            [(m.recipient, m.country, m.calling_code, m.text, m.sms, m.cost) for m in campaign.messages]
        ),
    }  # fmt: skip

    def finish(row: Row | None) -> AcceptedCampaign:
        assert row is not None, "the statement always answers one row"
        campaign_id, balance, duplicate, pending_order, _ = row
        if campaign_id is not None:
            return AcceptedCampaign(campaign_id=campaign_id, ticket=ticket_for(campaign_id), balance=balance)
        if duplicate:
            raise DuplicateRequest(campaign.request_id)
        raise InsufficientCredit(order_pending=bool(pending_order))

    try:
        return conn.deferred(INSERT_CAMPAIGN_AT_ONCE, params, finish)
    except IntegrityError:  # a request_id taken by a transaction that committed after this one's snapshot
        raise DuplicateRequest(campaign.request_id) from None


# Several campaigns of one account, none with a request_id, stored and debited by one statement: one debit
# (one new version of the account's row, not one per campaign: PostgreSQL walks those versions on every
# lookup of the account until a vacuum), one round trip, one NOTIFY. The account pays for all of them or the
# statement writes nothing (the caller then stores each alone, refusing exactly those that sequential debits
# would). Ids are drawn from the campaigns' sequence first, so each campaign's id, and its balance after its
# own debit (in the group's order), go back in order; the sequence is looked up once per statement (an InitPlan:
# per row, pg_get_serial_sequence cost ~5 µs of catalog lookups, nextval alone ~1 µs).
INSERT_CAMPAIGNS_TOGETHER = (
    "WITH debit AS (UPDATE accounts SET balance = balance - %(total)s::bigint "
    "WHERE id = %(account)s::bigint AND balance >= %(total)s::bigint RETURNING balance), "
    "c AS (SELECT x.n AS ord, nextval((SELECT pg_get_serial_sequence('campaigns', 'id'))::regclass) AS id, "
    "debit.balance + %(total)s::bigint - sum((x.v->>9)::bigint) OVER (ORDER BY x.n) AS after, "
    "x.v->>0 AS source, x.v->>1 AS sms_type, x.v->>2 AS sender, (x.v->>3)::integer AS sender_is_msisdn, "
    "x.v->>4 AS text, (x.v->>5)::integer AS transactional, (x.v->>6)::integer AS with_replies, "
    "(x.v->>7)::integer AS recipients, (x.v->>8)::integer AS sms, (x.v->>9)::bigint AS cost, "
    "(x.v->>10)::bigint AS send_at, (x.v->>11)::bigint AS created_at "
    "FROM debit, json_array_elements(%(campaigns)s::json) WITH ORDINALITY AS x(v, n)), "
    "campaign AS (INSERT INTO campaigns (id, account_id, request_id, source, sms_type, sender, sender_is_msisdn, "
    "text, transactional, with_replies, recipients, sms, cost, send_at, created_at) "
    "SELECT id, %(account)s::bigint, NULL, source, sms_type, sender, sender_is_msisdn, text, transactional, "
    "with_replies, recipients, sms, cost, send_at, created_at FROM c ORDER BY ord), "
    "ledger_row AS (INSERT INTO ledger (account_id, amount, balance_after, reason, campaign_id, created_at) "
    "SELECT %(account)s::bigint, -cost, after, 'campaign', id, created_at FROM c ORDER BY ord), "
    "queued AS (INSERT INTO messages (campaign_id, account_id, recipient, country, calling_code, text, sms, "
    "cost, priority, send_at) "
    "SELECT c.id, %(account)s::bigint, m.value->>1, m.value->>2, (m.value->>3)::integer, m.value->>4, "
    "(m.value->>5)::integer, (m.value->>6)::bigint, 1 - c.transactional, c.send_at "
    "FROM json_array_elements(%(messages)s::json) WITH ORDINALITY AS m(value, n) "
    "JOIN c ON c.ord = (m.value->>0)::bigint ORDER BY m.n), "
    "notified AS (SELECT pg_notify(%(channel)s::text, '') FROM debit) "
    "SELECT (SELECT array_agg(id ORDER BY ord) FROM c) AS ids, (SELECT array_agg(after ORDER BY ord) FROM c), "
    "(SELECT count(*) FROM notified) AS notified"
)


def _together(campaigns: Sequence[tuple[NewCampaign, int]]) -> bool:
    return True


@pipelined_when(_together)
def insert_campaigns(
    conn: Connection, campaigns: Sequence[tuple[NewCampaign, int]]
) -> list[AcceptedCampaign] | None:
    """(campaign, now) pairs of ONE account, none with a request_id, stored and debited as `insert_campaign`
    would one after the other, if the account can pay for all of them; else None, and nothing is written.

    On PostgreSQL one statement (`INSERT_CAMPAIGNS_TOGETHER`, each campaign of at most ONE_STATEMENT_MESSAGES
    messages); on SQLite one debit, then all the campaigns' rows, ledger rows and messages by a statement each
    (the writer holds the write lock): 3 statements a group, not 3 a campaign."""
    account_id = campaigns[0][0].account_id
    assert all(c.account_id == account_id and c.request_id is None for c, _ in campaigns)
    total = sum(c.cost for c, _ in campaigns)
    if conn.dialect == "postgresql":
        return _insert_campaigns_together(conn, campaigns, account_id, total)
    debited = conn.fetchone(
        "UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ? RETURNING balance",
        (total, account_id, total),
    )
    if debited is None:
        return None
    balance = int(debited[0]) + total
    ids = _insert_campaign_rows(conn, campaigns)
    accepted, debited_rows = [], []
    for (campaign, now), campaign_id in zip(campaigns, ids, strict=True):
        balance -= campaign.cost
        debited_rows.append((campaign, campaign_id, balance, now))
        accepted.append(AcceptedCampaign(campaign_id=campaign_id, ticket=ticket_for(campaign_id), balance=balance))
    _insert_debited_rows(conn, debited_rows)
    queue.notify(conn, queue.MESSAGES)
    return accepted


def _insert_campaigns_together(
    conn: Connection, campaigns: Sequence[tuple[NewCampaign, int]], account_id: int, total: int
) -> list[AcceptedCampaign] | None:
    params = {
        "account": account_id, "total": total, "channel": queue.channel(conn, queue.MESSAGES),
        "campaigns": json.dumps([
            (c.source, c.sms_type, c.sender, int(c.sender_is_msisdn), c.text, int(c.transactional),
             int(c.with_replies), len(c.messages), c.sms, c.cost, c.send_at, now)
            for c, now in campaigns
        ]),
        "messages": json.dumps([
            (n, m.recipient, m.country, m.calling_code, m.text, m.sms, m.cost)
            for n, (c, _) in enumerate(campaigns, start=1)
            for m in c.messages
        ]),
    }  # fmt: skip

    def finish(row: Row | None) -> list[AcceptedCampaign] | None:
        assert row is not None, "the statement always answers one row"
        ids, balances, _ = row
        if ids is None:
            return None  # the account cannot pay for the whole group: nothing was written
        return [
            AcceptedCampaign(campaign_id=int(i), ticket=ticket_for(int(i)), balance=int(b))
            for i, b in zip(ids, balances, strict=True)
        ]

    return conn.deferred(INSERT_CAMPAIGNS_TOGETHER, params, finish)


def campaign_messages(conn: Connection, campaign_id: int) -> list[StoredMessage]:
    """A campaign's messages, in insertion order."""
    return conn.records(
        StoredMessage,
        "SELECT recipient, country, sms, cost, status, send_at FROM messages WHERE campaign_id = ? ORDER BY id",
        (campaign_id,),
    )


def count_campaigns(conn: Connection, account_id: int) -> int:
    row = conn.fetchone("SELECT COUNT(*) FROM campaigns WHERE account_id = ?", (account_id,))
    return int(row[0]) if row else 0


# --- prices ------------------------------------------------------------------------------------------------------

def price_rows(conn: Connection) -> list[PriceRow]:
    return conn.records(
        PriceRow, "SELECT calling_code, country, name, fr, xxx, www FROM prices ORDER BY calling_code"
    )


def replace_prices(conn: Connection, rows: Iterable[PriceRow]) -> int:
    """Replace the whole table and bump its version, so every running process reloads it."""
    conn.execute("DELETE FROM prices")
    conn.executemany(
        "INSERT INTO prices (calling_code, country, name, fr, xxx, www) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
    row = conn.fetchone(
        "UPDATE gateway_state SET prices_version = prices_version + 1 WHERE id = 1 RETURNING prices_version"
    )
    assert row is not None
    return int(row[0])
