"""Traffic counts shaped for the chart (uPlot: one x axis, one series per final status) and for the table the
page shows without JavaScript. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from octogate.statuses import MessageStatus

FINAL = (MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED)
COLOURS = {"delivered": "#16a34a", "undelivered": "#d97706", "failed": "#dc2626"}


@dataclass(frozen=True, slots=True)
class Series:
    hours: list[int]  # epoch seconds of each hour's start, oldest first
    counts: dict[str, list[int]]  # final status -> messages per hour

    def as_chart(self) -> dict[str, object]:
        return {
            "x": self.hours,
            "series": [
                {"label": status, "colour": COLOURS[status], "values": values}
                for status, values in self.counts.items()
            ],
        }

    def total(self, status: str) -> int:
        return sum(self.counts.get(status, ()))

    def rows(self) -> list[tuple[int, list[int]]]:
        """(hour, counts per status) of the hours that had traffic, newest first: the table under the chart."""
        found = []
        for i, hour in enumerate(self.hours):
            values = [self.counts[s][i] for s in self.counts]
            if any(values):
                found.append((hour, values))
        return found[::-1]


def hourly(rows: Iterable[object], now: int, hours: int) -> Series:
    """`rows`: records with hour (epoch // 3600), status and count; the last `hours` hours up to now's."""
    last = now // 3600
    first = last - hours + 1
    counts = {status.value: [0] * hours for status in FINAL}
    for row in rows:
        hour, status, count = row.hour, row.status, row.count  # type: ignore[attr-defined]
        if status in counts and first <= int(hour) <= last:
            counts[status][int(hour) - first] += int(count)
    return Series([(first + i) * 3600 for i in range(hours)], counts)
