"""The XML (and `/json`) answers, in the document's exact element order.

Built as strings on purpose: a 10,000-recipient answer is rendered on the request path, and string joins
with escaping are several times faster than building an ElementTree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from octogate.frozen import quick_init
from octogate.octopush.errors import Code
from octogate.sms.money import format_money

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


# Characters XML 1.0 cannot carry, even escaped: a caller's junk echoed back must not break the answer.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAX_ECHO = 64


def echo(text: str) -> str:
    """A caller's value written back into an answer: bounded, XML-safe, escaped."""
    return escape(NOT_XML.sub("\ufffd", text[:MAX_ECHO]))


def currency_symbol(currency: str) -> str:
    return CURRENCY_SYMBOLS.get(currency, currency)


@quick_init  # built per request, and for each recipient (see `SmsRequest`)
@dataclass(frozen=True, slots=True)
class Success:
    recipient: str
    country: str
    cost: int  # micro-units of the account's currency


@dataclass(frozen=True, slots=True)
class Failure:
    recipient: str
    code: Code


@quick_init
@dataclass(frozen=True, slots=True)
class SmsAnswer:
    cost: int
    balance: int
    ticket: str
    sending_date: int
    number_of_sendings: int
    currency: str
    successes: Sequence[Success]
    failures: Sequence[Failure]


def error_xml(code: Code) -> bytes:
    return f"{XML_HEAD}<octopush><error_code>{code.wire}</error_code></octopush>".encode()


def error_json(code: Code) -> bytes:
    return json.dumps({"error_code": code.wire}).encode()


def sms_xml(answer: SmsAnswer, *, successes_wrapper: str = "success") -> bytes:
    """`successes_wrapper` is `success` (1.6.1) or `successs` (the later documents' spelling)."""
    parts = [
        XML_HEAD,
        "<octopush><error_code>000</error_code>",
        f"<cost>{format_money(answer.cost, 2)}</cost>",
        f"<balance>{format_money(answer.balance, 2)}</balance>",
        f"<ticket>{escape(answer.ticket)}</ticket>",
        f"<sending_date>{answer.sending_date}</sending_date>",
        f"<number_of_sendings>{answer.number_of_sendings}</number_of_sendings>",
        f"<currency_code>{escape(currency_symbol(answer.currency))}</currency_code>",
    ]
    if answer.successes:
        parts.append(f"<{successes_wrapper}>")
        parts.extend(
            f"<success><recipient>{escape(s.recipient)}</recipient><country_code>{s.country}</country_code>"
            f"<cost>{format_money(s.cost, 4)}</cost></success>"
            for s in answer.successes
        )
        parts.append(f"</{successes_wrapper}>")
    else:
        parts.append(f"<{successes_wrapper}/>")
    if answer.failures:
        parts.append("<failures>")
        parts.extend(
            f"<failure><recipient>{echo(f.recipient)}</recipient><error_code>{f.code.wire}</error_code></failure>"
            for f in answer.failures
        )
        parts.append("</failures>")
    else:
        parts.append("<failures/>")
    parts.append("</octopush>")
    return "".join(parts).encode()


def sms_json(answer: SmsAnswer) -> bytes:
    document = {
        "error_code": "000",
        "cost": format_money(answer.cost, 2),
        "balance": format_money(answer.balance, 2),
        "ticket": answer.ticket,
        "sending_date": answer.sending_date,
        "number_of_sendings": answer.number_of_sendings,
        "currency_code": currency_symbol(answer.currency),
        "success": [
            {"recipient": s.recipient, "country_code": s.country, "cost": format_money(s.cost, 4)}
            for s in answer.successes
        ],
        "failures": [{"recipient": f.recipient[:MAX_ECHO], "error_code": f.code.wire} for f in answer.failures],
    }
    return json.dumps(document, ensure_ascii=False).encode()


def balance_xml(premium: str, low_cost: str) -> bytes:
    """The document shows no error_code here, but clients (octopush 1.0.0 among them) read it: it leads."""
    return (
        f'{XML_HEAD}<octopush><error_code>000</error_code><balance type="FR">{premium}</balance>'
        f'<balance type="XXX">{low_cost}</balance></octopush>'
    ).encode()


def balance_json(premium: str, low_cost: str) -> bytes:
    return json.dumps({"error_code": "000", "balance": {"FR": premium, "XXX": low_cost}}).encode()


def credit_xml(credit: int, currency: str) -> bytes:
    return (
        f"{XML_HEAD}<octopush><error_code>000</error_code><credit>{format_money(credit, 2, 2)}</credit>"
        f"<currency_code>{escape(currency_symbol(currency))}</currency_code></octopush>"
    ).encode()


def credit_json(credit: int, currency: str) -> bytes:
    document = {
        "error_code": "000",
        "credit": format_money(credit, 2, 2),
        "currency_code": currency_symbol(currency),
    }
    return json.dumps(document, ensure_ascii=False).encode()
