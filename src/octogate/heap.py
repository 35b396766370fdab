"""The garbage collector, set for a long-running server that allocates many short-lived objects.

Why: at start a process holds a few hundred thousand long-lived objects (phone number metadata, holidays,
price tables, modules); CPython's full collections walk all of them again and again, and the default
first-generation threshold (700 allocations) runs a collection every few requests. Frozen after start, the
long-lived objects are never walked again; a larger first threshold makes young collections rarer, each still
short (only the objects allocated since the last one). Reference counting frees almost everything anyway: the
collector is only there for cycles.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between two young collections (CPython's default: 700)


def settle() -> None:
    """Call once the process has started (imports done, tables loaded): freeze what exists, rarer collections."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
