"""One attempt at putting one message on the wire through one connector, and what the SMSC said to it.

A single-part message goes through `SmppClient.submit_text`. A long message is split here with a reference
derived from its id, so that when some of its parts were accepted before a transient failure, a later attempt
sends only the missing parts under the same reference and the handset can still join them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from octogate.dispatch.routing import WireMessage
from octogate.smpp.client import PartOutcome, SmppClient, SmppRetriableError
from octogate.smpp.pdu import SmppError, SubmitSm
from octogate.smpp.text import encode_text
from octogate.store.delivery import AcceptedPart

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attempt:
    """Parts accepted by this attempt; a permanent refusal status, or a transient error, or neither."""

    total_parts: int
    accepted: tuple[AcceptedPart, ...]
    refused_status: int | None = None
    retriable: str | None = None


async def submit(client: SmppClient, wire: WireMessage, ref: int, done: dict[int, str]) -> Attempt:
    """Submit the parts of `wire` not in `done` (seq -> carrier id of parts accepted earlier)."""
    cfg = client.config
    encoded = encode_text(
        wire.text, ref=ref, concatenation=cfg.concatenation, gsm_data_coding=cfg.gsm_data_coding
    )
    total = len(encoded.parts)
    try:
        if total == 1 and not done:
            outcome = await client.submit_text(
                wire.source,
                wire.source_ton,
                wire.source_npi,
                wire.destination,
                wire.text,
                registered_delivery=True,
            )
            return _attempt(total, outcome.parts, None)
        pdus = {
            seq: SubmitSm(
                service_type=cfg.service_type, source_addr_ton=wire.source_ton, source_addr_npi=wire.source_npi,
                source_addr=wire.source, dest_addr_ton=cfg.dest_ton, dest_addr_npi=cfg.dest_npi,
                destination_addr=wire.destination, esm_class=part.esm_class, registered_delivery=1,
                data_coding=encoded.data_coding, short_message=part.short_message, tlvs=list(part.tlvs),
            )
            for seq, part in enumerate(encoded.parts, 1)
            if seq not in done
        }  # fmt: skip
        # The client's per-part submit (window, pacing, retries) without its own choice of reference.
        gathered = await asyncio.gather(
            *(client._submit_part(seq, pdu) for seq, pdu in pdus.items()),
            return_exceptions=True,
        )
    except SmppRetriableError as error:
        return _attempt(total, error.parts, str(error))
    except SmppError as error:
        return Attempt(total, (), retriable=str(error)[:200])
    parts: list[PartOutcome] = []
    failure: str | None = None
    for result in gathered:
        if isinstance(result, SmppError):
            failure = failure or str(result)[:200]
        elif isinstance(result, BaseException):
            raise result
        else:
            parts.append(result)
    return _attempt(total, parts, failure)


def _attempt(total: int, parts: list[PartOutcome], retriable: str | None) -> Attempt:
    accepted = tuple(
        AcceptedPart(p.seq, p.message_id or "") for p in parts if p.ok and p.message_id is not None
    )
    refused = next((p.status for p in parts if not p.ok), None)
    if retriable is not None:
        return Attempt(total, accepted, retriable=retriable[:200])
    return Attempt(total, accepted, refused_status=refused)
