"""The console's sends are counted like every edge's; its live estimate (a simulation at each keystroke) is not."""

from __future__ import annotations

import pytest

from octogate.observability import metrics
from octogate.observability.hooks import MeteredGateway
from octogate.octopush.errors import ApiError
from octogate.store.store import Store
from support import Customer

SEND = {"sms_recipients": "+447911123456", "sms_text": "Hello", "sms_type": "WWW", "sms_sender": "MyShop"}


def count(metric: object, *labels: str) -> float:
    return metrics.child(metric, *labels)._value.get()  # type: ignore[no-any-return]


async def test_console_sends_are_counted_and_its_estimates_are_not(store: Store, customer: Customer) -> None:
    gateway = MeteredGateway(store)
    accepted, refused = count(metrics.ACCEPTED, "console"), count(metrics.API_REFUSALS, "console", "106")
    await gateway.submit_signed_in(customer.login, {**SEND, "request_mode": "simu"})
    with pytest.raises(ApiError):
        await gateway.submit_signed_in(customer.login, {**SEND, "sms_sender": "x", "request_mode": "simu"})
    assert count(metrics.ACCEPTED, "console") == accepted
    assert count(metrics.API_REFUSALS, "console", "106") == refused
    await gateway.submit_signed_in(customer.login, SEND)
    with pytest.raises(ApiError):
        await gateway.submit_signed_in(customer.login, {**SEND, "sms_sender": "x"})
    assert count(metrics.ACCEPTED, "console") == accepted + 1
    assert count(metrics.API_REFUSALS, "console", "106") == refused + 1
