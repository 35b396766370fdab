"""The French marketing-hours rule: when a marketing (non-transactional) SMS may be sent.

French rules (and Octopush's practice) forbid marketing SMS from 20:00 to 08:00, on Sundays and on public
holidays.  A campaign submitted outside those hours is not refused: it is scheduled for the next allowed
moment, which the API answers in ``<sending_date>``.  Everything is computed in the rule's wall-clock
time zone (Europe/Paris) with ``zoneinfo``, so the 08:00 start stays 08:00 across both DST switches.

Public holidays are the national French ones of the ``holidays`` package (no Alsace-Moselle or overseas
extras: the rule's zone is Paris).  It is called once per campaign, so holidays are cached per year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from octogate.paris import PARIS

# Sundays and holidays never close more than a few days in a row; a year is a safe upper bound.
_MAX_DAYS_AHEAD = 366
_SUNDAY = 6


@dataclass(frozen=True, slots=True)
class MarketingHours:
    """The operator's rule: allowed when ``start <= wall time < end`` on an open day, in ``timezone``."""

    start: time = time(8)
    end: time = time(20)
    closed_on_sundays: bool = True
    closed_on_public_holidays: bool = True
    enabled: bool = True
    timezone: str = PARIS.key

    def __post_init__(self) -> None:
        # ValueError on purpose: the configuration loader reports it as a bad setting.
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("marketing start and end are wall-clock times, without a time zone")
        if not self.start < self.end:
            raise ValueError(f"marketing start {self.start} must be before end {self.end}")
        _zone(self.timezone)


def is_allowed(moment: datetime, rules: MarketingHours) -> bool:
    """Whether a marketing SMS may be sent at ``moment`` (an aware datetime)."""
    _check_aware(moment)
    if not rules.enabled:
        return True
    local = moment.astimezone(_zone(rules.timezone))
    return _open_day(local.date(), rules) and rules.start <= local.time() < rules.end


def next_allowed(moment: datetime, rules: MarketingHours) -> datetime:
    """The first instant at or after ``moment`` when a marketing SMS may be sent, in UTC.

    ``moment`` must be aware (``ValueError`` otherwise).  If sending is allowed at ``moment``, the same
    instant is returned (converted to UTC); otherwise the start time of the next open day, e.g. Saturday
    21:00 Paris gives Monday 08:00 Paris, or Tuesday 08:00 if Monday is a public holiday.
    """
    _check_aware(moment)
    if not rules.enabled:
        return moment.astimezone(UTC)
    zone = _zone(rules.timezone)
    local = moment.astimezone(zone)
    day = local.date()
    if _open_day(day, rules):
        if rules.start <= local.time() < rules.end:
            return moment.astimezone(UTC)
        if local.time() < rules.start:
            return _at(day, rules.start, zone)
    for _ in range(_MAX_DAYS_AHEAD):
        day += timedelta(days=1)
        if _open_day(day, rules):
            return _at(day, rules.start, zone)
    raise ValueError("no allowed day within a year: the marketing-hours rule closes every day")


def _at(day: date, start: time, zone: ZoneInfo) -> datetime:
    """``start`` on ``day`` in ``zone``, as UTC.

    A start inside a spring-forward gap (only possible with a custom start such as 02:30) is read with the
    offset before the switch (PEP 495, fold=0), so it lands after the gap: 02:30 becomes 03:30 summer time.
    """
    return datetime.combine(day, start, tzinfo=zone).astimezone(UTC)


def _open_day(day: date, rules: MarketingHours) -> bool:
    if rules.closed_on_sundays and day.weekday() == _SUNDAY:
        return False
    return not (rules.closed_on_public_holidays and day in _french_holidays(day.year))


@lru_cache(maxsize=16)
def _french_holidays(year: int) -> frozenset[date]:
    """National French public holidays of one year (building them is the costly part: cached)."""
    return frozenset(holidays.country_holidays("FR", years=year))


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _check_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an aware datetime is required: a naive one has no defined instant")
