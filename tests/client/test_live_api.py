"""The client against a real `octogate serve`: every field reaches the server as meant, signatures pass the
server's check, and each refusal surfaces as `OctopushError` with its documented code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from client.conftest import Account, campaign_id, new_account, rows
from live.conftest import LiveServer, start_server
from octogate.client import (
    Code,
    OctopushClient,
    OctopushError,
    Sms,
    SmsType,
)

STOP = "STOP au XXXXX"
ALL_KEYS = "TRMYSDabcdeWNQ"


def in_two_days() -> datetime:
    return (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)


def test_every_field_round_trips_with_a_signature_over_every_key(account: Account) -> None:
    at = in_two_days().astimezone(
        timezone(timedelta(hours=5))
    )  # any aware datetime: the epoch is what counts
    with account.client() as client:
        result = client.send(
            ["+33601020304", "+447911123456"],
            "Hi {prenom} {nom}, code {ch1}-{ch2}-{ch3}. " + STOP,
            sms_type=SmsType.PREMIUM,
            sender="MyShop",
            sending_date=at,
            first_names=["Ann", "Bob"],
            last_names=["Lee", "Ray"],
            fields_1=["1", "2"],
            fields_2=["x", "y"],
            fields_3=["p", "q"],
            simulation=False,
            request_id="round-trip-0001",
            with_replies=True,
            transactional=True,
            msisdn_sender=False,
            request_keys=ALL_KEYS,
        )

    assert result.ticket.startswith("api") and not result.simulated
    assert result.sending_date == at  # transactional: sent when asked, not held for marketing hours
    assert [(s.recipient, s.country_code, s.cost) for s in result.successes] == [
        ("+33601020304", "FR", Decimal("0.0650")),
        ("+447911123456", "GB", Decimal("0.0500")),
    ]
    assert result.failures == ()
    assert result.cost == Decimal("0.115") and result.balance == Decimal("99.885")
    assert result.number_of_sendings == 2 and result.currency == "€"

    [campaign] = rows(account.server, "SELECT * FROM campaigns WHERE id = ?", campaign_id(result.ticket))
    expected = {
        "request_id": "round-trip-0001",
        "sms_type": "FR",
        "sender": "MyShop",
        "sender_is_msisdn": 0,
        "text": "Hi {prenom} {nom}, code {ch1}-{ch2}-{ch3}. " + STOP,
        "transactional": 1,
        "with_replies": 1,
        "recipients": 2,
        "sms": 2,
        "send_at": int(at.timestamp()),
    }
    assert {name: campaign[name] for name in expected} == expected
    messages = rows(
        account.server,
        "SELECT recipient, text FROM messages WHERE campaign_id = ? ORDER BY id",
        campaign["id"],
    )
    assert [tuple(message) for message in messages] == [
        ("+33601020304", "Hi Ann Lee, code 1-x-p. " + STOP),
        ("+447911123456", "Hi Bob Ray, code 2-y-q. " + STOP),
    ]


def test_a_number_as_sender_low_cost_and_marketing_round_trip(account: Account) -> None:
    at = in_two_days()
    with account.client() as client:
        result = client.send(
            ["+447911123456"],
            "Sale this week",
            sms_type="XXX",
            sender="+447700900123",
            msisdn_sender=True,
            sending_date=at,
            request_keys="SYMD",
        )
    assert result.sending_date == at  # a GB number: no French marketing hours
    [campaign] = rows(
        account.server,
        "SELECT sms_type, sender, sender_is_msisdn, transactional, with_replies, request_id, send_at "
        "FROM campaigns WHERE id = ?",
        campaign_id(result.ticket),
    )
    assert tuple(campaign) == ("XXX", "447700900123", 1, 0, 0, None, int(at.timestamp()))


def test_a_simulation_is_priced_but_stores_nothing_and_keeps_its_request_id(account: Account) -> None:
    with account.client() as client:
        simulated = client.send(
            ["+447911123456"], "Hello", sender="MyShop", simulation=True, request_id="simulated-then-real"
        )
        assert simulated.simulated and simulated.ticket == "XXXSIMULATIONXXX"
        assert simulated.cost == Decimal("0.05")
        assert client.credit() == Decimal("100.00")
        real = client.send(["+447911123456"], "Hello", sender="MyShop", request_id="simulated-then-real")
    assert not real.simulated
    assert len(rows(account.server, "SELECT id FROM campaigns WHERE request_id = 'simulated-then-real'")) == 1


def test_a_refused_number_is_a_failure_inside_an_accepted_campaign(account: Account) -> None:
    with account.client() as client:
        result = client.send(["+447911123456", "+85021234567"], "Hello", sender="MyShop")
    assert [s.recipient for s in result.successes] == ["+447911123456"]
    [failure] = result.failures
    assert failure.code == Code.COUNTRY_NOT_COVERED and failure.meaning == Code.COUNTRY_NOT_COVERED.meaning


def test_balance_and_credit(account: Account) -> None:
    with account.client() as client:
        balance = client.balance()
        assert client.credit() == Decimal("100.00")
    assert balance.premium == Decimal("1538.46") and balance.low_cost == Decimal("2222.22")


def test_the_later_successs_wrapper_is_read_too(tmp_path: Path) -> None:
    config = tmp_path / "octogate.toml"
    config.write_text('[server]\nsuccesses_wrapper = "successs"\n')
    server = start_server(tmp_path, {"OCTOGATE_CONFIG": str(config)})
    try:
        raw = httpx.post(
            f"{server.base_url}/api/sms",
            data={
                "user_login": server.login,
                "api_key": server.api_key,
                "sms_recipients": "+447911123456",
                "sms_text": "Hi",
                "sms_type": "XXX",
            },
        )
        assert b"<successs><success>" in raw.content  # the server really writes the later spelling
        with OctopushClient(server.login, server.api_key, base_url=server.base_url) as client:
            result = client.send(["+447911123456", "+447911123457"], "Hi", sms_type=SmsType.LOW_COST)
        assert [s.recipient for s in result.successes] == ["+447911123456", "+447911123457"]
    finally:
        server.stop()


class Tampering(httpx.BaseTransport):
    """Forwards to the real server after changing the form: a frame altered between client and server."""

    def __init__(self, change: Callable[[dict[str, str]], None]) -> None:
        self.change = change
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.read().decode(), keep_blank_values=True))
        self.change(form)
        body = urlencode(form).encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        altered = httpx.Request(request.method, request.url, headers=headers, content=body)
        return self.inner.handle_request(altered)

    def close(self) -> None:
        self.inner.close()


def no_sha1(form: dict[str, str]) -> None:
    del form["request_sha1"]


def altered_text(form: dict[str, str]) -> None:
    form["sms_text"] += "!"


def test_the_signature_is_checked_by_the_server(account: Account) -> None:
    """The same request passes untouched, and fails once the frame is altered after signing."""
    sms = Sms(["+447911123456"], "Signed", sender="MyShop", request_id="signed-1", request_keys=ALL_KEYS)
    for change, expected in ((no_sha1, Code.MISSING_SHA1), (altered_text, Code.SHA1_MISMATCH)):
        with httpx.Client(transport=Tampering(change)) as http, pytest.raises(OctopushError) as refused:
            account.client(http_client=http).send_sms(sms)
        assert refused.value.code == expected
    with account.client() as client:
        assert client.send_sms(sms).ticket.startswith("api")


def error_cases() -> dict[str, tuple[Code, Callable[[OctopushClient], object]]]:
    gb = ["+447911123456"]
    return {
        "text too long": (Code.TEXT_TOO_LONG, lambda c: c.send(gb, "a" * 460, sender="MyShop")),
        "no recipients": (Code.NO_RECIPIENTS, lambda c: c.send([" "], "Hi", sender="MyShop")),
        "bad sender": (Code.BAD_SENDER, lambda c: c.send(gb, "Hi", sender="x")),
        "missing sender": (Code.BAD_SENDER, lambda c: c.send(gb, "Hi")),
        "empty text": (Code.MISSING_TEXT, lambda c: c.send(gb, "", sender="MyShop")),
        "no recipient list": (Code.MISSING_RECIPIENTS, lambda c: c.send([], "Hi", sender="MyShop")),
        "unknown type": (Code.MISSING_TYPE, lambda c: c.send(gb, "Hi", sms_type="ZZZ", sender="MyShop")),  # type: ignore[arg-type]
        "mail-merge count": (
            Code.BAD_MAIL_MERGE,
            lambda c: c.send([*gb, "+447911123457"], "Hi {prenom}", sender="MyShop", first_names=["Ann"]),
        ),
        "mail-merge length": (
            Code.BAD_MAIL_MERGE,
            lambda c: c.send(gb, "Hi {ch1}", sender="MyShop", fields_1=["x" * 31]),
        ),
        "letters as number": (Code.MALFORMED_RECIPIENTS, lambda c: c.send(["abc"], "Hi", sender="MyShop")),
        "low cost over 160": (Code.TEXT_TOO_LONG_FOR_TYPE, lambda c: c.send(gb, "a" * 161, sms_type="XXX")),
        "no STOP mention": (
            Code.MISSING_STOP_MENTION,
            lambda c: c.send(["+33601020304"], "Hi", sender="MyShop"),
        ),
        "no PUB mention": (
            Code.MISSING_NO_PUB_MENTION,
            lambda c: c.send(["+33601020304"], "Hi", sms_type="XXX"),
        ),
        "unknown key letter": (
            Code.SHA1_MISMATCH,
            lambda c: c.send(gb, "Hi", sender="MyShop", request_keys="TZ"),
        ),
        "national number": (Code.UNKNOWN_COUNTRY, lambda c: c.send(["0601020304"], "Hi", sender="MyShop")),
        "country not covered": (
            Code.COUNTRY_NOT_COVERED,
            lambda c: c.send(["+85021234567"], "Hi", sender="A1b"),
        ),
        "no low cost there": (
            Code.LOW_COST_NOT_OFFERED,
            lambda c: c.send(["+12025550123"], "Hi", sms_type="XXX"),
        ),
    }


@pytest.mark.parametrize("case", list(error_cases()))
def test_each_refusal_raises_octopush_error_with_its_code(account: Account, case: str) -> None:
    expected, call = error_cases()[case]
    with account.client() as client, pytest.raises(OctopushError) as refused:
        call(client)
    assert refused.value.code == expected
    assert refused.value.meaning == expected.meaning
    assert str(refused.value) == f"{expected.wire} {expected.meaning}"
    assert account.api_key not in str(refused.value)


def test_bad_credentials_and_account_states(server: LiveServer) -> None:
    account = new_account(server, credit="0")
    wrong = Account(server, account.login, "not-the-key")
    cases: list[tuple[Account, Code]] = [(wrong, Code.BAD_CREDENTIALS), (account, Code.NOT_ENOUGH_CREDIT)]
    for who, expected in cases:
        with who.client() as client, pytest.raises(OctopushError) as refused:
            client.send(["+447911123456"], "Hi", sender="MyShop")
        assert refused.value.code == expected
    for flag, expected in (
        ("--not-activated", Code.ACCOUNT_NOT_ACTIVATED),
        ("--blacklisted", Code.BLACKLISTED),
    ):
        account.operator("set", account.login, flag)
        with account.client() as client, pytest.raises(OctopushError) as refused:
            client.balance()
        assert refused.value.code == expected
        account.operator("set", account.login, "--activated", "--not-blacklisted")


def test_a_reused_request_id_is_refused(account: Account) -> None:
    with account.client() as client:
        client.send(["+447911123456"], "Hi", sender="MyShop", request_id="once-only")
        with pytest.raises(OctopushError) as refused:
            client.send(["+447911123456"], "Hi", sender="MyShop", request_id="once-only")
    assert refused.value.code == Code.DUPLICATE_REQUEST_ID


def test_a_paused_gateway_answers_116(account: Account) -> None:
    assert account.server.cli("pause").returncode == 0
    try:
        with account.client() as client, pytest.raises(OctopushError) as refused:
            client.balance()
        assert refused.value.code == Code.SERVICE_UNAVAILABLE
    finally:
        assert account.server.cli("resume").returncode == 0


async def test_the_async_client_sends_reads_balances_and_raises(account: Account) -> None:
    async with account.async_client() as client:
        result = await client.send(
            ["+447911123456"],
            "Hi {prenom}",
            sender="MyShop",
            first_names=["Ann"],
            request_id="async-1",
            request_keys=ALL_KEYS,
        )
        assert result.ticket.startswith("api") and result.cost == Decimal("0.05")
        assert (await client.credit()) == Decimal("99.95")
        assert (await client.balance()).premium == Decimal("1537.69")
        with pytest.raises(OctopushError) as refused:
            await client.send(["+447911123456"], "Hi", sender="MyShop", request_id="async-1")
        assert refused.value.code == Code.DUPLICATE_REQUEST_ID
        with pytest.raises(OctopushError) as refused:
            await client.send(["+447911123456"], "Hi", sms_type="ZZZ")  # type: ignore[arg-type]
        assert refused.value.code == Code.MISSING_TYPE
    [message] = rows(
        account.server, "SELECT text FROM messages WHERE campaign_id = ?", campaign_id(result.ticket)
    )
    assert message["text"] == "Hi Ann"


async def test_the_async_client_with_bad_credentials(account: Account) -> None:
    async with Account(account.server, account.login, "wrong").async_client() as client:
        with pytest.raises(OctopushError) as refused:
            await client.balance()
    assert refused.value.code == Code.BAD_CREDENTIALS
