"""The console's pure parts: the send form turned into the API's parameters, CSV mail-merge, the chart's
series, login throttling and the [console] settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from octogate.config import ConfigError, load_settings
from octogate.console.charts import hourly
from octogate.console.forms import FormError, SendForm, in_words, merge_rows, text_facts, to_params
from octogate.console.security import Throttle
from octogate.octopush.errors import Code
from octogate.store.console_queries import TrafficCount

NOW = 1_795_000_000


def test_pasted_numbers_become_the_apis_recipients() -> None:
    form = SendForm(recipients="+33612345678\n+33612345679, +33612345670;", text="Hi", sender=" Shop ")
    params = to_params(form, simulation=True, now=NOW)
    assert params == {
        "sms_recipients": "+33612345678,+33612345679,+33612345670", "sms_text": "Hi", "sms_type": "FR",
        "sms_sender": "Shop", "request_mode": "simu",
    }  # fmt: skip


def test_a_real_send_carries_the_forms_request_id_and_flags() -> None:
    form = SendForm(
        recipients="+33612345678", text="Hi", transactional=True, with_replies=True, request_id="r1"
    )
    params = to_params(form, simulation=False, now=NOW)
    assert params["request_id"] == "r1" and params["transactional"] == "1" and params["with_replies"] == "1"
    assert "request_mode" not in params


def test_a_schedule_is_paris_time_and_never_in_the_past() -> None:
    params = to_params(
        SendForm(recipients="+33612345678", text="x", schedule="2030-01-15T09:30"), simulation=True, now=NOW
    )
    paris_0930 = int(datetime(2030, 1, 15, 8, 30, tzinfo=UTC).timestamp())  # Paris is UTC+1 in winter
    assert params["sms_mode"] == "2" and params["sending_date"] == str(paris_0930)
    with pytest.raises(FormError, match="in the past"):
        to_params(
            SendForm(recipients="+33612345678", text="x", schedule="2020-01-01T10:00"),
            simulation=True,
            now=NOW,
        )
    with pytest.raises(FormError, match="date and time"):
        to_params(
            SendForm(recipients="+33612345678", text="x", schedule="tomorrow"), simulation=True, now=NOW
        )


def test_a_csv_gives_numbers_and_mail_merge_columns() -> None:
    numbers, columns = merge_rows(
        "Number,Prenom,nom,ch2\n+33612345678,Anna,Smith,X1\n\n+33612345679,Bob,Jones,X2\n"
    )
    assert numbers == ["+33612345678", "+33612345679"]
    assert columns == {
        "recipients_first_names": ["Anna", "Bob"], "recipients_last_names": ["Smith", "Jones"],
        "sms_fields_2": ["X1", "X2"],
    }  # fmt: skip
    params = to_params(
        SendForm(csv_text="number;ch1\n+33612345678;A\n", text="{ch1}"), simulation=True, now=NOW
    )
    assert params["sms_recipients"] == "+33612345678" and params["sms_fields_1"] == "A"
    # the columns `octogate send --csv` reads fill the same fields (field1 was ignored: {ch1} stayed as typed)
    _, columns = merge_rows("phone,first_name,last_name,field1,field3\n+33612345678,Anna,Smith,7,Z\n")
    assert columns == {
        "recipients_first_names": ["Anna"], "recipients_last_names": ["Smith"], "sms_fields_1": ["7"],
        "sms_fields_3": ["Z"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("prenom\nAnna\n", "number column"),
        ('number,prenom\n+33612345678,"Smith, Anna"\n', "cannot contain a comma"),
        ("number,prenom\n+33612345678\n", "has 1 columns"),
    ],
)
def test_a_csv_that_cannot_be_sent_says_why(csv: str, message: str) -> None:
    with pytest.raises(FormError, match=message):
        merge_rows(csv)


def test_text_facts_and_codes_in_words() -> None:
    assert text_facts("Hello") == text_facts("Hello")
    assert text_facts("Hello").alphabet == "GSM 7-bit" and text_facts("Hello").per_sms == 160
    assert text_facts("Привет").alphabet == "Unicode (UCS-2)" and text_facts("Привет").per_sms == 70
    assert "STOP au XXXXX" in in_words(Code.MISSING_STOP_MENTION)
    for code in Code:
        assert in_words(code)  # every code has words, ours or the document's


def test_hourly_series_fills_the_hours_without_traffic() -> None:
    hour = NOW // 3600
    rows = [
        TrafficCount(hour, "delivered", 5), TrafficCount(hour - 2, "failed", 1),
        TrafficCount(hour - 9, "delivered", 7), TrafficCount(hour, "queued", 3),
    ]  # fmt: skip
    series = hourly(rows, NOW, 3)
    assert series.hours == [(hour - 2) * 3600, (hour - 1) * 3600, hour * 3600]
    assert series.counts == {"delivered": [0, 0, 5], "undelivered": [0, 0, 0], "failed": [1, 0, 0]}
    assert series.rows() == [(hour * 3600, [5, 0, 0]), ((hour - 2) * 3600, [0, 0, 1])]


def test_throttle_counts_failures_per_login_and_per_address() -> None:
    now = [0.0]
    throttle = Throttle(per_login=3, per_address=5, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait("a", "1.1.1.1") == 0
        throttle.failed("a", "1.1.1.1")
    assert throttle.wait("a", "2.2.2.2") > 0  # the login is locked from anywhere
    assert throttle.wait("b", "1.1.1.1") == 0
    throttle.failed("b", "1.1.1.1")
    throttle.failed("c", "1.1.1.1")
    assert throttle.wait("d", "1.1.1.1") > 0  # the address is locked for every login
    now[0] = 61
    assert throttle.wait("a", "1.1.1.1") == 0  # the window moved on


def test_console_settings(tmp_path: Path) -> None:
    config = tmp_path / "octogate.toml"
    config.write_text("[console]\nenabled = false\nsession_hours = 2\n")
    settings = load_settings(str(config), environ={})
    assert not settings.console.enabled and settings.console.session_hours == 2.0
    config.write_text("[console]\nsession = 2\n")
    with pytest.raises(ConfigError, match="unknown"):
        load_settings(str(config), environ={})
