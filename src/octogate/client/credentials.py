"""Where the CLI finds the account: options, then environment variables, then a TOML file.

The file lets a key stay out of shell history and process lists (`--api-key` is visible in `ps`).
`~/.config/octogate/client.toml` (or `--client-config FILE`):

    login = "shop@example.com"
    api_key = "…"
    url = "http://127.0.0.1:8080"   # optional; Octopush's own API otherwise
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from octogate.client.core import DEFAULT_BASE_URL

ENV_LOGIN = "OCTOPUSH_LOGIN"
ENV_API_KEY = "OCTOPUSH_API_KEY"
ENV_URL = "OCTOPUSH_URL"


class CredentialsError(Exception):
    """Missing or unreadable credentials; the message names where they can be given, never the key."""


@dataclass(frozen=True, slots=True)
class Credentials:
    login: str
    api_key: str
    base_url: str

    def __repr__(self) -> str:
        return f"Credentials(login={self.login!r}, base_url={self.base_url!r})"


def default_config_path() -> Path:
    return Path.home() / ".config" / "octogate" / "client.toml"


def resolve(
    *,
    login: str | None,
    api_key: str | None,
    url: str | None,
    config: Path | None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Each value from the first place that has it: option, environment, file. An explicit `config` must
    exist; the default file is optional."""
    environ = os.environ if environ is None else environ
    stored = _read_file(config) if config is not None else _read_file(default_config_path(), optional=True)
    found_login = login or environ.get(ENV_LOGIN) or stored.get("login")
    found_key = api_key or environ.get(ENV_API_KEY) or stored.get("api_key")
    found_url = url or environ.get(ENV_URL) or stored.get("url") or DEFAULT_BASE_URL
    if not found_login:
        raise CredentialsError(
            f"no login: give --login, set {ENV_LOGIN}, or write login = … in the client config"
        )
    if not found_key:
        raise CredentialsError(
            f"no API key: give --api-key, set {ENV_API_KEY}, or write api_key = … in the client config"
        )
    return Credentials(found_login, found_key, found_url)


def _read_file(path: Path, *, optional: bool = False) -> dict[str, str]:
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        if optional:
            return {}
        raise CredentialsError(f"client config {path} not found") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        # TOMLDecodeError messages give a position, not the content, so the key cannot leak through them.
        raise CredentialsError(f"client config {path} unreadable: {error}") from None
    values: dict[str, str] = {}
    for name in ("login", "api_key", "url"):
        value = document.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise CredentialsError(f"client config {path}: {name} must be a string")
        values[name] = value
    return values
