"""Turning a checked `/api/sms` request into priced messages: the per-recipient rules, pure.

Recipients are processed in ranges (`add_range`) so the service can yield to the event loop between them:
a 10,000-recipient campaign must not freeze the server while it is validated.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from octogate.frozen import quick_init
from octogate.octopush.answers import Failure
from octogate.octopush.errors import ApiError, Code
from octogate.octopush.request import SmsRequest, SmsType
from octogate.octopush.rest.wallet import price_type
from octogate.sms.billing import billing_count, real_segments
from octogate.sms.hours import MarketingHours, next_allowed
from octogate.sms.money import to_micro
from octogate.sms.numbers import NumberError, Recipient, normalise
from octogate.sms.prices import PriceTable
from octogate.sms.transliterate import to_gsm

FRANCE = 33
MAX_CHARACTERS = 459
MAX_LOW_COST_CHARACTERS = 160
STOP_MENTION = "STOP au XXXXX"
NO_PUB_MENTIONS = ("no PUB=STOP", "no PUB rep STOP")
CACHED_TEXT = 1024  # longer texts are refused anyway (459 characters at most): their counts are not kept
APPENDED = " {}"  # how a missing mention is appended (REST marketing): after one space


@dataclass(frozen=True, slots=True)
class Rules:
    """The operator's acceptance policy (the document's rules, each one switchable)."""

    stop_mention: bool = True
    no_pub_mention: bool = True
    marketing_hours: MarketingHours = field(default_factory=MarketingHours)
    billing: Literal["octopush", "segments"] = "octopush"


@quick_init  # built per recipient on the request path (see `SmsRequest`)
@dataclass(frozen=True, slots=True)
class PricedMessage:
    recipient: Recipient
    text: str  # the merged (and, if the account asks, transliterated) text that goes on the wire
    sms: int
    cost: int  # micro-units


@quick_init  # built per request (see `SmsRequest`)
@dataclass(frozen=True, slots=True)
class PricedCampaign:
    request: SmsRequest
    text: str  # the template as it will be sent (transliterated if the account asks)
    messages: list[PricedMessage]
    failures: list[Failure]
    cost: int
    sms: int
    send_at: int  # epoch seconds

    @property
    def is_marketing(self) -> bool:
        return not self.request.transactional


class CampaignBuilder:
    def __init__(self, request: SmsRequest, prices: PriceTable, rules: Rules, *, transliterate: bool) -> None:
        self.request = request
        self.prices = prices
        self.rules = rules
        self.template = to_gsm(request.text) if transliterate else request.text
        self._transliterate = transliterate
        self._messages: dict[str, PricedMessage] = {}
        self._failures: list[Failure] = []
        self._unit_price: dict[int, int | None] = {}
        self._counts: dict[str, tuple[int, int]] = {}
        self._mention_checked = False
        self._appended = ""  # the opt-out mention added to French messages (REST marketing without one)
        self._max_characters = request.max_characters or MAX_CHARACTERS
        if not any(request.recipients):
            raise ApiError(Code.NO_RECIPIENTS)

    def __len__(self) -> int:
        return len(self.request.recipients)

    def add_range(self, start: int, stop: int) -> None:
        request = self.request
        for position in range(start, min(stop, len(request.recipients))):
            raw = request.recipients[position]
            if not raw:
                continue
            try:
                recipient = normalise(raw)
            except NumberError as error:
                self._failures.append(Failure(raw, Code(error.code)))
                continue
            if recipient.e164 in self._messages:
                continue  # duplicates are sent (and billed) once
            unit = self._price(recipient.calling_code)
            if unit is None:
                self._failures.append(Failure(recipient.e164, self._not_offered(recipient.calling_code)))
                continue
            if recipient.calling_code == FRANCE and not self._mention_checked:
                self._check_mention()
            text = self._merged(position)
            if self._appended and recipient.calling_code == FRANCE:
                text += self._appended
            sms = self._count(text)
            self._messages[recipient.e164] = PricedMessage(recipient, text, sms, unit * sms)

    def numbers(self) -> list[str]:
        return list(self._messages)

    def failures(self, stopped: Collection[str]) -> list[Failure]:
        """The numbers set aside: invalid or not covered, then those on the account's STOP list."""
        return self._failures + [Failure(number, Code.BLACKLISTED) for number in self._messages if number in stopped]

    def finish(self, stopped: Collection[str], now: int) -> PricedCampaign:
        """Set aside numbers on the account's STOP list, and date the campaign."""
        if stopped:
            messages = [m for m in self._messages.values() if m.recipient.e164 not in stopped]
            failures = self.failures(stopped)
        else:  # nearly every request: the account has no STOP list, or none of these numbers is on it
            messages = list(self._messages.values())
            failures = list(self._failures)
        if not messages:
            raise ApiError(failures[0].code if failures else Code.NO_RECIPIENTS)
        send_at = max(now, self.request.deferred_until or 0)
        hours = self.rules.marketing_hours
        if (
            hours.enabled
            and not self.request.transactional
            and any(m.recipient.calling_code == FRANCE for m in messages)
        ):
            send_at = int(next_allowed(datetime.fromtimestamp(send_at, UTC), hours).timestamp())
        cost = sms = 0
        for message in messages:  # one pass, no generators: most campaigns have one message
            cost += message.cost
            sms += message.sms
        return PricedCampaign(
            request=self.request,
            text=self.template,
            messages=messages,
            failures=failures,
            cost=cost,
            sms=sms,
            send_at=send_at,
        )

    def _price(self, calling_code: int) -> int | None:
        try:
            return self._unit_price[calling_code]
        except KeyError:
            sms_type = self.request.sms_type
            if self.request.world_price_abroad:
                sms_type = price_type(sms_type, calling_code)
            price = self.prices.price(calling_code, sms_type.value)
            unit = None if price is None else _micro(price)
            self._unit_price[calling_code] = unit
            return unit

    def _not_offered(self, calling_code: int) -> Code:
        if self.request.sms_type is SmsType.LOW_COST and self.prices.lookup(calling_code) is not None:
            return Code.LOW_COST_NOT_OFFERED
        return Code.COUNTRY_NOT_COVERED

    def _check_mention(self) -> None:
        """French marketing texts must carry the opt-out mention of their type (checked once, on the template)."""
        self._mention_checked = True
        if self.request.transactional:
            return
        if self.request.sms_type is SmsType.PREMIUM and self.rules.stop_mention:
            if STOP_MENTION not in self.request.text:
                if not self.request.append_mention:
                    raise ApiError(Code.MISSING_STOP_MENTION)
                self._appended = APPENDED.format(STOP_MENTION)
        elif (
            self.request.sms_type is SmsType.LOW_COST
            and self.rules.no_pub_mention
            and not any(mention in self.request.text for mention in NO_PUB_MENTIONS)
        ):
            if not self.request.append_mention:
                raise ApiError(Code.MISSING_NO_PUB_MENTION)
            self._appended = APPENDED.format(NO_PUB_MENTIONS[0])

    def _merged(self, position: int) -> str:
        merge = self.request.merge
        if not merge:
            return self.template
        text = merge.apply(self.template, position)
        return to_gsm(text) if self._transliterate else text

    def _count(self, text: str) -> int:
        """Billed SMS for one text, with the length limits of its type (cached: most texts repeat)."""
        cached = self._counts.get(text)
        if cached is None:
            billed = _billed if len(text) <= CACHED_TEXT else _billed.__wrapped__  # a huge text is never kept
            characters, sms = billed(text, self.rules.billing)
            if characters > self._max_characters:
                raise ApiError(Code.TEXT_TOO_LONG)
            if self.request.sms_type is SmsType.LOW_COST and characters > MAX_LOW_COST_CHARACTERS:
                raise ApiError(Code.TEXT_TOO_LONG_FOR_TYPE)
            cached = (characters, sms)
            if len(self._counts) < 4096:
                self._counts[text] = cached
        return cached[1]


@lru_cache(maxsize=1024)
def _micro(price: Decimal) -> int:
    """A unit price in micro-units: one per (price, country) for the process, not one per request."""
    return to_micro(price)


@lru_cache(maxsize=4096)
def _billed(text: str, billing: str) -> tuple[int, int]:
    """Counted characters and SMS billed for one text: the same few texts come request after request."""
    counted = billing_count(text)
    return counted.characters, real_segments(text) if billing == "segments" else counted.sms
