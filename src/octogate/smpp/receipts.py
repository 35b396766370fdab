"""Delivery receipt text (SMPP 3.4 Appendix B) parsing and formatting.

The appendix format is only "recommended", so SMSCs vary: the parser is tolerant (any field order,
missing fields, upper/lower case, ``Text:`` or ``text:``), and the formatter writes the canonical form
the simulator sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_FIELD_RE = re.compile(
    r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:\s*"
    r"(.*?)(?=\s+(?:id|sub|dlvrd|submit date|done date|stat|err|text)\s*:|$)",
    re.DOTALL,
)
#: The appendix's canonical form, which most SMSCs (and the simulator) write, read in one match: the tolerant
#: scan above cost ~24 µs per receipt. Taken only where it reads exactly what the scan would: values non-empty
#: and without whitespace, a text that starts with none and holds no ':' or line break (the scan could see a
#: field or an end there).
_CANONICAL_RE = re.compile(
    r"id:(\S+) sub:(\S+) dlvrd:(\S+) submit date:(\S+) done date:(\S+) stat:(\S+) err:(\S+) "
    r"text:((?:[^:\s][^:\n]*)?)"
)


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """Fields of a receipt text; absent ones are empty strings."""

    message_id: str
    sub: str = ""
    dlvrd: str = ""
    submit_date: str = ""
    done_date: str = ""
    stat: str = ""
    err: str = ""
    text: str = ""


def parse_receipt_text(text: str) -> DeliveryReceipt | None:
    """Parse ``id:... stat:DELIVRD ...``; None when there is no ``id:`` field at all."""
    canonical = _CANONICAL_RE.fullmatch(text)
    if canonical is not None:
        message_id, sub, dlvrd, submit_date, done_date, stat, err, body = canonical.groups()
        return DeliveryReceipt(message_id, sub, dlvrd, submit_date, done_date, stat.upper(), err, body)
    fields: dict[str, str] = {}
    for m in _FIELD_RE.finditer(text):
        key = m.group(1).lower().replace(" ", "_")
        fields.setdefault(key, m.group(2).strip() if key != "text" else m.group(2))
    if "id" not in fields:
        return None
    return DeliveryReceipt(
        message_id=fields["id"],
        sub=fields.get("sub", ""),
        dlvrd=fields.get("dlvrd", ""),
        submit_date=fields.get("submit_date", ""),
        done_date=fields.get("done_date", ""),
        stat=fields.get("stat", "").upper(),
        err=fields.get("err", ""),
        text=fields.get("text", ""),
    )


def format_receipt_text(message_id: str, stat: str, *, submitted: datetime, done: datetime, err: int = 0,
                        text: str = "", delivered: bool | None = None) -> str:
    """The Appendix B text: ``id:... sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
    stat:DELIVRD err:000 text:...`` (text cut to 20 characters)."""
    if delivered is None:
        delivered = stat == "DELIVRD"
    return (f"id:{message_id} sub:001 dlvrd:{'001' if delivered else '000'} "
            f"submit date:{submitted:%y%m%d%H%M} done date:{done:%y%m%d%H%M} stat:{stat} err:{err:03d} "
            f"text:{text[:20]}")
