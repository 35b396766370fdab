"""`octogate.client` runs where the gateway's server dependencies are not installed."""

from __future__ import annotations

import subprocess
import sys

SERVER_MODULES = (
    "starlette", "uvicorn", "psycopg", "psycopg_binary", "phonenumbers", "holidays", "multipart",
    "python_multipart", "aiohttp", "aiosmtpd",
)  # fmt: skip
# The only gateway modules the client may load: the pure, stdlib-only statements of the document, and the
# stdlib-only ASGI body reader shared with the API.
ALLOWED = {"octogate", "octogate.octopush", "octogate.octopush.errors", "octogate.octopush.signature",
           "octogate.octopush.mailmerge", "octogate.octopush.params", "octogate.asgi", "octogate.paris",
           "octogate.sms", "octogate.sms.types"}  # fmt: skip

SCRIPT = f"""
import sys
for name in {SERVER_MODULES!r}:
    sys.modules[name] = None  # any import of it now raises ImportError

import octogate.client
import octogate.client.cli
from octogate.client import Code, OctopushError, Sms, parse_callback
from octogate.client.answers import parse_send, raise_for_error, read_xml
from octogate.client.fields import sms_form

root = read_xml(b"<octopush><error_code>000</error_code><cost>0.10</cost><balance>9.9</balance>"
                b"<ticket>api1</ticket><sending_date>1326311820</sending_date>"
                b"<number_of_sendings>1</number_of_sendings><currency_code>EUR</currency_code>"
                b"<success><success><recipient>+33601020304</recipient><country_code>FR</country_code>"
                b"<cost>0.1000</cost></success></success><failures/></octopush>")
raise_for_error(root)
assert parse_send(root).successes[0].recipient == "+33601020304"
try:
    raise_for_error(read_xml(b"<octopush><error_code>101</error_code></octopush>"))
except OctopushError as error:
    assert error.code == Code.BAD_CREDENTIALS
else:
    raise AssertionError("no error raised")
assert len(sms_form(Sms(["+33601020304"], "Hi", request_keys="TR"), "a@b.c", "k")["request_sha1"]) == 40
assert parse_callback({{"number": "+33601020304", "text": "STOP", "stop_date": "2026-01-01 00:00:00"}})
print(",".join(sorted(name for name in sys.modules if name.split(".")[0] in {{"octogate", *{SERVER_MODULES!r}}}
                      and sys.modules[name] is not None)))
"""


def test_the_client_imports_and_parses_without_the_server_dependencies() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.strip().split(","))
    gateway = {name for name in loaded if not name.startswith("octogate.client")}
    assert gateway <= ALLOWED, gateway - ALLOWED
    assert {"octogate.client.sync", "octogate.client.aio", "octogate.client.receiver"} <= loaded
