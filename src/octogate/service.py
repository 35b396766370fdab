"""The use cases of the Octopush APIs, called by every edge (1.6.1 HTTP, REST, SMTP): a rule is written once.

Errors are raised as `ApiError` with a documented code; anything else is a fault the edge answers with 125.
The records an edge needs are re-exported here (`__all__`), so that no edge imports the store's modules.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Generic, TypeVar

from octogate.callbacks.targets import BadCallbackURL, check_url
from octogate.keys import api_key_matches, hash_api_key
from octogate.octopush.answers import Failure, SmsAnswer, Success
from octogate.octopush.campaign import CampaignBuilder, PricedCampaign, Rules
from octogate.octopush.errors import ApiError, Code
from octogate.octopush.params import Params
from octogate.octopush.request import SmsRequest, SmsType, parse_sms_request
from octogate.octopush.rest import send as rest_send
from octogate.octopush.rest.answers import SIMULATION_TICKET as REST_SIMULATION_TICKET
from octogate.octopush.rest.answers import RestSent, messages_bought
from octogate.octopush.rest.errors import bad_field
from octogate.octopush.rest.parameters import CampaignParameters, parse_edit
from octogate.octopush.rest.wallet import price_type
from octogate.sms.money import from_micro
from octogate.sms.prices import PriceTable, default_price_table
from octogate.store import inbox, queries
from octogate.store import rest as rest_sql
from octogate.store.prices import price_table_from_rows
from octogate.store.records import (
    AcceptedCampaign,
    Account,
    DuplicateRequest,
    GatewayState,
    InboxEntry,
    InsufficientCredit,
    NewCampaign,
    NewMessage,
    StoreUnavailable,
)
from octogate.store.store import Store
from octogate.store.tickets import rest_ticket_for
from octogate.throttle import CredentialGuard

__all__ = [
    "SIMULATION_TICKET", "Balances", "CampaignGroups", "Gateway", "InboxEntry", "PerTurn", "SharedLookups",
    "normalise_login",
]  # fmt: skip

SIMULATION_TICKET = "XXXSIMULATIONXXX"
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")
Lookup = tuple[GatewayState, Account | None, bool]  # the operator's switches, the account, has a STOP list
#: (a campaign, its time), its answer
Pending = tuple[tuple[NewCampaign, int], "asyncio.Future[AcceptedCampaign]"]
log = logging.getLogger(__name__)
RECIPIENTS_PER_SLICE = 1000  # recipients validated between two yields to the event loop
_ABSENT_ACCOUNT_HASH = hash_api_key("no such account")


@dataclass(frozen=True, slots=True)
class Balances:
    premium: str  # SMS equivalents, two decimals
    low_cost: str


class Gateway:
    def __init__(
        self,
        store: Store,
        rules: Rules | None = None,
        *,
        clock: Callable[[], float] = time.time,
        guard: CredentialGuard | None = None,
    ) -> None:
        self.store = store
        self.guard = guard or CredentialGuard()  # wrong credentials slow down (still 101)
        self.rules = rules or Rules()
        self.clock = clock
        self.prices: PriceTable = default_price_table()
        self._prices_version = -1
        self._lookups = SharedLookups(store)
        self._campaigns = CampaignGroups(store)
        #: Called after each accepted campaign (the dispatcher wakes up instead of waiting for its next poll).
        self.on_accepted: list[Callable[[], object]] = []  # what a listener returns is not used

    # --- the three API calls ---------------------------------------------------------------------------------

    async def submit_sms(self, params: Params, *, source: str = "http") -> SmsAnswer:
        account, has_stops = await self._authenticate(params)
        return await self._submit(parse_sms_request(params), account, has_stops, source)

    async def _submit(self, request: SmsRequest, account: Account, has_stops: bool, source: str) -> SmsAnswer:
        campaign = await self._price(request, account, has_stops)
        if request.simulation:
            await self._check_simulation(campaign, account)
            return self._answer(campaign, account, ticket=SIMULATION_TICKET, balance=account.balance)
        accepted = await self._store_campaign(campaign, account, source)
        return self._answer(campaign, account, ticket=accepted.ticket, balance=accepted.balance)

    async def balances(self, params: Params) -> tuple[Account, Balances]:
        account = await self.authenticate(params)
        return account, Balances(
            premium=self._sms_equivalent(account.balance, SmsType.PREMIUM),
            low_cost=self._sms_equivalent(account.balance, SmsType.LOW_COST),
        )

    async def credit(self, params: Params) -> Account:
        return await self.authenticate(params)

    # --- steps ------------------------------------------------------------------------------------------------

    async def authenticate(self, params: Params) -> Account:
        return (await self._authenticate(params))[0]

    async def _authenticate(self, params: Params) -> tuple[Account, bool]:
        """Credentials and account state, in the rulings' order: 100, 108, 109, 116, 101, 113, 114."""
        if not params:
            raise ApiError(Code.MISSING_PARAMETERS)
        return await self._account(params.get("user_login"), params.get("api_key"))

    async def _account(self, login: str | None, api_key: str | None) -> tuple[Account, bool]:
        if login is None:
            raise ApiError(Code.MISSING_LOGIN)
        if api_key is None:
            raise ApiError(Code.MISSING_API_KEY)
        account, has_stops = await self._lookup(login)
        # The key is hashed and compared even for an unknown login: the answer and its timing say nothing more.
        matches = api_key_matches(api_key, account.api_key_hash if account else _ABSENT_ACCOUNT_HASH)
        if account is None or not matches:
            await self.guard.failed(normalise_login(login))
            raise ApiError(Code.BAD_CREDENTIALS)
        return _usable(account), has_stops

    async def _lookup(self, login: str) -> tuple[Account | None, bool]:
        """The account and the gateway's state (116 while paused); the price table reloaded when it changed."""
        try:
            state, account, has_stops = await self._lookups.read(normalise_login(login))
            if state.prices_version != self._prices_version:
                await self._reload_prices(state.prices_version)
        except StoreUnavailable:
            raise ApiError(Code.SERVICE_UNAVAILABLE) from None
        if state.paused:
            raise ApiError(Code.SERVICE_UNAVAILABLE)
        return account, has_stops

    async def _price(
        self,
        request: SmsRequest,
        account: Account,
        has_stops: bool,
        refuse: Callable[[Sequence[Failure]], None] | None = None,
    ) -> PricedCampaign:
        """`refuse` sees the numbers that would be set aside, and may refuse the whole request (REST)."""
        builder = CampaignBuilder(request, self.prices, self.rules, transliterate=account.transliterate)
        for start in range(0, len(builder), RECIPIENTS_PER_SLICE):
            if start:
                await asyncio.sleep(0)  # let other requests through during a large campaign
            builder.add_range(start, start + RECIPIENTS_PER_SLICE)
        stopped: set[str] = set()
        if has_stops:
            try:
                stopped = await self.store.read(queries.stopped_numbers, account.id, builder.numbers())
            except StoreUnavailable:
                raise ApiError(Code.SERVICE_UNAVAILABLE) from None
        if refuse is not None:
            refuse(builder.failures(stopped))
        return builder.finish(stopped, self._now())

    async def _check_simulation(self, campaign: PricedCampaign, account: Account) -> None:
        """Everything a real send checks, read-only: nothing is stored, sent or debited, request_id not used."""
        request_id = campaign.request.request_id
        if request_id is not None and await self._read(
            rest_sql.request_id_taken, account.id, request_id, self._request_ids_expired_before()
        ):
            raise ApiError(Code.DUPLICATE_REQUEST_ID)
        if campaign.cost > account.balance:
            raise _credit_error(account.pending_order)

    async def _store_campaign(self, campaign: PricedCampaign, account: Account, source: str) -> AcceptedCampaign:
        """Store and debit the campaign in one transaction, or refuse it whole (120, 104/105, 116).

        A request_id held by a REST campaign older than 24 h is let go and the campaign stored again: looked at
        only after a refusal, so the common path stays one statement."""
        record = self._record(campaign, account, source)
        try:
            try:
                if record.request_id is None and len(record.messages) <= queries.ONE_STATEMENT_MESSAGES:
                    accepted = await self._campaigns.add(record, self._now())
                else:
                    accepted = await self.store.write(queries.insert_campaign, record, self._now())
            except DuplicateRequest:
                assert record.request_id is not None
                released = await self.store.write(
                    rest_sql.release_request_id, account.id, record.request_id, self._request_ids_expired_before()
                )
                if not released:
                    raise
                accepted = await self.store.write(queries.insert_campaign, record, self._now())
        except DuplicateRequest:
            raise ApiError(Code.DUPLICATE_REQUEST_ID) from None
        except InsufficientCredit as refusal:
            raise _credit_error(refusal.order_pending) from None
        except StoreUnavailable:
            raise ApiError(Code.SERVICE_UNAVAILABLE) from None
        for listener in self.on_accepted:
            listener()
        return accepted

    def _request_ids_expired_before(self) -> int:
        return self._now() - rest_send.REQUEST_ID_TTL

    async def _read(self, fn: Callable[..., T], *args: object) -> T:
        try:
            return await self.store.read(fn, *args)
        except StoreUnavailable:
            raise ApiError(Code.SERVICE_UNAVAILABLE) from None

    # --- the REST API (its own rules: octogate.octopush.rest) ---------------------------------------------------

    async def submit_rest(self, login: str | None, api_key: str | None, body: object) -> RestSent:
        """`POST /v1/public/sms-campaign/send`: the 1.6.1 path's validation, pricing, credit, idempotency,
        hours and STOP list, for a request read by the REST rules; sent to all its numbers or refused."""
        account, has_stops = await self._account(login, api_key)
        sms = rest_send.parse_send(body)
        request = sms.request
        if not sms.sender_given:
            default = await self._read(rest_sql.default_sender, account.id)
            if default:
                request = replace(request, sender=default)

        def refuse(failures: Sequence[Failure]) -> None:
            rest_send.refuse_failures(failures, sms.auto_remove_blacklisted)

        try:
            campaign = await self._price(request, account, has_stops, refuse)
        except ApiError as error:
            if error.code is Code.BLACKLISTED:  # every number was on the STOP list and set aside
                raise rest_send.recipient_error(error.code) from None
            raise
        if request.simulation:
            await self._check_simulation(campaign, account)
            return self._rest_sent(campaign, REST_SIMULATION_TICKET, account.balance)
        accepted = await self._store_campaign(campaign, account, rest_send.SOURCE)
        return self._rest_sent(campaign, rest_ticket_for(accepted.campaign_id), accepted.balance)

    @staticmethod
    def _rest_sent(campaign: PricedCampaign, ticket: str, balance: int) -> RestSent:
        return RestSent(ticket=ticket, contacts=len(campaign.messages), cost=campaign.cost, sms=campaign.sms,
                        balance=balance)  # fmt: skip

    async def rest_account(self, login: str | None, api_key: str | None) -> Account:
        return (await self._account(login, api_key))[0]

    def messages_for(self, balance: int, sms_type: SmsType, calling_code: int) -> int:
        """How many messages of a REST product to one country a balance buys (0 where it is not offered)."""
        return messages_bought(balance, self.prices.price(calling_code, price_type(sms_type, calling_code).value))

    async def campaign_parameters(self, login: str | None, api_key: str | None) -> CampaignParameters:
        account = await self.rest_account(login, api_key)
        return CampaignParameters(**await self._read(rest_sql.campaign_parameters, account.id))

    async def edit_campaign_parameters(
        self, login: str | None, api_key: str | None, body: object
    ) -> CampaignParameters:
        account = await self.rest_account(login, api_key)
        changes = parse_edit(body)
        for column, value in changes.items():
            if column.endswith("_url"):
                try:
                    changes[column] = check_url(value)
                except BadCallbackURL as error:
                    raise bad_field("callback URL", f"refused: {error}") from None
        try:
            found = await self.store.write(rest_sql.set_campaign_parameters, account.id, changes)
        except StoreUnavailable:
            raise ApiError(Code.SERVICE_UNAVAILABLE) from None
        return CampaignParameters(**found)

    @staticmethod
    def _record(campaign: PricedCampaign, account: Account, source: str) -> NewCampaign:
        request = campaign.request
        return NewCampaign(
            account_id=account.id,
            request_id=request.request_id,
            source=source,
            sms_type=request.sms_type.value,
            sender=request.sender,
            sender_is_msisdn=request.msisdn_sender,
            text=campaign.text,
            transactional=request.transactional,
            with_replies=request.with_replies,
            sms=campaign.sms,
            cost=campaign.cost,
            send_at=campaign.send_at,
            messages=[
                NewMessage(
                    recipient=m.recipient.e164,
                    country=m.recipient.country,
                    calling_code=m.recipient.calling_code,
                    text=None if m.text == campaign.text else m.text,
                    sms=m.sms,
                    cost=m.cost,
                )
                for m in campaign.messages
            ],
        )

    @staticmethod
    def _answer(campaign: PricedCampaign, account: Account, *, ticket: str, balance: int) -> SmsAnswer:
        return SmsAnswer(
            cost=campaign.cost,
            balance=balance,
            ticket=ticket,
            sending_date=campaign.send_at,
            number_of_sendings=campaign.sms,
            currency=account.currency,
            successes=[Success(m.recipient.e164, m.recipient.country, m.cost) for m in campaign.messages],
            failures=campaign.failures,
        )

    def _sms_equivalent(self, balance: int, sms_type: SmsType) -> str:
        """The money balance as SMS to France of that type (the document's 'equivalence, not a sum')."""
        unit = self.prices.price(33, sms_type.value)
        if not unit:
            return "0.00"
        return f"{(from_micro(balance) / unit).quantize(Decimal('0.01'), rounding=ROUND_DOWN):f}"

    async def _reload_prices(self, version: int) -> None:
        rows = await self.store.read(queries.price_rows)
        self.prices = price_table_from_rows(rows) if rows else default_price_table()
        self._prices_version = version

    def _now(self) -> int:
        return int(self.clock())

    # --- e-mail to SMS (octogate.smtp) ------------------------------------------------------------------------

    async def record_mail(self, entry: InboxEntry) -> int:
        """Store a received mail's outcome in the inbox (after its campaign, if any, was stored); returns its
        inbox id. Any failure is raised as is: the SMTP edge then answers 451 and the sender retries."""
        return await self.store.write(inbox.record, entry)

    # --- the web console: a customer signed in with a password (octogate.console) ----------------------------

    async def submit_signed_in(self, login: str, params: Params, *, source: str = "console") -> SmsAnswer:
        """`submit_sms` for a customer the console authenticated (password session, not the API key): the same
        rules, checks and codes; `request_mode=simu` gives the console's live estimate."""
        account, has_stops = await self._signed_in(login)
        request = parse_sms_request({**params, "user_login": account.login, "api_key": "-"})
        return await self._submit(request, account, has_stops, source)

    async def _signed_in(self, login: str) -> tuple[Account, bool]:
        """The account's state checks of `_authenticate` (116, 113, 114), without the key."""
        account, has_stops = await self._lookup(login)
        if account is None:
            raise ApiError(Code.BAD_CREDENTIALS)
        return _usable(account), has_stops


class PerTurn(Generic[K, V, R]):
    """Calls with the same key arriving in the same event loop turn, handled together: the first call of a key
    schedules `handle(key, group)`, which runs after the calls already scheduled this turn, and each call
    awaits its own future in the group. A call arriving once the handling has started starts a new group."""

    def __init__(self, handle: Callable[[K, list[tuple[V, asyncio.Future[R]]]], Awaitable[None]]) -> None:
        self._handle = handle
        self._waiting: dict[tuple[asyncio.AbstractEventLoop, K], list[tuple[V, asyncio.Future[R]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def join(self, key: K, value: V) -> asyncio.Future[R]:
        """The call's future (awaited by the caller: a coroutine here would be one more frame to suspend and
        resume on each request's path)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        waiting = self._waiting.get((loop, key))
        if waiting is not None:
            waiting.append((value, future))
        else:
            self._waiting[(loop, key)] = [(value, future)]
            task = loop.create_task(self._run(loop, key))  # runs after the calls already scheduled this turn
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return future

    async def _run(self, loop: asyncio.AbstractEventLoop, key: K) -> None:
        await self._handle(key, self._waiting.pop((loop, key)))


class SharedLookups:
    """The API's one read per call (`queries.gateway_and_account`), shared by the calls for one login that
    arrive in the same event loop turn: under load a customer's requests come in bursts, and each read costs
    more than the rest of the call (SQLite reloads its page cache after every commit of another connection;
    PostgreSQL runs a statement). The shared read is started after every call that joined it arrived, so each
    sees the state it would have seen alone, or newer: nothing is cached past the read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._turns: PerTurn[str, None, Lookup] = PerTurn(self._read)

    def read(self, login: str) -> asyncio.Future[Lookup]:
        return self._turns.join(login, None)

    async def _read(self, login: str, group: list[tuple[None, asyncio.Future[Lookup]]]) -> None:
        await _settle([future for _, future in group], self.store.read(queries.gateway_and_account, login))


class CampaignGroups:
    """Small campaigns of one account without a request_id, accepted in the same event loop turn, stored by
    one write (`queries.insert_campaigns`): one debit of the account and, on PostgreSQL, one statement for
    all of them. Each request still gets its own answer, and the same one as if stored alone: when the
    account cannot pay for the whole group, or the group's write fails other than by the store being
    unavailable, each campaign is stored on its own (`queries.insert_campaign`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._turns: PerTurn[int, tuple[NewCampaign, int], AcceptedCampaign] = PerTurn(self._write)

    async def store_one(self, campaign: NewCampaign, now: int) -> AcceptedCampaign:
        return await self.store.write(queries.insert_campaign, campaign, now)

    def add(self, campaign: NewCampaign, now: int) -> asyncio.Future[AcceptedCampaign]:
        return self._turns.join(campaign.account_id, (campaign, now))

    async def _write(self, account_id: int, group: list[Pending]) -> None:
        if len(group) == 1:
            (campaign, now), future = group[0]
            await _settle([future], self.store_one(campaign, now))
            return
        try:
            stored = await self.store.write(queries.insert_campaigns, [value for value, _ in group])
        except StoreUnavailable as error:
            for _, future in group:
                if not future.done():
                    future.set_exception(error)
            return
        except Exception:
            log.warning("a group of %d campaigns is stored one by one", len(group), exc_info=True)
            stored = None
        except BaseException:
            for _, future in group:
                future.cancel()
            raise
        if stored is None:  # the account cannot pay for all of them: each alone, queued in the group's order
            await asyncio.gather(*(_settle([future], self.store_one(*value)) for value, future in group))
            return
        for (_, future), accepted in zip(group, stored, strict=True):
            if not future.done():
                future.set_result(accepted)


async def _settle(futures: Sequence[asyncio.Future[T]], work: Awaitable[T]) -> None:
    """Each future gets what `work` returns or raises (cancelled with it)."""
    try:
        result = await work
    except Exception as error:
        for future in futures:
            if not future.done():
                future.set_exception(error)
        return
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    for future in futures:
        if not future.done():
            future.set_result(result)


def normalise_login(login: str) -> str:
    """Logins are e-mail addresses: compared trimmed and case-insensitively."""
    return login.strip().lower()


def _usable(account: Account) -> Account:
    """An account that may send: activated (else 113) and not blacklisted (else 114)."""
    if not account.activated:
        raise ApiError(Code.ACCOUNT_NOT_ACTIVATED)
    if account.blacklisted:
        raise ApiError(Code.BLACKLISTED)
    return account


def _credit_error(order_pending: bool) -> ApiError:
    return ApiError(Code.NOT_ENOUGH_CREDIT_ORDER_PENDING if order_pending else Code.NOT_ENOUGH_CREDIT)
