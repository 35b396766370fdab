"""Any number of hosts started at the same instant on an empty database all come up: migrations, the price
table and the demo account are made once, under the start lock."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

from .conftest import answers_balance, start_hosts_together

HOSTS = 5


def test_five_hosts_started_together_on_an_empty_database_all_come_up(
    tmp_path: Path, database_url: str
) -> None:
    hosts = start_hosts_together(tmp_path, database_url, HOSTS)
    try:
        for host in hosts:
            assert "Octopush API on" in host.text, host.text
        logins = {m for host in hosts for m in re.findall(r"user_login=(\S+)", host.text)}
        keys = [m for host in hosts for m in re.findall(r"api_key=(\S+)", host.text)]
        # Exactly one host made the demo account and showed its key; the others say it exists.
        assert len(logins) == 1 and len(keys) == 1, [host.text for host in hosts]
        assert sum("exists already" in host.text for host in hosts) == HOSTS - 1
        [login], [key] = logins, keys
        for host in hosts:
            answer = answers_balance(host, login, key)
            assert answer is not None, f"{host.base_url} does not answer:\n{host.text}"
            root = ElementTree.fromstring(answer)
            assert root.findtext("error_code") == "000", answer
        for host in hosts:
            assert host.process.poll() is None, host.text
    finally:
        for host in hosts:
            host.stop()
    assert not any("duplicate key" in host.text or "Traceback" in host.text for host in hosts)
