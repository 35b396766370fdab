"""The pieces without I/O: log lines, metric labels, counters carried over a delivery process's restart."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from octogate.logs import JsonFormatter, LogSettings, LogSettingsError, TextFormatter
from octogate.observability.admin import http_path
from octogate.observability.metrics import ChildMetrics


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("line one\nline two")
        except ValueError:
            import sys

            info = sys.exc_info()
    return logging.LogRecord("octogate.test", logging.WARNING, __file__, 1, message, args, info)


def test_a_text_line_is_one_line_even_with_a_traceback_and_a_hostile_value() -> None:
    line = TextFormatter().format(record("from %s", "evil\nINFO forged line", exc=True))
    assert "\n" not in line
    assert " WARNING octogate.test: from evil\\nINFO forged line | Traceback" in line


def test_a_json_line_has_fixed_fields_and_a_bounded_message() -> None:
    entry = json.loads(JsonFormatter().format(record("%s", "x" * 10_000)))
    assert set(entry) == {"ts", "level", "logger", "msg", "process", "pid"}
    assert entry["level"] == "warning" and entry["ts"].endswith("Z")
    assert len(entry["msg"]) < 2100 and entry["msg"].endswith("…(+8000)")


def test_log_settings_from_options_then_environment() -> None:
    assert LogSettings.resolve(None, None, {}) == LogSettings("info", "text")
    env = {"OCTOGATE_LOG_LEVEL": "DEBUG", "OCTOGATE_LOG_FORMAT": "json"}
    assert LogSettings.resolve(None, None, env) == LogSettings("debug", "json")
    assert LogSettings.resolve("error", "text", env) == LogSettings("error", "text")
    with pytest.raises(LogSettingsError, match="log level is one of"):
        LogSettings.resolve("loud", None, {})


@pytest.mark.parametrize(("path", "label"), [
    ("/api/sms", "/api/sms"), ("/api/sms/json", "/api/sms/json"), ("/api/balance/", "/api/balance"),
    ("/metrics", "/metrics"), ("/readyz", "/readyz"), ("/x" * 500, "other"), ("/api/sms/evil", "/api/sms"),
    ("/v1/public/sms-campaign/send", "/v1/public/sms-campaign/send"), ("/v1/public/contact/list", "other"),
    ("/v1/public/wallet/check-balance/", "/v1/public/wallet/check-balance"),
])  # fmt: skip
def test_request_paths_are_a_bounded_set_of_labels(path: str, label: str) -> None:
    assert http_path(path) == label


def family(value: float, binds: float) -> list[dict[str, object]]:
    return [
        {"name": "octogate_messages_submitted", "help": "h", "type": "counter",
         "samples": [["octogate_messages_submitted_total", {"connector": "main"}, value]]},
        {"name": "octogate_binds_up", "help": "b", "type": "gauge",
         "samples": [["octogate_binds_up", {"connector": "main"}, binds]]},
    ]  # fmt: skip


def exposed(child: ChildMetrics) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(child)
    text = generate_latest(registry).decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_counters_survive_a_restart_and_gauges_do_not() -> None:
    child = ChildMetrics()
    child.update(family(7, 1))
    child.child_died()
    assert exposed(child) == {"octogate_messages_submitted_total": 7}  # the dead one's binds are gone
    child.update(family(2, 1))
    assert exposed(child) == {"octogate_messages_submitted_total": 9, "octogate_binds_up": 1}
    assert child.total("octogate_messages_submitted") == 9


def test_the_api_families_add_every_workers_counters_and_keep_their_own_gauges() -> None:
    from prometheus_client import Counter, Gauge

    from octogate.observability.metrics import ApiFold, snapshot

    def api_registry(requests: dict[str, float], up: float) -> tuple[CollectorRegistry, Counter]:
        registry = CollectorRegistry(auto_describe=True)
        counter = Counter("octogate_http_requests", "r", ["code"], registry=registry)
        for code, count in requests.items():
            counter.labels(code).inc(count)
        Gauge("octogate_delivery_process_up", "u", registry=registry).set(up)
        return registry, counter

    mine, accepted = api_registry({"200": 5}, 1)
    fold = ApiFold(mine)
    for requests in ({"200": 7}, {"200": 1, "404": 2}):  # a label set only a worker has seen, too
        worker = ChildMetrics()
        worker.update(snapshot(api_registry(requests, 0)[0]))
        fold.workers.append(worker)
    fold.workers[0].child_died()  # a dead worker's counts are kept
    registry = CollectorRegistry(auto_describe=False)
    registry.register(fold)
    text = generate_latest(registry).decode()
    samples = {
        (s.name, s.labels.get("code")): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert samples == {
        ("octogate_http_requests_total", "200"): 13,
        ("octogate_http_requests_total", "404"): 2,
        ("octogate_delivery_process_up", None): 1,  # serve's own: the workers' gauges are not summed
    }
    assert fold.total(accepted) == 15
