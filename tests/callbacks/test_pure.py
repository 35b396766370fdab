"""Backoff schedule and URL checks: pure functions, no network."""

from __future__ import annotations

import pytest

from octogate.callbacks.backoff import next_attempt, retry_delay
from octogate.callbacks.targets import (
    BadCallbackURL,
    check_url,
    forbidden_reason,
    host_key,
    literal_host_reason,
)
from octogate.config import CallbackSettings

DEFAULT = CallbackSettings()


def test_backoff_doubles_from_ten_seconds_to_an_hour_with_jitter() -> None:
    no_jitter = [retry_delay(n, DEFAULT, lambda: 0.0) for n in range(1, 14)]
    assert no_jitter[:6] == [10, 20, 40, 80, 160, 320]
    assert no_jitter[-1] == 3600 and max(no_jitter) == 3600
    most_jitter = [retry_delay(n, DEFAULT, lambda: 0.999) for n in range(1, 14)]
    assert all(0.75 * a <= b <= a for a, b in zip(no_jitter, most_jitter, strict=True))
    assert retry_delay(10_000, DEFAULT, lambda: 0.5) <= 3600  # no overflow however many attempts


def test_retries_last_at_least_a_day_then_give_up_at_the_horizon() -> None:
    created, now, attempts = 1_000_000, 1_000_000, 0
    while True:
        attempts += 1
        following = next_attempt(attempts, created, now, DEFAULT, lambda: 0.999)
        if following is None:
            break
        now = following
    assert now - created >= 24 * 3600
    assert now - created >= DEFAULT.horizon
    assert now - created < DEFAULT.horizon + DEFAULT.backoff_max
    assert next_attempt(1, created, created + DEFAULT.horizon, DEFAULT, lambda: 0.0) is None


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "javascript:alert(1)", "example.com/push", "http://", "http://exa mple.com/",
            "https://example.com:99999/", "x" * 3000, "http://%ff/", f"http://{'a' * 64}.example.com/",
            "http://exa*mple.com/", "http://-/", f"http://{'ab.' * 90}com/", "http://[::1/", "http://a..b/"]
)  # fmt: skip
def test_callback_urls_are_http_or_https(url: str) -> None:
    with pytest.raises(BadCallbackURL) as refused:
        check_url(url)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 200


def test_good_urls_pass_and_hosts_are_keyed_by_scheme_host_port() -> None:
    assert check_url("  https://Hooks.Example.com/sms?x=1 ") == "https://Hooks.Example.com/sms?x=1"
    for url in ("http://127.0.0.1:8080/r", "http://[::1]:9/r", "https://bücher.example/r", "http://my_host.lan/",
                "http://localhost/", "https://example.com./r"):  # fmt: skip
        assert check_url(url) == url
    assert host_key("https://Hooks.Example.com/sms") == "https://hooks.example.com:443"
    assert host_key("http://example.com:8080/a") == "http://example.com:8080"
    assert host_key("http://example.com/a") != host_key("https://example.com/a")


@pytest.mark.parametrize(
    ("address", "reason"),
    [("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.9", "private"), ("172.16.5.5", "private"),
     ("169.254.169.254", "link-local"), ("::1", "loopback"), ("fe80::1%eth0", "link-local"),
     ("::ffff:127.0.0.1", "loopback"), ("0.0.0.0", "unspecified"), ("fc00::1", "private")],  # noqa: S104
)  # fmt: skip
def test_private_loopback_and_link_local_addresses_are_refused(address: str, reason: str) -> None:
    found = forbidden_reason(address)
    assert found is not None and reason in found


def test_public_addresses_and_names_pass_the_literal_check() -> None:
    assert forbidden_reason("93.184.216.34") is None
    assert forbidden_reason("2606:4700::1111") is None
    assert literal_host_reason("https://hooks.example.com/x") is None  # names are checked when resolved
    assert literal_host_reason("http://[::1]:8080/x") is not None
