"""The delivery side's live state, as the operator sees it: per connector, binds up, window in use, current
rate, last error. Read from the running `Delivery` (never from the store: it is this host's live view), set
into the delivery gauges, and sent to the API process with the metrics."""

from __future__ import annotations

import math
from typing import Any

from octogate.config import SIMULATOR_CONNECTOR
from octogate.dispatch.runtime import Delivery
from octogate.observability import metrics

MAX_ERROR = 200


def _clients(entry: Any) -> list[Any]:
    """A connector's SMPP clients on this host: the binds of a BindGroup, or the one client."""
    binds = getattr(entry, "binds", None)
    return list(binds.values()) if isinstance(binds, dict) else [entry]


def connector_states(delivery: Delivery) -> list[dict[str, Any]]:
    configured = list(delivery.binds.connectors) if delivery.binds is not None else []
    entries: list[tuple[str, int, Any]] = [
        (config.name, config.binds, delivery.binds.groups.get(config.name) if delivery.binds else None)
        for config in configured
    ]
    if SIMULATOR_CONNECTOR in delivery.clients and delivery.simulator is not None:
        entries.append((SIMULATOR_CONNECTOR, 1, delivery.clients[SIMULATOR_CONNECTOR]))
    states = []
    for name, wanted, entry in entries:
        clients = _clients(entry) if entry is not None else []
        rates = [client.current_rate for client in clients if client.connected]
        errors = [client.last_error for client in clients if client.last_error]
        states.append({
            "name": name,
            "binds_wanted": wanted,
            "binds_held": len(clients),
            "binds_up": sum(1 for client in clients if client.connected),
            "window": sum(client.config.window for client in clients),
            "in_flight": sum(client.in_flight for client in clients),
            "rate": sum(rates) if rates else 0.0,
            "last_error": errors[0][:MAX_ERROR] if errors else None,
        })  # fmt: skip
    return states


def publish(delivery: Delivery) -> dict[str, Any]:
    """Set the delivery gauges from the live state; the state, for the parent's /status and /readyz."""
    states = connector_states(delivery)
    for state in states:
        name = state["name"]
        metrics.BINDS_UP.labels(name).set(state["binds_up"])
        metrics.WINDOW_IN_USE.labels(name).set(state["in_flight"])
        metrics.SUBMIT_RATE.labels(name).set(state["rate"] if state["binds_up"] else 0.0)
    return {
        "connectors": [
            {**state, "rate": None if math.isinf(state["rate"]) else state["rate"]} for state in states
        ],
        "in_flight": delivery.dispatcher.in_flight,
    }


def bound(state: dict[str, Any]) -> bool:
    return any(connector["binds_up"] for connector in state.get("connectors", ()))
