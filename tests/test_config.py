"""Settings: the example file is valid, precedence holds, and mistakes are named."""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

import pytest
import uvloop

from octogate.config import ConfigError, load_settings, parse_listen
from octogate.listen import listening

EXAMPLE = Path(__file__).parent.parent / "docs" / "octogate.example.toml"


def test_the_documented_example_loads() -> None:
    settings = load_settings(str(EXAMPLE), environ={})
    assert settings.http == "127.0.0.1:8080"
    assert settings.rules.stop_mention and settings.rules.marketing_hours.enabled


def test_environment_beats_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[server]\nhttp = "127.0.0.1:9000"\n[rules]\nmarketing_hours = false\nbilling = "segments"\n')
    settings = load_settings(str(path), environ={"OCTOGATE_HTTP": "127.0.0.1:9100"})
    assert settings.http == "127.0.0.1:9100"
    assert not settings.rules.marketing_hours.enabled and settings.rules.billing == "segments"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 1\n", "server.port: unknown setting"),
        ("[rules]\nbilling = 'cheap'\n", "rules.billing: expected one of 'octopush', 'segments'"),
        ("[rules]\nmarketing_start = '21:00'\n", "bad marketing hours"),
        ("[server\n", "not TOML"),
        (
            '[[connectors]]\nname = "a"\nhost = "h"\nport = 1\nsystem_id = "s"\npassword = "p"\nmessage_ids = "hex"\n',
            "connectors[0].message_ids: expected one of 'auto', 'same', 'hex-in-response', 'hex-in-receipt', not 'hex'",
        ),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_settings(str(path), environ={})


def test_listen_addresses() -> None:
    assert parse_listen("192.0.2.1:8080") == ("192.0.2.1", 8080)
    assert parse_listen("[::1]:25") == ("::1", 25)
    with pytest.raises(ConfigError):
        parse_listen("localhost")


def test_a_port_taken_between_bind_and_listen_is_an_address_in_use_under_uvloop() -> None:
    """Hosts of one machine started at once: both bind with SO_REUSEADDR, the other listens first. uvloop then
    hands back a server with no socket instead of raising; `listening` says what happened."""

    async def race() -> tuple[tuple[str, int], int]:
        other = socket.socket()
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", 0))
        port = other.getsockname()[1]
        ours = socket.socket()
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ours.bind(("127.0.0.1", port))
        other.listen()
        loop = asyncio.get_running_loop()
        try:
            lost = await loop.create_server(asyncio.Protocol, sock=ours)
            with pytest.raises(OSError) as refused:
                listening(lost)
            fine = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
            try:
                return listening(fine), refused.value.errno
            finally:
                fine.close()
        finally:
            other.close()

    (host, port), code = uvloop.run(race())
    assert code == errno.EADDRINUSE
    assert host == "127.0.0.1" and port > 0


def test_a_connector_declares_in_which_base_its_smsc_writes_ids(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    connector = '[[connectors]]\nname = "{}"\nhost = "h"\nport = 1\nsystem_id = "s"\npassword = "p"\n'
    path.write_text(connector.format("a") + 'message_ids = "hex-in-response"\n' + connector.format("b"))
    settings = load_settings(str(path), environ={})
    assert [(c.name, c.message_ids) for c in settings.connectors] == [("a", "hex-in-response"), ("b", "auto")]
