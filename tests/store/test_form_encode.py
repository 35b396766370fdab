"""The pushes' form encoding is urlencode's, byte for byte, whatever the fields hold."""

from __future__ import annotations

import random
import string
from urllib.parse import urlencode

from octogate.store.callbacks import form_encode

AWKWARD = [
    "",
    "+",
    "+33601020304",
    "+33 6",
    "++33",
    "a b",
    "a+b",
    "a&b=c",
    "100%",
    "é",
    "€uro",
    "日本",
    "\n",
    "~._-",
]


def test_form_encode_is_urlencode() -> None:
    chosen = random.Random(7)
    alphabet = string.printable + "éàü€日本"
    values = [*AWKWARD, *("".join(chosen.choices(alphabet, k=chosen.randint(0, 40))) for _ in range(2000))]
    for start in range(0, len(values), 4):
        fields = {f"f{n}": value for n, value in enumerate(values[start : start + 4])}
        fields.update({"message_id": "sms_1x", "delivery_date": "2026-12-03 13:45:12", values[start]: "k"})
        assert form_encode(fields) == urlencode(fields)
    for value in values:  # the second time through the cache
        assert form_encode({value: value}) == urlencode({value: value})
