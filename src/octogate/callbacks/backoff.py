"""When a push that failed is tried again: pure, so the schedule is tested without a clock or a network."""

from __future__ import annotations

from collections.abc import Callable

from octogate.backoff import doubling, less_jitter
from octogate.config import CallbackSettings


def retry_delay(attempts: int, settings: CallbackSettings, rand: Callable[[], float]) -> int:
    """Seconds before the next try after `attempts` failed ones: backoff_min doubling up to backoff_max, less
    up to a quarter at random (jitter: pushes that failed together do not all come back together)."""
    base = doubling(attempts - 1, settings.backoff_min, settings.backoff_max)
    return max(1, round(less_jitter(base, 0.25, rand)))


def next_attempt(
    attempts: int, horizon_from: int, now: int, settings: CallbackSettings, rand: Callable[[], float]
) -> int | None:
    """When to try again after `attempts` failures, or None once the retry horizon has passed (give up)."""
    if now - horizon_from >= settings.horizon:
        return None
    return now + retry_delay(attempts, settings, rand)
