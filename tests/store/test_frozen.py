"""The hot records built by `quick_init`'s `__init__` behave as the dataclasses they are: defaults, a fresh
default per record, frozen, equal and hashable, `replace`, and the same refusals of wrong arguments."""

from __future__ import annotations

import dataclasses

import pytest

from octogate.smpp.client import DeliverEvent
from octogate.store.delivery import ClaimedMessage, Outcome


def claimed(**changes: object) -> ClaimedMessage:
    fields = dict(id=1, account_id=2, campaign_id=3, recipient="+33601020304", calling_code=33, text="hi",
                  priority=0, send_at=10, attempts=1, sms_type="FR", sender=None, sender_is_msisdn=False)  # fmt: skip
    return ClaimedMessage(**{**fields, **changes})  # type: ignore[arg-type]


def test_records_keep_their_defaults_and_stay_frozen() -> None:
    first, second = claimed(), claimed()
    assert first.done_parts == {} and first.done_parts is not second.done_parts
    assert first.done_connector is None and first == second and hash(Outcome(1, "queued", None)) is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.text = "changed"  # type: ignore[misc]
    assert dataclasses.replace(first, attempts=2).attempts == 2
    outcome = Outcome(7, "submitted", "smsc", total_parts=2)
    assert (outcome.parts, outcome.total_parts, outcome.error) == ((), 2, None)


def test_wrong_arguments_are_refused_as_before() -> None:
    with pytest.raises(TypeError):
        Outcome(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Outcome(1, "queued", None, colour="red")  # type: ignore[call-arg]


def test_a_receipt_event_still_caches_its_parsed_text() -> None:
    event = DeliverEvent("smsc", "deliver_sm", "33601020304", 1, 1, "MyShop", 5, 0, 0x04, 0, b"", b"",
                         "id:ab12 sub:001 dlvrd:001 submit date:2512031200 done date:2512031201 stat:DELIVRD err:000",
                         None, (), None, None, None)  # fmt: skip
    parsed = event.receipt()
    assert parsed is not None and parsed.stat == "DELIVRD" and event.receipt() is parsed
