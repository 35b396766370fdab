"""Gathering an API call's parameters the way Octopush callers send them.

Callers mix a query string and a body (urlencoded or multipart) and always send empty fields such as
`request_id=`; the rulings say the body wins on a clash and an empty value is an absent field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

Params = Mapping[str, str]


def decode_pairs(data: bytes | str) -> list[tuple[str, str]]:
    """UTF-8 as the document says; an old client's Latin-1 is read as Latin-1 rather than mangled."""
    if isinstance(data, str):
        return parse_qsl(data, keep_blank_values=True, errors="replace")
    try:
        return parse_qsl(data.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return parse_qsl(data.decode("latin-1"), keep_blank_values=True, encoding="latin-1")


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
