"""Reading TOML tables into typed values, collecting every mistake instead of stopping at the first.

An operator fixing a configuration file wants the whole list at once, each line naming the key's path
(`connectors[1].password: longer than 8 characters`), not one traceback per attempt. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from octogate import listen

Check = tuple[Callable[[Any], bool], str]  # a predicate on the typed value, and what it says when it fails
LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){LABEL}(\.{LABEL})*\.?$")


@dataclass
class Problems:
    """The mistakes found so far, one `path: what is wrong` line each, in the file's order."""

    lines: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}")

    def __bool__(self) -> bool:
        return bool(self.lines)


class _Bad(Exception):
    """A value of the wrong type; the message says what was expected."""


def typed(value: Any, hint: Any) -> Any:
    """`value` as `hint` asks (bool, int, float, str, Literal, X | None, tuple[str, ...]); else _Bad."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise _Bad(f"one of {', '.join(repr(c) for c in choices)}, not {_show(value)}")
        return value
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return typed(value, inner[0])
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _Bad(f"a list of strings, not {_show(value)}")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise _Bad(f"true or false, not {_show(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"a whole number, not {_show(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad(f"a number, not {_show(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _Bad(f"a string, not {_show(value)}")
        return value
    raise _Bad(f"a {getattr(hint, '__name__', hint)}")  # pragma: no cover - a setting of an unplanned type


def read_table(
    table: Any,
    hints: Mapping[str, Any],
    path: str,
    problems: Problems,
    *,
    checks: Mapping[str, Check] | None = None,
    required: Iterable[str] = (),
) -> dict[str, Any]:
    """The table's known keys, typed and checked; every unknown key, wrong type or bad value noted."""
    if not isinstance(table, dict):
        problems.add(path, f"a table, not {_show(table)}")
        return {}
    values: dict[str, Any] = {}
    for key, raw in table.items():
        where = f"{path}.{key}"
        if key not in hints:
            problems.add(where, "unknown setting")
            continue
        try:
            value = typed(raw, hints[key])
        except _Bad as error:
            problems.add(where, f"expected {error}")
            continue
        check = (checks or {}).get(key)
        if check is not None and not check[0](value):
            problems.add(where, check[1])
            continue
        values[key] = value
    for key in required:
        if key not in table:
            problems.add(f"{path}.{key}", "missing (required)")
    return values


def hints_of(cls: type) -> dict[str, Any]:
    """A dataclass's field types, resolved (they are strings under `from __future__ import annotations`)."""
    return typing.get_type_hints(cls)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- value checks shared by several sections ---------------------------------------------------------------------


def between(low: float, high: float) -> Check:
    return (lambda v: low <= v <= high, f"must be between {low:g} and {high:g}")


def at_least(low: float) -> Check:
    return (lambda v: v >= low, f"must be at least {low:g}")


def positive() -> Check:
    return (lambda v: v > 0, "must be greater than 0")


def listen_address(value: str) -> bool:
    try:
        host, _ = listen.parse_listen(value)
    except listen.BadListenAddress:
        return False
    return is_host(host)


def is_host(host: str) -> bool:
    """A host name or an IP address (syntax only: nothing is resolved)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(HOSTNAME.match(host))


def is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
        return True
    except ValueError:
        return False
