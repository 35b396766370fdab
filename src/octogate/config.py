"""One settings object: defaults, then a TOML file, then environment variables, then command-line options.

Every listen address and the database URL can be set by environment variable so that several instances run
side by side on one machine (tests and benchmarks do).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any, Literal

from octogate.octopush.campaign import Rules
from octogate.sms.hours import MarketingHours

DEFAULT_DATABASE_URL = "sqlite:///octogate-data/octogate.db"
ENVIRONMENT = {
    "OCTOGATE_HTTP": "http",
    "OCTOGATE_DATABASE_URL": "database_url",
    "OCTOGATE_DEMO_KEY": "demo_key",
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    http: str = "127.0.0.1:8080"
    database_url: str = DEFAULT_DATABASE_URL
    tls_cert: str | None = None
    tls_key: str | None = None
    demo: bool = True
    demo_login: str = "demo@octogate.local"
    demo_key: str | None = None
    demo_credit: str = "100"
    successes_wrapper: Literal["success", "successs"] = "success"
    rules: Rules = field(default_factory=Rules)

    def with_overrides(self, **values: Any) -> Settings:
        return replace(self, **{name: value for name, value in values.items() if value is not None})


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:8080`) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"not a host:port listen address: {value[:80]!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def load_settings(config_file: str | None = None, environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ) if environ is None else environ
    settings = Settings()
    path = config_file or environ.get("OCTOGATE_CONFIG")
    if path:
        settings = _apply_file(settings, Path(path))
    from_env = {attribute: environ[name] for name, attribute in ENVIRONMENT.items() if environ.get(name)}
    return settings.with_overrides(**from_env)


def _apply_file(settings: Settings, path: Path) -> Settings:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read configuration {str(path)[:200]}: {error}") from None
    server = document.get("server", {})
    known = {
        "http",
        "database_url",
        "tls_cert",
        "tls_key",
        "demo",
        "demo_login",
        "demo_credit",
        "successes_wrapper",
    }
    unknown = set(server) - known
    if unknown:
        raise ConfigError(f"unknown [server] settings: {', '.join(sorted(unknown))}")
    settings = settings.with_overrides(**server)
    if settings.successes_wrapper not in ("success", "successs"):
        raise ConfigError("successes_wrapper is 'success' (1.6.1) or 'successs'")
    return replace(settings, rules=_rules(document.get("rules", {})))


def _rules(section: dict[str, Any]) -> Rules:
    known = {
        "stop_mention", "no_pub_mention", "marketing_hours", "marketing_start", "marketing_end",
        "closed_on_sundays", "closed_on_public_holidays", "billing",
    }  # fmt: skip
    unknown = set(section) - known
    if unknown:
        raise ConfigError(f"unknown [rules] settings: {', '.join(sorted(unknown))}")
    try:
        hours = MarketingHours(
            start=time.fromisoformat(section.get("marketing_start", "08:00")),
            end=time.fromisoformat(section.get("marketing_end", "20:00")),
            closed_on_sundays=bool(section.get("closed_on_sundays", True)),
            closed_on_public_holidays=bool(section.get("closed_on_public_holidays", True)),
            enabled=bool(section.get("marketing_hours", True)),
        )
    except ValueError as error:
        raise ConfigError(f"bad marketing hours: {error}") from None
    billing = section.get("billing", "octopush")
    if billing not in ("octopush", "segments"):
        raise ConfigError("billing is 'octopush' (the document's count) or 'segments' (real wire parts)")
    return Rules(
        stop_mention=bool(section.get("stop_mention", True)),
        no_pub_mention=bool(section.get("no_pub_mention", True)),
        marketing_hours=hours,
        billing=billing,
    )
