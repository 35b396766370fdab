"""Gathering an API call's parameters the way Octopush callers send them.

Callers mix a query string and a body (urlencoded or multipart) and always send empty fields such as
`request_id=`; the rulings say the body wins on a clash and an empty value is an absent field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

Params = Mapping[str, str]


def decode_pairs(data: bytes | str) -> list[tuple[str, str]]:
    """UTF-8 as the document says; each field that is not UTF-8 is read as Windows-1252, what old French
    PHP clients send (`%80` is €, `%92` is ’), and Latin-1 for the few bytes Windows-1252 leaves undefined."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    text = raw.decode("latin-1")  # one character per byte, losslessly; fields are decoded one by one below
    pairs = []
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
        pairs.append((_legacy_text(name), _legacy_text(value)))
    return pairs


def _legacy_text(raw: str) -> str:
    """`raw` holds one byte per character: UTF-8 if it decodes as UTF-8, else Windows-1252 / Latin-1."""
    if raw.isascii():
        return raw
    data = raw.encode("latin-1")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def params_from_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Later pairs win; empty values are dropped, so they never hide an earlier real value.

    NUL characters are removed: no SMS field can carry one, and PostgreSQL text cannot store one.
    """
    params: dict[str, str] = {}
    for name, value in pairs:
        if "\x00" in value:
            value = value.replace("\x00", "")
        if value:
            params[name] = value
    return params


def flag(params: Params, name: str) -> bool:
    """Octopush flags are `1`/`0`; `true`, `yes` and `on` are read as `1` for hand-written callers."""
    return params.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
