"""One attempt at putting one message on the wire through one connector, and what the SMSC said to it.

A long message is sent under a concatenation reference derived from its id, so that when some of its parts
were accepted before a transient failure, a later attempt sends only the missing parts under the same
reference (`submit_text(ref=, skip_parts=)`) and the handset can still join them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from octogate.config import DEFAULT_VALIDITY_HOURS
from octogate.dispatch.routing import WireMessage
from octogate.frozen import quick_init
from octogate.smpp.client import PartOutcome, SmppClient, SmppRetriableError
from octogate.smpp.pdu import SmppError
from octogate.smpp.text import Concatenation, EncodedText, encode_text
from octogate.store.delivery import AcceptedPart

log = logging.getLogger(__name__)


@quick_init
@dataclass(frozen=True, slots=True)
class Attempt:
    """Parts accepted by this attempt; a permanent refusal status, or a transient error, or neither."""

    total_parts: int
    accepted: tuple[AcceptedPart, ...]
    refused_status: int | None = None
    retriable: str | None = None


@lru_cache(maxsize=16)
def relative_validity(hours: int) -> str:
    """submit_sm's validity_period in the relative form of SMPP 3.4 §7.1.1 (`YYMMDDhhmmsst00R`): 48 h is
    `000002000000000R`. Past it the SMSC gives up, and so does the gateway (incoming.apply.expire_overdue)."""
    days, hours = divmod(hours, 24)
    return f"0000{days:02d}{hours:02d}0000000R"


@lru_cache(maxsize=256)
def _one_part(text: str, concatenation: Concatenation, gsm_data_coding: int) -> EncodedText | None:
    """A text's encoding when it fits one part, else None. A part alone carries no concatenation reference, so
    the messages of a campaign, one text to many, share it: encoding costs 2-4 µs a message."""
    encoded = encode_text(text, ref=0, concatenation=concatenation, gsm_data_coding=gsm_data_coding)
    return encoded if len(encoded.parts) == 1 else None


async def submit(
    client: SmppClient, wire: WireMessage, ref: int, done: dict[int, str],
    validity_hours: int = DEFAULT_VALIDITY_HOURS,
) -> Attempt:  # fmt: skip
    """Submit the parts of `wire` not in `done` (seq -> carrier id of parts accepted earlier), valid for
    `validity_hours` (the dispatcher passes `[dispatch] validity_hours`). The text is encoded once, here: its
    part count is the attempt's, and the client sends these very parts."""
    cfg = client.config
    encoded = _one_part(wire.text, cfg.concatenation, cfg.gsm_data_coding) or encode_text(
        wire.text, ref=ref, concatenation=cfg.concatenation, gsm_data_coding=cfg.gsm_data_coding
    )
    total = len(encoded.parts)
    try:
        outcome = await client.submit_text(
            wire.source, wire.source_ton, wire.source_npi, wire.destination, wire.text,
            registered_delivery=True, ref=ref, skip_parts=frozenset(done),
            validity_period=relative_validity(validity_hours), encoded=encoded,
        )  # fmt: skip
    except SmppRetriableError as error:
        return _attempt(total, error.parts, str(error))
    except SmppError as error:
        return Attempt(total, (), retriable=str(error)[:200])
    return _attempt(total, outcome.parts, None)


def _attempt(total: int, parts: list[PartOutcome], retriable: str | None) -> Attempt:
    accepted = tuple(
        AcceptedPart(p.seq, p.message_id or "") for p in parts if p.ok and p.message_id is not None
    )
    refused = next((p.status for p in parts if not p.ok), None)
    if retriable is not None:
        return Attempt(total, accepted, retriable=retriable[:200])
    return Attempt(total, accepted, refused_status=refused)
