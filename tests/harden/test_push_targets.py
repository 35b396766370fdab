"""Push targets are safe by default (issue 11, point 7): private addresses refused unless allow-listed."""

from __future__ import annotations

from octogate.callbacks.targets import forbidden_reason, literal_host_reason, networks
from octogate.config import CallbackSettings


def test_private_targets_are_forbidden_by_default() -> None:
    assert CallbackSettings().forbid_private_targets
    assert forbidden_reason("169.254.169.254") == "forbidden target 169.254.169.254 (link-local)"
    assert forbidden_reason("127.0.0.1") == "forbidden target 127.0.0.1 (loopback)"
    assert forbidden_reason("::ffff:10.0.0.7") == "forbidden target 10.0.0.7 (private)"
    assert forbidden_reason("192.0.2.1") is not None  # documentation range: reserved for examples, not a customer
    assert forbidden_reason("93.184.216.34") is None


def test_the_allow_list_exempts_only_its_networks() -> None:
    allowed = networks(("10.1.0.0/16", "::1/128"))
    assert forbidden_reason("10.1.2.3", allowed) is None
    assert forbidden_reason("10.2.0.1", allowed) == "forbidden target 10.2.0.1 (private)"
    assert forbidden_reason("::1", allowed) is None
    assert literal_host_reason("http://169.254.169.254/latest/meta-data", allowed) is not None
    assert literal_host_reason("http://10.1.0.9:8080/push", allowed) is None
