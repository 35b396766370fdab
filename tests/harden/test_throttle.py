"""Wrong credentials slow down (issue 11, point 6): through a real server, and the counters in process."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client import REGISTRY

from live.conftest import LiveServer
from octogate.config import HttpLimits
from octogate.octopush.errors import ApiError, Code
from octogate.service import Gateway
from octogate.store.store import Store
from octogate.throttle import CredentialGuard
from support import make_customer

CLIENTS: dict[str, httpx.Client] = {}


def balance(server: LiveServer, login: str, key: str) -> tuple[str, float]:
    client = CLIENTS.setdefault(server.base_url, httpx.Client(base_url=server.base_url, timeout=10))
    started = time.perf_counter()
    reply = client.get("/api/balance", params={"user_login": login, "api_key": key})
    code = reply.text.split("<error_code>")[1][:3]
    return code, time.perf_counter() - started


def test_repeated_wrong_keys_slow_down_and_a_right_key_does_not(limited: LiveServer) -> None:
    # the lowered limits: 3 free failures, then 0.25 s doubling up to 0.5 s
    first = [balance(limited, limited.login, f"wrong-{i}") for i in range(3)]
    assert all(code == "101" for code, _ in first)
    later = [balance(limited, limited.login, f"wrong-{i}") for i in range(3, 6)]
    assert all(code == "101" for code, _ in later)
    assert all(elapsed >= 0.25 for _, elapsed in later)
    # the right key of the attacked login, from the same address, is answered at once
    code, elapsed = min((balance(limited, limited.login, limited.api_key) for _ in range(3)), key=lambda r: r[1])
    assert code == "000" and elapsed < 0.1
    # another login's wrong key from this address is slowed too: the address has failed repeatedly
    code, elapsed = balance(limited, "someone-else@example.com", "nope")
    assert code == "101" and elapsed >= 0.25
    CLIENTS.pop(limited.base_url).close()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_counters_count_failures_and_throttled_answers(store: Store) -> None:
    customer = make_customer(store)
    limits = HttpLimits(auth_free_failures=2, auth_max_delay=0.0)  # counted, not slept, to keep the test fast
    gateway = Gateway(store, guard=CredentialGuard(limits))
    failures = sample("octogate_auth_failures_total")
    throttled = sample("octogate_auth_throttled_total", by="login")
    for _ in range(4):
        with pytest.raises(ApiError) as refused:
            await gateway.credit({"user_login": customer.login, "api_key": "wrong"})
        assert refused.value.code == Code.BAD_CREDENTIALS
    assert sample("octogate_auth_failures_total") == failures + 4
    assert sample("octogate_auth_throttled_total", by="login") == throttled + 2
    account = await gateway.credit({"user_login": customer.login, "api_key": customer.api_key})
    assert account.login == customer.login


def test_the_delay_doubles_up_to_its_cap_and_the_window_forgets() -> None:
    now = [0.0]
    guard = CredentialGuard(HttpLimits(auth_free_failures=2, auth_window=60, auth_max_delay=1.0), clock=lambda: now[0])
    delays = [guard.delay_for("a@example.com", "192.0.2.1") for _ in range(6)]
    assert delays == [0.0, 0.0, 0.25, 0.5, 1.0, 1.0]
    assert guard.delay_for("b@example.com", "192.0.2.2") == 0.0  # someone else is not slowed
    now[0] = 61.0
    assert guard.delay_for("a@example.com", "192.0.2.1") == 0.0  # a new window


def test_memory_stays_bounded_under_a_spray(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("octogate.throttle.MAX_TRACKED", 100)
    guard = CredentialGuard(HttpLimits())
    for i in range(1000):
        guard.delay_for(f"user{i}@example.com", f"198.51.100.{i % 250}")
    assert len(guard._failures) <= 100
