"""The gateway's Prometheus metrics, and how the delivery process's reach the API process's `/metrics`.

Two registries, one per side: `API` (HTTP requests, accepted messages, e-mails) lives in the API process,
`DELIVERY` (submits, finals, throttles, binds, pushes) in the delivery process. The delivery process sends
its registry's samples to its parent once a second over a pipe (`snapshot` / `ChildMetrics`), and the parent
serves both, plus what it reads from the store at scrape time (queue depth, push backlog).

Why not prometheus_client's multiprocess mode: it needs PROMETHEUS_MULTIPROC_DIR set before the library is
first imported (the CLI imports it long before `serve` decides anything), a directory to create, wipe and
share, and it cannot carry live values (binds up, windows in use, rates) except as gauges written on every
change. A snapshot per second costs one small message, the parent owns everything it serves, and a
restarted delivery process's counters do not go backwards: the parent adds the last totals of the dead one
(at most the last second of it is lost, which Prometheus's rate() reads as a counter reset anyway).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

disable_created_metrics()  # `_created` samples double the output for nothing an operator alerts on

API = CollectorRegistry(auto_describe=True)


class _TalliedRegistry(CollectorRegistry):
    """Adds the pending tallies (`count`) to their counters before every read: a scrape, a snapshot."""

    def collect(self) -> Iterator[Metric]:
        flush()
        yield from super().collect()


DELIVERY = _TalliedRegistry(auto_describe=True)

# --- the API process ---------------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "octogate_http_requests", "HTTP requests answered, by path and status code", ["path", "code"], registry=API
)
ACCEPTED = Counter(
    "octogate_messages_accepted", "messages (recipients) accepted, by edge (http, smtp...)", ["source"], registry=API
)
API_REFUSALS = Counter(
    "octogate_api_refusals", "send requests refused with an Octopush error code, by edge and code",
    ["source", "code"], registry=API,
)  # fmt: skip
EMAILS = Counter(
    "octogate_emails", "e-mails to SMS that reached the API, by outcome (accepted, refused)", ["outcome"],
    registry=API,
)  # fmt: skip
DELIVERY_UP = Gauge("octogate_delivery_process_up", "1 while the delivery process runs and reports", registry=API)
DELIVERY_RESTARTS = Counter(
    "octogate_delivery_restarts", "times the delivery process died and was started again", registry=API
)

# --- the delivery process ----------------------------------------------------------------------------------------
SUBMITTED = Counter(
    "octogate_messages_submitted", "messages whose every part the SMSC accepted, by connector", ["connector"],
    registry=DELIVERY,
)  # fmt: skip
FINAL = Counter(
    "octogate_messages_final",
    "messages made final, by connector and status: receipts (per part, by its stat word), refused submits "
    "(REFUSED), messages given up after their validity (UNKNOWN_DELIVERY)",
    ["connector", "status"], registry=DELIVERY,
)  # fmt: skip
RETRIED = Counter(
    "octogate_messages_retried", "messages put back in the queue after a transient failure, by connector",
    ["connector"], registry=DELIVERY,
)  # fmt: skip
SUBMIT_SM = Counter(
    "octogate_submit_sm", "submit_sm answered, by connector and result (ok, refused, throttled, transient)",
    ["connector", "result"], registry=DELIVERY,
)  # fmt: skip
SUBMIT_SECONDS = Histogram(
    "octogate_submit_sm_seconds", "time from a submit_sm written to its submit_sm_resp, by connector",
    ["connector"], registry=DELIVERY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)  # fmt: skip
THROTTLES = Counter(
    "octogate_throttles", "throttling episodes (an SMSC answering ESME_RTHROTTLED / ESME_RMSGQFUL), by connector",
    ["connector"], registry=DELIVERY,
)  # fmt: skip
RECEIPTS = Counter(
    "octogate_receipts", "delivery receipts received, by connector and outcome (applied, early, duplicate...)",
    ["connector", "outcome"], registry=DELIVERY,
)  # fmt: skip
PUSHES = Counter(
    "octogate_pushes", "push attempts to customers' URLs, by outcome (delivered, retry, failed)", ["outcome"],
    registry=DELIVERY,
)  # fmt: skip
BINDS_UP = Gauge("octogate_binds_up", "SMPP binds up on this host, by connector", ["connector"], registry=DELIVERY)
WINDOW_IN_USE = Gauge(
    "octogate_window_in_use", "submit_sm awaiting their answer, by connector", ["connector"], registry=DELIVERY
)
SUBMIT_RATE = Gauge(
    "octogate_submit_rate_limit", "submit_sm per second allowed now (+Inf: unlimited; lowered by throttling)",
    ["connector"], registry=DELIVERY,
)  # fmt: skip

_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


def child(metric: Any, *values: str) -> Any:
    """`metric.labels(*values)`, looked up once per label set: the delivery process counts several per message
    and the API process a few per request (prometheus_client's lookup, lock and checks, ~2 µs each). Children
    are never removed, so one kept here is the metric's own."""
    key = (metric, values)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*values)
    return found


#: (counter, label values) -> how much `count` has counted, ever; and how much of it the counter has been given
_tallies: dict[tuple[Any, tuple[str, ...]], float] = {}
_given: dict[tuple[Any, tuple[str, ...]], float] = {}
_flushing = threading.Lock()


def count(metric: Any, *values: str, amount: float = 1) -> None:
    """`child(metric, *values).inc(amount)`, added to the counter at its next read (`flush`). The delivery
    process counts several times per message; prometheus_client's `inc` takes a lock each time (~0.6 µs
    with the look-up, against ~0.2 here). Call it from one thread only (the event loop): the tally is a
    plain dict. The totals only grow, so a flush from any thread adds exactly what it has not given yet."""
    key = (metric, values)
    _tallies[key] = _tallies.get(key, 0) + amount


def flush() -> None:
    """Give every counter what `count` counted since the last flush (called by every read of `DELIVERY`)."""
    with _flushing:
        for key, total in list(_tallies.items()):
            given = _given.get(key, 0)
            if total != given:
                child(key[0], *key[1]).inc(total - given)
                _given[key] = total


CUMULATIVE = {"counter", "histogram"}


def snapshot(registry: CollectorRegistry) -> list[dict[str, Any]]:
    """The registry's families as plain data (what the delivery process sends its parent)."""
    return [
        {
            "name": family.name, "help": family.documentation, "type": family.type,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
        for family in registry.collect()
    ]  # fmt: skip


def encode(families: list[dict[str, Any]], state: dict[str, Any]) -> bytes:
    return json.dumps({"metrics": families, "state": state}, allow_nan=True).encode()


def decode(data: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    message = json.loads(data)
    return message["metrics"], message["state"]


def _key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


class ChildMetrics(Collector):
    """The delivery process's latest families, plus the counters of its dead predecessors."""

    def __init__(self) -> None:
        self.current: list[dict[str, Any]] = []
        #: family name -> (help, type, {(sample, labels): value}) of delivery processes that died
        self.carried: dict[str, tuple[str, str, dict[Any, float]]] = {}

    def update(self, families: list[dict[str, Any]]) -> None:
        self.current = families

    def child_died(self) -> None:
        """Keep what the dead process had counted; its gauges (binds up...) go with it."""
        for family in self.current:
            if family["type"] not in CUMULATIVE:
                continue
            _, _, values = self.carried.setdefault(family["name"], (family["help"], family["type"], {}))
            for name, labels, value in family["samples"]:
                key = _key(name, labels)
                values[key] = values.get(key, 0.0) + value
        self.current = []

    def total(self, family_name: str, sample_name: str | None = None) -> float:
        """A counter's sum over every label set, carried totals included (for per-minute rates)."""
        sample_name = sample_name or family_name + "_total"
        found = 0.0
        for family in self.current:
            if family["name"] == family_name:
                found += sum(v for n, _, v in family["samples"] if n == sample_name)
        if family_name in self.carried:
            found += sum(v for (n, _), v in self.carried[family_name][2].items() if n == sample_name)
        return found

    def collect(self) -> Iterator[Metric]:
        seen = set()
        for family in self.current:
            seen.add(family["name"])
            metric = Metric(family["name"], family["help"], family["type"])
            carried = dict(self.carried.get(family["name"], ("", "", {}))[2])
            for name, labels, value in family["samples"]:
                metric.add_sample(name, labels, value + carried.pop(_key(name, labels), 0.0))
            for (name, labels), value in carried.items():
                metric.add_sample(name, dict(labels), value)
            yield metric
        for name, (help_text, kind, values) in self.carried.items():
            if name in seen:
                continue
            metric = Metric(name, help_text, kind)
            for (sample, labels), value in values.items():
                metric.add_sample(sample, dict(labels), value)
            yield metric


class Families(Collector):
    """Ready-made families (what the parent reads from the store at scrape time)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def gauge_family(name: str, help_text: str, values: Iterable[tuple[dict[str, str], float | None]]) -> Metric:
    metric = Metric(name, help_text, "gauge")
    for labels, value in values:
        metric.add_sample(name, labels, math.nan if value is None else float(value))
    return metric


def counter_total(counter: Counter) -> float:
    """A labelled counter's sum over its label sets (the parent's own counters, for per-minute rates)."""
    flush()
    return sum(s.value for family in counter.collect() for s in family.samples if s.name.endswith("_total"))


class ApiFold(Collector):
    """The `API` registry as served: this process's families with the counters of the API worker processes
    (`[http] workers`) added, so /metrics counts every request whichever process answered it. Each worker
    sends its `API` snapshot once a second (`octogate.http.workers`); a dead worker's totals are carried."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.workers: list[ChildMetrics] = []

    def _extra(self) -> dict[str, dict[Any, float]]:
        extra: dict[str, dict[Any, float]] = {}
        for worker in self.workers:
            for family in worker.collect():
                if family.type not in CUMULATIVE:
                    continue
                values = extra.setdefault(family.name, {})
                for sample in family.samples:
                    key = _key(sample.name, sample.labels)
                    values[key] = values.get(key, 0.0) + sample.value
        return extra

    def collect(self) -> Iterator[Metric]:
        extra = self._extra() if self.workers else {}
        for family in self.registry.collect():
            added = extra.get(family.name)
            if not added:
                yield family
                continue
            metric = Metric(family.name, family.documentation, family.type)
            for sample in family.samples:
                more = added.pop(_key(sample.name, sample.labels), 0.0)
                metric.add_sample(sample.name, sample.labels, sample.value + more)
            for (name, labels), value in added.items():  # label sets only the workers have seen
                metric.add_sample(name, dict(labels), value)
            yield metric

    def total(self, counter: Counter) -> float:
        """`counter_total` over every API process."""
        found = counter_total(counter)
        for worker in self.workers:
            found += worker.total(counter._name)
        return found


API_FOLD = ApiFold(API)
