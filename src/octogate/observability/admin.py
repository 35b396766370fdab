"""The operator's endpoints: /healthz, /readyz, /metrics and /status.

Where they answer: all four on the operator address (`OCTOGATE_ADMIN`, 127.0.0.1:9180 by default, `off` to
have none); /healthz and /readyz also on the API port, because load balancers and orchestrators probe the
port they send traffic to. /metrics and /status stay off the API port: they name connectors, SMSC hosts and
customers' push hosts, which the API's clients have no business reading.

* /healthz: 200 while the process answers at all;
* /readyz: 200 only when the store answers within 2 s and the delivery side runs with at least one bound
  connector on this host; else 503 with the reasons (JSON);
* /metrics: Prometheus text format: the API process's counters, the delivery process's (`metrics`), and the
  queue and push backlog read from the store at scrape time;
* /status: what `octogate status` prints, as JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from octogate.asgi import respond
from octogate.http.rest import METHODS as REST_PATHS
from octogate.observability import metrics
from octogate.operations import backlog_document
from octogate.store import health
from octogate.store.records import StoreUnavailable
from octogate.store.store import Store

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STORE_TIMEOUT = 2.0
PROBES = frozenset({"/healthz", "/readyz"})
ADMIN_PATHS = PROBES | {"/metrics", "/status"}
JSON = b"application/json"
MINUTES = 15
SILENT_AFTER = 10.0  # seconds without a report from a live delivery process before it counts as stalled


class DeliveryView(Protocol):
    """The delivery side as the API process sees it (a supervised child, or the same process)."""

    def problem(self) -> str | None: ...
    def state(self) -> dict[str, Any]: ...
    def collectors(self) -> list[Collector]: ...
    def total(self, family: str) -> float: ...


class ChildView:
    def __init__(self, child: Any) -> None:
        self.child = child

    def problem(self) -> str | None:
        if self.child.process is None or not self.child.process.is_alive():
            return self.child.problem or "delivery process not running"
        silent = time.monotonic() - self.child.last_report
        if self.child.problem is None and silent > SILENT_AFTER:
            return f"delivery process has not reported for {silent:.0f} s (stalled?)"
        return self.child.problem

    def state(self) -> dict[str, Any]:
        return self.child.state

    def collectors(self) -> list[Collector]:
        return [self.child.child_metrics]

    def total(self, family: str) -> float:
        return float(self.child.child_metrics.total(family))


class InlineView:
    """`background = "inline"`: the delivery side runs in this process."""

    def __init__(self, delivery: Any) -> None:
        self.delivery = delivery

    def problem(self) -> str | None:
        return None

    def state(self) -> dict[str, Any]:
        from octogate.observability.state import publish

        return publish(self.delivery)

    def collectors(self) -> list[Collector]:
        self.state()  # the gauges, fresh
        return [metrics.DELIVERY]

    def total(self, family: str) -> float:
        counter = {"octogate_messages_submitted": metrics.SUBMITTED, "octogate_receipts": metrics.RECEIPTS}[family]
        return metrics.counter_total(counter)


class LiveConnectors:
    """The connectors' live state for the web console, from the same view /status reads. Made before the
    delivery side starts (the console is built first): until then it says so."""

    def __init__(self) -> None:
        self.view: DeliveryView | None = None

    def connectors(self) -> tuple[str | None, list[dict[str, Any]]]:
        if self.view is None:
            return "the delivery side is starting", []
        return self.view.problem(), list(self.view.state().get("connectors", []))


class Rates:
    """Accepted / submitted / receipts per minute over the last 15 minutes, from this host's counters (a
    sample a minute; no query on the message history)."""

    def __init__(self, view: DeliveryView, clock: Callable[[], float] = time.time) -> None:
        self.view = view
        self.clock = clock
        self.samples: deque[tuple[float, float, float, float]] = deque(maxlen=MINUTES + 1)

    def sample(self) -> None:
        self.samples.append((
            self.clock(), metrics.API_FOLD.total(metrics.ACCEPTED),
            self.view.total("octogate_messages_submitted"), self.view.total("octogate_receipts"),
        ))  # fmt: skip

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(60)

    def per_minute(self) -> list[dict[str, Any]]:
        points = list(self.samples)
        return [
            {"minute_start": int(a[0]), "accepted": int(b[1] - a[1]), "submitted": int(b[2] - a[2]),
             "receipts": int(b[3] - a[3])}
            for a, b in itertools.pairwise(points)
        ]  # fmt: skip

    def since_last(self) -> dict[str, Any]:
        """The minute under way (since the last sample)."""
        if not self.samples:
            return {}
        start = self.samples[-1]
        return {"minute_start": int(start[0]), "seconds": int(self.clock() - start[0]),
                "accepted": int(metrics.API_FOLD.total(metrics.ACCEPTED) - start[1]),
                "submitted": int(self.view.total("octogate_messages_submitted") - start[2]),
                "receipts": int(self.view.total("octogate_receipts") - start[3])}  # fmt: skip


class Endpoints:
    """Answers the operator's endpoints for one `serve` process."""

    def __init__(self, store: Store, view: DeliveryView, rates: Rates | None = None) -> None:
        self.store = store
        self.view = view
        self.rates = rates or Rates(view)

    async def _store(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wait_for(self.store.read(fn, *args), STORE_TIMEOUT)

    async def readiness(self) -> list[str]:
        """Why this host is not ready (empty: ready)."""
        reasons = []
        try:
            await self._store(health.ping)
        except (StoreUnavailable, TimeoutError, OSError) as error:
            reasons.append(f"store: {str(error)[:200] or 'no answer within 2 s'}")
        except Exception as error:  # a database driver's own error: still a one-line reason
            reasons.append(f"store: {type(error).__name__}: {str(error)[:200]}")
        problem = self.view.problem()
        if problem:
            reasons.append(problem)
        else:
            connectors = self.view.state().get("connectors", [])
            if not any(c["binds_up"] for c in connectors):
                names = ", ".join(c["name"] for c in connectors) or "none configured"
                reasons.append(f"no connector bound on this host ({names[:200]})")
        return reasons

    async def metrics_text(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        for collector in [metrics.API_FOLD, *self.view.collectors()]:
            registry.register(collector)
        try:
            depth = await self._store(health.queue_depth)
            backlog = await self._store(health.push_backlog)
        except Exception as error:  # the other families are still worth serving
            log.warning("metrics: cannot read the queue from the store: %.200s", error)
        else:
            now = time.time()
            registry.register(metrics.Families([
                metrics.gauge_family("octogate_queue_messages", "messages not final yet, by status (store)",
                                     [({"status": d.status}, d.count) for d in depth]),
                metrics.gauge_family(
                    "octogate_queue_oldest_due_age_seconds",
                    "how long the oldest queued message has been due (store; 0 when none is due)",
                    [({}, max(0.0, now - d.oldest_due) if d.oldest_due else 0.0)
                     for d in depth if d.status == "queued"]),
                metrics.gauge_family(
                    "octogate_push_backlog", "pushes not delivered yet, by state (store)",
                    [({"state": "pending"}, backlog.pending), ({"state": "failing"}, backlog.failing)]),
                metrics.gauge_family(
                    "octogate_push_oldest_failing_age_seconds",
                    "age of the oldest push that failed and waits for its retry (store; 0 when none)",
                    [({}, max(0.0, now - backlog.oldest_failing_since) if backlog.oldest_failing_since else 0.0)]),
            ]))  # fmt: skip
        return generate_latest(registry)

    async def status(self) -> dict[str, Any]:
        backlog = backlog_document(await self._store(health.backlog))
        problems = await self.readiness()
        return {
            "ready": not problems,
            "problems": problems,
            "connectors": self.view.state().get("connectors", []),
            **backlog,
            "per_minute": self.rates.per_minute(),
            "this_minute": self.rates.since_last(),
            "now": int(time.time()),
        }

    # --- ASGI ------------------------------------------------------------------------------------------------------
    async def answer(self, path: str, send: Send) -> None:
        if path == "/healthz":
            await respond(send, 200, b'{"status": "ok"}\n', [(b"content-type", JSON)])
        elif path == "/readyz":
            reasons = await self.readiness()
            state = {"status": "not ready", "reasons": reasons} if reasons else {"status": "ready"}
            await respond(send, 503 if reasons else 200, json.dumps(state).encode() + b"\n", [(b"content-type", JSON)])
        elif path == "/metrics":
            await respond(send, 200, await self.metrics_text(), [(b"content-type", CONTENT_TYPE_LATEST.encode())])
        else:
            try:
                body = json.dumps(await self.status(), indent=1).encode() + b"\n"
                code = 200
            except Exception as error:
                body, code = json.dumps({"error": f"store: {str(error)[:200]}"}).encode(), 503
            await respond(send, code, body, [(b"content-type", JSON)])


def count_request(path: str, code: int) -> None:
    """One answered HTTP request in `octogate_http_requests_total` (the ASGI edge's and the direct path's)."""
    metrics.child(metrics.HTTP_REQUESTS, http_path(path), str(code)).inc()


def http_path(path: str) -> str:
    """A request path as a label: one of a fixed few, so that clients cannot grow the series without bound.
    The labels of the API's own paths are kept (a dict lookup per request instead of a split)."""
    label = _PATH_LABELS.get(path)
    if label is None:
        label = _path_label(path)
        if label != "other" and len(_PATH_LABELS) < 256:
            _PATH_LABELS[path] = label
    return label


_PATH_LABELS: dict[str, str] = {}


def _path_label(path: str) -> str:
    if path in ADMIN_PATHS:
        return path
    if (rest := path.rstrip("/")) in REST_PATHS:  # the REST API's endpoints, not its 404s
        return rest
    parts = [p for p in path.split("/") if p][:3]
    if len(parts) >= 2 and parts[0] == "api" and parts[1] in {"sms", "balance", "credit"}:
        return "/" + "/".join(parts[:3] if len(parts) == 3 and parts[2] == "json" else parts[:2])
    return "other"


class OperatorEdge:
    """Wraps the API's ASGI app: answers the probes (or every operator path, on the admin address) and counts
    every answer by path and status code."""

    def __init__(self, app: ASGIApp | None, operator: Endpoints | None, paths: frozenset[str]) -> None:
        self.app = app
        self.operator = operator
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self.app is not None:
                await self.app(scope, receive, send)
            return
        path = scope["path"]
        code = 500

        async def counted(message: dict[str, Any]) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            if path in self.paths and scope["method"] in {"GET", "HEAD"} and self.operator is not None:
                await self.operator.answer(path, counted)
            elif self.app is not None:
                await self.app(scope, receive, counted)
            else:
                await respond(counted, 404, b"Not found: /healthz /readyz /metrics /status\n",
                              [(b"content-type", b"text/plain")])  # fmt: skip
        finally:
            count_request(path, code)
