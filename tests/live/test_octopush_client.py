"""The PyPI `octopush` client (1.0.0), unchanged, against a running octogate."""

from __future__ import annotations

import pytest

import octopush
from live.conftest import LiveServer


def test_the_octopush_package_sends_with_a_signature_and_reads_the_balance(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(octopush, "DOMAIN", live_server.base_url)
    client = octopush.SMS(live_server.login, live_server.api_key)
    client.set_sms_text("Your code is 4321")
    client.set_sms_recipients(["+33601020304"])
    client.set_sms_type(octopush.SMS_PREMIUM)
    client.set_sms_sender("OctoGate")
    client.set_option_transactional(1)
    client.set_sms_request_id("client-test-0001")
    client.set_recipients_first_names(["Ann"])
    client.set_request_keys("TRYSQa")
    answer = client.send()

    ticket = answer.findtext("ticket")
    assert answer.findtext("error_code") == "000"
    assert ticket is not None and ticket.startswith("api")
    assert answer.findtext("cost") == "0.065"
    assert answer.findtext("balance") == "99.935"

    balance = client.get_balance()
    assert [(b.get("type"), b.text) for b in balance.findall("balance")] == [
        ("FR", "1537.46"),
        ("XXX", "2220.77"),
    ]
