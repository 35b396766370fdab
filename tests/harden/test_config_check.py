"""Configuration checked at load (issue 11, point 5): pure checks of the validator, then the commands."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from octogate.config import ConfigError, load_settings

BROKEN = """
[server]
http = "nohost"
smtp_max_size = "big"
bogus = 1
[dispatch]
slice = "many"
[[connectors]]
name = "a"
host = "smsc.example"
port = 2775
system_id = "octogate"
password = "secret"
[[connectors]]
name = "b"
host = "bad host"
port = 99999
system_id = "octogate"
password = "muchtoolong"
bind_mode = "both"
[[routes]]
connectors = ["a", "c"]
[callbacks]
allow_targets = ["10.0.0.0/8", "nope"]
[rules]
billing = "cheap"
"""
EXPECTED = [
    "server.smtp_max_size: expected a whole number, not 'big'",
    "server.bogus: unknown setting",
    "connectors[1].host: a host name or IP address",
    "connectors[1].port: must be between 1 and 65535",
    "connectors[1].password: longer than 8 characters",
    "connectors[1].bind_mode: expected one of 'transceiver', 'transmitter', 'receiver', not 'both'",
    "rules.billing: expected one of 'octopush', 'segments', not 'cheap'",
    "dispatch.slice: expected a whole number, not 'many'",
    "server.http: not a host:port listen address: 'nohost'",
    "callbacks.allow_targets[1]: not an IP network such as 10.0.0.0/8: 'nope'",
    "routes[0].connectors: unknown connector 'c' (known: a, b)",
]


def load(tmp_path: Path, text: str, **environ: str) -> object:
    path = tmp_path / "octogate.toml"
    path.write_text(text)
    return load_settings(str(path), environ=environ)


def test_every_mistake_of_a_file_is_reported_at_once_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, BROKEN)
    assert error.value.lines == EXPECTED


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[dispatch]\nslice = 0\n", "dispatch.slice: must be at least 1"),
        ("[dispatch]\npoll_interval = true\n", "dispatch.poll_interval: expected a number, not True"),
        ("[simulator]\nfail_rate = 2\n", "simulator.fail_rate: must be between 0 and 1"),
        ("[server]\nbackground = 'thread'\n", "server.background: expected one of 'process', 'inline', not 'thread'"),
        ("[server]\nsmtp = 'localhost'\n", "server.smtp: not a host:port listen address or \"off\": 'localhost'"),
        ("[server]\ndatabase_url = 'mysql://x'\n", "server.database_url: unsupported database URL scheme 'mysql'"),
        ("[server]\ntls_cert = 'c.pem'\n", "server.tls_key: HTTPS needs both tls_cert and tls_key"),
        ("[callbacks]\nconnect_timeout = 9.0\n", "callbacks.total_timeout: must be at least connect_timeout"),
        ("[http]\nmax_connections = 1\n", "http.max_connections: must be between 2 and 1e+06"),
        ("[[routes]]\nconnectors = []\n", "routes[0].connectors: at least one connector name"),
        ("[[routes]]\nconnectors = ['x']\ncalling_codes = 'fr'\n", 'routes[0].calling_codes: expected "*" or'),
        ("[[connectors]]\nname = 'a'\nport=1\nsystem_id='s'\npassword='p'\n", "connectors[0].host: missing"),
        ("[[connectors]]\nname='simulator'\nhost='h'\nport=1\nsystem_id='s'\npassword='p'\n",
         "connectors[0].name: 1 to"),
        ("[[connectors]]\nname='a'\nhost='h'\nport=1\nsystem_id='s'\npassword='p'\nsystem_type='much-too-long'\n",
         "connectors[0].system_type: longer than 12 characters"),
        ("[rules]\nmarketing_start = 'noon'\n", "rules.marketing_start: a time of day such as 08:00"),
        ("[nonsense]\n", "nonsense: unknown section"),
        ("[server\n", "not TOML"),
    ],
)
def test_one_mistake_one_line(tmp_path: Path, text: str, line: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, text)
    assert len(error.value.lines) == 1 and line in error.value.lines[0]


def test_a_route_to_the_simulator_is_fine_only_while_it_runs(tmp_path: Path) -> None:
    assert load(tmp_path, "[[routes]]\nconnectors = ['simulator']\n")
    connector = "[[connectors]]\nname='a'\nhost='h'\nport=1\nsystem_id='s'\npassword='p'\n"
    with pytest.raises(ConfigError, match="unknown connector 'simulator'"):
        load(tmp_path, connector + "[[routes]]\nconnectors = ['simulator']\n")
    assert load(tmp_path, connector + "[simulator]\nenabled = true\n[[routes]]\nconnectors = ['simulator', 'a']\n")


def test_environment_values_are_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.http: not a host:port"):
        load(tmp_path, "", OCTOGATE_HTTP="8080")


def test_relative_sqlite_paths_follow_the_configuration_file_not_the_working_directory(tmp_path: Path) -> None:
    settings = load(tmp_path, "[server]\ndatabase_url = 'sqlite:///data/gw.db'\n")
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/data/gw.db"  # type: ignore[attr-defined]
    other = tmp_path / "elsewhere"
    settings = load_settings(str(tmp_path / "octogate.toml"), environ={"OCTOGATE_DATA_DIR": str(other)})
    assert settings.database_url == f"sqlite:///{other.resolve()}/data/gw.db"
    absolute = load(tmp_path, "[server]\ndatabase_url = 'sqlite:////srv/gw.db'\n")
    assert absolute.database_url == "sqlite:////srv/gw.db"  # type: ignore[attr-defined]


def test_without_a_file_the_default_database_is_in_the_users_data_folder(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/.local/share/octogate/octogate.db"


def test_push_targets_default_to_safe_with_loopback_only_in_the_sandbox(tmp_path: Path) -> None:
    sandbox = load(tmp_path, "")
    assert sandbox.callbacks.forbid_private_targets  # type: ignore[attr-defined]
    assert sandbox.callbacks.allow_targets == ("127.0.0.0/8", "::1/128")  # type: ignore[attr-defined]
    connector = "[[connectors]]\nname='a'\nhost='h'\nport=1\nsystem_id='s'\npassword='p'\n"
    assert load(tmp_path, connector).callbacks.allow_targets == ()  # type: ignore[attr-defined]
    chosen = load(tmp_path, connector + "[callbacks]\nallow_targets = ['10.1.0.0/16']\n")
    assert chosen.callbacks.allow_targets == ("10.1.0.0/16",)  # type: ignore[attr-defined]


# --- through the command line ------------------------------------------------------------------------------------


def octogate(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OCTOGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "octogate.cli", *args], capture_output=True, text=True, timeout=60, check=False,
        cwd=cwd, env={**environ, "HOME": str(cwd), **(env or {})},
    )  # fmt: skip


def test_check_config_exits_2_with_every_line_and_0_when_fine(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BROKEN)
    result = octogate("--config", str(bad), "check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"octogate: config: {line}" for line in EXPECTED]
    good = tmp_path / "good.toml"
    good.write_text("[server]\ndatabase_url = 'sqlite:///gw.db'\n")
    result = octogate("--config", str(good), "check-config", cwd=tmp_path)
    assert result.returncode == 0 and f"sqlite:///{tmp_path.resolve()}/gw.db" in result.stdout
    assert not (tmp_path / "gw.db").exists()  # checking creates nothing


def test_serve_with_a_bad_file_starts_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[dispatch]\nslice = 'many'\n[[connectors]]\nname='a'\nhost='h'\nport=1\nsystem_id='s'\n"
                   "password='123456789'\n")  # fmt: skip
    result = octogate("--config", str(bad), "serve", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and not result.stdout
    assert result.stderr.splitlines() == [
        "octogate: config: connectors[0].password: longer than 8 characters",
        "octogate: config: dispatch.slice: expected a whole number, not 'many'",
    ]


def test_an_operator_command_from_another_folder_finds_the_same_database(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "octogate.toml"
    config.parent.mkdir()
    config.write_text("[server]\ndatabase_url = 'sqlite:///data/octogate.db'\n")
    made = octogate("--config", str(config), "account", "create", "a@example.com", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    listed = octogate("--config", str(config), "account", "list", cwd=elsewhere)
    assert "a@example.com" in listed.stdout
    assert list(elsewhere.iterdir()) == []
    database = tmp_path / "etc" / "data" / "octogate.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_data_dir_and_config_are_read_after_the_command_too(tmp_path: Path) -> None:
    """The README writes `octogate serve ... (--data-dir DIR to choose)`: after the command works as before it."""
    data = tmp_path / "data"
    made = octogate("account", "create", "a@example.com", "--data-dir", str(data), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (data / "octogate.db").exists()
    assert "a@example.com" in octogate("--data-dir", str(data), "account", "list", cwd=tmp_path).stdout
    config = tmp_path / "gw.toml"
    config.write_text("[server]\ndatabase_url = 'sqlite:///gw.db'\n")
    checked = octogate("check-config", "--config", str(config), cwd=tmp_path)
    assert checked.returncode == 0 and "gw.db" in checked.stdout
    # given on both sides, the one after the command wins
    listed = octogate("--data-dir", str(tmp_path / "other"), "account", "list", "--data-dir", str(data), cwd=tmp_path)
    assert "a@example.com" in listed.stdout


def test_database_files_are_private_wal_and_shm_included(tmp_path: Path) -> None:
    from octogate.store.db import Connection, DatabaseURL

    path = tmp_path / "new" / "gw.db"
    connection = Connection(DatabaseURL.parse(f"sqlite:///{path}"))
    try:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (1)")
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == ["gw.db", "gw.db-shm", "gw.db-wal"]
        assert {stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()} == {0o600}
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        connection.close()


def test_backup_copies_a_live_sqlite_database_and_refuses_postgresql(tmp_path: Path) -> None:
    config = tmp_path / "octogate.toml"
    config.write_text("")
    assert octogate("--config", str(config), "account", "create", "b@example.com", cwd=tmp_path).returncode == 0
    copy = tmp_path / "backup.db"
    result = octogate("--config", str(config), "backup", str(copy), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with sqlite3.connect(copy) as restored:
        assert restored.execute("SELECT login FROM accounts").fetchall() == [("b@example.com",)]
    again = octogate("--config", str(config), "backup", str(copy), cwd=tmp_path)
    assert again.returncode == 1 and "exists" in again.stderr
    postgres = octogate("backup", str(tmp_path / "pg.db"), cwd=tmp_path,
                        env={"OCTOGATE_DATABASE_URL": "postgresql://octogate@127.0.0.1:5432/test"})  # fmt: skip
    assert postgres.returncode == 1
    assert postgres.stderr.count("\n") == 1 and "pg_dump" in postgres.stderr
    missing = octogate("--data-dir", str(tmp_path / "empty"), "backup", str(tmp_path / "x.db"), cwd=tmp_path)
    assert missing.returncode == 1 and "no database at" in missing.stderr
    assert not (tmp_path / "empty").exists()  # a backup never creates the database it copies
