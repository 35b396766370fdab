"""Reading the API's XML answers into typed results, and its error codes into `OctopushError`.

Amounts are `Decimal` (the answer's digits, never a float). The list of accepted numbers is read under either
wrapper, `<success>` (1.6.1) or `<successs>` (later documents), since servers write one or the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from xml.etree import ElementTree

from octogate.client.errors import OctopushError, OctopushTransportError, describe, known_code
from octogate.client.fields import SIMULATION_TICKET


@dataclass(frozen=True, slots=True)
class Success:
    """A number accepted and billed."""

    recipient: str
    country_code: str
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Failure:
    """A number refused inside an accepted campaign (the rest were sent)."""

    recipient: str
    code: int

    @property
    def meaning(self) -> str:
        return describe(self.code)


@dataclass(frozen=True, slots=True)
class SendResult:
    ticket: str
    cost: Decimal
    balance: Decimal
    sending_date: datetime
    number_of_sendings: int
    currency: str
    successes: tuple[Success, ...]
    failures: tuple[Failure, ...]

    @property
    def simulated(self) -> bool:
        return self.ticket == SIMULATION_TICKET


@dataclass(frozen=True, slots=True)
class Balance:
    """What is left, as SMS equivalents of each quality (both are debited together: not a sum)."""

    premium: Decimal
    low_cost: Decimal


def read_xml(content: bytes) -> ElementTree.Element:
    """The `<octopush>` root, or a transport error: anything else did not come from the API."""
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise OctopushTransportError("the answer is not an Octopush answer (it declares a DTD)")
    try:
        # No DTD or entity can reach the parser (checked above), so expat's entity expansion is not a risk.
        root = ElementTree.fromstring(content)  # noqa: S314
    except ElementTree.ParseError:
        raise OctopushTransportError(f"the answer is not XML: {_preview(content)}") from None
    if root.tag != "octopush":
        raise OctopushTransportError(f"the answer is not an Octopush answer (root <{root.tag}>)")
    return root


def raise_for_error(root: ElementTree.Element) -> None:
    """`000` or no error_code at all (the document's balance example has none) is success."""
    raw = root.findtext("error_code")
    if raw is None or not raw.strip():
        return
    code = _int(raw, "error_code")
    if code != 0:
        raise OctopushError(code)


def parse_send(root: ElementTree.Element) -> SendResult:
    wrapper = root.find("success")
    if wrapper is None:
        wrapper = root.find("successs")
    successes = tuple(
        Success(
            recipient=_text(item, "recipient"),
            country_code=_text(item, "country_code"),
            cost=_decimal(item, "cost"),
        )
        for item in (wrapper if wrapper is not None else ())
    )
    failures_node = root.find("failures")
    failures = tuple(
        Failure(
            recipient=_text(item, "recipient"), code=known_code(_int(_text(item, "error_code"), "error_code"))
        )
        for item in (failures_node if failures_node is not None else ())
    )
    return SendResult(
        ticket=_text(root, "ticket"),
        cost=_decimal(root, "cost"),
        balance=_decimal(root, "balance"),
        sending_date=datetime.fromtimestamp(_int(_text(root, "sending_date"), "sending_date"), UTC),
        number_of_sendings=_int(_text(root, "number_of_sendings"), "number_of_sendings"),
        currency=root.findtext("currency_code", "").strip(),
        successes=successes,
        failures=failures,
    )


def parse_balance(root: ElementTree.Element) -> Balance:
    found: dict[str, Decimal] = {}
    for node in root.findall("balance"):
        found[node.get("type", "")] = _number(node.text, "balance")
    missing = {"FR", "XXX"} - found.keys()
    if missing:
        raise OctopushTransportError(f"the balance answer lacks <balance type={sorted(missing)[0]!r}>")
    return Balance(premium=found["FR"], low_cost=found["XXX"])


def parse_credit(root: ElementTree.Element) -> Decimal:
    return _decimal(root, "credit")


def _text(node: ElementTree.Element, name: str) -> str:
    value = node.findtext(name)
    if value is None:
        raise OctopushTransportError(f"the answer lacks <{name}>")
    return value.strip()


def _decimal(node: ElementTree.Element, name: str) -> Decimal:
    return _number(_text(node, name), name)


def _number(raw: str | None, name: str) -> Decimal:
    try:
        value = Decimal((raw or "").strip())
    except InvalidOperation:
        raise OctopushTransportError(f"<{name}> is not a number: {raw!r}") from None
    if not value.is_finite():
        raise OctopushTransportError(f"<{name}> is not a number: {raw!r}")
    return value


def _int(raw: str, name: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise OctopushTransportError(f"<{name}> is not an integer: {raw!r}") from None


def _preview(content: bytes) -> str:
    text = content[:80].decode("utf-8", "replace")
    return repr(text) + ("…" if len(content) > 80 else "")
