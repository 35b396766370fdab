"""The cluster's settings: a connector's `binds` and the bind lease time, read from TOML and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from octogate.config import ConfigError, load_settings

EXAMPLE = Path(__file__).parent.parent.parent / "docs" / "octogate.example.toml"
CONNECTOR = '[[connectors]]\nname = "a"\nhost = "smsc.example"\nport = 2775\nsystem_id = "id"\npassword = "pw"\n'


def test_the_example_documents_the_defaults() -> None:
    settings = load_settings(str(EXAMPLE), environ={})
    assert settings.dispatch.bind_lease_seconds == 15
    assert "# binds = 1" in EXAMPLE.read_text(encoding="utf-8")


def test_binds_default_to_one_and_are_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONNECTOR + CONNECTOR.replace('"a"', '"b"') + "binds = 3\n[dispatch]\nbind_lease_seconds = 5\n")
    settings = load_settings(str(path), environ={})
    assert [(c.name, c.binds) for c in settings.connectors] == [("a", 1), ("b", 3)]
    assert settings.dispatch.bind_lease_seconds == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("binds = 0\n", r"connectors\[0\]\.binds: must be between 1 and 1000"),
        ("[dispatch]\nbind_lease_seconds = 1\n", r"dispatch\.bind_lease_seconds: must be between 3 and 600"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONNECTOR + extra)
    with pytest.raises(ConfigError, match=message):
        load_settings(str(path), environ={})
