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

from octogate import listen
from octogate.octopush.campaign import Rules
from octogate.smpp.client import ConnectorConfig
from octogate.sms.hours import MarketingHours
from octogate.sms.types import SMS_TYPES as SMS_TYPE_CODES

DEFAULT_DATABASE_URL = "sqlite:///octogate-data/octogate.db"
DEFAULT_VALIDITY_HOURS = 48  # a message's validity: SMSCs commonly keep trying for 48 h
MAX_VALIDITY_HOURS = 30 * 24
ENVIRONMENT = {
    "OCTOGATE_HTTP": "http",
    "OCTOGATE_DATABASE_URL": "database_url",
    "OCTOGATE_DEMO_KEY": "demo_key",
    "OCTOGATE_SMTP": "smtp",
    "OCTOGATE_SMTP_DOMAIN": "smtp_domain",
}


SMS_TYPES = frozenset(SMS_TYPE_CODES)
SIMULATOR_CONNECTOR = "simulator"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RouteConfig:
    """Which connectors carry which messages: the first route matching a message's type and calling code
    wins, and its connectors are tried in order (the next one when the previous is not bound)."""

    connectors: tuple[str, ...]
    sms_types: frozenset[str] = SMS_TYPES
    #: None: every calling code ("*")
    calling_codes: frozenset[int] | None = None
    #: replaces XXXXX in "STOP au XXXXX"
    stop_short_code: str = "36179"
    #: sender of campaigns without one (XXX type)
    default_sender: str = "octogate"

    def matches(self, sms_type: str, calling_code: int) -> bool:
        return sms_type in self.sms_types and (self.calling_codes is None or calling_code in self.calling_codes)


@dataclass(frozen=True)
class SimulatorSettings:
    """The built-in SMSC simulator. enabled None: run it only when no connector is configured."""

    enabled: bool | None = None
    listen: str = "127.0.0.1:0"
    latency_ms: float = 0.0
    tps: float = 0.0
    receipt_delay_ms: float = 1000.0
    #: share of receipts with stat UNDELIV (0 to 1)
    fail_rate: float = 0.0
    #: destinations (digits, no +) refused with ESME_RINVDSTADR
    invalid_prefixes: tuple[str, ...] = ()
    window: int = 64


@dataclass(frozen=True)
class DispatchSettings:
    poll_interval: float = 0.2  # seconds between two looks at the store when nothing woke the dispatcher
    lease_seconds: int = 300  # how long a crashed process's claims stay unclaimable
    slice: int = 20  # messages claimed per account and round (fairness between accounts)
    #: a dead host's binds are taken over by another host within this many seconds
    bind_lease_seconds: float = 15.0
    #: hours a submitted message may wait for its final receipt: sent as submit_sm's validity_period; past it
    #: (no final receipt) the message becomes final UNKNOWN_DELIVERY and is pushed
    validity_hours: int = DEFAULT_VALIDITY_HOURS


@dataclass(frozen=True)
class CallbackSettings:
    """The push worker: receipts, STOPs and replies POSTed to the customers' URLs."""

    enabled: bool = True
    connect_timeout: float = 3.0  # receivers are told to answer at once
    total_timeout: float = 5.0
    per_host: int = 16  # pushes in flight to one host (scheme, host, port) at most (docs/performance.md)
    concurrency: int = 64  # pushes in flight in this process at most
    backoff_min: int = 10  # seconds before the first retry; doubles each attempt, with jitter
    backoff_max: int = 3600
    horizon: int = 48 * 3600  # seconds after the push was owed before it is marked failed
    lease_seconds: int = 60  # how long a crashed process's claims stay unclaimable
    poll_interval: float = 1.0  # seconds between two looks at the store for due pushes
    forbid_private_targets: bool = False  # refuse loopback, private and link-local addresses


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
    #: "process": delivery (dispatcher, connectors, simulator, pushes) in a second process; "inline": one process.
    background: Literal["process", "inline"] = "process"
    smtp: str = "127.0.0.1:2525"  # or "off"
    smtp_domain: str = "octogate.local"  # mail for sms@<this domain> is accepted, every other recipient refused
    smtp_max_size: int = 1024 * 1024
    smtp_tls_cert: str | None = None  # STARTTLS; defaults to tls_cert / tls_key
    smtp_tls_key: str | None = None
    rules: Rules = field(default_factory=Rules)
    connectors: tuple[ConnectorConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = ()
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)

    def with_overrides(self, **values: Any) -> Settings:
        return replace(self, **{name: value for name, value in values.items() if value is not None})


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:8080`) → (host, port); a bad one is a configuration error."""
    try:
        return listen.parse_listen(value)
    except listen.BadListenAddress as error:
        raise ConfigError(str(error)) from None


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
        "background",
        "smtp",
        "smtp_domain",
        "smtp_max_size",
        "smtp_tls_cert",
        "smtp_tls_key",
    }
    unknown = set(server) - known
    if unknown:
        raise ConfigError(f"unknown [server] settings: {', '.join(sorted(unknown))}")
    settings = settings.with_overrides(**server)
    if settings.successes_wrapper not in ("success", "successs"):
        raise ConfigError("successes_wrapper is 'success' (1.6.1) or 'successs'")
    if settings.background not in ("process", "inline"):
        raise ConfigError("background is 'process' (delivery in a second process) or 'inline'")
    sections = {"server", "rules", "connectors", "routes", "simulator", "dispatch", "callbacks"}
    unknown_sections = set(document) - sections
    if unknown_sections:
        raise ConfigError(f"unknown sections: {', '.join(sorted(unknown_sections))}")
    connectors = tuple(_connector(entry) for entry in _tables(document, "connectors"))
    settings = replace(
        settings,
        rules=_rules(document.get("rules", {})),
        connectors=connectors,
        simulator=_simulator(document.get("simulator", {})),
        dispatch=_dispatch(document.get("dispatch", {})),
        callbacks=_callbacks(document.get("callbacks", {})),
    )
    routes = tuple(_route(entry) for entry in _tables(document, "routes"))
    return replace(settings, routes=routes)


def _tables(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    entries = document.get(name, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"[[{name}]] is a list of tables")
    return entries


CONNECTOR_FIELDS = frozenset(ConnectorConfig.__dataclass_fields__)


def _connector(entry: dict[str, Any]) -> ConnectorConfig:
    name = str(entry.get("name", ""))
    unknown = set(entry) - CONNECTOR_FIELDS
    if unknown:
        raise ConfigError(f"unknown [[connectors]] settings for {name[:40]!r}: {', '.join(sorted(unknown))}")
    missing = {"name", "host", "port", "system_id", "password"} - set(entry)
    if missing:
        raise ConfigError(f"[[connectors]] {name[:40]!r} needs {', '.join(sorted(missing))}")
    if name == SIMULATOR_CONNECTOR:
        raise ConfigError(f"the connector name {SIMULATOR_CONNECTOR!r} is the built-in simulator's")
    try:
        return ConnectorConfig(**entry)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[[connectors]] {name[:40]!r}: {error}") from None


def _route(entry: dict[str, Any]) -> RouteConfig:
    known = {"sms_types", "calling_codes", "connectors", "stop_short_code", "default_sender"}
    unknown = set(entry) - known
    if unknown:
        raise ConfigError(f"unknown [[routes]] settings: {', '.join(sorted(unknown))}")
    connectors = entry.get("connectors")
    if not isinstance(connectors, list) or not connectors or not all(isinstance(c, str) for c in connectors):
        raise ConfigError("a [[routes]] entry needs connectors = [\"name\", ...] (tried in order)")
    sms_types = entry.get("sms_types", sorted(SMS_TYPES))
    if not isinstance(sms_types, list) or not set(sms_types) <= SMS_TYPES:
        raise ConfigError("[[routes]] sms_types is a list of FR, XXX, WWW")
    codes = entry.get("calling_codes", "*")
    calling_codes: frozenset[int] | None = None
    if codes != "*":
        if not isinstance(codes, list) or not all(isinstance(c, int) and c > 0 for c in codes):
            raise ConfigError('[[routes]] calling_codes is "*" or a list of calling codes such as [33, 32]')
        calling_codes = frozenset(codes)
    stop = str(entry.get("stop_short_code", "36179"))
    if not stop.isdigit():
        raise ConfigError("[[routes]] stop_short_code is digits")
    return RouteConfig(
        connectors=tuple(connectors),
        sms_types=frozenset(sms_types),
        calling_codes=calling_codes,
        stop_short_code=stop,
        default_sender=str(entry.get("default_sender", "octogate")),
    )


def _simulator(section: dict[str, Any]) -> SimulatorSettings:
    known = set(SimulatorSettings.__dataclass_fields__)
    unknown = set(section) - known
    if unknown:
        raise ConfigError(f"unknown [simulator] settings: {', '.join(sorted(unknown))}")
    values = dict(section)
    if "invalid_prefixes" in values:
        values["invalid_prefixes"] = tuple(str(p) for p in values["invalid_prefixes"])
    simulator = SimulatorSettings(**values)
    parse_listen(simulator.listen)
    if not 0.0 <= float(simulator.fail_rate) <= 1.0:
        raise ConfigError("[simulator] fail_rate is between 0 and 1")
    return simulator


def _dispatch(section: dict[str, Any]) -> DispatchSettings:
    known = set(DispatchSettings.__dataclass_fields__)
    unknown = set(section) - known
    if unknown:
        raise ConfigError(f"unknown [dispatch] settings: {', '.join(sorted(unknown))}")
    dispatch = DispatchSettings(**section)
    if (
        dispatch.poll_interval <= 0
        or dispatch.lease_seconds < 10
        or dispatch.slice < 1
        or not 3 <= dispatch.bind_lease_seconds <= 600
    ):
        raise ConfigError(
            "[dispatch] needs poll_interval > 0, lease_seconds >= 10, slice >= 1, 3 <= bind_lease_seconds <= 600"
        )
    if not 1 <= dispatch.validity_hours <= MAX_VALIDITY_HOURS:
        raise ConfigError(f"[dispatch] validity_hours must be between 1 and {MAX_VALIDITY_HOURS}")
    return dispatch


def _callbacks(section: dict[str, Any]) -> CallbackSettings:
    known = set(CallbackSettings.__dataclass_fields__)
    unknown = set(section) - known
    if unknown:
        raise ConfigError(f"unknown [callbacks] settings: {', '.join(sorted(unknown))}")
    try:
        callbacks = CallbackSettings(**section)
    except TypeError as error:
        raise ConfigError(f"[callbacks]: {error}") from None
    if not (
        0 < callbacks.connect_timeout <= callbacks.total_timeout
        and callbacks.per_host >= 1
        and callbacks.concurrency >= callbacks.per_host
        and 1 <= callbacks.backoff_min <= callbacks.backoff_max
        and callbacks.horizon >= 24 * 3600
        and callbacks.lease_seconds >= 2 * callbacks.total_timeout
        and callbacks.poll_interval > 0
    ):
        raise ConfigError(
            "[callbacks] needs 0 < connect_timeout <= total_timeout, per_host >= 1, concurrency >= per_host, "
            "1 <= backoff_min <= backoff_max, horizon >= 86400 (retries last at least a day), "
            "lease_seconds >= 2 * total_timeout, poll_interval > 0"
        )
    return callbacks


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
