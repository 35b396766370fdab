"""The use cases of the Octopush API, called by every edge (HTTP today, SMTP next): a rule is written once.

Errors are raised as `ApiError` with a documented code; anything else is a fault the edge answers with 125.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from octogate.keys import api_key_matches, hash_api_key
from octogate.octopush.answers import SmsAnswer, Success
from octogate.octopush.campaign import CampaignBuilder, PricedCampaign, Rules
from octogate.octopush.errors import ApiError, Code
from octogate.octopush.params import Params
from octogate.octopush.request import SmsRequest, SmsType, parse_sms_request
from octogate.sms.money import from_micro
from octogate.sms.prices import PriceTable, default_price_table
from octogate.store import queries
from octogate.store.prices import price_table_from_rows
from octogate.store.records import (
    Account,
    DuplicateRequest,
    InsufficientCredit,
    NewCampaign,
    NewMessage,
    StoreUnavailable,
)
from octogate.store.store import Store

SIMULATION_TICKET = "XXXSIMULATIONXXX"
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
    ) -> None:
        self.store = store
        self.rules = rules or Rules()
        self.clock = clock
        self.prices: PriceTable = default_price_table()
        self._prices_version = -1
        #: Called after each accepted campaign (the dispatcher wakes up instead of waiting for its next poll).
        self.on_accepted: list[Callable[[], None]] = []

    # --- the three API calls ---------------------------------------------------------------------------------

    async def submit_sms(self, params: Params, *, source: str = "http") -> SmsAnswer:
        account, has_stops = await self._authenticate(params)
        request = parse_sms_request(params)
        campaign = await self._price(request, account, has_stops)
        if request.simulation:
            return await self._simulate(campaign, account)
        try:
            accepted = await self.store.write(
                queries.insert_campaign, self._record(campaign, account, source), self._now()
            )
        except DuplicateRequest:
            raise ApiError(Code.DUPLICATE_REQUEST_ID) from None
        except InsufficientCredit as refusal:
            raise _credit_error(refusal.order_pending) from None
        except StoreUnavailable:
            raise ApiError(Code.SERVICE_UNAVAILABLE) from None
        for listener in self.on_accepted:
            listener()
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
        login = params.get("user_login")
        if login is None:
            raise ApiError(Code.MISSING_LOGIN)
        api_key = params.get("api_key")
        if api_key is None:
            raise ApiError(Code.MISSING_API_KEY)
        try:
            state, account, has_stops = await self.store.read(queries.gateway_and_account, normalise_login(login))
            if state.prices_version != self._prices_version:
                await self._reload_prices(state.prices_version)
        except StoreUnavailable:
            raise ApiError(Code.SERVICE_UNAVAILABLE) from None
        if state.paused:
            raise ApiError(Code.SERVICE_UNAVAILABLE)
        # The key is hashed and compared even for an unknown login: the answer and its timing say nothing more.
        matches = api_key_matches(api_key, account.api_key_hash if account else _ABSENT_ACCOUNT_HASH)
        if account is None or not matches:
            raise ApiError(Code.BAD_CREDENTIALS)
        if not account.activated:
            raise ApiError(Code.ACCOUNT_NOT_ACTIVATED)
        if account.blacklisted:
            raise ApiError(Code.BLACKLISTED)
        return account, has_stops

    async def _price(self, request: SmsRequest, account: Account, has_stops: bool) -> PricedCampaign:
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
        return builder.finish(stopped, self._now())

    async def _simulate(self, campaign: PricedCampaign, account: Account) -> SmsAnswer:
        """Everything a real send checks, read-only: nothing is stored, sent or debited, request_id not used."""
        request_id = campaign.request.request_id
        if request_id is not None and await self.store.read(queries.request_id_used, account.id, request_id):
            raise ApiError(Code.DUPLICATE_REQUEST_ID)
        if campaign.cost > account.balance:
            raise _credit_error(account.pending_order)
        return self._answer(campaign, account, ticket=SIMULATION_TICKET, balance=account.balance)

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

    # --- the web console: a customer signed in with a password (octogate.console) ----------------------------

    async def submit_signed_in(self, login: str, params: Params, *, source: str = "console") -> SmsAnswer:
        """`submit_sms` for a customer the console authenticated (password session, not the API key): the same
        rules, checks and codes; `request_mode=simu` gives the console's live estimate."""
        account, has_stops = await self._signed_in(login)
        request = parse_sms_request({**params, "user_login": account.login, "api_key": "-"})
        campaign = await self._price(request, account, has_stops)
        if request.simulation:
            return await self._simulate(campaign, account)
        try:
            accepted = await self.store.write(
                queries.insert_campaign, self._record(campaign, account, source), self._now()
            )
        except DuplicateRequest:
            raise ApiError(Code.DUPLICATE_REQUEST_ID) from None
        except InsufficientCredit as refusal:
            raise _credit_error(refusal.order_pending) from None
        except StoreUnavailable:
            raise ApiError(Code.SERVICE_UNAVAILABLE) from None
        for listener in self.on_accepted:
            listener()
        return self._answer(campaign, account, ticket=accepted.ticket, balance=accepted.balance)

    async def _signed_in(self, login: str) -> tuple[Account, bool]:
        """The account's state checks of `_authenticate` (116, 113, 114), without the key."""
        try:
            state, account, has_stops = await self.store.read(queries.gateway_and_account, normalise_login(login))
            if state.prices_version != self._prices_version:
                await self._reload_prices(state.prices_version)
        except StoreUnavailable:
            raise ApiError(Code.SERVICE_UNAVAILABLE) from None
        if state.paused:
            raise ApiError(Code.SERVICE_UNAVAILABLE)
        if account is None:
            raise ApiError(Code.BAD_CREDENTIALS)
        if not account.activated:
            raise ApiError(Code.ACCOUNT_NOT_ACTIVATED)
        if account.blacklisted:
            raise ApiError(Code.BLACKLISTED)
        return account, has_stops


def normalise_login(login: str) -> str:
    """Logins are e-mail addresses: compared trimmed and case-insensitively."""
    return login.strip().lower()


def _credit_error(order_pending: bool) -> ApiError:
    return ApiError(Code.NOT_ENOUGH_CREDIT_ORDER_PENDING if order_pending else Code.NOT_ENOUGH_CREDIT)
