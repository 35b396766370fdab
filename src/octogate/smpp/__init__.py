"""SMPP 3.4, written by hand for this gateway: sans-I/O codec (``pdu``), session state machine
(``session``), asyncio ESME client (``client``) and an SMSC simulator (``simulator``).

The names below are imported lazily, so ``python -m octogate.smpp.simulator`` does not import the
simulator twice.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConnectorConfig": "client",
    "DeliverEvent": "client",
    "PartOutcome": "client",
    "SmppClient": "client",
    "SmppRetriableError": "client",
    "SubmitOutcome": "client",
    "SimulatorConfig": "simulator",
    "SmscSimulator": "simulator",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
