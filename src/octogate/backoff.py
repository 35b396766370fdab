"""How long to wait before trying again: one exponential backoff for every retry in octogate (messages the SMSC
could not take, pushes a customer's server refused, SMPP reconnects, throttled and transient submits)."""

from __future__ import annotations

from collections.abc import Callable

MAX_DOUBLINGS = 60  # past this the ceiling has long been reached; keeps the power a small number


def doubling(retry: int, first: float, ceiling: float) -> float:
    """`first` seconds before retry 0, doubling with each further retry, never more than `ceiling`."""
    return min(ceiling, first * 2 ** min(max(retry, 0), MAX_DOUBLINGS))


def less_jitter(seconds: float, fraction: float, rand: Callable[[], float]) -> float:
    """`seconds` less up to `fraction` of it at random, so that what failed together does not retry together."""
    return seconds * (1.0 - fraction * rand())
