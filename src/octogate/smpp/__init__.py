"""SMPP 3.4, written by hand for this gateway: sans-I/O codec (``pdu``), session state machine
(``session``), asyncio ESME client (``client``) and an SMSC simulator (``simulator``)."""

from .client import (
    ConnectorConfig,
    DeliverEvent,
    PartOutcome,
    SmppClient,
    SmppRetriableError,
    SubmitOutcome,
)
from .simulator import SimulatorConfig, SmscSimulator

__all__ = [
    "ConnectorConfig",
    "DeliverEvent",
    "PartOutcome",
    "SimulatorConfig",
    "SmppClient",
    "SmppRetriableError",
    "SmscSimulator",
    "SubmitOutcome",
]
