"""Connector, route and simulator settings: read from TOML, checked, and mistakes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from octogate.config import ConfigError, load_settings

EXAMPLE = Path(__file__).parent.parent.parent / "docs" / "octogate.example.toml"


def test_the_example_runs_the_simulator_and_no_connector() -> None:
    settings = load_settings(str(EXAMPLE), environ={})
    assert settings.connectors == () and settings.routes == ()
    assert settings.simulator.enabled is None and settings.simulator.window == 64
    assert settings.dispatch.lease_seconds == 300


def test_connectors_and_routes_are_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[connectors]]\nname = "a"\nhost = "smsc.example"\nport = 2775\nsystem_id = "id"\npassword = "pw"\n'
        'window = 50\nconcatenation = "udh16"\n'
        '[[connectors]]\nname = "b"\nhost = "smsc2.example"\nport = 2776\nsystem_id = "id"\npassword = "pw"\n'
        '[[routes]]\nsms_types = ["FR"]\ncalling_codes = [33, 262]\nconnectors = ["a", "b"]\n'
        'stop_short_code = "38200"\n[[routes]]\nconnectors = ["b"]\ndefault_sender = "Info"\n'
    )
    settings = load_settings(str(path), environ={})
    assert [(c.name, c.port, c.window, c.concatenation) for c in settings.connectors] == [
        ("a", 2775, 50, "udh16"),
        ("b", 2776, 10, "udh8"),
    ]
    first, second = settings.routes
    assert first.connectors == ("a", "b") and first.stop_short_code == "38200"
    assert first.matches("FR", 262) and not first.matches("XXX", 33) and not first.matches("FR", 44)
    assert second.calling_codes is None and second.matches("WWW", 44) and second.default_sender == "Info"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[connectors]]\nname = "a"\nhost = "h"\nport = 1\nsystem_id = "i"\npassword = "p"\nwindo = 5\n',
            "windo",
        ),
        ('[[connectors]]\nname = "a"\nhost = "h"\n', r"connectors\[0\]\.port: missing \(required\)"),
        (
            '[[connectors]]\nname = "a"\nhost = "h"\nport = 1\nsystem_id = "i"\npassword = "p"\nwindow = 0\n',
            "window",
        ),
        ("[[routes]]\nconnectors = []\n", "connectors"),
        ('[[routes]]\nconnectors = ["a"]\nsms_types = ["SMS"]\n', "sms_types"),
        ('[[routes]]\nconnectors = ["a"]\ncalling_codes = "33"\n', "calling_codes"),
        ("[simulator]\nfail_rate = 2.0\n", "fail_rate"),
        ("[simulator]\nlatency = 5\n", "latency"),
        ("[dispatch]\nlease_seconds = 1\n", "lease_seconds"),
        ("[smpp]\nx = 1\n", "smpp"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(str(path), environ={})
