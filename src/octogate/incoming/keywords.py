"""Which incoming texts are STOPs: STOP, STOP SMS, ARRET, ARRÊT, in any case, trimmed (inner blanks and a
final full stop or exclamation mark tolerated)."""

from __future__ import annotations

import re
import unicodedata

STOP_WORDS = frozenset({"STOP", "STOP SMS", "STOPSMS", "ARRET", "ARRET SMS"})
_BLANKS = re.compile(r"\s+")


def _folded(text: str) -> str:
    """Upper-case without accents, blanks collapsed, a trailing '.' or '!' dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _BLANKS.sub(" ", plain).strip().rstrip(".!").strip().upper()


def is_stop(text: str) -> bool:
    return len(text) <= 40 and _folded(text) in STOP_WORDS
