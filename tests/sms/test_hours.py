"""French marketing hours: when a deferred campaign goes out, across weekends, holidays and DST switches."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from octogate.sms.hours import MarketingHours, is_allowed, next_allowed

PARIS = ZoneInfo("Europe/Paris")
RULES = MarketingHours()


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Saturday evening waits for Monday morning, Sunday being closed.
        (paris(2026, 11, 21, 21, 0), paris(2026, 11, 23, 8, 0)),
        # Friday night before Easter: Saturday is open.
        (paris(2026, 4, 3, 23, 30), paris(2026, 4, 4, 8, 0)),
        # Saturday evening before Easter Monday: skips Sunday and the holiday.
        (paris(2026, 4, 4, 20, 0), paris(2026, 4, 7, 8, 0)),
        # Christmas Eve after 20:00: 25 Dec is a holiday, 26 Dec (a Saturday) is open.
        (paris(2026, 12, 24, 20, 30), paris(2026, 12, 26, 8, 0)),
        # Labour Day (a Friday) during the day.
        (paris(2026, 5, 1, 10, 0), paris(2026, 5, 2, 8, 0)),
        # Bastille Day eve: the 14th (a Tuesday) is skipped.
        (paris(2026, 7, 13, 20, 0), paris(2026, 7, 15, 8, 0)),
        # New Year's Eve: 1 January (a Friday) is skipped, across the year boundary.
        (paris(2026, 12, 31, 22, 0), paris(2027, 1, 2, 8, 0)),
        # Early morning: the same day's start.
        (paris(2026, 11, 24, 7, 59), paris(2026, 11, 24, 8, 0)),
        (paris(2026, 11, 24, 0, 0), paris(2026, 11, 24, 8, 0)),
        # Sunday morning: Monday.
        (paris(2026, 11, 22, 9, 0), paris(2026, 11, 23, 8, 0)),
    ],
)
def test_deferred_to_the_next_allowed_moment(moment: datetime, expected: datetime) -> None:
    assert not is_allowed(moment, RULES)
    result = next_allowed(moment, RULES)
    assert result == expected
    assert result.tzinfo is UTC
    assert is_allowed(result, RULES)


@pytest.mark.parametrize(
    "moment",
    [
        paris(2026, 11, 24, 8, 0),  # start is allowed
        paris(2026, 11, 24, 19, 59, 59, 999999),  # just before end
        paris(2026, 11, 21, 12, 0),  # Saturday
        paris(2026, 12, 26, 9, 0),  # St Stephen's Day: a holiday in Alsace-Moselle only
        paris(2026, 4, 3, 12, 0),  # Good Friday: likewise
    ],
)
def test_allowed_moments_are_kept(moment: datetime) -> None:
    assert is_allowed(moment, RULES)
    result = next_allowed(moment, RULES)
    assert result == moment
    assert result.tzinfo is UTC


def test_end_is_excluded() -> None:
    assert not is_allowed(paris(2026, 11, 24, 20, 0), RULES)
    assert next_allowed(paris(2026, 11, 24, 20, 0), RULES) == paris(2026, 11, 25, 8, 0)


def test_spring_forward_weekend() -> None:
    """29 March 2026: Paris goes from UTC+1 to UTC+2 on the Sunday in between."""
    result = next_allowed(paris(2026, 3, 28, 21, 0), RULES)
    assert result == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # 08:00 summer time
    assert datetime(2026, 3, 28, 20, 0, tzinfo=UTC) == paris(2026, 3, 28, 21, 0)


def test_fall_back_weekend() -> None:
    """25 October 2026: Paris goes from UTC+2 back to UTC+1 on the Sunday in between."""
    result = next_allowed(paris(2026, 10, 24, 21, 0), RULES)
    assert result == datetime(2026, 10, 26, 7, 0, tzinfo=UTC)  # 08:00 winter time


def test_the_same_utc_hour_is_allowed_in_winter_but_not_in_summer() -> None:
    january = datetime(2026, 1, 13, 18, 30, tzinfo=UTC)  # 19:30 in Paris
    june = datetime(2026, 6, 16, 18, 30, tzinfo=UTC)  # 20:30 in Paris
    assert is_allowed(january, RULES)
    assert not is_allowed(june, RULES)
    assert next_allowed(june, RULES) == datetime(2026, 6, 17, 6, 0, tzinfo=UTC)


def test_moments_in_other_time_zones_are_judged_in_paris_time() -> None:
    tokyo = timezone(timedelta(hours=9))
    # 16:00 in Tokyo on a Tuesday is 08:00 in Paris (winter): allowed.
    assert is_allowed(datetime(2026, 11, 24, 16, 0, tzinfo=tokyo), RULES)
    # 15:59 in Tokyo is 07:59 in Paris.
    assert next_allowed(datetime(2026, 11, 24, 15, 59, tzinfo=tokyo), RULES) == paris(2026, 11, 24, 8, 0)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed(datetime(2026, 11, 24, 10, 0), RULES)
    with pytest.raises(ValueError, match="aware"):
        is_allowed(datetime(2026, 11, 24, 10, 0), RULES)


def test_disabled_rule_sends_at_once() -> None:
    rules = MarketingHours(enabled=False)
    sunday_night = paris(2026, 11, 22, 23, 0)
    assert is_allowed(sunday_night, rules)
    assert next_allowed(sunday_night, rules) == sunday_night


def test_sundays_and_holidays_can_each_be_opened() -> None:
    sunday = paris(2026, 11, 22, 10, 0)
    labour_day = paris(2026, 5, 1, 10, 0)
    assert is_allowed(sunday, MarketingHours(closed_on_sundays=False))
    assert not is_allowed(labour_day, MarketingHours(closed_on_sundays=False))
    assert is_allowed(labour_day, MarketingHours(closed_on_public_holidays=False))
    assert not is_allowed(sunday, MarketingHours(closed_on_public_holidays=False))
    # Saturday 4 April 2026 after hours, Sundays open: Easter Sunday is no public holiday in France.
    sundays_open = MarketingHours(closed_on_sundays=False)
    assert next_allowed(paris(2026, 4, 4, 21, 0), sundays_open) == paris(2026, 4, 5, 8, 0)


def test_custom_hours() -> None:
    rules = MarketingHours(start=time(9, 30), end=time(18, 0))
    assert next_allowed(paris(2026, 11, 24, 9, 0), rules) == paris(2026, 11, 24, 9, 30)
    assert next_allowed(paris(2026, 11, 24, 18, 0), rules) == paris(2026, 11, 25, 9, 30)


def test_start_inside_the_spring_forward_gap_lands_after_it() -> None:
    rules = MarketingHours(start=time(2, 30), closed_on_sundays=False)
    result = next_allowed(paris(2026, 3, 28, 23, 0), rules)
    assert result == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 summer time: 02:30 does not exist
    assert is_allowed(result, rules)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": time(20), "end": time(8)},
        {"start": time(8), "end": time(8)},
        {"timezone": "Europe/Nowhere"},
        {"start": time(8, tzinfo=UTC)},
    ],
)
def test_bad_rules_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        MarketingHours(**kwargs)  # type: ignore[arg-type]


def test_next_allowed_over_a_whole_year_is_the_first_allowed_instant() -> None:
    """Every 50 minutes of 2026: the answer is allowed, never earlier, and nothing allowed is skipped."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    deferred = 0
    while moment.year == 2026:
        result = next_allowed(moment, RULES)
        assert result >= moment
        assert is_allowed(result, RULES)
        if result != moment:
            deferred += 1
            assert not is_allowed(result - timedelta(microseconds=1), RULES)
            probe = moment
            while probe < result:
                assert not is_allowed(probe, RULES), (moment, probe)
                probe += timedelta(minutes=30)
        local = result.astimezone(PARIS)
        assert local.time() >= time(8) or result == moment
        moment += timedelta(minutes=50)
    assert 5000 < deferred < 8000
