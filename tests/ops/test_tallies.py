"""The delivery process's per-message counts are tallied in plain numbers: every read of its registry (the
snapshot sent to the parent, a scrape in inline mode) must still show every one of them, exactly."""

from __future__ import annotations

import threading

from prometheus_client import generate_latest

from octogate.observability import metrics
from octogate.observability.hooks import SubmitWatch
from octogate.smpp.constants import CommandStatus


def scraped(name: str, **labels: str) -> float:
    return metrics.DELIVERY.get_sample_value(name, labels) or 0.0


def test_every_count_is_in_the_next_snapshot_and_scrape() -> None:
    ok = scraped("octogate_submit_sm_total", connector="tally-a", result="ok")
    watch = SubmitWatch(clock=lambda: 0.0)
    for _ in range(3):
        watch("tally-a", 0.01, CommandStatus.ESME_ROK)
    watch("tally-a", 0.01, CommandStatus.ESME_RINVDSTADR)
    samples = {(n, tuple(sorted(labels.items()))): v for f in metrics.snapshot(metrics.DELIVERY)
               for n, labels, v in f["samples"]}  # fmt: skip
    assert samples[("octogate_submit_sm_total", (("connector", "tally-a"), ("result", "ok")))] == ok + 3
    assert samples[("octogate_submit_sm_total", (("connector", "tally-a"), ("result", "refused")))] == 1
    assert samples[("octogate_submit_sm_seconds_count", (("connector", "tally-a"),))] == 4
    metrics.count(metrics.FINAL, "tally-a", "UNKNOWN_DELIVERY", amount=5)
    text = generate_latest(metrics.DELIVERY).decode()
    assert 'octogate_messages_final_total{connector="tally-a",status="UNKNOWN_DELIVERY"} 5.0' in text


def test_reads_from_another_thread_while_counting_lose_nothing() -> None:
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            metrics.snapshot(metrics.DELIVERY)

    reader = threading.Thread(target=scrape)
    reader.start()
    try:
        for _ in range(20_000):
            metrics.count(metrics.PUSHES, "tally-b")
    finally:
        stop.set()
        reader.join()
    assert scraped("octogate_pushes_total", outcome="tally-b") == 20_000
