"""Answer parsing on the document's own examples, and what a broken exchange raises (sync and async)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from octogate.client import (
    AsyncOctopushClient,
    Code,
    OctopushClient,
    OctopushError,
    OctopushTransportError,
)

DOCUMENT_SMS_ANSWER = """<?xml version="1.0" encoding="UTF-8"?>
<octopush>
  <error_code>000</error_code>
  <cost>0.105</cost>
  <balance>6.93</balance>
  <ticket>api110000000021</ticket>
  <sending_date>1326311820</sending_date>
  <number_of_sendings>1</number_of_sendings>
  <currency_code>€</currency_code>
  <success>
    <success>
      <recipient>+33617985438</recipient>
      <country_code>FR</country_code>
      <cost>0.1050</cost>
    </success>
  </success>
  <failures/>
</octopush>"""

DOCUMENT_BALANCE_ANSWER = """<?xml version="1.0" encoding="UTF-8"?>
<octopush>
  <balance type="FR">1251.80</balance>
  <balance type="XXX">1829.40</balance>
</octopush>"""

KEY = "the-secret-api-key"
Handler = Callable[[httpx.Request], httpx.Response]


def xml(body: str, status: int = 200) -> Handler:
    return lambda _request: httpx.Response(
        status, content=body.encode(), headers={"content-type": "text/xml"}
    )


def sync_client(handler: Handler) -> OctopushClient:
    return OctopushClient(
        "shop@example.com", KEY, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )


def async_client(handler: Handler) -> AsyncOctopushClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncOctopushClient("shop@example.com", KEY, http_client=http)


def test_the_documents_sms_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return xml(DOCUMENT_SMS_ANSWER)(request)

    result = sync_client(handler).send(["+33617985438"], "Hi STOP au XXXXX", sender="Shop")
    assert str(seen[0].url) == "https://www.octopush-dm.com/api/sms"
    assert seen[0].method == "POST"
    assert seen[0].headers["content-type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    assert result.ticket == "api110000000021"
    assert result.cost == Decimal("0.105") and result.balance == Decimal("6.93")
    assert result.sending_date == datetime(2012, 1, 11, 19, 57, tzinfo=UTC)
    assert result.number_of_sendings == 1 and result.currency == "€"
    assert [(s.recipient, s.country_code, s.cost) for s in result.successes] == [
        ("+33617985438", "FR", Decimal("0.1050"))
    ]
    assert result.failures == ()


def test_the_later_successs_wrapper_and_failures() -> None:
    answer = DOCUMENT_SMS_ANSWER.replace("<success>\n    <success>", "<successs>\n    <success>")
    answer = answer.replace("</success>\n  </success>", "</success>\n  </successs>")
    answer = answer.replace(
        "<failures/>",
        "<failures><failure><recipient>+85021234567</recipient><error_code>151</error_code></failure>"
        "<failure><recipient>+999</recipient><error_code>199</error_code></failure></failures>",
    )
    assert "<successs>" in answer and "</successs>" in answer
    result = sync_client(xml(answer)).send(["+33617985438"], "Hi", sender="Shop")
    assert [s.recipient for s in result.successes] == ["+33617985438"]
    assert [(f.recipient, f.code) for f in result.failures] == [("+85021234567", 151), ("+999", 199)]
    assert result.failures[0].code is Code.COUNTRY_NOT_COVERED
    assert result.failures[1].meaning == "Undocumented error code 199."


def test_the_documents_balance_answer_has_no_error_code() -> None:
    balance = sync_client(xml(DOCUMENT_BALANCE_ANSWER)).balance()
    assert (balance.premium, balance.low_cost) == (Decimal("1251.80"), Decimal("1829.40"))


def test_error_codes_in_and_outside_the_table() -> None:
    error = "<?xml version='1.0'?><octopush><error_code>{}</error_code></octopush>"
    with pytest.raises(OctopushError) as known:
        sync_client(xml(error.format("101"))).balance()
    assert known.value.code is Code.BAD_CREDENTIALS and known.value.meaning == "Bad credentials."
    with pytest.raises(OctopushError) as unknown:
        sync_client(xml(error.format("999"))).credit()
    assert unknown.value.code == 999 and unknown.value.meaning == "Undocumented error code 999."
    assert str(unknown.value) == "999 Undocumented error code 999."


def broken_exchanges() -> dict[str, Handler]:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    return {
        "HTTP 502": xml("<html>bad gateway</html>", status=502),
        "HTTP 404 with XML": xml("<octopush><error_code>000</error_code></octopush>", status=404),
        "HTML": xml("<html><body>maintenance</body>"),
        "not XML": xml("Service temporarily unavailable"),
        "another root": xml("<response><error_code>000</error_code></response>"),
        "a DTD": xml('<!DOCTYPE x [<!ENTITY a "aaaa">]><octopush><credit>&a;</credit></octopush>'),
        "no ticket": xml("<octopush><error_code>000</error_code><cost>1</cost></octopush>"),
        "cost not a number": xml(DOCUMENT_SMS_ANSWER.replace("<cost>0.105</cost>", "<cost>cheap</cost>")),
        "timeout": timeout,
        "connection refused": refused,
    }


@pytest.mark.parametrize("case", list(broken_exchanges()))
def test_a_broken_exchange_is_a_transport_error_without_the_key(case: str) -> None:
    handler = broken_exchanges()[case]
    with pytest.raises(OctopushTransportError) as sync_error:
        sync_client(handler).send(["+33617985438"], "Hi", sender="Shop")
    assert KEY not in str(sync_error.value)
    assert not isinstance(sync_error.value, OctopushError)


@pytest.mark.parametrize("case", ["HTTP 502", "not XML", "timeout"])
async def test_the_async_client_reads_and_fails_the_same_way(case: str) -> None:
    client = async_client(xml(DOCUMENT_SMS_ANSWER))
    result = await client.send(["+33617985438"], "Hi", sender="Shop")
    assert result.ticket == "api110000000021" and result.successes[0].cost == Decimal("0.1050")
    with pytest.raises(OctopushTransportError) as error:
        await async_client(broken_exchanges()[case]).balance()
    assert KEY not in str(error.value)


def test_the_base_url_points_at_any_octogate() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return xml(DOCUMENT_BALANCE_ANSWER)(request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    OctopushClient("a@b.c", KEY, base_url="http://127.0.0.1:8080/", http_client=http).balance()
    assert seen == ["http://127.0.0.1:8080/api/balance"]


def test_a_real_timeout_is_reported_as_one() -> None:
    """Against a socket that accepts and never answers, the configured timeout fires."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with (
            OctopushClient("a@b.c", KEY, base_url=f"http://127.0.0.1:{port}", timeout=0.3) as client,
            pytest.raises(OctopushTransportError, match="timed out"),
        ):
            client.balance()
