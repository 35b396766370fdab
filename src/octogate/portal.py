"""The web console's use cases that are not the operator's (those are `operations.Operator`): console logins,
and what a signed-in customer reads and changes on their own account. Every read is scoped here to the
account the caller names, so that an edge cannot forget the scope; the console edge passes its session's.

Async (the console runs on the API's event loop): reads through `Store.read`, writes through `Store.write`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from octogate.incoming.ids import canonical
from octogate.keys import hash_api_key, new_api_key
from octogate.operations import Refused, checked_push_urls
from octogate.passwords import hash_password, password_matches
from octogate.service import normalise_login
from octogate.sms.numbers import NumberError, normalise
from octogate.store import binds, console_queries, inbox, incoming, outbox, queries
from octogate.store.binds import BindLease
from octogate.store.console_queries import (
    AccountTraffic,
    CampaignRow,
    FailingPushes,
    IncomingRow,
    OperatorLogin,
    PushRow,
    QueueDepth,
    RecipientRow,
    StopRow,
    TrafficCount,
)
from octogate.store.db import Connection
from octogate.store.records import Account, InboxRow
from octogate.store.store import Store
from octogate.store.tickets import campaign_id_for

__all__ = [
    "Account", "AccountTraffic", "BindLease", "CampaignRow", "FailingPushes", "InboxRow", "IncomingRow", "Page",
    "Portal", "PortalRefusal", "PushRow", "QueueDepth", "RecipientRow", "StopRow", "TrafficCount",
]  # fmt: skip

T = TypeVar("T")
MAX_CARRIER_IDS = 20_000  # what one sandbox page can show (50 phones x 50 messages x a few parts), bounded


class PortalRefusal(Exception):
    """A customer's action that cannot be done; one line meant for them."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: int | str | None  # the cursor of the next page, None on the last one


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session is: its role, id and login, and a fingerprint of the password it was opened with (a
    changed password closes every session opened with the old one)."""

    role: str  # customer | operator
    id: int
    login: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class CampaignDetail:
    campaign: CampaignRow
    counts: dict[str, int]


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def paged(rows: list[T], limit: int, cursor: Callable[[T], int | str]) -> Page[T]:
    """`rows` read with LIMIT limit + 1: the extra row only says there is a next page."""
    if len(rows) > limit:
        return Page(rows[:limit], cursor(rows[limit - 1]))
    return Page(rows, None)


class Portal:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    # --- logins --------------------------------------------------------------------------------------------------

    def session_secret(self) -> str:
        """The cluster's cookie-signing secret (made by the first console to start); read once, at start."""
        return self.store.run(console_queries.console_secret, secrets.token_urlsafe(32))

    def demo_password(self, login: str) -> str | None:
        """A console password for the demo account when it has none (returned to be printed once), else None."""
        password = "demo-" + secrets.token_urlsafe(9)
        password_hash = hash_password(password)

        def give(conn: Connection) -> bool:
            account = queries.account(conn, login)
            if console_queries.account_password_hash(conn, account.id) is not None:
                return False
            console_queries.set_account_password(conn, account.id, password_hash, int(self.clock()))
            return True

        return password if self.store.run(give) else None

    async def customer_login(self, login: str, password: str) -> SignedIn | None:
        login = normalise_login(login)[:300]

        def read(conn: Connection) -> tuple[Account | None, str | None]:
            found = conn.record(_AccountId, "SELECT id FROM accounts WHERE login = ?", (login,))
            if found is None:
                return None, None
            return console_queries.account_by_id(conn, found.id), console_queries.account_password_hash(
                conn, found.id
            )

        account, password_hash = await self.store.read(read)
        if not await asyncio.to_thread(password_matches, password, password_hash) or account is None:
            return None
        assert password_hash is not None
        return SignedIn("customer", account.id, account.login, fingerprint(password_hash))

    async def operator_login(self, login: str, password: str) -> SignedIn | None:
        found = await self.store.read(console_queries.operator_by_login, normalise_login(login)[:300])
        matches = await asyncio.to_thread(password_matches, password, found.password_hash if found else None)
        if found is None or not matches:
            return None
        return SignedIn("operator", found.id, found.login, fingerprint(found.password_hash))

    async def still_signed_in(self, role: str, user_id: int, print_: str) -> SignedIn | None:
        """The session's user, if it still exists with the same password."""
        if role == "customer":

            def read(conn: Connection) -> tuple[Account | None, str | None]:
                return console_queries.account_by_id(conn, user_id), console_queries.account_password_hash(
                    conn, user_id
                )

            account, password_hash = await self.store.read(read)
            if account is None or password_hash is None or fingerprint(password_hash) != print_:
                return None
            return SignedIn("customer", account.id, account.login, print_)
        if role == "operator":
            operator: OperatorLogin | None = await self.store.read(console_queries.operator_by_id, user_id)
            if operator is None or fingerprint(operator.password_hash) != print_:
                return None
            return SignedIn("operator", operator.id, operator.login, print_)
        return None

    # --- a customer's own account (account_id: the session's) --------------------------------------------------------

    async def account(self, account_id: int) -> Account:
        found = await self.store.read(console_queries.account_by_id, account_id)
        if found is None:
            raise PortalRefusal("this account no longer exists")
        return found

    async def traffic(self, account_id: int | None, hours: int) -> list[TrafficCount]:
        since = (int(self.clock()) // 3600 - hours + 1) * 3600
        return await self.store.read(console_queries.traffic, since, account_id)

    async def campaigns(
        self, account_id: int | None, before: int | None, limit: int, sms_type: str | None = None
    ) -> tuple[Page[CampaignRow], dict[int, dict[str, int]]]:
        def read(conn: Connection) -> tuple[list[CampaignRow], dict[int, dict[str, int]]]:
            rows = console_queries.campaigns_page(conn, account_id, before, limit + 1, sms_type)
            return rows, console_queries.status_counts(conn, [(r.id, r.recipients) for r in rows[:limit]])

        rows, counts = await self.store.read(read)
        return paged(rows, limit, lambda r: r.id), counts

    async def campaign(self, ticket: str, account_id: int | None) -> CampaignDetail | None:
        """A campaign by ticket; None when there is none, or when it is not `account_id`'s (None: any)."""
        campaign_id = campaign_id_for(ticket.strip()[:40])
        if campaign_id is None:
            return None

        def read(conn: Connection) -> CampaignDetail | None:
            found = console_queries.campaign(conn, campaign_id)
            if found is None or (account_id is not None and found.account_id != account_id):
                return None
            counts = console_queries.status_counts(conn, [(campaign_id, found.recipients)])[campaign_id]
            return CampaignDetail(found, counts)

        return await self.store.read(read)

    async def recipients(
        self, campaign_id: int, after: int | None, limit: int, status: str | None
    ) -> Page[RecipientRow]:
        """Only after `campaign` said the caller may see this campaign."""
        rows = await self.store.read(console_queries.recipients_page, campaign_id, after, limit + 1, status)
        return paged(rows, limit, lambda r: r.id)

    async def incoming(
        self, account_id: int, before: int | None, limit: int, kind: str | None
    ) -> Page[IncomingRow]:
        rows = await self.store.read(console_queries.incoming_page, account_id, before, limit + 1, kind)
        return paged(rows, limit, lambda r: r.id)

    async def stops(self, account_id: int, after: str | None, limit: int) -> Page[StopRow]:
        rows = await self.store.read(console_queries.stops_page, account_id, after, limit + 1)
        return paged(rows, limit, lambda r: r.number)

    async def remove_stop(self, account_id: int, raw_number: str) -> tuple[str, bool]:
        try:
            number = normalise(raw_number[:40]).e164
        except NumberError as error:
            raise PortalRefusal(str(error)) from None
        return number, await self.store.write(incoming.remove_stop, account_id, number)

    async def pushes(
        self, account_id: int | None, before: int | None, limit: int, status: str | None = None
    ) -> Page[PushRow]:
        rows = await self.store.read(console_queries.pushes_page, account_id, before, limit + 1, status)
        return paged(rows, limit, lambda r: r.id)

    async def push_attempts(self, account_id: int, push_id: int) -> list[outbox.PushAttempt]:
        def read(conn: Connection) -> list[outbox.PushAttempt]:
            owner = conn.fetchone("SELECT account_id FROM callbacks WHERE id = ?", (push_id,))
            if owner is None or int(owner[0]) != account_id:
                return []
            return outbox.attempts(conn, push_id)

        return await self.store.read(read)

    async def push_urls(self, account_id: int) -> dict[str, str | None]:
        """Every push URL of the account by kind (`PUSH_URL_KINDS`), None where it has none."""
        account = await self.account(account_id)
        return await self.store.read(outbox.account_urls, account.login)

    async def set_push_urls(self, account_id: int, changes: Mapping[str, str | None]) -> None:
        try:
            checked = checked_push_urls(changes)
        except Refused as refusal:
            raise PortalRefusal(str(refusal)) from None
        account = await self.account(account_id)
        await self.store.write(outbox.set_urls, account.login, checked)

    async def rotate_key(self, account_id: int) -> str:
        """A new API key (the old one stops working at once): returned to be shown once, stored as its hash."""
        key = new_api_key()
        account = await self.account(account_id)
        await self.store.write(queries.set_api_key_hash, account.login, hash_api_key(key))
        return key

    # --- the operator's reads (their actions go through operations.Operator, audited) -----------------------

    async def accounts(self, after: str | None, limit: int, prefix: str | None) -> Page[Account]:
        wanted = normalise_login(prefix)[:100] if prefix else None
        rows = await self.store.read(console_queries.accounts_page, after, limit + 1, wanted)
        return paged(rows, limit, lambda a: a.login)

    async def account_by_login(self, login: str) -> Account | None:
        def read(conn: Connection) -> Account | None:
            found = conn.record(
                _AccountId, "SELECT id FROM accounts WHERE login = ?", (normalise_login(login)[:300],)
            )
            return None if found is None else console_queries.account_by_id(conn, found.id)

        return await self.store.read(read)

    async def queue_depth(self) -> QueueDepth:
        return await self.store.read(console_queries.queue_depth)

    async def failing_pushes(self, limit: int = 200) -> list[FailingPushes]:
        return await self.store.read(console_queries.failing_pushes, limit)

    async def traffic_by_account(self, hours: int) -> list[AccountTraffic]:
        since = (int(self.clock()) // 3600 - hours + 1) * 3600
        return await self.store.read(console_queries.traffic_by_account, since)

    async def bind_leases(self) -> tuple[list[BindLease], int]:
        """Every bind lease, and the database's clock (ms) to tell the held ones from those run out."""

        def read(conn: Connection) -> tuple[list[BindLease], int]:
            return binds.leases(conn), binds.database_now_ms(conn)

        return await self.store.read(read)

    async def inbox(self, limit: int, login: str | None) -> list[InboxRow]:
        return await self.store.read(inbox.recent, limit, normalise_login(login)[:300] if login else None)

    async def owned_carrier_ids(self, account_id: int, connector: str, carrier_ids: list[str]) -> set[str]:
        """Of the carrier message ids a connector gave (the sandbox page's parts), those of the account's own
        messages: the SQL matches canonical keys (`incoming.ids.canonical`), the ids come back as given."""
        by_key: dict[str, list[str]] = {}
        for raw in carrier_ids[:MAX_CARRIER_IDS]:
            key = canonical(raw)
            if key:
                by_key.setdefault(key, []).append(raw)
        if not by_key:
            return set()
        keys = await self.store.read(console_queries.owned_carrier_keys, account_id, connector, list(by_key))
        return {raw for key in keys for raw in by_key.get(key, ())}

    async def paused(self) -> bool:
        return (await self.store.read(queries.gateway_state)).paused


@dataclass(frozen=True, slots=True)
class _AccountId:
    id: int
