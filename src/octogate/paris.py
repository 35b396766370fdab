"""France's clock: the Octopush document's dates (`Y-m-d H:i:s`, pushes and deferred sends) and the marketing-hours
rule are Paris wall time. Standard library only, so that the client shares it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def paris_date(epoch: int) -> str:
    """Epoch seconds as the document writes a date: `Y-m-d H:i:s` in Europe/Paris."""
    return datetime.fromtimestamp(epoch, PARIS).strftime(DATE_FORMAT)
