"""Octopush billing count: how many SMS a text is charged, as the Octopush v1.6.1 document says.

This is deliberately NOT the wire segmentation (``octogate.sms.segments``): Octopush counts some
single-septet characters (``& $ @``) as two and divides long GSM texts by 137, not 153.  Customers
compare our counts with Octopush's, so the rule is reproduced exactly and kept in this one place.

Written by hand: no library implements Octopush's rule, and it runs for every merged recipient of a
request (up to 10,000), so it sticks to C-level str/regex operations instead of per-character Python.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from octogate.sms.gsm import GSM_CHARS
from octogate.sms.segments import split_text

#: Up to this many counted characters a GSM text is one SMS; above, one SMS per ``GSM_LONG_PART``.
GSM_SINGLE = 160
GSM_LONG_PART = 137
#: One Unicode SMS per this many UTF-16 code units.
UNICODE_PART = 70

#: Characters Octopush counts twice in a GSM text.  '¨' is in Octopush's list but not in GSM 03.38, so
#: a text holding it is Unicode and the entry never applies; it is kept to mirror the document.
DOUBLE_CHARS = "{}€[]~^|\\¨&$@"

# One match per character counting two, line-break characters included.  A "\r\n" pair is ONE line
# break worth 2, which its two characters already are: its two matches are taken back below.
_DOUBLES = re.compile("[" + re.escape(DOUBLE_CHARS) + "\r\n]")


@dataclass(frozen=True, slots=True)
class BillingCount:
    """Result of ``billing_count``: alphabet, counted characters, SMS charged."""

    unicode: bool
    characters: int
    sms: int


def billing_count(text: str) -> BillingCount:
    """Count ``text`` the way Octopush bills it.

    * Unicode (any character outside GSM 03.38): ``characters`` is the number of UTF-16 code units,
      so an emoji or any character beyond the BMP counts 2 (it takes two units on the wire too);
      one SMS per 70 units.
    * GSM: ``{ } € [ ] ~ ^ | \\ ¨ & $ @`` count 2 each; a line break counts 2, whether it is a
      "\\r\\n" pair, a lone "\\n" or a lone "\\r".  Up to 160 counted characters is 1 SMS; above,
      ceil(count / 137).

    The empty text is GSM, 0 characters, 1 SMS (Octopush charges a message, not its length); the
    API layer is expected to reject it before billing.
    """
    if not GSM_CHARS.issuperset(text):
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2
        return BillingCount(unicode=True, characters=units, sms=math.ceil(units / UNICODE_PART))
    count = len(text) + len(_DOUBLES.findall(text)) - 2 * text.count("\r\n")
    sms = 1 if count <= GSM_SINGLE else math.ceil(count / GSM_LONG_PART)
    return BillingCount(unicode=False, characters=count, sms=sms)


def real_segments(text: str) -> int:
    """Parts actually sent (8-bit reference UDH), for operators who bill real segments instead."""
    return len(split_text(text)[1])
