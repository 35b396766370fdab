"""A rule lives in one place: Europe/Paris, the SMS types, listen addresses, backoff, the receipt state table.

Each is defined once and imported; the scan below fails if a copy comes back somewhere else. The same goes for
the use cases: the edges reach the store through the service layer only, never its SQL modules."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import octogate
from octogate import config
from octogate.backoff import doubling, less_jitter
from octogate.client.fields import SmsType as ClientSmsType
from octogate.listen import BadListenAddress, parse_listen
from octogate.octopush.request import SmsType as RequestSmsType
from octogate.paris import paris_date
from octogate.smpp.constants import RECEIPT_STAT_TO_STATE, STATE_TO_RECEIPT_STAT, MessageState
from octogate.smpp.simulator import build_parser
from octogate.sms.prices import default_price_table
from octogate.sms.types import SMS_TYPES, SmsType

SRC = Path(octogate.__file__).parent
# Copies that live in modules being rewritten by others at the time of writing; the lead empties this set
# when switching them to the single definition (see the service helper's report).
PENDING: set[str] = set()
RULES = {
    r'ZoneInfo\("Europe/Paris"\)': "paris.py",
    r'= "XXX"': "sms/types.py",
    r'rpartition\(":"\)': "listen.py",
    r"\* 2 \*\*": "backoff.py",
    r'MessageState\.\w+: "[A-Z]+"|"[A-Z]{7}": MessageState': "smpp/constants.py",
}


#: The packages that face a user or another system: each calls the service layer (`service.Gateway`,
#: `operations.Operator`, `portal.Portal`), which alone calls the store's SQL modules.
EDGE_PACKAGES = ("cli", "client", "console", "http", "sandbox", "smtp")
#: What an edge may import from the store: the `Store` façade, and the database URL and its errors (to open one).
STORE_FACADE = {"octogate.store.store", "octogate.store.db"}


@pytest.mark.parametrize(("pattern", "home"), RULES.items())
def test_each_rule_is_written_in_one_module(pattern: str, home: str) -> None:
    found = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if re.search(pattern, path.read_text(encoding="utf-8"))
    }
    assert found - PENDING == {home}


def test_paris_dates_follow_daylight_saving() -> None:
    winter = int(datetime(2026, 1, 15, 12, 0, 5, tzinfo=UTC).timestamp())
    summer = int(datetime(2026, 7, 15, 12, 0, 5, tzinfo=UTC).timestamp())
    assert (paris_date(winter), paris_date(summer)) == ("2026-01-15 13:00:05", "2026-07-15 14:00:05")


def test_one_sms_type_enum_everywhere() -> None:
    assert RequestSmsType is SmsType and ClientSmsType is SmsType
    assert SMS_TYPES == ("FR", "XXX", "WWW") and frozenset(SMS_TYPES) == config.SMS_TYPES
    assert default_price_table().to_csv().splitlines()[0].endswith(",".join(SMS_TYPES))


def test_listen_addresses() -> None:
    assert parse_listen("[::1]:25") == ("::1", 25)
    assert parse_listen(":8080") == ("127.0.0.1", 8080)
    for bad in ("localhost", "host:http", "host:70000"):
        with pytest.raises(BadListenAddress):
            parse_listen(bad)
    with pytest.raises(config.ConfigError):
        config.parse_listen("localhost")
    assert build_parser().parse_args(["--listen", "[::1]:2775"]).listen == ("::1", 2775)


def test_backoff_doubles_up_to_its_ceiling() -> None:
    # the dispatcher's schedule for a message the SMSC could not take: 5 s, 10 s... five minutes at most
    assert [int(doubling(attempts - 1, 5, 300)) for attempts in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert doubling(10_000, 0.1, 5.0) == 5.0 and doubling(-3, 2, 10) == 2
    assert less_jitter(100, 0.25, lambda: 1.0) == 75 and less_jitter(100, 0.25, lambda: 0.0) == 100


def test_the_receipt_state_table_reads_both_ways() -> None:
    assert len(STATE_TO_RECEIPT_STAT) == len(RECEIPT_STAT_TO_STATE) == len(MessageState)
    assert all(RECEIPT_STAT_TO_STATE[word] == state for state, word in STATE_TO_RECEIPT_STAT.items())


def store_modules_imported(path: Path) -> set[str]:
    """The `octogate.store.<module>` a file imports, at its top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from octogate.store import x`
            names.add(node.module)
    return {".".join(name.split(".")[:3]) for name in names if name.startswith("octogate.store.")}


def test_edges_reach_the_store_through_the_service_layer_only() -> None:
    edges = [path for package in EDGE_PACKAGES for path in sorted((SRC / package).rglob("*.py"))]
    assert len(edges) > 40
    offenders = {
        str(path.relative_to(SRC)): sorted(store_modules_imported(path) - STORE_FACADE)
        for path in edges
        if store_modules_imported(path) - STORE_FACADE
    }
    assert offenders == {}


def test_the_edge_check_sees_a_store_module(tmp_path: Path) -> None:
    module = tmp_path / "edge.py"
    module.write_text(
        "from octogate.store import inbox\nfrom octogate.store.records import InboxEntry\n"
        "from octogate.store.store import Store\n\ndef later():\n    import octogate.store.queries\n",
        encoding="utf-8",
    )
    assert store_modules_imported(module) - STORE_FACADE == {
        "octogate.store.inbox", "octogate.store.records", "octogate.store.queries"
    }
