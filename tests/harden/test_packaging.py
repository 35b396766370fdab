"""The systemd unit (issue 11, point 8): what an operator relies on is in it, and systemd accepts it."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[2] / "packaging" / "octogate.service"
INSTALLED = "/opt/octogate/bin/octogate"


def unit_settings() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_the_unit_runs_a_dedicated_user_restarts_on_failure_and_is_hardened() -> None:
    unit = unit_settings()
    assert unit["User"] == ["octogate"] and unit["Restart"] == ["on-failure"]
    assert unit["ExecStartPre"] == [f"{INSTALLED} check-config"]
    assert unit["Environment"] == ["OCTOGATE_CONFIG=/etc/octogate/octogate.toml", "OCTOGATE_DATA_DIR=/var/lib/octogate"]
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "CapabilityBoundingSet": "", "UMask": "0077", "StateDirectoryMode": "0700",
    }.items():  # fmt: skip
        assert unit[key] == [value], key
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(UNIT.read_text())
    assert parser.sections() == ["Unit", "Service", "Install"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this installation's octogate
    here = Path(sys.executable).parent / "octogate"
    unit = tmp_path / "octogate.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED, str(here)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "octogate.service" in line]
    assert result.returncode == 0 and complaints == [], result.stdout + result.stderr
