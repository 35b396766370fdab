"""The operator's use cases: accounts, credit, prices, push URLs, pause, pushes, STOP lists, what came back.

Called by the CLI and by any later edge (an admin API...): every rule about what an operator may do is written
here once, and no edge reaches into the store's modules. Each call is one transaction (`Store.run`), as an
operator's command is, so the methods are synchronous. A refusal is `Refused`, one line meant for the operator.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from octogate.callbacks.targets import BadCallbackURL, check_url
from octogate.incoming.texts import Stopped, stop_number
from octogate.keys import hash_api_key, new_api_key
from octogate.passwords import WeakPassword, check_password, hash_password
from octogate.service import normalise_login
from octogate.sms.money import format_money, to_micro
from octogate.sms.numbers import NumberError, normalise
from octogate.sms.prices import PriceTable
from octogate.statuses import PushKind
from octogate.store import (
    connector_pauses,
    console_queries,
    health,
    inbox,
    incoming,
    outbox,
    push_secrets,
    queries,
)
from octogate.store import rest as rest_sql
from octogate.store.connector_pauses import ConnectorPause
from octogate.store.console_queries import AuditEntry
from octogate.store.db import Connection
from octogate.store.incoming import CampaignView, IncomingRow, StopRow
from octogate.store.prices import price_table_from_rows, rows_from_price_table
from octogate.store.records import (
    Account,
    DuplicateRequest,
    InboxRow,
    InsufficientCredit,
    PriceRow,
    UnknownAccount,
)
from octogate.store.store import Store
from octogate.store.tickets import campaign_id_for, ticket_as_sent, ticket_for

# What an edge needs to show the results, re-exported so that no edge imports the store's modules.
__all__ = [
    "PUSH_KINDS", "PUSH_URL_KINDS", "REST_PUSH_KINDS", "Account", "AuditEntry", "CampaignView", "InboxRow",
    "IncomingRow", "NewAccount", "Operator", "PriceChange", "Refused", "StopRow", "ticket_as_sent", "ticket_for",
]  # fmt: skip

T = TypeVar("T")
PUSH_KINDS: tuple[str, ...] = tuple(PushKind)  # one URL per kind, in this order
REST_PUSH_KINDS: tuple[str, ...] = tuple(f"rest_{kind}" for kind in PushKind)  # the REST API's JSON pushes
PUSH_URL_KINDS: tuple[str, ...] = (*PUSH_KINDS, *REST_PUSH_KINDS)  # every URL an account has, in this order
MAX_LOGIN = 254
MAX_NOTE = 200
#: An account's balance stays below this (micro-euros: 1,000,000,000 EUR): far from the 64-bit integer the
#: databases keep it in, which SQLite would otherwise silently turn into a float (and PostgreSQL refuse).
MAX_BALANCE = 10**15
#: The largest integer (row id, epoch) either database keeps: ids and page cursors typed by hand stay below it.
MAX_INTEGER = 2**63 - 1
AMOUNT = re.compile(r"[+-]?[0-9]{1,10}(\.[0-9]{1,6})?")
PUSH_SECRET_LENGTH = (16, 128)  # characters: shorter is guessable, longer is a mistake


class Refused(Exception):
    """An operator action that cannot be done; the message is one line saying why."""


def checked_push_urls(changes: Mapping[str, str | None]) -> dict[str, str | None]:
    """Push URL changes by kind (None: clear), each URL checked as a push target; Refused on an unknown kind or a
    URL that cannot be one. The operator's and the customer's edits both go through here."""
    checked: dict[str, str | None] = {}
    for kind, url in changes.items():
        if kind not in PUSH_URL_KINDS:
            raise Refused(f"no push kind {kind[:20]!r}: {', '.join(PUSH_URL_KINDS)}")
        try:
            checked[kind] = None if url is None else check_url(url)
        except BadCallbackURL as error:
            raise Refused(str(error)) from None
    return checked


@dataclass(frozen=True, slots=True)
class NewAccount:
    account: Account
    api_key: str  # shown once: only its hash is stored


@dataclass(frozen=True, slots=True)
class PriceChange:
    calling_code: int
    country: str
    name: str
    change: str  # added | removed | changed
    before: tuple[int | None, int | None, int | None] | None  # FR, XXX, WWW in micro-units (None: not offered)
    after: tuple[int | None, int | None, int | None] | None


def price_changes(old: list[PriceRow], new: list[PriceRow]) -> list[PriceChange]:
    """Countries added, removed or repriced, by calling code."""
    before = {row.calling_code: row for row in old}
    after = {row.calling_code: row for row in new}
    changes = []
    for code in sorted(before.keys() | after.keys()):
        was, now = before.get(code), after.get(code)
        old_prices = None if was is None else (was.fr, was.xxx, was.www)
        new_prices = None if now is None else (now.fr, now.xxx, now.www)
        if old_prices == new_prices and (was is None or now is None or was.name == now.name):
            continue
        row = now or was
        assert row is not None
        kind = "added" if was is None else "removed" if now is None else "changed"
        changes.append(PriceChange(code, row.country, row.name, kind, old_prices, new_prices))
    return changes


class Operator:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time, actor: str = "cli") -> None:
        self.store = store
        self.clock = clock
        #: who acts, for the audit log: "cli" (the shell's user has the database), or "operator:LOGIN"
        self.actor = actor[:MAX_LOGIN + 16]

    # --- accounts -----------------------------------------------------------------------------------------------

    def create_account(self, login: str, credit: str = "0") -> NewAccount:
        login = check_login(login)
        initial = amount(credit)
        if initial < 0:
            raise Refused("the initial credit cannot be negative")
        key = new_api_key()
        try:
            account = self._audited(
                "account.create", login, f"initial credit {credit[:40]} EUR",
                queries.create_account, login, hash_api_key(key), initial, self._now(),
            )  # fmt: skip
        except DuplicateRequest:
            raise Refused(f"an account with login {login!r} already exists") from None
        return NewAccount(account, key)

    def accounts(self) -> list[Account]:
        return self._run(queries.accounts)

    def credit(self, login: str, value: str, note: str = "operator credit") -> int:
        """Add (or, negative, remove) credit in EUR; never below zero. Returns the new balance (micro-units)."""
        change = amount(value)
        if change > 0:
            account = self._run(queries.account, normalise_login(login))
            if account is not None and account.balance + change > MAX_BALANCE:
                raise Refused(f"that would take the balance above {format_money(MAX_BALANCE, 0)} EUR")
        try:
            return self._audited(
                "account.credit", normalise_login(login), f"{value[:40]} EUR: {note[:MAX_NOTE]}",
                queries.add_credit, normalise_login(login), change, note[:MAX_NOTE], self._now(),
            )  # fmt: skip
        except InsufficientCredit:
            raise Refused("that would take the balance below zero") from None

    def set_flags(self, login: str, flags: Mapping[str, bool]) -> Account:
        if not flags:
            raise Refused("nothing to set: give --activated/--not-activated, --blacklisted/--not-blacklisted, …")
        unknown = set(flags) - queries.ACCOUNT_FLAGS
        if unknown:
            raise Refused(f"unknown account states: {', '.join(sorted(unknown))}")
        detail = ", ".join(f"{name}={int(on)}" for name, on in sorted(flags.items()))
        login = normalise_login(login)
        return self._audited("account.flags", login, detail, queries.set_account_flags, login, dict(flags))

    def rotate_key(self, login: str) -> str:
        """A new API key for the account (the old one stops working at once); returns it, shown once."""
        key = new_api_key()
        self._audited(
            "account.rotate-key", normalise_login(login), None,
            queries.set_api_key_hash, normalise_login(login), hash_api_key(key),
        )  # fmt: skip
        return key

    # --- prices and the API switch ---------------------------------------------------------------------------------

    def prices(self) -> PriceTable:
        rows = self._run(queries.price_rows)
        if not rows:
            raise Refused("no price table yet: `octogate serve` loads the shipped one at first start")
        return price_table_from_rows(rows)

    def load_prices(self, csv_text: str, source: str = "CSV") -> int:
        """Replace the price table (every running process reloads it); returns how many countries it has."""
        try:
            table = PriceTable.from_csv(csv_text)
        except ValueError as error:
            raise Refused(f"{source[:200]}: {error}") from None
        rows = rows_from_price_table(table)
        self._audited("prices.load", None, f"{len(rows)} countries from {source[:100]}", queries.replace_prices, rows)
        return len(rows)

    def preview_prices(self, csv_text: str, source: str = "CSV") -> list[PriceChange]:
        """What loading this CSV would change, country by country (nothing is written)."""
        try:
            new_rows = rows_from_price_table(PriceTable.from_csv(csv_text))
        except ValueError as error:
            raise Refused(f"{source[:200]}: {error}") from None
        return price_changes(self._run(queries.price_rows), new_rows)

    def set_paused(self, paused: bool) -> None:
        """While paused, every API call answers 116."""
        self._audited("api.pause" if paused else "api.resume", None, None, queries.set_paused, paused)

    def set_connector_paused(self, connector: str, paused: bool) -> bool:
        """Pause (or resume) one connector on every host: dispatchers read it with each claim and send nothing
        through it; messages of a route with another connector go there, the others wait (retried with the
        usual backoff). False when it already was in that state (nothing is logged then)."""
        name = connector.strip()
        if not name or len(name) > 64:
            raise Refused("a connector's name has 1 to 64 characters")
        if paused:
            return self._if_done("connector.pause", name, connector_pauses.pause, name, self._now(), self.actor)
        return self._if_done("connector.resume", name, connector_pauses.resume, name)

    def connector_pauses(self) -> list[ConnectorPause]:
        return self._run(connector_pauses.pauses)

    def _if_done(self, action: str, target: str, fn: Callable[..., bool], *args: Any) -> bool:
        """`fn`, audited only when it changed something (one transaction)."""

        def both(conn: Connection) -> bool:
            done = fn(conn, *args)
            if done:
                console_queries.add_audit(conn, self._now(), self.actor, action, target, None)
            return done

        return self._run(both)

    # --- pushes -------------------------------------------------------------------------------------------------

    def push_urls(self, login: str) -> dict[str, str | None]:
        """Every push URL of the account: the 1.6.1 kinds, then the REST API's (`rest_receipt`…)."""
        return self._run(outbox.account_urls, normalise_login(login))

    def set_push_urls(self, login: str, changes: Mapping[str, str | None]) -> dict[str, str | None]:
        """Set (a URL) or clear (None) some of an account's push URLs, 1.6.1 or REST; returns all six after."""
        checked = checked_push_urls(changes)
        if not checked:
            return self.push_urls(login)
        detail = ", ".join(f"{kind}={url or '-'}" for kind, url in checked.items())
        login = normalise_login(login)
        return self._audited("account.push-urls", login, detail, outbox.set_urls, login, checked)

    def set_push_secret(self, login: str, secret: str | None = None, *, remove: bool = False) -> str | None:
        """Sign the account's pushes with `secret` (a new random one when None); `remove` stops signing.
        Returns the secret now in force, for the operator to hand to the customer."""
        if remove:
            self._run(push_secrets.set_secret, normalise_login(login), None, self._now())
            return None
        if secret is None:
            secret = secrets.token_urlsafe(32)
        low, high = PUSH_SECRET_LENGTH
        if not low <= len(secret) <= high or any(c.isspace() or not c.isprintable() for c in secret):
            raise Refused(f"a push secret is {low} to {high} printable characters without spaces")
        self._run(push_secrets.set_secret, normalise_login(login), secret, self._now())
        return secret

    def pushes(self, failed_only: bool, login: str | None, limit: int) -> list[outbox.OutboxRow]:
        """Pending and failed pushes (or failed only), oldest first, optionally of one account."""
        wanted = normalise_login(login) if login else None
        return self._run(outbox.outbox, failed_only, wanted, limit)

    def retry_pushes(self, push_id: int | None) -> int:
        """Make a push (or, with None, every failed one) due now; returns how many."""
        target = "all failed" if push_id is None else f"push {push_id}"
        count = self._audited("pushes.retry", target, None, outbox.retry, push_id, self._now())
        if push_id is not None and not count:
            raise Refused(f"push {push_id} is not failed or waiting (or is being pushed right now)")
        return count

    # --- STOP lists ---------------------------------------------------------------------------------------------

    def stops(self, login: str) -> list[StopRow]:
        def read(conn: Connection) -> list[StopRow]:
            return incoming.stops(conn, queries.account(conn, normalise_login(login)).id)

        return self._run(read)

    def add_stop(self, login: str, raw_number: str) -> tuple[str, Stopped]:
        """Put a number on an account's STOP list, failing and refunding its queued marketing in the same
        transaction: (the number as stored, what was done)."""
        number = phone_number(raw_number)
        account_id = self._account_id(login)
        return number, self._audited(
            "stops.add", normalise_login(login), number,
            stop_number, account_id, number, "added by the operator", self._now(),
        )  # fmt: skip

    def remove_stop(self, login: str, raw_number: str) -> tuple[str, bool]:
        """Take a number off an account's STOP list: (the number, whether it was there)."""
        number = phone_number(raw_number)
        account_id = self._account_id(login)
        return number, self._audited(
            "stops.remove", normalise_login(login), number, incoming.remove_stop, account_id, number
        )

    # --- what came back -------------------------------------------------------------------------------------------

    def campaign(self, ticket: str, limit: int = 1000) -> CampaignView:
        campaign_id = campaign_id_for(ticket)
        if campaign_id is None:
            raise Refused(f"not a ticket: {ticket[:40]!r}")
        view = self._run(incoming.campaign_view, campaign_id, limit)
        if view is None:
            raise Refused(f"no campaign with ticket {ticket[:40]!r}")
        return view

    def campaign_ticket(self, campaign_id: int) -> str:
        """The ticket in the form the customer was given it: `sms_…` for a REST campaign, else `api…`."""
        return ticket_as_sent(campaign_id, self._run(rest_sql.campaign_source, campaign_id))

    def incoming_texts(self, limit: int = 100) -> list[IncomingRow]:
        """The latest incoming texts, newest first."""
        return self._run(incoming.incoming_texts, limit)

    def inbox(self, limit: int, login: str | None = None) -> list[InboxRow]:
        """The mails received for e-mail to SMS, newest first, optionally one login's."""
        return self._run(inbox.recent, limit, normalise_login(login) if login else None)

    # --- console logins and the audit log --------------------------------------------------------------------------

    def set_account_password(self, login: str, password: str) -> None:
        """The customer's console password (argon2id; the API key is unchanged)."""
        password_hash = hashed_password(password)
        login = normalise_login(login)

        def write(conn: Connection) -> None:
            console_queries.set_account_password(conn, queries.account(conn, login).id, password_hash, self._now())

        self._audited("account.password", login, None, write)

    def create_operator(self, login: str, password: str) -> None:
        login = check_login(login)
        password_hash = hashed_password(password)
        try:
            self._audited(
                "operator.create", login, None, console_queries.create_operator, login, password_hash, self._now()
            )
        except DuplicateRequest:
            raise Refused(f"an operator with login {login!r} already exists") from None

    def set_operator_password(self, login: str, password: str) -> None:
        login = normalise_login(login)
        password_hash = hashed_password(password)
        changed = self._audited(
            "operator.password", login, None, console_queries.set_operator_password, login, password_hash
        )
        if not changed:
            raise Refused(f"no operator with login {login[:100]!r}")

    def audit_log(self, before: int | None = None, limit: int = 50, action: str | None = None) -> list[AuditEntry]:
        """Operator actions, newest first (a page before the entry id `before`)."""
        return self._run(console_queries.audit_page, before, limit, action)

    # --- steps ------------------------------------------------------------------------------------------------

    def _audited(self, action: str, target: str | None, detail: str | None, fn: Callable[..., T], *args: Any) -> T:
        """`fn` and its audit entry, in one transaction: an action is logged if and only if it was done."""

        def both(conn: Connection) -> T:
            result = fn(conn, *args)
            console_queries.add_audit(conn, self._now(), self.actor, action, target, (detail or "")[:300] or None)
            return result

        return self._run(both)

    def _account_id(self, login: str) -> int:
        return self._run(queries.account, normalise_login(login)).id

    # --- the gateway at a glance (`octogate status` when `serve` does not answer) -----------------------------------

    def backlog(self) -> dict[str, Any]:
        """The queue by status and the push backlog, read from the store (the /status document's store part)."""
        with self.store.connect() as conn:  # reads only: no write lock taken
            return backlog_document(health.backlog(conn))

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return self.store.run(fn, *args)
        except UnknownAccount as error:
            raise Refused(f"no account with login {str(error)[:100]!r}") from None

    def _now(self) -> int:
        return int(self.clock())


def check_login(login: str) -> str:
    """A login is an e-mail address: normalised, not empty, without spaces."""
    login = normalise_login(login)
    if not login or len(login) > MAX_LOGIN or any(c.isspace() for c in login):
        raise Refused("a login is an e-mail address, without spaces")
    return login


def amount(text: str) -> int:
    """An amount in EUR, as the operator writes it (`12`, `-5`, `25.50`), in micro-units: ASCII digits only
    (Decimal would also read `1_000`, `١٢` or `1e999`), and at most MAX_BALANCE either way."""
    text = text.strip()
    if not AMOUNT.fullmatch(text):
        raise Refused(f"not an amount in EUR: {text[:40]!r}")
    micro = to_micro(text)
    if abs(micro) > MAX_BALANCE:
        raise Refused(f"an amount is at most {format_money(MAX_BALANCE, 0)} EUR: {text[:40]!r}")
    return micro


def hashed_password(password: str) -> str:
    try:
        return hash_password(check_password(password))
    except WeakPassword as error:
        raise Refused(str(error)) from None


def phone_number(raw: str) -> str:
    try:
        return normalise(raw).e164
    except NumberError as error:
        raise Refused(str(error)) from None


def backlog_document(found: health.Backlog) -> dict[str, Any]:
    pushes = found.pushes
    return {
        "queue": [{"status": d.status, "count": d.count, "oldest_due": d.oldest_due} for d in found.queue],
        "pushes": {"pending": pushes.pending, "failing": pushes.failing, "oldest_due": pushes.oldest_due,
                   "oldest_failing_since": pushes.oldest_failing_since,
                   "oldest_failing_host": url_host(found.oldest_failing_url)},
    }  # fmt: skip


def url_host(url: str | None) -> str | None:
    """A push URL's host name only (its path may carry a customer's token)."""
    if not url:
        return None
    from urllib.parse import urlsplit

    try:
        return (urlsplit(url).hostname or "")[:100] or None
    except ValueError:
        return None
