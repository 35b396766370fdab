"""One settings object: defaults, then a TOML file, then environment variables, then command-line options.

Every listen address and the database URL can be set by environment variable so that several instances run
side by side on one machine (tests and benchmarks do). Everything is checked at load, before anything starts,
and every mistake of a file is reported at once (`ConfigError.lines`, one `path: problem` line each).
A relative SQLite path is resolved against the data folder (`--data-dir`, OCTOGATE_DATA_DIR, else the
configuration file's folder, else the user's data folder), never the working directory: an operator command
run from another folder must find the same database, not silently create an empty one.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any, Literal

from octogate import listen
from octogate.configcheck import (
    Problems,
    at_least,
    between,
    hints_of,
    is_host,
    is_network,
    listen_address,
    positive,
    read_table,
)
from octogate.octopush.campaign import Rules
from octogate.smpp.client import ConnectorConfig
from octogate.sms.hours import MarketingHours
from octogate.sms.money import to_micro
from octogate.sms.types import SMS_TYPES as SMS_TYPE_CODES

DEFAULT_DATABASE_URL = "sqlite:///octogate.db"  # relative: in the data folder (see the module's docstring)
SMPP_PASSWORD_MAX = 8  # SMPP 3.4 (5.2.2): password is a C-Octet String of at most 9 octets with its NUL
SMPP_SYSTEM_ID_MAX = 15
SMPP_SYSTEM_TYPE_MAX = 12
#: without an explicit allow-list, pushes may go to loopback only when nothing leaves the machine (no
#: [[connectors]]: the embedded simulator's sandbox), so the demo's local receiver keeps working
SANDBOX_ALLOWED_TARGETS = ("127.0.0.0/8", "::1/128")
DEFAULT_VALIDITY_HOURS = 48  # a message's validity: SMSCs commonly keep trying for 48 h
MAX_VALIDITY_HOURS = 30 * 24
ENVIRONMENT = {
    "OCTOGATE_HTTP": "http",
    "OCTOGATE_DATABASE_URL": "database_url",
    "OCTOGATE_DEMO_KEY": "demo_key",
    "OCTOGATE_SMTP": "smtp",
    "OCTOGATE_SMTP_DOMAIN": "smtp_domain",
    "OCTOGATE_DATA_DIR": "data_dir",
    "OCTOGATE_ADMIN": "admin",
}


SMS_TYPES = frozenset(SMS_TYPE_CODES)
SIMULATOR_CONNECTOR = "simulator"
#: the embedded simulator's sandbox control interface (`[simulator] control`): host:port or off
CONTROL_ENVIRONMENT = "OCTOGATE_SIMULATOR_CONTROL"


class ConfigError(ValueError):
    """The configuration is unusable; `lines` holds every problem found, one `path: problem` each."""

    def __init__(self, message: str, lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.lines = lines or [message]


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
    #: the sandbox's HTTP control interface (loopback; `octogate sandbox` and the console call it), or "off"
    control: str = "127.0.0.1:2776"


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
    forbid_private_targets: bool = True  # refuse loopback, private and link-local addresses (SSRF guard)
    #: networks (CIDR or single addresses) pushes may reach although private; None: the default of the mode
    #: (loopback in the sandbox, nothing with real connectors), resolved by `load_settings`
    allow_targets: tuple[str, ...] | None = None


@dataclass(frozen=True)
class HttpLimits:
    """What one client may cost the HTTP edge (checked by `octogate.http.limits`)."""

    max_url_bytes: int = 65536  # request target; longer API calls are answered 100 (use POST)
    max_header_bytes: int = 32768  # the header section, request line excluded; over it: 431, connection closed
    max_headers: int = 100
    header_timeout: float = 10.0  # seconds to send a request's headers (slow clients are closed)
    max_connections: int = 1000  # open at once; over it the oldest one still sending its headers is closed
    #: wrong credentials: failures of one login or one client address within `auth_window` seconds answered
    #: at full speed, the next ones delayed (doubling from 0.25 s up to `auth_max_delay`), still 101
    auth_free_failures: int = 5
    auth_window: float = 300.0
    auth_max_delay: float = 2.0
    #: processes answering the API on the one HTTP port (`octogate.http.workers`); 0: chosen at start (one per
    #: two cores, at most 4, on PostgreSQL; 1 on SQLite, whose one writer they would queue behind)
    workers: int = 0


@dataclass(frozen=True)
class ConsoleSettings:
    """The web console under /console/ (octogate.console)."""

    enabled: bool = True
    session_hours: float = 8.0  # a console session expires this long after sign-in


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
    #: the operator's address (/healthz, /readyz, /metrics, /status), or "off"
    admin: str = "127.0.0.1:9180"
    rules: Rules = field(default_factory=Rules)
    connectors: tuple[ConnectorConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = ()
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    limits: HttpLimits = field(default_factory=HttpLimits)
    #: where relative SQLite paths point; None: resolved at load (see the module's docstring)
    data_dir: str | None = None
    console: ConsoleSettings = field(default_factory=ConsoleSettings)

    def with_overrides(self, **values: Any) -> Settings:
        """Later values (environment, command line); a relative SQLite URL among them lands in the data folder."""
        changed = replace(self, **{name: value for name, value in values.items() if value is not None})
        if changed.data_dir is not None:
            changed = replace(changed, database_url=resolve_database_url(changed.database_url, changed.data_dir))
        return changed


def resolve_database_url(url: str, base: str) -> str:
    """`sqlite:///rel.db` → `sqlite:////base/rel.db`; absolute SQLite and PostgreSQL URLs unchanged."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:////") or url == "sqlite:///":
        return url
    return "sqlite:///" + str(Path(base).expanduser().resolve() / url[len("sqlite:///") :])


def default_data_dir(environ: dict[str, str]) -> str:
    """The user's data folder: $XDG_DATA_HOME/octogate, else ~/.local/share/octogate."""
    root = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "share")
    return str(Path(root) / "octogate")


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:8080`) → (host, port); a bad one is a configuration error."""
    try:
        return listen.parse_listen(value)
    except listen.BadListenAddress as error:
        raise ConfigError(str(error)) from None


def load_settings(
    config_file: str | None = None, environ: dict[str, str] | None = None, *, data_dir: str | None = None
) -> Settings:
    """Defaults, the TOML file, the environment; checked whole. Raises ConfigError with every problem."""
    environ = dict(os.environ) if environ is None else environ
    settings = Settings()
    problems = Problems()
    path = config_file or environ.get("OCTOGATE_CONFIG")
    defined: set[str] = set()  # connector names of the file, even of entries with mistakes
    if path:
        settings, defined = _apply_file(settings, Path(path), problems)
    from_env = {attribute: environ[name] for name, attribute in ENVIRONMENT.items() if environ.get(name)}
    if data_dir:
        from_env["data_dir"] = data_dir
    base = from_env.get("data_dir") or (str(Path(path).parent) if path else default_data_dir(environ))
    from_env["data_dir"] = str(Path(base).expanduser().resolve())
    settings = settings.with_overrides(**from_env)
    if environ.get(CONTROL_ENVIRONMENT):
        settings = replace(settings, simulator=replace(settings.simulator, control=environ[CONTROL_ENVIRONMENT]))
    if settings.callbacks.allow_targets is None:
        sandbox = SANDBOX_ALLOWED_TARGETS if not settings.connectors else ()
        settings = replace(settings, callbacks=replace(settings.callbacks, allow_targets=sandbox))
    problems.lines.extend(check_settings(settings, defined))
    if problems:
        raise ConfigError(problems.lines[0] if len(problems.lines) == 1 else "\n".join(problems.lines),
                          problems.lines)  # fmt: skip
    return settings


def check_settings(settings: Settings, defined: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """What holds for the settings whatever their source (file, environment, command line): addresses, the
    database URL, routes naming known connectors. One `path: problem` line each."""
    from octogate.store.db import DatabaseURL, UnsupportedDatabaseURL

    problems = Problems()
    if not listen_address(settings.http):
        problems.add("server.http", f"not a host:port listen address: {settings.http[:80]!r}")
    if settings.admin != "off" and not listen_address(settings.admin):
        problems.add("server.admin", f'not a host:port listen address or "off": {settings.admin[:80]!r}')
    if settings.smtp != "off" and not listen_address(settings.smtp):
        problems.add("server.smtp", f'not a host:port listen address or "off": {settings.smtp[:80]!r}')
    try:
        DatabaseURL.parse(settings.database_url)
    except UnsupportedDatabaseURL as error:
        problems.add("server.database_url", str(error))
    if bool(settings.tls_cert) != bool(settings.tls_key):
        missing = "server.tls_key" if settings.tls_cert else "server.tls_cert"
        problems.add(missing, "HTTPS needs both tls_cert and tls_key")
    if bool(settings.smtp_tls_cert) != bool(settings.smtp_tls_key):
        problems.add("server.smtp_tls_key", "STARTTLS needs both smtp_tls_cert and smtp_tls_key")
    domain = settings.smtp_domain.strip()
    if not domain or "@" in domain or not is_host(domain):
        problems.add("server.smtp_domain", f"a mail domain such as octogate.local, not {domain[:80]!r}")
    if "@" not in settings.demo_login or any(c.isspace() for c in settings.demo_login):
        problems.add("server.demo_login", f"an e-mail address, not {settings.demo_login[:80]!r}")
    try:
        if to_micro(settings.demo_credit) < 0:
            problems.add("server.demo_credit", "cannot be negative")
    except ValueError as error:
        problems.add("server.demo_credit", str(error))
    if not listen_address(settings.simulator.listen):
        problems.add("simulator.listen", f"not a host:port listen address: {settings.simulator.listen[:80]!r}")
    control = settings.simulator.control
    if control != "off" and not listen_address(control):
        problems.add("simulator.control", f'not a host:port listen address or "off": {control[:80]!r}')
    for index, network in enumerate(settings.callbacks.allow_targets or ()):
        if not is_network(network):
            problems.add(f"callbacks.allow_targets[{index}]", f"not an IP network such as 10.0.0.0/8: {network[:80]!r}")
    names = [c.name for c in settings.connectors]
    simulated = settings.simulator.enabled if settings.simulator.enabled is not None else not names
    known = set(names) | set(defined) | ({SIMULATOR_CONNECTOR} if simulated else set())
    for index, route in enumerate(settings.routes):
        unknown = [name for name in route.connectors if name not in known]
        if unknown:
            problems.add(
                f"routes[{index}].connectors",
                f"unknown connector {', '.join(repr(n[:40]) for n in unknown)} (known: {', '.join(sorted(known))})",
            )
    return problems.lines


def _apply_file(settings: Settings, path: Path, problems: Problems) -> tuple[Settings, set[str]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{str(path)[:200]}: cannot read: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{str(path)[:200]}: not TOML: {error}") from None
    for name in document:
        if name not in SECTIONS:
            problems.add(name, f"unknown section (known: {', '.join(SECTIONS)})")
    server = read_table(document.get("server", {}), SERVER_HINTS, "server", problems, checks=SERVER_CHECKS)
    settings = settings.with_overrides(**server)
    connectors = tuple(
        connector
        for index, entry in enumerate(_tables(document, "connectors", problems))
        if (connector := _connector(entry, f"connectors[{index}]", problems)) is not None
    )
    seen: set[str] = set()
    for index, connector in enumerate(connectors):
        if connector.name in seen:
            problems.add(f"connectors[{index}].name", f"{connector.name[:40]!r} is used twice")
        seen.add(connector.name)
    defined = {str(e.get("name")) for e in _tables(document, "connectors", Problems()) if e.get("name")}
    return replace(
        settings,
        rules=_rules(document.get("rules", {}), problems),
        connectors=connectors,
        simulator=_section(SimulatorSettings, document, "simulator", problems, SIMULATOR_CHECKS),
        dispatch=_dispatch(document, problems),
        callbacks=_callbacks(document, problems),
        limits=_section(HttpLimits, document, "http", problems, LIMIT_CHECKS),
        console=_section(ConsoleSettings, document, "console", problems, CONSOLE_CHECKS),
        routes=tuple(
            route
            for index, entry in enumerate(_tables(document, "routes", problems))
            if (route := _route(entry, f"routes[{index}]", problems)) is not None
        ),
    ), defined


SECTIONS = ("server", "http", "rules", "connectors", "routes", "simulator", "dispatch", "callbacks", "console")
_SETTINGS_HINTS = hints_of(Settings)
SERVER_HINTS = {
    name: _SETTINGS_HINTS[name]
    for name in (
        "http", "database_url", "tls_cert", "tls_key", "demo", "demo_login", "demo_credit",
        "successes_wrapper", "background", "smtp", "smtp_domain", "smtp_max_size", "smtp_tls_cert", "smtp_tls_key",
        "admin",
    )
}  # fmt: skip
SERVER_CHECKS = {"smtp_max_size": between(1024, 64 * 1024 * 1024)}
SIMULATOR_CHECKS = {
    "latency_ms": at_least(0), "tps": at_least(0), "receipt_delay_ms": at_least(0),
    "fail_rate": between(0, 1), "window": between(1, 10_000),
}  # fmt: skip
DISPATCH_CHECKS = {
    "poll_interval": positive(), "lease_seconds": at_least(10), "slice": at_least(1),
    "bind_lease_seconds": between(3, 600), "validity_hours": between(1, MAX_VALIDITY_HOURS),
}  # fmt: skip
CALLBACK_CHECKS = {
    "connect_timeout": positive(), "total_timeout": positive(), "per_host": at_least(1), "concurrency": at_least(1),
    "backoff_min": at_least(1), "backoff_max": at_least(1), "horizon": at_least(24 * 3600),
    "lease_seconds": at_least(1), "poll_interval": positive(),
}  # fmt: skip
CONSOLE_CHECKS = {"session_hours": between(0.1, 24 * 30)}
LIMIT_CHECKS = {
    "max_url_bytes": between(1024, 1024 * 1024), "max_header_bytes": between(1024, 1024 * 1024),
    "max_headers": between(8, 1000), "header_timeout": between(0.1, 300), "max_connections": between(2, 1_000_000),
    "auth_free_failures": between(1, 1000), "auth_window": between(1, 86400), "auth_max_delay": between(0, 30),
    "workers": between(0, 64),
}  # fmt: skip
CONNECTOR_CHECKS = {
    "name": (lambda v: bool(v.strip()) and v != SIMULATOR_CONNECTOR and len(v) <= 64,
             f"1 to 64 characters, not {SIMULATOR_CONNECTOR!r} (the built-in simulator's)"),
    "host": (is_host, "a host name or IP address"),
    "port": between(1, 65535),
    "system_id": (lambda v: len(v) <= SMPP_SYSTEM_ID_MAX, f"longer than {SMPP_SYSTEM_ID_MAX} characters"),
    "password": (lambda v: len(v) <= SMPP_PASSWORD_MAX, f"longer than {SMPP_PASSWORD_MAX} characters"),
    "system_type": (lambda v: len(v) <= SMPP_SYSTEM_TYPE_MAX, f"longer than {SMPP_SYSTEM_TYPE_MAX} characters"),
    "window": between(1, 10_000), "max_per_second": at_least(0), "binds": between(1, 1000),
    "gsm_data_coding": ((lambda v: v in (0, 1, 3)), "0, 1 or 3"),
    "source_ton": between(0, 6), "dest_ton": between(0, 6), "source_npi": between(0, 18), "dest_npi": between(0, 18),
    "enquire_link_interval": positive(), "reconnect_min": positive(), "reconnect_max": positive(),
    "response_timeout": positive(), "connect_timeout": positive(), "connection_wait": positive(),
    "submit_retries": at_least(0), "throttle_retries": at_least(0), "max_pending_delivers": at_least(1),
    "max_pdu_length": between(1024, 1024 * 1024),
}  # fmt: skip


def _tables(document: dict[str, Any], name: str, problems: Problems) -> list[dict[str, Any]]:
    entries = document.get(name, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.add(name, f"a list of tables ([[{name}]])")
        return []
    return entries


def _section(cls: Any, document: dict[str, Any], name: str, problems: Problems, checks: dict[str, Any]) -> Any:
    """A plain section: each key typed and checked; the defaults stand in for wrong values."""
    values = read_table(document.get(name, {}), hints_of(cls), name, problems, checks=checks)
    return cls(**values)


def _connector(entry: dict[str, Any], path: str, problems: Problems) -> ConnectorConfig | None:
    before = len(problems.lines)
    values = read_table(
        entry, hints_of(ConnectorConfig), path, problems, checks=CONNECTOR_CHECKS,
        required=("name", "host", "port", "system_id", "password"),
    )  # fmt: skip
    if len(problems.lines) > before:
        return None
    try:
        return ConnectorConfig(**values)
    except (TypeError, ValueError) as error:
        problems.add(path, str(error))
        return None


def _route(entry: dict[str, Any], path: str, problems: Problems) -> RouteConfig | None:
    hints = {"connectors": tuple[str, ...], "sms_types": tuple[str, ...], "calling_codes": Any,
             "stop_short_code": str, "default_sender": str}  # fmt: skip
    codes = entry.get("calling_codes", "*")
    plain = {key: value for key, value in entry.items() if key != "calling_codes"}
    before = len(problems.lines)
    values = read_table(
        plain, hints, path, problems, required=("connectors",),
        checks={
            "connectors": (bool, 'at least one connector name, tried in order: ["name", ...]'),
            "sms_types": (lambda v: set(v) <= SMS_TYPES, f"a list of {', '.join(sorted(SMS_TYPES))}"),
            "stop_short_code": (str.isdigit, "digits"),
            "default_sender": (lambda v: 1 <= len(v) <= 11, "1 to 11 characters"),
        },
    )  # fmt: skip
    calling_codes: frozenset[int] | None = None
    if codes != "*":
        if not isinstance(codes, list) or not all(isinstance(c, int) and not isinstance(c, bool) and 0 < c < 1000
                                                   for c in codes):  # fmt: skip
            problems.add(f"{path}.calling_codes", 'expected "*" or a list of calling codes such as [33, 32]')
        else:
            calling_codes = frozenset(codes)
    if len(problems.lines) > before:
        return None
    return RouteConfig(
        connectors=values["connectors"],
        sms_types=frozenset(values.get("sms_types", SMS_TYPES)),
        calling_codes=calling_codes,
        stop_short_code=values.get("stop_short_code", "36179"),
        default_sender=values.get("default_sender", "octogate"),
    )


def _dispatch(document: dict[str, Any], problems: Problems) -> DispatchSettings:
    return _section(DispatchSettings, document, "dispatch", problems, DISPATCH_CHECKS)


def _callbacks(document: dict[str, Any], problems: Problems) -> CallbackSettings:
    table = document.get("callbacks", {})
    values = read_table(table, hints_of(CallbackSettings), "callbacks", problems, checks=CALLBACK_CHECKS)
    callbacks = CallbackSettings(**values)
    for key, holds, message in (
        ("total_timeout", callbacks.connect_timeout <= callbacks.total_timeout, "must be at least connect_timeout"),
        ("concurrency", callbacks.concurrency >= callbacks.per_host, "must be at least per_host"),
        ("backoff_max", callbacks.backoff_min <= callbacks.backoff_max, "must be at least backoff_min"),
        ("lease_seconds", callbacks.lease_seconds >= 2 * callbacks.total_timeout, "must be at least 2 * total_timeout"),
    ):
        if not holds:
            problems.add(f"callbacks.{key}", message)
    return callbacks


RULE_HINTS = {
    "stop_mention": bool, "no_pub_mention": bool, "marketing_hours": bool, "marketing_start": str,
    "marketing_end": str, "closed_on_sundays": bool, "closed_on_public_holidays": bool,
    "billing": Literal["octopush", "segments"],
}  # fmt: skip


def _clock(value: str) -> bool:
    try:
        time.fromisoformat(value)
    except ValueError:
        return False
    return True


def _rules(section: Any, problems: Problems) -> Rules:
    clock = (_clock, "a time of day such as 08:00")
    values = read_table(section, RULE_HINTS, "rules", problems,
                        checks={"marketing_start": clock, "marketing_end": clock})  # fmt: skip
    try:
        hours = MarketingHours(
            start=time.fromisoformat(values.get("marketing_start", "08:00")),
            end=time.fromisoformat(values.get("marketing_end", "20:00")),
            closed_on_sundays=values.get("closed_on_sundays", True),
            closed_on_public_holidays=values.get("closed_on_public_holidays", True),
            enabled=values.get("marketing_hours", True),
        )
    except ValueError as error:
        problems.add("rules.marketing_end", f"bad marketing hours: {error}")
        hours = MarketingHours()
    return Rules(
        stop_mention=values.get("stop_mention", True),
        no_pub_mention=values.get("no_pub_mention", True),
        marketing_hours=hours,
        billing=values.get("billing", "octopush"),
    )
