"""Sending a recipients file as successive campaigns, going on past a failed one.

Each batch is its own campaign (its own ticket). With a request_id, batch N is sent as `ID-N`, so a run that
stopped half-way can be started again: batches already sent answer 120 instead of being sent twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from octogate.client.answers import Failure, SendResult
from octogate.client.batches import Batch
from octogate.client.errors import OctopushClientError
from octogate.client.fields import Sms
from octogate.client.sync import OctopushClient


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    batch: Batch
    result: SendResult | None = None
    error: str | None = None  # why the whole batch was not sent


@dataclass(slots=True)
class BulkSummary:
    outcomes: list[BatchOutcome] = field(default_factory=list)

    @property
    def sent(self) -> list[SendResult]:
        return [outcome.result for outcome in self.outcomes if outcome.result is not None]

    @property
    def failed_batches(self) -> list[BatchOutcome]:
        return [outcome for outcome in self.outcomes if outcome.result is None]

    @property
    def tickets(self) -> list[str]:
        return [result.ticket for result in self.sent]

    @property
    def total_cost(self) -> Decimal:
        return sum((result.cost for result in self.sent), Decimal(0))

    @property
    def currency(self) -> str:
        return next((result.currency for result in self.sent if result.currency), "")

    @property
    def failures(self) -> list[Failure]:
        """Numbers refused inside campaigns that were sent."""
        return [failure for result in self.sent for failure in result.failures]


def send_batches(
    client: OctopushClient,
    template: Sms,
    batches: Iterable[Batch],
    on_batch: Callable[[BatchOutcome], None] = lambda _outcome: None,
) -> BulkSummary:
    """`template` carries the text and options; each batch fills in its numbers and mail-merge values."""
    summary = BulkSummary()
    for batch in batches:
        request_id = f"{template.request_id}-{batch.index}" if template.request_id else None
        try:
            # the merge values go to Sms's list fields of those names
            sms = replace(template, recipients=batch.numbers, request_id=request_id, **batch.merge)  # type: ignore[arg-type]
            outcome = BatchOutcome(batch, result=client.send_sms(sms))
        except (OctopushClientError, ValueError, TypeError) as error:
            outcome = BatchOutcome(batch, error=str(error))
        summary.outcomes.append(outcome)
        on_batch(outcome)
    return summary
