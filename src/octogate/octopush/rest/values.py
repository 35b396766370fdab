"""Lenient reading of JSON values, as the rulings ask: unknown keys and `null` ignored, `"true"`/`1` read as
booleans, numbers read as strings where a string is expected, an empty string read as absent. What cannot be
read at all is refused with a message naming the field (never silently dropped: the caller would not know)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from octogate.octopush.rest.errors import bad_field

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def text(body: Mapping[str, Any], name: str) -> str | None:
    """A string field: None when absent, null or blank; numbers become their decimal spelling."""
    return as_text(body.get(name), name)


def as_text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise bad_field(name, "must be a string")
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        raise bad_field(name, "must be a string")
    value = value.replace("\x00", "")  # no SMS field carries one, and PostgreSQL text cannot store one
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON): no text can hold it
            raise bad_field(name, "is not valid Unicode") from None
    return value if value.strip() else None


def flag(body: Mapping[str, Any], name: str, default: bool = False) -> bool:
    """A boolean field: true/false, 1/0, and their strings; absent, null or "" is the default."""
    value = body.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise bad_field(name, "must be a boolean (true or false)")
