"""A faster `__init__` for the frozen, slotted records made once or more per message.

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__` (it must get past the
class's refusing `__setattr__`): ~0.13 µs a field, 1.9 µs for 14 fields. Setting the slots through their own
descriptors gets past it too, at ~0.05 µs a field. Same signature, defaults and default factories; the
records stay frozen (assignment still raises), comparable and hashable as before.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")
_UNSET: Any = object()


def quick_init(cls: type[T]) -> type[T]:
    """Replace a frozen, slotted dataclass's `__init__` (apply above `@dataclass(frozen=True, slots=True)`)."""
    params = dataclasses.fields(cls)  # type: ignore[arg-type]
    if getattr(cls, "__post_init__", None) is not None or not hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__}: quick_init takes slotted dataclasses without __post_init__")
    names: dict[str, Any] = {"_UNSET": _UNSET}
    args: list[str] = []
    body: list[str] = []
    for f in params:
        if f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: keyword-only fields are not handled")
        names[f"_set_{f.name}"] = getattr(cls, f.name).__set__  # the slot's own descriptor
        if f.default is not dataclasses.MISSING:
            names[f"_d_{f.name}"] = f.default
            value = f.name if f.init else f"_d_{f.name}"
            if f.init:
                args.append(f"{f.name}=_d_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_f_{f.name}"] = f.default_factory
            value = f"(_f_{f.name}() if {f.name} is _UNSET else {f.name})" if f.init else f"_f_{f.name}()"
            if f.init:
                args.append(f"{f.name}=_UNSET")
        elif f.init:
            value = f.name
            args.append(f.name)
        else:
            continue  # no init, no default: left unset, as dataclasses leaves it
        body.append(f"    _set_{f.name}(self, {value})")
    source = f"def __init__(self, {', '.join(args)}) -> None:\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, names)  # noqa: S102 - built from the field names above, nothing else
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
